"""What a study searches: its sampler and pruner, named as in the YAML, and a search
space's values drawn, checked and enqueued."""

import inspect
import logging
from collections.abc import Mapping
from typing import Any

import numpy as np
import optuna
from optuna.trial import Trial, TrialState

from vaeops.schema import PrunerParameters, SamplerParameters

logger = logging.getLogger(__name__)


def build_sampler(spec: SamplerParameters, n_existing_trials: int) -> optuna.samplers.BaseSampler:
    sampler_class = _named_class(optuna.samplers, spec.name, optuna.samplers.BaseSampler, "sampler")
    kwargs = dict(spec.kwargs or {})
    seed = spec.seed
    if seed is not None:
        if "seed" not in inspect.signature(sampler_class).parameters:
            raise ValueError(f"{spec.name} takes no seed; set the sampler's seed to null.")
        # Not seed + n: worker (seed 1, 1 trial stored) would then replay worker (seed 2, none).
        entropy = [int(seed), n_existing_trials]
        kwargs["seed"] = int(np.random.SeedSequence(entropy).generate_state(1)[0])
    return sampler_class(**kwargs)


def build_pruner(spec: PrunerParameters) -> optuna.pruners.BasePruner:
    pruner_class = _named_class(optuna.pruners, spec.name, optuna.pruners.BasePruner, "pruner")
    return pruner_class(**dict(spec.kwargs or {}))


def _named_class(module, name: str, base: type, what: str) -> type:
    candidate = getattr(module, name, None)
    if not (inspect.isclass(candidate) and issubclass(candidate, base)):
        choices = sorted(
            n
            for n, c in vars(module).items()
            if inspect.isclass(c) and issubclass(c, base) and c is not base
        )
        raise ValueError(f"Unknown Optuna {what} {name!r}; choose one of {choices}.")
    return candidate


def flatten_search_space(
    space: Mapping[str, Any], prefix: str = ""
) -> dict[str, Mapping[str, Any]]:
    """``{model: {latent_dim: {type: int, ...}}}`` -> ``{"model.latent_dim": {type: int, ...}}``.

    The nesting mirrors the parameters being tuned, so a range can be changed
    from the command line (``--params tuning.search_space.model.latent_dim.high=300``).
    A mapping with a ``type`` key is one parameter's distribution.
    """
    flat: dict[str, Mapping[str, Any]] = {}
    for key, value in space.items():
        name = f"{prefix}{key}"
        if not isinstance(value, Mapping):
            raise ValueError(
                f"Search-space entry {name!r} is {value!r}; give a distribution such as "
                "{type: float, low: 0.0, high: 1.0} or {type: categorical, choices: [...]}."
            )
        if "type" in value:
            flat[name] = value
        else:
            flat.update(flatten_search_space(value, prefix=f"{name}."))
    return flat


def suggest(trial: Trial, search_space: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """Draw one value per entry of a flat search space (see ``flatten_search_space``).

    Each entry is ``{type: float|int, low, high, log?, step?}`` or
    ``{type: categorical, choices: [...]}``; the entry's key is the parameter name.
    """
    values = {}
    for name, spec in search_space.items():
        kind = spec.get("type")
        # A key written as null (``log: null``) is absent: Optuna's own default applies.
        options = {key: value for key, value in spec.items() if key != "type" and value is not None}
        if kind == "float":
            values[name] = trial.suggest_float(name, **options)
        elif kind == "int":
            values[name] = trial.suggest_int(name, **options)
        elif kind == "categorical":
            values[name] = trial.suggest_categorical(name, **options)
        else:
            raise ValueError(
                f"Search-space entry {name!r} has type {kind!r}; use float, int or categorical."
            )
    return values


def contains(spec: Mapping[str, Any], value: Any) -> bool:
    """Whether a search-space entry can produce ``value`` (bounds and choices, not steps)."""
    if spec["type"] == "categorical":
        return value in spec["choices"]
    return isinstance(value, (int, float)) and spec["low"] <= value <= spec["high"]


def enqueue_if_in_space(
    study: optuna.Study,
    values: Mapping[str, Any],
    search_space: Mapping[str, Mapping[str, Any]],
    source: str,
) -> None:
    """Make ``values`` (e.g. the configuration in use) the study's next trial, unless a
    trial with them has been evaluated (complete or pruned) or is waiting or running.

    With it among the trials, the best trial is never worse than that configuration
    under the same budget. A trial with them that failed (its worker was interrupted,
    and any retry failed too) does not count, so the next run evaluates them again.
    Values the space cannot produce would make a trial outside the search, so they are
    left out, saying so; ``source`` names them in that log line and in the trial's
    ``enqueued`` user attribute.
    """
    outside = [name for name, value in values.items() if not contains(search_space[name], value)]
    if outside:
        logger.info(
            "The %s %s lie outside the search space; not enqueued as a trial.",
            source,
            {name: values[name] for name in outside},
        )
        return
    counted = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.WAITING, TrialState.RUNNING)
    for trial in study.get_trials(deepcopy=False, states=counted):
        # A waiting enqueued trial keeps its values in Optuna's "fixed_params" until it runs.
        if trial.system_attrs.get("fixed_params", trial.params) == dict(values):
            return
    study.enqueue_trial(dict(values), user_attrs={"enqueued": source})

"""The parameter schemas: the shipped configuration fits them, and each kind of mistake
is reported as one line that names the key by its dotted path."""

import copy
import re

import pytest
import yaml

from tests.conftest import REPO_ROOT
from vaeops.adapters.kedro.config_loader import project_parameters
from vaeops.adapters.kedro.parameters import ParameterError, Parameters, check_parameters
from vaeops.errors import DataError

PARAMETER_FILES = sorted((REPO_ROOT / "conf").glob("*/parameters*.yml"))
TRAINING_KEYS = (
    "model, epochs, batch_size, learning_rate, anneal_cap, anneal_share, total_anneal_steps, "
    "patience, l2_penalty, validation_k, eval_batch_size, seed, device, precision"
)


@pytest.fixture(scope="module")
def shipped() -> dict:
    """The parameters as `kedro run` merges conf/base and conf/local."""
    return project_parameters(REPO_ROOT / "conf")


def problems(params: dict) -> list[str]:
    """The lines of the error that ``params`` raise, without the heading."""
    with pytest.raises(ParameterError) as raised:
        check_parameters(params)
    heading, *lines = raised.value.message.splitlines()
    assert heading.startswith("Invalid parameters")
    return [line.strip() for line in lines]


def changed(params: dict, path: str, value) -> dict:
    """A copy of ``params`` with the dotted ``path`` set to ``value``."""
    params = copy.deepcopy(params)
    *parents, leaf = path.split(".")
    block = params
    for key in parents:
        block = block[key]
    block[leaf] = value
    return params


@pytest.mark.parametrize("path", PARAMETER_FILES, ids=lambda path: str(path.relative_to(REPO_ROOT)))
def test_every_shipped_block_fits_its_schema(path):
    """Each block of the file as its environment resolves it (derived blocks included)."""
    resolved = project_parameters(REPO_ROOT / "conf", env=path.parent.name)
    for name in yaml.safe_load(path.read_text()):
        Parameters.model_fields[name].annotation.model_validate(resolved[name])


def test_the_merged_configuration_has_exactly_the_blocks_of_the_schema(shipped):
    assert set(shipped) == set(Parameters.model_fields)
    check_parameters(shipped)


def test_a_misspelt_key_is_named_with_the_valid_keys_of_its_block(shipped):
    params = changed(shipped, "training.learnin_rate", 0.01)
    assert problems(params) == [
        f"training.learnin_rate: unknown key; valid keys of training: {TRAINING_KEYS}"
    ]


def test_a_misspelt_block_is_named_with_the_valid_blocks(shipped):
    params = {**shipped, "trainng": {"epochs": 3}}
    [line] = problems(params)
    assert line.startswith("trainng: unknown key; valid keys of the parameters: dataset, ")


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        ("training.epochs", "5", "training.epochs: expected a valid integer, got '5'"),
        ("training.epochs", 5.0, "training.epochs: expected a valid integer, got 5.0"),
        ("training.epochs", 0, "training.epochs: expected greater than 0, got 0"),
        ("retraining.force", 1, "retraining.force: expected a valid boolean, got 1"),
        (
            "training.model.kind",
            "vae",
            "training.model.kind: expected 'multvae', 'multdae' or 'recvae', got 'vae'",
        ),
        ("evaluation.ks", [20, "x"], "evaluation.ks.1: expected a valid integer, got 'x'"),
        ("dataset.columns.rating", 3, "dataset.columns.rating: expected a valid string, got 3"),
    ],
)
def test_a_value_of_the_wrong_type_or_range_is_named_with_what_was_expected(
    shipped, path, value, expected
):
    assert problems(changed(shipped, path, value)) == [expected]


def test_a_value_that_fits_no_member_of_a_union_gets_one_line_under_its_own_key(shipped):
    params = changed(shipped, "preprocessing.n_heldout_users", "ten")
    assert problems(params) == [
        "preprocessing.n_heldout_users: expected a valid integer or a valid number, got 'ten'"
    ]


def test_every_bad_key_is_reported_at_once(shipped):
    params = changed(shipped, "training.epochs", "many")
    params = changed(params, "reporting.traversal.steps", 1)
    del params["evaluation"]["device"]
    assert problems(params) == [
        "training.epochs: expected a valid integer, got 'many'",
        "evaluation.device: missing",
        "reporting.traversal.steps: expected greater than or equal to 2, got 1",
    ]


def test_overrides_merged_over_a_block_need_only_some_keys_but_only_its_keys(shipped):
    check_parameters(changed(shipped, "benchmark.autoencoder_overrides.multvae", {"epochs": 3}))
    params = changed(shipped, "benchmark.autoencoder_overrides.multdae.model.latent_dm", 64)
    [line] = problems(params)
    assert line.startswith(
        "benchmark.autoencoder_overrides.multdae.model.latent_dm: unknown key; valid keys of "
        "benchmark.autoencoder_overrides.multdae.model: kind, hidden_dims, latent_dim, dropout"
    )
    params = changed(shipped, "benchmark.autoencoder_overrides.multvae.precision", "fp8")
    assert problems(params) == [
        "benchmark.autoencoder_overrides.multvae.precision: "
        "expected 'auto', 'fp32' or 'bf16', got 'fp8'"
    ]
    params = changed(shipped, "augmentation.regimes.full.mlp", {"epochs": -3})
    assert problems(params) == [
        "augmentation.regimes.full.mlp.epochs: expected greater than 0, got -3"
    ]


def test_a_search_space_may_only_name_keys_of_what_it_tunes(shipped):
    distribution = {"type": "float", "low": 0.001, "high": 0.1}
    params = changed(shipped, "tuning.search_space.learnin_rate", distribution)
    assert problems(params) == [
        f"tuning.search_space.learnin_rate: unknown key; valid keys of tuning.search_space: "
        f"{TRAINING_KEYS}"
    ]
    params = changed(shipped, "tuning_given_split.tuning.search_space.learnin_rate", distribution)
    assert problems(params) == [
        "tuning_given_split.tuning.search_space.learnin_rate: unknown key; valid keys of "
        f"tuning_given_split.tuning.search_space: {TRAINING_KEYS}"
    ]
    params = changed(shipped, "augmentation.arms.smote.search_space.scale", distribution)
    assert problems(params) == [
        "augmentation.arms.smote.search_space.scale: unknown key; valid keys of "
        "augmentation.arms.smote.search_space: ratio, k_neighbors"
    ]


def test_a_distribution_needs_the_bounds_or_choices_of_its_type(shipped):
    params = changed(shipped, "tuning.search_space.anneal_cap", {"type": "float", "high": 1.0})
    assert problems(params) == ["tuning.search_space.anneal_cap: a float distribution needs low"]
    params = changed(shipped, "tuning.search_space.model.dropout", {"type": "categorical"})
    assert problems(params) == [
        "tuning.search_space.model.dropout: a categorical distribution needs choices"
    ]


def test_a_parameter_error_is_a_data_error_for_callers_outside_the_cli(shipped):
    with pytest.raises(DataError, match="training.learnin_rate"):
        check_parameters(changed(shipped, "training.learnin_rate", 0.01))


def test_the_shipped_recvae_environment_is_the_one_docs_tuning_shows():
    blocks = re.findall(
        r"```yaml\n# conf/recvae/(\S+)\n(.*?)```", (REPO_ROOT / "docs/tuning.md").read_text(), re.S
    )
    assert {name for name, _ in blocks} == {"parameters_training.yml", "parameters_tuning.yml"}
    for name, text in blocks:
        shipped = yaml.safe_load((REPO_ROOT / "conf/recvae" / name).read_text())
        assert shipped == yaml.safe_load(text), name


def test_contour_params_must_be_searched(shipped):
    params = changed(shipped, "tuning.contour_params", ["anneal_cap", "model.gamma"])
    assert problems(params) == [
        "tuning: tuning.contour_params ['anneal_cap', 'model.gamma'] must name two entries of "
        "tuning.search_space: ['anneal_cap', 'anneal_share', 'learning_rate', "
        "'model.dropout', 'model.hidden_dims', 'model.latent_dim']."
    ]


def searched_problem(params: dict, study: str = "tuning") -> str | None:
    """The schema's message for a run that reads the ``study`` block; none for a run that
    tunes nothing."""
    check_parameters(params)
    try:
        check_parameters(params, read={"training", study})
    except ParameterError as error:
        return error.message.split("nothing ran:\n  ")[1]
    return None


def test_searching_a_setting_the_model_ignores_fails_and_says_why(shipped):
    """Checked for the studies a run reads, before it starts; a run that tunes nothing may
    set the training block freely (the paper's total_anneal_steps with the shipped search
    space)."""
    annealed = {"type": "float", "low": 0.0, "high": 1.0}
    recvae_model = {
        **shipped["training"]["model"],
        "kind": "recvae",
        "gamma": 0.005,
        "encoder_passes": 3,
        "decoder_passes": 1,
    }
    recvae = changed(shipped, "training.model", recvae_model)
    assert searched_problem(recvae) == (
        "tuning.search_space varies ['anneal_cap', 'anneal_share'], settings that change "
        "nothing here: a recvae has no annealed KL weight (docs/tuning.md has a RecVAE "
        "search space)."
    )
    recvae_space = {"model": {"gamma": annealed}, "learning_rate": annealed}
    recvae = changed(recvae, "tuning.search_space", recvae_space)
    recvae = changed(recvae, "tuning.contour_params", ["model.gamma", "learning_rate"])
    assert searched_problem(recvae) is None
    multdae = changed(shipped, "training.model.kind", "multdae")
    assert re.match(
        r"tuning.search_space varies \['anneal_cap', 'anneal_share'\].*multdae has no",
        searched_problem(multdae),
    )
    paper_schedule = changed(shipped, "training.total_anneal_steps", 200000)
    check_parameters(paper_schedule)
    assert re.match(
        r"tuning.search_space varies \['anneal_share'\].*total_anneal_steps sets",
        searched_problem(paper_schedule),
    )
    both = changed(
        shipped,
        "tuning.search_space.total_anneal_steps",
        {"type": "int", "low": 1000, "high": 200000},
    )
    assert re.match(r"tuning.search_space varies \['anneal_share'\]", searched_problem(both))
    without_share = copy.deepcopy(paper_schedule)
    del without_share["tuning"]["search_space"]["anneal_share"]
    assert searched_problem(without_share) is None
    # The given split's study is checked against its own training block.
    given = changed(shipped, "tuning_given_split.training.model.kind", "multdae")
    assert searched_problem(given) is None
    assert searched_problem(given, "tuning_given_split.tuning").startswith(
        "tuning_given_split.tuning.search_space varies ['anneal_cap'], settings that change"
    )


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "retraining.metric",
            "precision_at_10",
            "retraining.metric: retraining.metric='precision_at_10' is not supported; use "
            "ndcg_at_K or recall_at_K with a positive K",
        ),
        (
            "benchmark.models",
            ["multvae", "popularity"],
            "benchmark.models: benchmark.models must map each model name to true or false",
        ),
        (
            "benchmark.models.lightgcn",
            True,
            "benchmark: benchmark.models names ['lightgcn'], which are neither baselines",
        ),
        (
            "benchmark.models.multvae",
            False,
            "benchmark: benchmark.reference ('multvae') must be one of the selected "
            "benchmark.models",
        ),
        (
            "benchmark.published",
            {"source": "x", "models": {"lightgcn": {"recall_at_40": 0.2}}},
            "benchmark: Published values ['lightgcn.recall_at_40'] have no column",
        ),
        (
            "benchmark.headline_metric",
            "ndcg_at_7",
            "benchmark: benchmark.table_metrics",
        ),
    ],
)
def test_a_benchmark_or_retraining_that_cannot_run_is_refused_before_training(
    shipped, path, value, expected
):
    [line] = problems(changed(shipped, path, value))
    assert line.startswith(expected)


def test_the_given_split_benchmark_passes_the_benchmark_checks(shipped):
    params = changed(shipped, "benchmark_given_split.benchmark.reference", "lightgcn")
    [line] = problems(params)
    assert line.startswith(
        "benchmark_given_split.benchmark: benchmark.reference ('lightgcn') must be one of "
        "the selected"
    )

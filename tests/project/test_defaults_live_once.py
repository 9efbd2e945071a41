"""Every default lives once, in the YAML under conf/base: a settings model only says
what a key may hold, and no function or dataclass of the package repeats a value the
YAML gives the key of the same name."""

import ast
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel

from tests.conftest import REPO_ROOT
from vaeops.adapters.kedro.config_loader import project_parameters
from vaeops.adapters.kedro.parameters import Parameters
from vaeops.schema import block_in

PACKAGE = REPO_ROOT / "src" / "vaeops"


def settings_models(model: type[BaseModel], seen: set | None = None) -> Iterator[type[BaseModel]]:
    """``model`` and every settings block nested in it, in dicts and unions too."""
    seen = set() if seen is None else seen
    if model in seen:
        return
    seen.add(model)
    yield model
    for field in model.model_fields.values():
        for candidate in _annotations(field.annotation):
            nested = block_in(candidate)
            if nested is not None:
                yield from settings_models(nested, seen)


def _annotations(annotation) -> Iterator:
    yield annotation
    for argument in getattr(annotation, "__args__", ()) or ():
        yield from _annotations(argument)


def yaml_values(params, path: str = "") -> Iterator[tuple[str, str, object]]:
    """(key, dotted path, value) of every scalar the shipped parameters hold."""
    if isinstance(params, dict):
        for key, value in params.items():
            yield from yaml_values(value, f"{path}.{key}" if path else key)
    elif not isinstance(params, list) and params is not None:
        yield path.rsplit(".", 1)[-1], path, params


def code_defaults() -> Iterator[tuple[str, str, object]]:
    """(name, where, value) of every literal keyword default and dataclass field default."""
    for file in sorted(PACKAGE.rglob("*.py")):
        tree = ast.parse(file.read_text())
        where = str(file.relative_to(REPO_ROOT))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                arguments = node.args.args + node.args.kwonlyargs
                defaults = [None] * (len(node.args.args) - len(node.args.defaults))
                defaults += node.args.defaults + node.args.kw_defaults
                for argument, default in zip(arguments, defaults, strict=True):
                    if isinstance(default, ast.Constant):
                        yield argument.arg, f"{where}:{node.lineno} {node.name}", default.value
            elif isinstance(node, ast.ClassDef):
                for item in node.body:
                    if isinstance(item, ast.AnnAssign) and isinstance(item.value, ast.Constant):
                        name = getattr(item.target, "id", None)
                        yield name, f"{where}:{item.lineno} {node.name}", item.value.value


def test_no_settings_model_carries_a_default_other_than_absent():
    carrying = [
        f"{model.__name__}.{name} = {field.default!r}"
        for model in settings_models(Parameters)
        for name, field in model.model_fields.items()
        if not field.is_required() and field.default is not None
    ]
    assert not carrying, f"defaults belong in conf/base's YAML, not the schema: {carrying}"


def test_no_function_or_dataclass_repeats_a_default_of_the_yaml():
    shipped = project_parameters(REPO_ROOT / "conf", env="base")
    values: dict[str, dict] = {}
    for key, path, value in yaml_values(shipped):
        values.setdefault(key, {}).setdefault(_comparable(value), path)
    repeated = [
        f"{where}: {name}={value!r} repeats {values[name][_comparable(value)]}"
        for name, where, value in code_defaults()
        if value is not None
        and not isinstance(value, bool)
        and _comparable(value) in values.get(name, {})
    ]
    assert not repeated, "a default defined twice:\n" + "\n".join(repeated)


def _comparable(value) -> tuple:
    return (type(value) is str, value)


def test_the_scan_sees_the_package():
    names = {name for name, _, _ in code_defaults()}
    assert len(names) > 10
    assert Path(PACKAGE / "schema.py").is_file()

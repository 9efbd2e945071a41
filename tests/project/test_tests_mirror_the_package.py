"""tests/unit mirrors src/vaeops: tests/unit/<package>/test_<module>[_<topic>].py tests
src/vaeops/<package>/<module>.py (or the package <module>/), so a module's tests are
where a newcomer looks for them."""

from tests.conftest import REPO_ROOT

UNIT = REPO_ROOT / "tests" / "unit"
PACKAGE = REPO_ROOT / "src" / "vaeops"


def module_tested_by(test_file) -> str | None:
    """The module or package of src/vaeops that ``test_file`` is named after, if any:
    the longest prefix of its name (after ``test_``) that is one."""
    folder = PACKAGE / test_file.parent.relative_to(UNIT)
    words = test_file.stem.removeprefix("test_").split("_")
    for end in range(len(words), 0, -1):
        name = "_".join(words[:end])
        for candidate in (folder / f"{name}.py", folder / name / "__init__.py"):
            if candidate.is_file():
                return str(candidate.relative_to(REPO_ROOT))
    return None


def test_every_unit_test_file_is_named_after_a_module_of_the_package():
    files = sorted(UNIT.rglob("test_*.py"))
    assert len(files) > 30
    strays = [str(f.relative_to(REPO_ROOT)) for f in files if module_tested_by(f) is None]
    assert not strays, f"unit tests that mirror no module of src/vaeops: {strays}"


def test_only_shared_files_sit_at_the_top_of_tests():
    top = sorted(path.name for path in (REPO_ROOT / "tests").glob("*.py"))
    assert top == ["__init__.py", "conftest.py"]

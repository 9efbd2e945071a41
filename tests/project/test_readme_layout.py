"""The README's "Project layout" matches the tree: every path it names exists, and every
folder and module of the package and every top-level folder is named, so the map a
newcomer reads cannot go stale unnoticed."""

import re
import subprocess

from tests.conftest import REPO_ROOT

# Top-level folders the layout need not name: Kedro's data layers, git-ignored at run time.
UNLISTED_TOP_LEVEL = {"data", ".ci"}


def layout_paths() -> set[str]:
    """The paths of the README's layout block: an entry's indentation (two spaces a
    level) nests it under the folder above; ``a.py, b.py`` names several; ``<name>``
    stands for every folder there."""
    text = (REPO_ROOT / "README.md").read_text()
    block = re.search(r"## Project layout\n\n```\n(.*?)```", text, re.S).group(1)
    paths, parents = set(), []
    for line in block.splitlines():
        entry = re.match(r"( *)([^\s,]+(?:, [^\s,]+)*)", line)
        if entry is None:
            continue
        depth = len(entry.group(1)) // 2
        names = [name.strip(",") for name in entry.group(2).split(", ")]
        if depth > len(parents) or not all(re.fullmatch(r"[\w.<>/*-]+", n) for n in names):
            continue  # a description's continuation line
        parents = parents[:depth]
        for name in names:
            paths.add("".join(parents) + name)
        if names[-1].endswith("/"):
            parents.append(names[-1])
    return paths


def existing(path: str) -> bool:
    return any(REPO_ROOT.glob(re.sub(r"<\w+>", "*", path).rstrip("/")))


def tracked_files() -> list[str]:
    listing = subprocess.run(
        ["git", "ls-files"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
    )
    return listing.stdout.splitlines()


def test_every_path_the_layout_names_exists():
    missing = sorted(path for path in layout_paths() if not existing(path))
    assert not missing, f"README's Project layout names paths that do not exist: {missing}"


def test_the_layout_names_every_module_and_top_level_folder():
    named = layout_paths()
    named |= {path[: index + 1] for path in named for index, c in enumerate(path) if c == "/"}
    covered = {re.sub(r"<\w+>", "*", path) for path in named}
    needed = set()
    for file in tracked_files():
        parts = file.split("/")
        if len(parts) > 1 and parts[0] not in UNLISTED_TOP_LEVEL:
            needed.add(parts[0] + "/")
        if file.startswith("src/vaeops/") and file.endswith(".py"):
            relative = file.removeprefix("src/")
            if relative.startswith("vaeops/pipelines/") and relative.count("/") > 2:
                needed.add("src/vaeops/pipelines/<name>/")
            elif not relative.endswith("__init__.py"):
                needed.add("src/" + relative)
            for depth in range(2, relative.count("/") + 1):
                folder = "/".join(relative.split("/")[:depth]) + "/"
                if not folder.startswith("vaeops/pipelines/") or depth == 2:
                    needed.add("src/" + folder)
    unnamed = sorted(
        path
        for path in needed
        if path not in named
        and path not in covered
        and not any(_covers(pattern, path) for pattern in covered)
    )
    assert not unnamed, f"README's Project layout does not name: {unnamed}"


def _covers(pattern: str, path: str) -> bool:
    regex = re.escape(pattern).replace(r"\*", "[^/]+")
    return re.fullmatch(regex, path) is not None

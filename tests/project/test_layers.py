"""The layer contracts of pyproject's [tool.importlinter], checked on every test run."""

import subprocess
import sys
from pathlib import Path

import tomllib

ROOT = Path(__file__).resolve().parents[2]


def test_import_contracts_hold():
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--no-cache"], cwd=ROOT, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    contracts = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    assert f"{len(contracts['contracts'])} kept, 0 broken" in result.stdout, result.stdout


def test_every_pipeline_folder_has_its_nodes_and_its_wiring():
    folders = [path for path in (ROOT / "src/vaeops/pipelines").iterdir() if path.is_dir()]
    folders = [folder for folder in folders if folder.name != "__pycache__"]
    incomplete = [
        folder.name
        for folder in folders
        if not (folder / "nodes.py").is_file() or not (folder / "pipeline.py").is_file()
    ]
    assert len(folders) >= 12 and not incomplete, incomplete

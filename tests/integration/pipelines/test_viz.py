"""`kedro viz build` shows every pipeline, its nodes tagged with its name, datasets in layers,
and the namespaces under which tuning is reused."""

import json
import os
import subprocess
import sys
from pathlib import Path

import vaeops.pipelines
from vaeops.pipeline_registry import DEFAULT_CHAIN

KEDRO_LAYERS = {
    "raw",
    "intermediate",
    "primary",
    "feature",
    "model_input",
    "models",
    "model_output",
    "reporting",
}


def test_kedro_viz_groups_the_pipelines_by_tag_and_the_datasets_by_layer(kedro_project):
    built = subprocess.run(
        [sys.executable, "-m", "kedro", "viz", "build"],
        cwd=kedro_project,
        env={**os.environ, "KEDRO_DISABLE_TELEMETRY": "1"},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert built.returncode == 0, built.stdout + built.stderr
    api = kedro_project / "build" / "api" / "pipelines"
    views = {path.name: json.loads(path.read_text()) for path in api.iterdir()}

    folders = Path(vaeops.pipelines.__file__).parent
    names = {path.parent.name for path in folders.glob("*/pipeline.py")}
    assert set(views) == names | {"__default__"}

    for name, view in views.items():
        tasks = [node for node in view["nodes"] if node["type"] == "task"]
        expected_tags = set(DEFAULT_CHAIN) if name == "__default__" else {name}
        assert all(len(task["tags"]) == 1 for task in tasks), name
        assert {task["tags"][0] for task in tasks} == expected_tags, name

        datasets = [node for node in view["nodes"] if node["type"] == "data"]
        in_catalog = [node for node in datasets if "MemoryDataset" not in node["dataset_type"]]
        assert all(node["layer"] in KEDRO_LAYERS for node in in_catalog), (
            name,
            [node["name"] for node in in_catalog if node["layer"] not in KEDRO_LAYERS],
        )
        # kedro-viz drops every layer when they depend on each other in a cycle.
        assert {node["layer"] for node in in_catalog} <= set(view["layers"]), name

    # A pipeline reused under a namespace shows as its own group.
    for namespace in ("tuning", "tuning_given_split"):
        assert namespace in views[namespace]["modular_pipelines"], namespace

    default_layers = views["__default__"]["layers"]
    assert default_layers[0] == "intermediate" and default_layers[-1] == "reporting"

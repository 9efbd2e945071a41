"""The core must run where only torch, numpy and scipy exist (e.g. a bare GPU box)."""

import subprocess
import sys
import textwrap

TORCH_ONLY_MODULES = [
    "vaeops.data.sparse",
    "vaeops.recommenders.models",
    "vaeops.recommenders.metrics",
    "vaeops.recommenders.training",
    "vaeops.recommenders.baselines",
    "vaeops.speed.training",
    "vaeops.recommenders.latent",
    "vaeops.recommenders.serving",
    "vaeops.augmentation.cvae",
    "vaeops.augmentation.classifiers",
    "vaeops.statistics.correlated_cv",
    "vaeops.augmentation.batched",
]
CORE_MODULES = [*TORCH_ONLY_MODULES, "vaeops.data.ingest", "vaeops.data.splits", "vaeops.recommenders.retraining"]


def import_with_blocked(modules: list[str], blocked: list[str]) -> subprocess.CompletedProcess:
    script = textwrap.dedent(
        f"""
        import importlib, importlib.abc, sys

        class Block(importlib.abc.MetaPathFinder):
            def find_spec(self, name, path=None, target=None):
                if name.split(".")[0] in {blocked!r}:
                    raise ImportError("blocked for this test: " + name)

        sys.meta_path.insert(0, Block())
        for module in {modules!r}:
            importlib.import_module(module)
        """
    )
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)


def test_core_imports_without_kedro_or_mlflow():
    result = import_with_blocked(
        CORE_MODULES, ["kedro", "kedro_datasets", "kedro_mlflow", "mlflow", "optuna"]
    )
    assert result.returncode == 0, result.stderr


def test_model_training_and_metrics_need_only_torch_numpy_scipy():
    result = import_with_blocked(
        TORCH_ONLY_MODULES, ["kedro", "mlflow", "pandas", "sklearn", "tqdm", "optuna"]
    )
    assert result.returncode == 0, result.stderr

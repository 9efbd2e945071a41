"""Edges of the project: Kedro datasets, MLflow tracking and terminal progress.

Only this package and ``vaeops.pipelines`` import Kedro or MLflow; the core
modules beside it run without them.
"""

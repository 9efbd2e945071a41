"""Kedro's side: the project's hooks, catalog datasets and the end-of-run summary."""

"""Kedro pipelines: thin wiring of the core into runnable, tracked steps."""

"""Runnable tools, never part of a pipeline run: speed and memory benchmarks that print
JSON, and diagnostics behind docs/results and docs/reliability.md.

    python -m vaeops.tools.speed_training        # training and full-ranking evaluation
    python -m vaeops.tools.speed_preprocessing   # the Liang split at ML-20M scale
    python -m vaeops.tools.epoch_ceiling         # the epoch a test set would have picked
    bash src/vaeops/tools/fault_probe.sh         # each fault of docs/reliability.md, provoked
"""

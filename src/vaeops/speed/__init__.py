"""Speed and memory benchmarks that print JSON, for training and preprocessing.

Run as ``python -m vaeops.speed.training`` and ``python -m vaeops.speed.preprocessing``.
"""

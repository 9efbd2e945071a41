"""Interaction data: where it comes from, how it is split, and its sparse matrices.

The dataset registry and loaders (``ingest``), built on where files come from
(``sources``) and how they are read (``parsers``, ``lightgcn``); the Liang and given splits
(``splits``); the CSR matrices, built and kept on the compute device (``sparse``).
"""

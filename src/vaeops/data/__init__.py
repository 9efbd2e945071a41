"""Interaction data: where it comes from, how it is split, and its sparse matrices.

Sources and parsers (``ingest``), the Liang and given splits (``splits``) and the
CSR matrices kept on the compute device (``sparse``).
"""

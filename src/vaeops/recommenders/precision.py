"""Which floating-point precision a training run computes in: bf16 autocast where the
device computes bf16 natively, fp32 elsewhere."""

from __future__ import annotations

from pathlib import Path

import torch

# The autocast dtype of each precision the settings name (None: no autocast).
PRECISIONS = {"fp32": None, "bf16": torch.bfloat16}


def resolve_precision(precision: str, device: torch.device) -> str:
    if precision != "auto":
        return precision
    return "bf16" if computes_bf16_natively(device) else "fp32"


def computes_bf16_natively(device: torch.device) -> bool:
    """Emulated bf16 is several times slower than fp32 (AVX2-only CPUs), so only
    hardware with bf16 arithmetic qualifies."""
    if device.type == "cuda":
        return torch.cuda.is_bf16_supported(including_emulation=False)
    if device.type == "cpu":
        return bool(_cpu_flags() & {"avx512_bf16", "amx_bf16"})
    return False


def _cpu_flags() -> set[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no reliable flag list, so fp32
        return set()
    line = next((line for line in text.splitlines() if line.startswith("flags")), "")
    return set(line.partition(":")[2].split())

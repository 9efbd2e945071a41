"""Devices every device-sensitive test runs on: the CPU always, CUDA wherever it
exists (so GPU machines exercise the CUDA paths without any test being skipped)."""

import torch

DEVICES = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])

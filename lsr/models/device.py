"""Device and precision choice shared by the neural encoders.

Weights stay float32 (the master copy a trainer updates); on a GPU with bf16 support the forward
pass runs under bf16 autocast, at inference and in training alike. Precision "bfloat16" asks for
bf16 autocast on the CPU too (fast where the CPU has AMX or AVX-512 BF16), "float32" for none.
"""

from __future__ import annotations

import contextlib

import torch


def pick_device(device: str | None = None) -> torch.device:
    """`device` when given, else the first CUDA GPU when there is one, else the CPU."""
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device: torch.device, precision: str = "auto") -> contextlib.AbstractContextManager:
    """bf16 autocast on a GPU that supports it (half the memory, same speed or better), with precision
    "auto"; on any device with "bfloat16"; nothing otherwise."""
    if precision == "bfloat16" or (precision == "auto" and device.type == "cuda" and torch.cuda.is_bf16_supported()):
        return torch.autocast(device.type, dtype=torch.bfloat16)
    return contextlib.nullcontext()

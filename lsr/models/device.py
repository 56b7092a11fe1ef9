"""Device and precision choice shared by the neural encoders.

Weights stay float32 (the master copy a trainer updates); on a GPU with bf16 support the forward
pass runs under bf16 autocast, at inference and in training alike.
"""

from __future__ import annotations

import contextlib

import torch


def pick_device(device: str | None = None) -> torch.device:
    """`device` when given, else the first CUDA GPU when there is one, else the CPU."""
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on a GPU that supports it (half the memory, same speed or better); nothing elsewhere."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()

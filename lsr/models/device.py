"""Device and precision choice shared by the neural encoders."""

from __future__ import annotations

import torch


def pick_device(device: str | None = None) -> torch.device:
    """`device` when given, else the first CUDA GPU when there is one, else the CPU."""
    if device:
        return torch.device(device)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def pick_dtype(device: torch.device) -> torch.dtype:
    """bf16 on a GPU that supports it (half the memory, same speed or better), fp32 elsewhere."""
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.bfloat16
    return torch.float32

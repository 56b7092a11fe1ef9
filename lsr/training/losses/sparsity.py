"""Sparsity regularisers on term weights [N, V] and the quadratic warm-up of their weight λ."""

from __future__ import annotations

import torch


def _check_matrix(weights: torch.Tensor) -> None:
    if weights.ndim != 2:
        raise ValueError(f"expected term weights [N, V], got shape {tuple(weights.shape)}")


def flops(weights: torch.Tensor) -> torch.Tensor:
    """FLOPS regulariser (Paria et al. 2020, as in SPLADE): `Σ_j ((1/N) Σ_i |w_ij|)²`.

    The squared mean absolute weight of each vocabulary term over the N rows, summed over terms.
    """
    _check_matrix(weights)
    return weights.abs().mean(dim=0).square().sum()


def l1(weights: torch.Tensor) -> torch.Tensor:
    """L1 regulariser: `(1/N) Σ_i Σ_j |w_ij|`, the mean over rows of each row's L1 norm."""
    _check_matrix(weights)
    return weights.abs().sum(dim=1).mean()


def quadratic_warmup(lam: float, step: int, warmup_steps: int) -> float:
    """λ at optimizer step `step` (1 for the first): `λ · min(1, (step / warmup_steps)²)`.

    The ramp of Paria et al. and SPLADE; `warmup_steps <= 0` gives λ at once.
    """
    if warmup_steps <= 0:
        return lam
    return lam * min(1.0, (step / warmup_steps) ** 2)

"""InfoNCE: softmax cross-entropy over dot-product scores, the positive as the target."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def info_nce(queries: torch.Tensor, docs: torch.Tensor, *, temperature: float = 1.0,
             in_batch: bool = True) -> torch.Tensor:
    """InfoNCE of `queries` [B, V] against `docs` [B, G, V], slot 0 of each row the positive.

    With `in_batch`, query b is scored against all B*G documents of the batch (its own G
    among them) and its positive is column b*G; otherwise only against its own G, positive
    in column 0. With s(q, d) = q·d / temperature over the candidates C_b of query b:
    `L = -(1/B) Σ_b log( exp(s(q_b, d_b0)) / Σ_{d ∈ C_b} exp(s(q_b, d)) )`.
    """
    if queries.ndim != 2 or docs.ndim != 3 or docs.shape[0] != queries.shape[0] \
            or docs.shape[2] != queries.shape[1]:
        raise ValueError(f"expected queries [B, V] and docs [B, G, V], got {tuple(queries.shape)} "
                         f"and {tuple(docs.shape)}")
    batch, group, _ = docs.shape
    if in_batch:
        scores = queries @ docs.reshape(batch * group, -1).T
        targets = torch.arange(batch, device=queries.device) * group
    else:
        scores = torch.einsum("bv,bgv->bg", queries, docs)
        targets = torch.zeros(batch, dtype=torch.long, device=queries.device)
    return F.cross_entropy(scores / temperature, targets)

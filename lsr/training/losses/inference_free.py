"""Inference-free LSR (Geng et al., arXiv 2411.04403; OpenSearch doc-only models): IDF queries
and the IDF-aware FLOPS.

A query runs no network: its vector is the binary bag of its distinct token ids times the
clipped IDF, `q(j) = 1[j ∈ q] · max(idf_j, 0)`, so the score of document weights w_d is
`s(q, d) = Σ_j q(j) · w_d(j) = Σ_{j ∈ q, idf_j > 0} idf_j · w_d(j)`.

As in the official OpenSearch code, training minimises `L = L_rank(s) + λ_d · FLOPS(w_d)` with
`FLOPS(w_d) = Σ_j ((1/N) Σ_i |w_{d_i}(j)|)²` over the N documents: the plain `flops` of the
RAW document weights (that code sums it over the document slots, `Σ_g flops(docs[:, g])`). The
IDF enters only through the score, so the "IDF-aware FLOPS" needs no function of its own.

It is IDF-aware because, with u_ij = idf_j · w_{d_i}(j) the contribution of term j to the score
(idf_j > 0), `FLOPS(w_d) = Σ_j ((1/N) Σ_i |u_ij|)² / idf_j²`: measured on what the ranking loss
sees, term j is penalised in proportion to 1/idf_j², so common (low-IDF) terms are pruned and
informative (high-IDF) ones spared. Equivalently, the ranking gradient on w_d(j) carries a
factor idf_j and the FLOPS gradient none. `score_space_flops` is that right-hand side.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from lsr.training.losses.sparsity import flops


def idf_query_vectors(token_ids: list[list[int]], idf: torch.Tensor, *,
                      special_ids: Sequence[int] = ()) -> torch.Tensor:
    """Query vectors [B, V]: `q_b(j) = 1[j ∈ token_ids[b], j ∉ special_ids] · max(idf_j, 0)`.

    A token counts once however often it occurs. The result has `idf`'s dtype and device and
    is differentiable in `idf` (which may be a trainable parameter).
    """
    if idf.ndim != 1:
        raise ValueError(f"expected an idf vector [V], got shape {tuple(idf.shape)}")
    vocab_size = idf.shape[0]
    rows = [row for row, ids in enumerate(token_ids) for _ in ids]
    cols = [token for ids in token_ids for token in ids]
    if any(not 0 <= token < vocab_size for token in (*cols, *special_ids)):
        raise ValueError(f"token ids must lie in [0, {vocab_size})")
    presence = torch.zeros(len(token_ids), vocab_size, dtype=idf.dtype, device=idf.device)
    presence[_long(rows, idf.device), _long(cols, idf.device)] = 1
    presence[:, _long(list(special_ids), idf.device)] = 0
    return presence * idf.relu()


def score_space_flops(contributions: torch.Tensor, idf: torch.Tensor) -> torch.Tensor:
    """FLOPS in score space: `Σ_j ((1/N) Σ_i |u_ij|)² / idf_j²` for contributions u [N, V].

    With u_ij = idf_j · w_ij and every idf_j ≠ 0 this equals `flops(w)`; a zero idf_j gives
    inf or NaN.
    """
    return flops(contributions / idf)


def _long(values: list[int], device: torch.device) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.long, device=device)

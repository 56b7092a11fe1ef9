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

import torch

from lsr.models.inference_free import idf_query_vectors
from lsr.training.losses.sparsity import flops

__all__ = ["idf_query_vectors", "score_space_flops"]


def score_space_flops(contributions: torch.Tensor, idf: torch.Tensor) -> torch.Tensor:
    """FLOPS in score space: `Σ_j ((1/N) Σ_i |u_ij|)² / idf_j²` for contributions u [N, V].

    With u_ij = idf_j · w_ij and every idf_j ≠ 0 this equals `flops(w)`; a zero idf_j gives
    inf or NaN.
    """
    return flops(contributions / idf)

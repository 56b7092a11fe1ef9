"""Sparsity knobs applied between encoding and Lucene: top-k and weight threshold per side."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from lsr.sparse import SparseVectors


@dataclass(frozen=True)
class Pruning:
    """Keep each vector's `top_k` largest weights and/or the weights above `threshold` (None: no limit).

    Document pruning is applied when the Lucene index is written (the Parquet shards keep the
    full vectors, so another pruning needs no re-encoding); query pruning when queries are
    searched. Both are recorded in the index metadata.
    """

    doc_top_k: int | None = None
    doc_threshold: float | None = None
    query_top_k: int | None = None
    query_threshold: float | None = None

    @property
    def prunes_queries(self) -> bool:
        return self.query_top_k is not None or self.query_threshold is not None

    def docs(self, vectors: SparseVectors) -> SparseVectors:
        return _prune(vectors, self.doc_top_k, self.doc_threshold)

    def queries(self, vectors: SparseVectors) -> SparseVectors:
        return _prune(vectors, self.query_top_k, self.query_threshold)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> Pruning:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (raw or {}).items() if k in known})


def _prune(vectors: SparseVectors, top_k: int | None, threshold: float | None) -> SparseVectors:
    if top_k is None and threshold is None:
        return vectors
    return vectors.prune(top_k=top_k, threshold=threshold)

"""Sparsity knobs applied between encoding and Lucene: top-k, weight threshold and L1 mass, per side."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from typing import Any

from lsr.sparse import SparseVectors


@dataclass(frozen=True)
class Pruning:
    """Keep each vector's `top_k` largest weights, and/or the weights above `threshold`, and/or the largest
    weights that together reach the fraction `mass` of its L1 mass (None: no limit).

    Document pruning is applied when the Lucene index is written (the Parquet shards keep the
    full vectors, so another pruning needs no re-encoding); query pruning when queries are
    searched. Both are recorded in the index metadata.
    """

    doc_top_k: int | None = None
    doc_threshold: float | None = None
    query_top_k: int | None = None
    query_threshold: float | None = None
    doc_mass: float | None = None
    query_mass: float | None = None

    @property
    def prunes_queries(self) -> bool:
        return self.query_top_k is not None or self.query_threshold is not None or self.query_mass is not None

    def docs(self, vectors: SparseVectors) -> SparseVectors:
        return _prune(vectors, self.doc_top_k, self.doc_threshold, self.doc_mass)

    def queries(self, vectors: SparseVectors) -> SparseVectors:
        return _prune(vectors, self.query_top_k, self.query_threshold, self.query_mass)

    def to_dict(self) -> dict[str, Any]:
        """The knobs as index metadata records them (those never set left out, so that metadata written
        before a knob existed reads the same)."""
        return {key: value for key, value in asdict(self).items()
                if value is not None or key in ("doc_top_k", "doc_threshold", "query_top_k", "query_threshold")}

    @classmethod
    def from_dict(cls, raw: dict[str, Any] | None) -> Pruning:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in (raw or {}).items() if k in known})


def _prune(vectors: SparseVectors, top_k: int | None, threshold: float | None, mass: float | None) -> SparseVectors:
    if top_k is None and threshold is None and mass is None:
        return vectors
    return vectors.prune(top_k=top_k, threshold=threshold, mass=mass)

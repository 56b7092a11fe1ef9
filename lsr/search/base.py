"""The `Searcher` protocol every backend's searcher follows (Lucene, Seismic, sharded), so callers need not
know which one they hold."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from lsr.data import Query
from lsr.indexing.layout import IndexInfo
from lsr.pruning import Pruning
from lsr.runs import Run
from lsr.sparse import SparseVectors

if TYPE_CHECKING:
    from lsr.models import Encoder


class Searcher(Protocol):
    """Searches one index folder (or a sharded one); run scores are Lucene's, as `lsr search` writes them."""

    index_dir: Path
    info: IndexInfo

    @property
    def encoder(self) -> Encoder | None:
        """The query encoder of an impact index; None for BM25."""
        ...

    @property
    def pruning(self) -> Pruning:
        """The query pruning searches use."""
        ...

    @property
    def score_unit(self) -> float:
        """Run score per unit of the model's dot product (scale² for impact indexes, 1 for BM25)."""
        ...

    def search(self, queries: Sequence[Query], k: int = 1000, *, progress: bool = False) -> Run:
        """Top-`k` documents for every query, in the queries' order; blank queries get no hits."""
        ...

    def search_vectors(self, vectors: SparseVectors, k: int = 1000) -> Run:
        """`search` for query vectors from `encode_queries` (the search alone)."""
        ...

    def encode_queries(self, queries: Sequence[Query], *, progress: bool = False) -> SparseVectors:
        """The quantized, pruned query vectors an impact index is searched with."""
        ...

    def search_one(self, text: str, k: int = 10) -> list[tuple[str, float]]:
        """Top-`k` (doc id, score in the model's units) for one query text."""
        ...

    def close(self) -> None:
        """Let go of what the searcher holds open."""
        ...

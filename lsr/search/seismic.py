"""Approximate search with an impact index's Seismic index (`lsr.indexing.seismic`), scored as Lucene scores."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lsr.data import Query
from lsr.errors import LsrError
from lsr.indexing.seismic import INDEX_FILE, SEISMIC_DIR, SeismicInfo, impact_index_info, import_seismic
from lsr.pruning import Pruning
from lsr.runs import Run
from lsr.search.backends import DEFAULT_HEAP_FACTOR, DEFAULT_QUERY_CUT
from lsr.search.lucene import LuceneSearcher, default_threads
from lsr.sparse import SparseVectors

if TYPE_CHECKING:
    from lsr.models import Encoder


class SeismicSearcher:
    """Searches an impact index's Seismic index; queries are encoded, pruned and quantized exactly as
    `LuceneSearcher.encode_queries` does (with `encoder`, or the model the index records).

    Thread-safe: pyseismic searches its index read-only, holding the GIL for the call (concurrent
    searches run one after the other).

    `query_cut`: how many of the query's highest-weighted terms are searched; `heap_factor`: a block of
    a posting list is skipped when its summary's score is below `heap_factor` times the current k-th best
    score (lower: fewer blocks skipped, slower and closer to exact). Raise `query_cut` and lower
    `heap_factor` for recall. `threads`: Seismic's search threads for a batch. Seismic scores only the
    documents in the blocks it visits, so a query can get fewer than k hits; ties come in its own order.
    """

    def __init__(self, index_dir: str | Path, encoder: Encoder | None = None, *,
                 query_cut: int = DEFAULT_QUERY_CUT, heap_factor: float = DEFAULT_HEAP_FACTOR,
                 threads: int | None = None, pruning: Pruning | None = None):
        seismic = import_seismic()
        self.index_dir = Path(index_dir)
        self.info = impact_index_info(self.index_dir)
        self.seismic_info = SeismicInfo.read(self.index_dir)
        if (self.seismic_info.scale, self.seismic_info.pruning) != (self.info.scale, self.info.pruning):
            raise LsrError(f"{self.index_dir / SEISMIC_DIR}: built for scale {self.seismic_info.scale} and "
                           f"pruning {self.seismic_info.pruning}, the index has {self.info.scale} and "
                           f"{self.info.pruning}; rebuild it with --overwrite")
        if query_cut < 1 or not heap_factor > 0:
            raise LsrError(f"query_cut must be at least 1 and heap_factor positive, got {query_cut}, {heap_factor}")
        self.query_cut, self.heap_factor = query_cut, heap_factor
        self.threads = threads or default_threads()
        self._encoding = LuceneSearcher(self.index_dir, encoder, pruning=pruning)
        self.encoder, self.pruning = self._encoding.encoder, self._encoding.pruning
        self.score_unit = self._encoding.score_unit
        self._token = np.dtype(seismic.get_seismic_string())
        self._index = seismic.SeismicIndex.load(str(self.index_dir / SEISMIC_DIR / INDEX_FILE))

    def encode_queries(self, queries: Sequence[Query], *, progress: bool = False) -> SparseVectors:
        """The quantized query vectors, as `LuceneSearcher.encode_queries` makes them for this index."""
        return self._encoding.encode_queries(queries, progress=progress)

    def search(self, queries: Sequence[Query], k: int = 1000, *, progress: bool = False) -> Run:
        """Top-`k` documents for every query, in the queries' order, scored as `LuceneSearcher.search` scores them."""
        if k < 1:
            raise LsrError(f"k must be at least 1, got {k}")
        return self.search_vectors(self.encode_queries(queries, progress=progress), k)

    def search_vectors(self, vectors: SparseVectors, k: int = 1000) -> Run:
        """`search` for vectors from `encode_queries` (the search alone); rows without terms get no hits."""
        if k < 1:
            raise LsrError(f"k must be at least 1, got {k}")
        if vectors.scale != self.info.scale:
            raise LsrError(f"query vectors quantized with scale {vectors.scale}, the index with {self.info.scale}")
        run: Run = {query_id: [] for query_id in vectors.ids}
        rows = np.flatnonzero(vectors.nnz_per_row() > 0)
        if not rows.size:
            return run
        # Term ids as Seismic's component strings ("42"); query ids are row numbers (its ids are fixed-width).
        terms = vectors.indices.astype(str).astype(self._token)
        weights = vectors.values.astype(np.float32)
        bounds = vectors.indptr
        answers = self._index.batch_search(
            rows.astype(str).astype(self._token), [terms[bounds[r]:bounds[r + 1]] for r in rows.tolist()],
            [weights[bounds[r]:bounds[r + 1]] for r in rows.tolist()], k, self.query_cut, self.heap_factor,
            num_threads=self.threads)
        # batch_search answers in its own order, not the queries': each hit names its query's row.
        for hits in answers:
            if hits:
                run[vectors.ids[int(hits[0][0])]] = [(doc, score) for _, score, doc in hits]
        return run

    def search_one(self, text: str, k: int = 10) -> list[tuple[str, float]]:
        """Top-`k` (doc id, the model's dot product) for one query text, as `LuceneSearcher.search_one` gives them."""
        return [(doc, score / self.score_unit) for doc, score in self.search([Query("q", text)], k)["q"]]

    def close(self) -> None:
        """Let the Seismic index go (it lives in memory) and close the encoding searcher."""
        self._index = None
        self._encoding.close()

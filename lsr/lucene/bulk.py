"""Batch search in one Java call per batch, through lsr's `lsr.lucene.BulkSearcher` (java/src).

The Java side keeps the Lucene index, its searcher and a thread pool open across calls; queries go to
it as arrays (BM25: the texts; impact: term ids and integer impacts, CSR) and the hits come back as one
byte array (scores, Lucene doc numbers, hits per query), which numpy reads without a Python object per
hit. Doc numbers become external ids through a table read from the index once.

The run is the one Anserini's SearchCollection writes (lsr's former path), score for score and in the
same order, ties included: same queries, similarity and tie-break sort, same score tie adjustment, and
scores as the run file prints them (see BulkSearcher.java).
"""

from __future__ import annotations

import gc
import logging
import threading
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from lsr.errors import LsrError
from lsr.lucene.jvm import bulk_searcher_class, java_errors, utf8_strings
from lsr.runs import Run
from lsr.sparse import SparseVectors

log = logging.getLogger(__name__)

MAX_HITS_PER_CALL = 2_000_000
"""Queries go to Java in chunks of at most this many hits (k per query): 24 MB of answer per call."""


class BulkSearcher:
    """One open index; `search_texts` (BM25) or `search_vectors` (impact) per batch."""

    def __init__(self, lucene_dir: Path, threads: int, *, bm25: tuple[str, str] | None = None,
                 vocab: Sequence[str] | None = None):
        cls = bulk_searcher_class()  # LsrError when lsr's jar is missing or does not link
        with java_errors("Lucene search"):
            if vocab is not None:
                self._java = cls.impact(str(lucene_dir).encode("utf-8"), threads, *utf8_strings(vocab))
            elif bm25 is not None:
                self._java = cls.bm25(str(lucene_dir).encode("utf-8"), threads, *bm25)
            else:
                raise ValueError("give bm25=(k1, b) or vocab")
            table = self._java.docIds().tostring().decode("utf-8").split("\n")
        if len(table) != self._java.maxDoc() + 1 or table[-1]:
            raise LsrError(f"{lucene_dir}: read {len(table) - 1} doc ids for {self._java.maxDoc()} documents")
        self._ids = np.array(table[:-1], dtype=object)

    def search_texts(self, ids: Sequence[str], texts: Sequence[str], k: int, *, printed: bool = True) -> Run:
        """Top-`k` of each BM25 query text (analyzed in Java as Anserini does). Scores as a run file
        prints them, or with `printed=False` the floats Anserini's SimpleSearcher returns."""
        run: Run = {}
        step = _chunk(k)
        for start in range(0, len(texts), step):
            with java_errors("Lucene search"):
                answer = self._java.searchTexts(*utf8_strings(texts[start:start + step]), k, printed)
            self._unpack(answer, ids[start:start + step], run)
        return run

    def search_vectors(self, vectors: SparseVectors, k: int, *, printed: bool = True) -> Run:
        """Top-`k` of each quantized query vector (rows with no terms must be left out by the caller);
        scores as in `search_texts`."""
        if not vectors.is_quantized:
            raise ValueError("impact search needs quantized query vectors")
        run: Run = {}
        step = _chunk(k)
        for start in range(0, len(vectors), step):
            end = min(start + step, len(vectors))
            lo, hi = int(vectors.indptr[start]), int(vectors.indptr[end])
            indptr = (vectors.indptr[start:end + 1] - lo).astype("<i4")
            with java_errors("Lucene search"):
                answer = self._java.searchImpacts(indptr.tobytes(), vectors.indices[lo:hi].astype("<i4").tobytes(),
                                                  vectors.values[lo:hi].astype("<i4").tobytes(), k, printed)
            self._unpack(answer, vectors.ids[start:end], run)
        return run

    def close(self) -> None:
        self._java.close()

    def _unpack(self, answer, query_ids: Sequence[str], run: Run) -> None:
        """Add the hits of one Java answer to `run` (layout: see BulkSearcher.pack)."""
        data = answer.tostring()
        n = len(query_ids)
        total, failed = np.frombuffer(data, "<i4", 2).tolist()
        scores = np.frombuffer(data, "<f8", total, 8).tolist()
        docs = self._ids[np.frombuffer(data, "<i4", total, 8 + 8 * total)].tolist()
        counts = np.frombuffer(data, "<i4", n, 8 + 12 * total).tolist()
        with _no_gc():  # a tuple per hit: cyclic GC passes would only slow this down (a third at 300k hits)
            hits, start = list(zip(docs, scores)), 0  # one zip for the batch: the fastest way to the tuples
            for query_id, count in zip(query_ids, counts):
                run[query_id] = hits[start:start + count]
                start += count
        if failed:
            position, errors = 8 + 12 * total + 4 * n, []
            for _ in range(failed):
                query, length = np.frombuffer(data, "<i4", 2, position).tolist()
                errors.append((query_ids[query], data[position + 8:position + 8 + length].decode("utf-8")))
                position += 8 + length
            log.warning("Lucene refused %d queries, which get no hits (as in Anserini's SearchCollection): "
                        "%s", failed, "; ".join(f"{query_id}: {error}" for query_id, error in errors[:3])
                        + ("; ..." if failed > 3 else ""))


_gc_lock = threading.Lock()
_gc_holders = 0            # threads inside _no_gc (lsr serve searches from several)
_gc_was_enabled = False    # the collector's state when the first of them entered


@contextmanager
def _no_gc():
    """Cyclic garbage collection off while a batch of tuples that hold no cycles is made; the state it
    had before is restored when the last thread inside leaves."""
    global _gc_holders, _gc_was_enabled
    with _gc_lock:
        if _gc_holders == 0:
            _gc_was_enabled = gc.isenabled()
            gc.disable()
        _gc_holders += 1
    try:
        yield
    finally:
        with _gc_lock:
            _gc_holders -= 1
            if _gc_holders == 0 and _gc_was_enabled:
                gc.enable()


def _chunk(k: int) -> int:
    if k < 1:
        raise LsrError(f"k must be at least 1, got {k}")
    return max(1, MAX_HITS_PER_CALL // k)

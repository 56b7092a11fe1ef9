"""Search an lsr index folder (impact or BM25) with Lucene.

Batches go to lsr's own Java searcher (lsr.lucene.bulk): one call per batch on
an index, searcher and thread pool kept open, queries as arrays, hits back as
arrays: no Python object per hit from Java and no fixed cost per call. Its runs
equal those of Anserini's SearchCollection (run files written and read back:
`search_with_anserini`, the former path, kept as the reference). Single queries
(`search_one`, for interactive use and latency measurement) take the same Java
searcher, with the scores Anserini's simple searchers give (not rounded as a run
file prints them). Without lsr's jar (missing, or not linking against the
Anserini on the class path) a search is an LsrError, raised when the Java
searcher first opens: there is no fallback.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from lsr.data import Query
from lsr.errors import LsrError
from lsr.indexing.layout import LUCENE_DIR, IndexInfo
from lsr.lucene.bulk import BulkSearcher
from lsr.lucene.jvm import jclass, keep_signal_handlers
from lsr.pruning import Pruning
from lsr.runs import Run, read_trec_run
from lsr.sparse import SparseVectors

if TYPE_CHECKING:  # torch and transformers load only for impact indexes: a BM25 search starts faster
    from lsr.models import Encoder

log = logging.getLogger(__name__)


def default_threads() -> int:
    return max(1, min(4, os.cpu_count() or 1))


class LuceneSearcher:
    """Searches one index; impact queries are encoded by the model the index records, or `encoder`,
    and pruned as the index records, or as `pruning` says."""

    def __init__(self, index_dir: str | Path, encoder: Encoder | None = None, *, threads: int | None = None,
                 pruning: Pruning | None = None):
        self.index_dir = Path(index_dir)
        self.info = IndexInfo.read(self.index_dir)
        self.pruning = pruning or Pruning.from_dict(self.info.pruning)
        self.lucene_dir = self.index_dir / LUCENE_DIR
        self.threads = threads or default_threads()
        self.encoder = None
        if self.info.kind == "impact":
            from lsr.models import load_encoder

            model = self.info.model_location(self.index_dir)
            if encoder is None and model is None:
                raise LsrError(f"{self.index_dir}: an impact index that records no model; give a query encoder")
            self.encoder = encoder or load_encoder(model or "", **self.info.encoder_settings)
            if self.encoder.fingerprint != self.info.vocab_fingerprint:
                raise LsrError(f"{self.index_dir}: built with vocabulary {self.info.vocab_fingerprint} "
                               f"(model {self.info.model}), but the query encoder has {self.encoder.fingerprint}")
        self._simple = None  # Anserini's SimpleSearcher: the reference search_one is checked against
        self._bulk: BulkSearcher | None = None
        self._bulk_lock = threading.Lock()  # lsr serve searches from several threads

    def search(self, queries: Sequence[Query], k: int = 1000, *, progress: bool = False) -> Run:
        """Top-`k` documents for every query, in the queries' order; blank queries get no hits.

        The same run, score for score and tie for tie, as `search_with_anserini`, in one Java call per
        batch (of up to 2M hits)."""
        if k < 1:
            raise LsrError(f"k must be at least 1, got {k}")
        run: Run = {q.id: [] for q in queries}
        run.update(self._search_batch(self._batch(queries, progress=progress), k))
        return run

    def search_vectors(self, vectors: SparseVectors, k: int = 1000) -> Run:
        """`search` for query vectors already encoded as `encode_queries` does (quantized with the index's
        scale, pruned): the search alone, without the encoder's time. Rows without terms get no hits."""
        if self.encoder is None:
            raise LsrError(f"{self.index_dir} is a BM25 index: search it with query texts")
        if k < 1:
            raise LsrError(f"k must be at least 1, got {k}")
        if vectors.scale != self.info.scale:
            raise LsrError(f"query vectors quantized with scale {vectors.scale}, the index with {self.info.scale}")
        run: Run = {query_id: [] for query_id in vectors.ids}
        run.update(self._search_batch(vectors.select(np.flatnonzero(vectors.nnz_per_row() > 0)), k))
        return run

    def search_with_anserini(self, queries: Sequence[Query], k: int = 1000, *, progress: bool = False) -> Run:
        """`search` through Anserini's SearchCollection: topic and run files, queries as text (impact
        terms repeated `weight` times), about 3 s per call. lsr's former path, kept as the reference
        `search` is checked against."""
        if k < 1:
            raise LsrError(f"k must be at least 1, got {k}")
        run: Run = {q.id: [] for q in queries}
        run.update(self._search_collection(self._topic_lines(self._batch(queries, progress=progress)), k))
        return run

    def close(self) -> None:
        """Close the Lucene readers this searcher opened (they also go when it is garbage collected)."""
        if self._bulk is not None:
            self._bulk.close()
        self._bulk = None
        if self._simple is not None:
            self._simple.close()
            self._simple = None

    def search_one(self, text: str, k: int = 10, *, raw: bool = False) -> list[tuple[str, float]]:
        """Top-`k` (doc id, score) for one query text.

        An impact index scores with integer impacts quantized at `scale` on both sides, so Lucene's
        score is about scale² times the float dot product: the score returned is Lucene's divided
        by `score_unit` (the model's dot product, up to rounding), or Lucene's own with `raw`.
        """
        hits = self.search_prepared(self.prepare_query(text), k)
        return hits if raw else [(doc, score / self.score_unit) for doc, score in hits]

    @property
    def score_unit(self) -> float:
        """Lucene score per unit of the model's dot product: scale² for impact indexes, 1 for BM25."""
        return self.info.scale ** 2 if self.info.kind == "impact" and self.info.scale else 1.0

    def prepare_query(self, text: str) -> str | SparseVectors | None:
        """What Lucene is asked for one query: the text with whitespace runs made one space (BM25) or
        the pruned, quantized query vector (impact); None when it has no terms."""
        if self.encoder is None:
            return " ".join(text.split()) or None
        vector = self.encode_queries([Query("q", text)])
        return vector if vector.indices.size else None

    def search_prepared(self, prepared: str | SparseVectors | None, k: int = 10) -> list[tuple[str, float]]:
        """Search with the output of `prepare_query` (split so encoding and search time apart); Lucene's
        scores, with Anserini's tie adjustment, as its SimpleSearcher gives them."""
        if prepared is None:
            return []
        bulk = self._bulk_searcher()
        if isinstance(prepared, SparseVectors):
            return bulk.search_vectors(prepared, k, printed=False)[prepared.ids[0]]
        return bulk.search_texts(["q"], [prepared], k, printed=False)["q"]

    def encode_queries(self, queries: Sequence[Query], *, progress: bool = False) -> SparseVectors:
        """The quantized query vectors this impact index is searched with."""
        encoder, scale = self.encoder, self.info.scale
        if encoder is None or scale is None:
            raise LsrError(f"{self.index_dir} is a BM25 index: its queries are texts, not vectors")
        texts, ids = [q.text for q in queries], [q.id for q in queries]
        if self.pruning.prunes_queries:
            vectors = encoder.encode_queries(texts, ids, progress=progress)
            return self.pruning.queries(vectors).quantize(scale)
        return encoder.encode_quantized_queries(texts, ids, scale=scale, progress=progress)

    def query_terms(self, queries: Sequence[Query]) -> list[set[str]]:
        """The index terms each query is searched with (analyzed tokens for BM25)."""
        if self.encoder is None:
            analyze = jclass("io.anserini.analysis.AnalyzerUtils").analyze
            return [set(analyze(q.text)) if q.text.strip() else set() for q in queries]
        vectors, vocab = self.encode_queries(queries), self.encoder.vocab
        return [{vocab[t] for t in vectors.row(i)[0].tolist()} for i in range(len(vectors))]

    def _batch(self, queries: Sequence[Query], *, progress: bool) -> list[tuple[str, str]] | SparseVectors:
        """What Lucene searches for `queries`, empty ones left out: (id, text with whitespace runs made
        one space) for BM25, the quantized query vectors with terms for impact indexes."""
        batch: list[tuple[str, str]] | SparseVectors
        if self.encoder is None:
            batch = [(q.id, " ".join(q.text.split())) for q in queries if q.text.strip()]
        else:
            vectors = self.encode_queries(queries, progress=progress)
            batch = vectors.select(np.flatnonzero(vectors.nnz_per_row() > 0))
        if len(batch) < len(queries):
            log.warning("%d of %d queries are empty%s and match nothing", len(queries) - len(batch), len(queries),
                        "" if self.encoder is None else " (or encode to no terms)")
        return batch

    def _topic_lines(self, batch: list[tuple[str, str]] | SparseVectors) -> list[str]:
        """A batch as lines of a TsvString topic file; impact terms repeated `weight` times."""
        if not isinstance(batch, SparseVectors):
            return [f"{query_id}\t{text}\n" for query_id, text in batch]
        assert self.encoder is not None  # query vectors come from an impact index's encoder
        vocab, lines = self.encoder.vocab, []
        for i, query_id in enumerate(batch.ids):
            terms, weights = batch.row(i)
            words = " ".join(" ".join([vocab[t]] * w) for t, w in zip(terms.tolist(), weights.tolist()))
            lines.append(f"{query_id}\t{words}\n")
        return lines

    def _search_batch(self, batch: list[tuple[str, str]] | SparseVectors, k: int) -> Run:
        """The hits of a batch from `_batch` (queries without hits left out of the run)."""
        if not len(batch):
            return {}
        bulk = self._bulk_searcher()
        if isinstance(batch, SparseVectors):
            return bulk.search_vectors(batch, k)
        return bulk.search_texts([query_id for query_id, _ in batch], [text for _, text in batch], k)

    def _search_collection(self, lines: list[str], k: int) -> Run:
        """Run topic `lines` through Anserini's SearchCollection (run file written, then read back)."""
        if not lines:
            return {}
        with tempfile.TemporaryDirectory(prefix="lsr-search-") as tmp:
            topics, output = Path(tmp) / "topics.tsv", Path(tmp) / "run.trec"
            topics.write_text("".join(lines), encoding="utf-8")
            args = ["-index", str(self.lucene_dir), "-topics", str(topics), "-topicReader", "TsvString",
                    "-output", str(output), "-hits", str(k), "-threads", str(self.threads), "-quiet"]
            jclass("io.anserini.search.SearchCollection").main(args + self._scoring_args())
            return read_trec_run(output)

    def _bulk_searcher(self) -> BulkSearcher:
        """lsr's Java searcher on this index, opened on first use (LsrError when lsr's jar is missing or
        does not link)."""
        with self._bulk_lock:
            if self._bulk is None:
                if self.encoder is None:
                    k1, b = self._bm25_strings()
                    self._bulk = BulkSearcher(self.lucene_dir, self.threads, bm25=(k1, b))
                else:
                    self._bulk = BulkSearcher(self.lucene_dir, self.threads, vocab=self.encoder.vocab)
            return self._bulk

    def _bm25_strings(self) -> tuple[str, str]:
        """k1 and b as the decimal text Anserini's arguments carry (parsed to float in Java the same way)."""
        bm25 = self.info.bm25 or {}
        return str(bm25.get("k1", 0.9)), str(bm25.get("b", 0.4))

    def _scoring_args(self) -> list[str]:
        if self.info.kind == "impact":
            return ["-impact", "-pretokenized"]
        k1, b = self._bm25_strings()
        return ["-bm25", "-bm25.k1", k1, "-bm25.b", b]

    def _simple_searcher(self):
        """Anserini's SimpleSearcher / SimpleImpactSearcher on this index (`search_one` used them before):
        the reference tests and benchmarks compare `search_one` with, through `_java_int_map` for impact
        queries."""
        keep_signal_handlers()
        if self._simple is None:
            if self.info.kind == "impact":
                self._simple = jclass("io.anserini.search.SimpleImpactSearcher")(str(self.lucene_dir))
            else:
                self._simple = jclass("io.anserini.search.SimpleSearcher")(str(self.lucene_dir))
                bm25 = self.info.bm25 or {}
                self._simple.set_bm25(float(bm25.get("k1", 0.9)), float(bm25.get("b", 0.4)))
        return self._simple


def _java_int_map(vector: SparseVectors, vocab: Sequence[str]):
    """Row 0 of a quantized vector as the java.util.HashMap<String, Integer> Anserini takes.

    pyjnius turns a Python int passed as an Object into a java.lang.Integer: one JNI call per term.
    """
    hash_map = jclass("java.util.HashMap")()
    put = hash_map.put
    terms, weights = vector.row(0)
    for term, weight in zip(terms.tolist(), weights.tolist()):
        put(vocab[term], weight)
    return hash_map

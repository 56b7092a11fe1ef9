"""Approximate search with Seismic (`pyseismic-lsr`), built from an impact index's Parquet vectors.

Layout inside an impact index folder (next to `lucene/`):
    seismic/index.index.seismic   the Seismic index
    seismic/seismic.json          its build parameters, pyseismic version and what it was built from

`build_seismic_index` streams `vectors/` shard by shard into Seismic's in-memory dataset, pruning and
quantizing each document as the Lucene build did (the index's recorded document pruning and scale), so
both backends hold the same integer impacts. Seismic keeps document values as float16, which holds
integers up to 2048 exactly (a weight of 20.48 at scale 100), and sums products in float32, exact below
2**24: Seismic then scores the very integer dot product Lucene does, and with exhaustive parameters
returns Lucene's ranking. `SeismicSearcher` scores as `Searcher` does, so the backends can stand in for
each other: `search` returns that integer score (what run files hold), `search_one` divides it by
scale² (the model's dot product).
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from lsr.data import Query
from lsr.errors import LsrError
from lsr.fileio import atomic_path
from lsr.indexing.backends import DEFAULT_HEAP_FACTOR, DEFAULT_QUERY_CUT, SeismicParams
from lsr.indexing.encode_corpus import shard_paths
from lsr.indexing.index_info import VECTORS_DIR, IndexInfo
from lsr.indexing.pruning import Pruning
from lsr.indexing.search import Searcher, default_threads
from lsr.runs import Run
from lsr.sparse import SparseVectors

if TYPE_CHECKING:
    from lsr.models import Encoder

log = logging.getLogger(__name__)

SEISMIC_DIR = "seismic"
SEISMIC_INFO = "seismic.json"
_INDEX_STEM = "index"  # Seismic's save() appends ".index.seismic"
INDEX_FILE = _INDEX_STEM + ".index.seismic"
FLOAT16_EXACT = 2048  # float16 (Seismic's document values) holds every integer up to this one exactly


@dataclass
class SeismicInfo:
    """What `seismic.json` records: the build parameters and what the index was built from."""

    params: dict[str, Any]
    pyseismic_version: str
    scale: float
    pruning: dict[str, Any]   # the impact index's Pruning fields (document pruning applied at build)
    num_docs: int             # documents in vectors/
    num_indexed: int          # of which with terms (Seismic skips empty vectors: they match nothing)
    postings: int
    max_impact: int
    build_seconds: float
    format_version: int = 1

    def save(self, folder: Path) -> None:
        (folder / SEISMIC_INFO).write_text(json.dumps(asdict(self), indent=2) + "\n", encoding="utf-8")

    @classmethod
    def read(cls, index_dir: str | Path) -> SeismicInfo:
        folder = Path(index_dir) / SEISMIC_DIR
        path = folder / SEISMIC_INFO
        if not path.is_file() or not (folder / INDEX_FILE).is_file():
            raise LsrError(f"{index_dir}: no Seismic index (build it with `lsr seismic {index_dir}`)")
        try:
            return cls(**json.loads(path.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, UnicodeDecodeError, TypeError) as e:
            raise LsrError(f"{path}: unreadable Seismic metadata ({e})") from e


def build_seismic_index(index_dir: str | Path, params: SeismicParams = SeismicParams(), *,
                        threads: int | None = None, overwrite: bool = False) -> SeismicInfo:
    """Build `INDEX/seismic/` from the impact index's document vectors; it appears only when complete.

    An existing Seismic index is refused unless `overwrite`. Returns what `seismic.json` records.
    """
    seismic = import_seismic()
    index_dir = Path(index_dir)
    info = _impact_info(index_dir)
    params.check()
    shards = shard_paths(index_dir / VECTORS_DIR)
    if not shards:
        raise LsrError(f"{index_dir}: no document vectors ({VECTORS_DIR}/part-*.parquet) to build Seismic from")
    out = index_dir / SEISMIC_DIR
    if out.exists() and not overwrite:
        raise LsrError(f"{out}: a Seismic index is already there (pass --overwrite to rebuild it)")
    pruning = Pruning.from_dict(info.pruning)
    start = time.perf_counter()
    dataset = None
    num_docs = num_indexed = postings = max_impact = 0
    for path in shards:
        vectors = pruning.docs(SparseVectors.read_parquet(path)).quantize(info.scale)
        if dataset is None:
            dataset = seismic.SeismicDataset(dim=vectors.vocab_size)
        num_docs += len(vectors)
        num_indexed += dataset.add_documents_by_id(vectors.ids, vectors.indices.astype(np.int64),
                                                   vectors.values.astype(np.float32), vectors.indptr)
        postings += len(vectors.indices)
        max_impact = max(max_impact, int(vectors.values.max(initial=0)))
    if num_docs != info.num_docs:
        raise LsrError(f"{index_dir}: {VECTORS_DIR}/ holds {num_docs} documents, the index records {info.num_docs}")
    if not num_indexed:
        raise LsrError(f"{index_dir}: every document vector is empty; there is nothing to search")
    if max_impact > FLOAT16_EXACT:
        log.warning("%s: impacts up to %d; Seismic's float16 document values round those above %d, so its "
                    "scores differ slightly from Lucene's", index_dir, max_impact, FLOAT16_EXACT)
    with atomic_path(out, is_dir=True) as tmp, _stdout_to_stderr():
        index = seismic.SeismicIndex.build_from_dataset(dataset, **asdict(params), num_threads=threads or 0)
        del dataset
        index.save(str(tmp / _INDEX_STEM))
        built = SeismicInfo(asdict(params), metadata.version("pyseismic-lsr"), info.scale, info.pruning, num_docs,
                            num_indexed, postings, max_impact, round(time.perf_counter() - start, 3))
        built.save(tmp)
    return built


class SeismicSearcher:
    """Searches an impact index's Seismic index; queries are encoded, pruned and quantized exactly as
    `Searcher.encode_queries` does (with `encoder`, or the model the index records).

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
        self.info = _impact_info(self.index_dir)
        self.seismic_info = SeismicInfo.read(self.index_dir)
        if (self.seismic_info.scale, self.seismic_info.pruning) != (self.info.scale, self.info.pruning):
            raise LsrError(f"{self.index_dir / SEISMIC_DIR}: built for scale {self.seismic_info.scale} and "
                           f"pruning {self.seismic_info.pruning}, the index has {self.info.scale} and "
                           f"{self.info.pruning}; rebuild it with --overwrite")
        if query_cut < 1 or not heap_factor > 0:
            raise LsrError(f"query_cut must be at least 1 and heap_factor positive, got {query_cut}, {heap_factor}")
        self.query_cut, self.heap_factor = query_cut, heap_factor
        self.threads = threads or default_threads()
        self._encoding = Searcher(self.index_dir, encoder, pruning=pruning)
        self.encoder, self.pruning = self._encoding.encoder, self._encoding.pruning
        self.score_unit = self._encoding.score_unit
        self._token = np.dtype(seismic.get_seismic_string())
        self._index = seismic.SeismicIndex.load(str(self.index_dir / SEISMIC_DIR / INDEX_FILE))

    def encode_queries(self, queries: Sequence[Query], *, progress: bool = False) -> SparseVectors:
        """The quantized query vectors, as `Searcher.encode_queries` makes them for this index."""
        return self._encoding.encode_queries(queries, progress=progress)

    def search(self, queries: Sequence[Query], k: int = 1000, *, progress: bool = False) -> Run:
        """Top-`k` documents for every query, in the queries' order, scored as `Searcher.search` scores them."""
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
        """Top-`k` (doc id, the model's dot product) for one query text, as `Searcher.search_one` gives them."""
        return [(doc, score / self.score_unit) for doc, score in self.search([Query("q", text)], k)["q"]]

    def close(self) -> None:
        """Let the Seismic index go (it lives in memory) and close the encoding searcher."""
        self._index = None
        self._encoding.close()


def _impact_info(index_dir: Path) -> IndexInfo:
    info = IndexInfo.read(index_dir)
    if info.kind != "impact":
        raise LsrError(f"{index_dir} is a {info.kind} index: Seismic needs an impact index's document vectors")
    return info


def import_seismic():
    """pyseismic's module; LsrError saying how to install it when it is missing."""
    try:
        import seismic
    except ImportError:
        raise LsrError("Seismic is not installed: pip install 'lsr[seismic]' (the pyseismic-lsr package)") from None
    return seismic


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send what Seismic's Rust code prints (progress lines) to stderr, keeping stdout for lsr's output."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)

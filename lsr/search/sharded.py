"""Search a sharded impact index (`lsr.indexing.sharded`): queries encoded once, the quantized query vectors
searched on every shard index, the shards' top k merged into the run one index of all the documents gives,
score for score and tie for tie (`lsr.search.merge`).

`ShardedSearcher` holds the shard searchers in this process; `RayShardedSearcher` holds one Ray actor per
shard (each a `LuceneSearcher` on its shard, on any node of the cluster: the shard folders must be reachable under
the same paths from every node). The two share everything but where the shards are searched.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from lsr.data import Query
from lsr.errors import LsrError
from lsr.indexing.layout import ShardedIndexInfo
from lsr.models.base import vocab_fingerprint
from lsr.pruning import Pruning
from lsr.runs import Run
from lsr.search.lucene import LuceneSearcher
from lsr.search.merge import check_merged_k, merge_runs
from lsr.sparse import SparseVectors

if TYPE_CHECKING:
    from lsr.models import Encoder

log = logging.getLogger(__name__)


class Vocabulary:
    """What a `LuceneSearcher` needs of its encoder to search query vectors: the vocabulary (no model loads)."""

    def __init__(self, vocab: Sequence[str]) -> None:
        self.vocab = list(vocab)
        self.fingerprint = vocab_fingerprint(self.vocab)


class ShardSearch:
    """One shard index searched with query vectors: a plain object in `ShardedSearcher`, a Ray actor in
    `RayShardedSearcher`."""

    def __init__(self, index_dir: str, vocab: Sequence[str], threads: int | None = None) -> None:
        # LuceneSearcher uses only the vocabulary and fingerprint of the encoder it is given.
        self.searcher = LuceneSearcher(index_dir, cast("Encoder", Vocabulary(vocab)), threads=threads)

    def ready(self) -> int:
        """The shard's document count, once its searcher is set up (for a caller to wait on)."""
        return self.searcher.info.num_docs

    def search_vectors(self, vectors: SparseVectors, k: int) -> Run:
        return self.searcher.search_vectors(vectors, k)

    def close(self) -> None:
        self.searcher.close()


class ShardedSearcher:
    """Searches a sharded impact index with the shard searchers in this process; queries are encoded by
    the model the index records, or `encoder`, and pruned as it records, or as `pruning` says.
    `threads`: the Java search threads of each shard (searched one after another)."""

    def __init__(self, index_dir: str | Path, encoder: Encoder | None = None, *, threads: int | None = None,
                 pruning: Pruning | None = None) -> None:
        self.index_dir = Path(index_dir)
        self.manifest = ShardedIndexInfo.read(self.index_dir)
        self.info = self.manifest.index
        folders = self.manifest.shard_dirs(self.index_dir)
        # Queries are encoded on the first shard's searcher: every shard records the same model, settings,
        # pruning and scale. It loads the model; it never opens its Lucene index.
        self._queries = LuceneSearcher(folders[0], encoder, pruning=pruning)
        assert self._queries.encoder is not None  # a sharded index is an impact index: its searcher has a model
        self.encoder: Encoder = self._queries.encoder
        if self.encoder.fingerprint != self.info.vocab_fingerprint:
            raise LsrError(f"{self.index_dir}: built with vocabulary {self.info.vocab_fingerprint}, but the "
                           f"query encoder has {self.encoder.fingerprint}")
        self._shards: list[Any] = []
        self._shards = self._open_shards(folders, threads)

    def encode_queries(self, queries: Sequence[Query], *, progress: bool = False) -> SparseVectors:
        """The quantized, pruned query vectors the shards are searched with."""
        return self._queries.encode_queries(queries, progress=progress)

    def search(self, queries: Sequence[Query], k: int = 1000, *, progress: bool = False) -> Run:
        """Top-`k` documents for every query, in the queries' order; blank queries get no hits. The run of
        `LuceneSearcher.search` on one index of the same documents."""
        check_merged_k(k)
        vectors = self.encode_queries(queries, progress=progress)
        empty = int((vectors.nnz_per_row() == 0).sum())
        if empty:
            log.warning("%d of %d queries are empty (or encode to no terms) and match nothing", empty, len(queries))
        return self.search_vectors(vectors, k)

    def search_one(self, text: str, k: int = 10, *, raw: bool = False) -> list[tuple[str, float]]:
        """Top-`k` (doc id, score) for one query text: scores as `LuceneSearcher.search_one` gives them (the
        model's dot product, or with `raw` the run file's Lucene score)."""
        hits = self.search_vectors(self.encode_queries([Query("q", text)]), k)["q"]
        return hits if raw else [(doc, score / self.score_unit) for doc, score in hits]

    @property
    def score_unit(self) -> float:
        """Lucene score per unit of the model's dot product (scale², as `LuceneSearcher.score_unit`)."""
        return self._queries.score_unit

    @property
    def pruning(self) -> Pruning:
        """The query pruning searches use (the index's, or the one given)."""
        return self._queries.pruning

    def search_vectors(self, vectors: SparseVectors, k: int = 1000) -> Run:
        """`search` for query vectors from `encode_queries`; rows without terms get no hits."""
        check_merged_k(k)
        if vectors.scale != self.info.scale:
            raise LsrError(f"query vectors quantized with scale {vectors.scale}, the index with {self.info.scale}")
        batch = vectors.select(np.flatnonzero(vectors.nnz_per_row() > 0))
        run: Run = {query_id: [] for query_id in vectors.ids}
        if len(batch):
            run.update(merge_runs(self._search_shards(batch, k), batch.ids, k))
        return run

    def close(self) -> None:
        """Close the shard searchers (the Lucene readers they opened)."""
        for shard in self._shards:
            shard.close()
        self._shards = []

    def __enter__(self) -> ShardedSearcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _open_shards(self, folders: list[Path], threads: int | None) -> list[Any]:
        return [ShardSearch(str(folder), self.encoder.vocab, threads) for folder in folders]

    def _search_shards(self, vectors: SparseVectors, k: int) -> list[Run]:
        """Each shard's run for `vectors` (rows with terms), in shard order."""
        return [shard.search_vectors(vectors, k) for shard in self._shards]

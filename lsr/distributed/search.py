"""Search a sharded impact index with one Ray actor per index shard (`RayShardedSearcher`); `open_searcher`
opens any index on a backend, on the Ray cluster the backend names or here."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsr.distributed.session import ray_session, worker_errors
from lsr.errors import LsrError
from lsr.indexing.layout import is_sharded_index
from lsr.pruning import Pruning
from lsr.runs import Run
from lsr.search.backends import SearchBackend
from lsr.search.base import Searcher
from lsr.search.open import open_searcher as open_here
from lsr.search.sharded import ShardedSearcher, ShardSearch
from lsr.sparse import SparseVectors

if TYPE_CHECKING:
    from lsr.models import Encoder


def open_searcher(index_dir: str | Path, backend: SearchBackend = SearchBackend(), encoder: Encoder | None = None,
                  *, threads: int | None = None) -> Searcher:
    """`lsr.search.open.open_searcher`, with a sharded index searched by Ray actors when `backend.ray` names a
    cluster (its refusals, e.g. Seismic on a sharded index, are that function's)."""
    if backend.ray is not None and backend.name == "lucene" and is_sharded_index(index_dir):
        return RayShardedSearcher(index_dir, encoder, address=backend.ray, threads=threads)
    return open_here(index_dir, backend, encoder, threads=threads)


class RayShardedSearcher(ShardedSearcher):
    """`ShardedSearcher` with one Ray actor of `cpus_per_shard` CPUs per shard (searching with as many
    Java threads, or `threads`), on the cluster at `address` (None: `ray.init`'s default, unless Ray is
    already initialised). Queries are encoded here, once per batch; `close` ends the actors."""

    def __init__(self, index_dir: str | Path, encoder: Encoder | None = None, *, address: str | None = None,
                 cpus_per_shard: float = 1.0, threads: int | None = None, pruning: Pruning | None = None) -> None:
        self.address, self.cpus_per_shard = address, cpus_per_shard
        super().__init__(index_dir, encoder, threads=threads, pruning=pruning)

    def close(self) -> None:
        if self._shards:
            ray = ray_session(self.address)
            for actor in self._shards:
                ray.kill(actor)
        self._shards = []

    def _open_shards(self, folders: list[Path], threads: int | None) -> list[Any]:
        ray = ray_session(self.address)
        needed, cpus = len(folders) * self.cpus_per_shard, ray.cluster_resources().get("CPU", 0)
        if needed > cpus:
            raise LsrError(f"{len(folders)} shard searchers of {self.cpus_per_shard} CPUs need {needed:g} CPUs; "
                           f"the Ray cluster has {cpus:g}: give each fewer CPUs, or add nodes")
        actor = ray.remote(ShardSearch).options(num_cpus=self.cpus_per_shard)
        vocab = ray.put(self.encoder.vocab)
        threads = threads or max(1, int(self.cpus_per_shard))
        actors = [actor.remote(str(folder.resolve()), vocab, threads) for folder in folders]
        try:
            with worker_errors():
                ray.get([shard.ready.remote() for shard in actors])
        except BaseException:
            for shard in actors:
                ray.kill(shard)
            raise
        return actors

    def _search_shards(self, vectors: SparseVectors, k: int) -> list[Run]:
        ray = ray_session(self.address)
        shared = ray.put(vectors)
        with worker_errors():
            return ray.get([shard.search_vectors.remote(shared, k) for shard in self._shards])

"""The search backends (Lucene, exact; Seismic, approximate) and Seismic's parameters.

Light to import (no numpy, torch or pyseismic): the command line shows these defaults in its help.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsr.errors import LsrError
from lsr.indexing.index_info import is_sharded_index

if TYPE_CHECKING:
    from lsr.distributed.search import ShardedSearcher
    from lsr.indexing.search import Searcher
    from lsr.indexing.seismic import SeismicSearcher
    from lsr.models import Encoder

BACKENDS = ("lucene", "seismic")
DEFAULT_QUERY_CUT = 20
DEFAULT_HEAP_FACTOR = 0.9


@dataclass(frozen=True)
class SeismicParams:
    """Seismic's build parameters (its names and defaults; see `help(seismic.SeismicIndex.build_from_dataset)`).

    `n_postings`: postings kept per term on average (a global threshold over all lists; lists above
    `n_postings * max_fraction` are cut); `centroid_fraction`: blocks per list as a fraction of its
    length; `min_cluster_size`: smallest block; `summary_energy`: share of a block's weight mass its
    summary keeps; `doc_cut`: terms per document used to cluster.
    """

    n_postings: int = 3500
    centroid_fraction: float = 0.1
    min_cluster_size: int = 2
    summary_energy: float = 0.4
    max_fraction: float = 1.5
    doc_cut: int = 15

    def check(self) -> None:
        """LsrError naming the first parameter out of range."""
        if self.n_postings < 1 or self.min_cluster_size < 1 or self.doc_cut < 1:
            raise LsrError(f"Seismic n_postings, min_cluster_size and doc_cut must be at least 1, got {self}")
        if not (0 < self.centroid_fraction <= 1 and 0 < self.summary_energy <= 1 and self.max_fraction > 0):
            raise LsrError(f"Seismic centroid_fraction and summary_energy must lie in (0, 1] and max_fraction "
                           f"be positive, got {self}")


@dataclass(frozen=True)
class SearchBackend:
    """What searches an index: Lucene (`Searcher`), or the impact index's Seismic index (`SeismicSearcher`)
    with Seismic's `query_cut` and `heap_factor`. A sharded index is searched on Lucene, shard by shard
    here (`ShardedSearcher`), or by one actor per shard on the Ray cluster at `ray` (`RayShardedSearcher`)."""

    name: str = "lucene"
    query_cut: int = DEFAULT_QUERY_CUT
    heap_factor: float = DEFAULT_HEAP_FACTOR
    ray: str | None = None

    def __post_init__(self) -> None:
        if self.name not in BACKENDS:
            raise LsrError(f"unknown search backend {self.name!r}: one of {', '.join(BACKENDS)}")

    def open(self, index_dir: str | Path, encoder: Encoder | None = None, *,
             threads: int | None = None) -> Searcher | SeismicSearcher | ShardedSearcher:
        """A searcher of `index_dir` on this backend (Seismic: LsrError for a BM25 index or one without
        a Seismic index)."""
        if is_sharded_index(index_dir):
            return self._open_sharded(index_dir, encoder, threads)
        if self.ray is not None:
            raise LsrError(f"{index_dir}: --ray searches a sharded index (`lsr index --shards N`), and this "
                           f"is a single index: search it without --ray")
        if self.name == "seismic":
            from lsr.indexing.seismic import SeismicSearcher

            return SeismicSearcher(index_dir, encoder, query_cut=self.query_cut, heap_factor=self.heap_factor,
                                   threads=threads)
        from lsr.indexing.search import Searcher

        return Searcher(index_dir, encoder, threads=threads)

    def describe(self) -> dict[str, Any]:
        """The backend's name, Seismic's search parameters and the Ray cluster, those that apply."""
        described: dict[str, Any] = {"name": self.name}
        if self.name == "seismic":
            described.update(query_cut=self.query_cut, heap_factor=self.heap_factor)
        if self.ray is not None:
            described["ray"] = self.ray
        return described

    def _open_sharded(self, index_dir: str | Path, encoder: Encoder | None,
                      threads: int | None) -> ShardedSearcher:
        if self.name != "lucene":
            raise LsrError(f"{index_dir} is a sharded index, searched with Lucene: not with --backend {self.name}")
        from lsr.distributed.search import RayShardedSearcher, ShardedSearcher

        if self.ray is not None:
            return RayShardedSearcher(index_dir, encoder, address=self.ray, threads=threads)
        return ShardedSearcher(index_dir, encoder, threads=threads)

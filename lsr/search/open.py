"""Open an index folder's searcher on a search backend: Lucene, Seismic, or a sharded index's shards here."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lsr.errors import LsrError
from lsr.indexing.layout import is_sharded_index
from lsr.search.backends import SearchBackend
from lsr.search.base import Searcher

if TYPE_CHECKING:
    from lsr.models import Encoder


def open_searcher(index_dir: str | Path, backend: SearchBackend = SearchBackend(), encoder: Encoder | None = None,
                  *, threads: int | None = None) -> Searcher:
    """A searcher of `index_dir` on `backend` (Seismic: LsrError for a BM25 index or one without a Seismic
    index). A sharded index on a Ray cluster (`backend.ray`) is opened by `lsr.distributed.search`."""
    if is_sharded_index(index_dir):
        if backend.name != "lucene":
            raise LsrError(f"{index_dir} is a sharded index, searched with Lucene: not with --backend {backend.name}")
        if backend.ray is not None:
            raise LsrError(f"{index_dir}: a sharded index on the Ray cluster {backend.ray} is searched by "
                           f"lsr.distributed.search.open_searcher")
        from lsr.search.sharded import ShardedSearcher

        return ShardedSearcher(index_dir, encoder, threads=threads)
    if backend.ray is not None:
        raise LsrError(f"{index_dir}: --ray searches a sharded index (`lsr index --shards N`), and this "
                       f"is a single index: search it without --ray")
    if backend.name == "seismic":
        from lsr.search.seismic import SeismicSearcher

        return SeismicSearcher(index_dir, encoder, query_cut=backend.query_cut, heap_factor=backend.heap_factor,
                               threads=threads)
    from lsr.search.lucene import LuceneSearcher

    return LuceneSearcher(index_dir, encoder, threads=threads)

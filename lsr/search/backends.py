"""The search backends (Lucene, exact; Seismic, approximate) and their search parameters.

Light to import (no numpy, torch or pyseismic): the command line shows these defaults in its help.
`lsr.search.open_searcher` opens an index on a backend.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lsr.errors import LsrError

BACKENDS = ("lucene", "seismic")
DEFAULT_QUERY_CUT = 20
DEFAULT_HEAP_FACTOR = 0.9


@dataclass(frozen=True)
class SearchBackend:
    """What searches an index: Lucene (`LuceneSearcher`), or the impact index's Seismic index
    (`SeismicSearcher`) with Seismic's `query_cut` and `heap_factor`. A sharded index is searched on Lucene,
    shard by shard here (`ShardedSearcher`), or by one actor per shard on the Ray cluster at `ray`
    (`lsr.distributed.search`)."""

    name: str = "lucene"
    query_cut: int = DEFAULT_QUERY_CUT
    heap_factor: float = DEFAULT_HEAP_FACTOR
    ray: str | None = None

    def __post_init__(self) -> None:
        if self.name not in BACKENDS:
            raise LsrError(f"unknown search backend {self.name!r}: one of {', '.join(BACKENDS)}")

    def describe(self) -> dict[str, Any]:
        """The backend's name, Seismic's search parameters and the Ray cluster, those that apply."""
        described: dict[str, Any] = {"name": self.name}
        if self.name == "seismic":
            described.update(query_cut=self.query_cut, heap_factor=self.heap_factor)
        if self.ray is not None:
            described["ray"] = self.ray
        return described

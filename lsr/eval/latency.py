"""Per-query latency: encoding and encoding + search, one query at a time."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from lsr.data import Query
from lsr.search.lucene import LuceneSearcher


@dataclass
class Latency:
    """Milliseconds per query: median encoding, P50/P99 of encoding + top-k search, and P50 of the search alone."""

    encode_ms: float
    p50_ms: float
    p99_ms: float
    search_p50_ms: float = 0.0


def measure_latency(searcher: LuceneSearcher, queries: Sequence[Query], k: int = 10, warmup: int = 5) -> Latency:
    """Time each query alone (after `warmup` untimed ones), as an interactive user would see it."""
    for query in queries[:warmup]:
        searcher.search_one(query.text, k)
    encode_ms, total_ms = [], []
    for query in queries:
        start = time.perf_counter()
        prepared = searcher.prepare_query(query.text)
        encoded = time.perf_counter()
        searcher.search_prepared(prepared, k)
        end = time.perf_counter()
        encode_ms.append((encoded - start) * 1000)
        total_ms.append((end - start) * 1000)
    search_ms = np.subtract(total_ms, encode_ms)
    return Latency(float(np.median(encode_ms)), float(np.percentile(total_ms, 50)), float(np.percentile(total_ms, 99)),
                   float(np.percentile(search_ms, 50)))

"""Cost statistics of an index and its queries: postings per document and query, FLOPS, size on disk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lsr.data import Query
from lsr.indexing.layout import LUCENE_DIR
from lsr.lucene.stats import doc_freqs, postings
from lsr.search.lucene import LuceneSearcher


@dataclass
class CostStats:
    """`flops` is the expected number of posting multiply-adds per query-document pair,
    Σ_t p_q(t)·p_d(t), with p the fraction of queries / documents holding term t."""

    postings_per_doc: float
    postings_per_query: float
    flops: float


def cost_stats(searcher: LuceneSearcher, queries: Sequence[Query]) -> CostStats:
    """Postings per document from the index, per query from the query terms, and FLOPS."""
    query_terms = searcher.query_terms(queries)
    doc_freq = doc_freqs(searcher.lucene_dir, set().union(*query_terms))
    num_docs = searcher.info.num_docs
    flops = sum(doc_freq[t] for terms in query_terms for t in terms) / (len(queries) * num_docs)
    return CostStats(postings_per_doc=postings(searcher.lucene_dir) / num_docs,
                     postings_per_query=sum(map(len, query_terms)) / len(queries), flops=flops)


def index_mb(index_dir: str | Path) -> float:
    """Size of an index folder's Lucene index in MiB."""
    return sum(f.stat().st_size for f in (Path(index_dir) / LUCENE_DIR).rglob("*") if f.is_file()) / 2**20

"""Cost statistics read off a Lucene index: postings per document and query, and FLOPS."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lsr.data import Query
from lsr.indexing.index_info import LUCENE_DIR
from lsr.indexing.jvm import jclass
from lsr.indexing.search import Searcher

FIELD = "contents"  # Anserini's one text/impact field


@dataclass
class CostStats:
    """`flops` is the expected number of posting multiply-adds per query-document pair,
    Σ_t p_q(t)·p_d(t), with p the fraction of queries / documents holding term t."""

    postings_per_doc: float
    postings_per_query: float
    flops: float


def cost_stats(searcher: Searcher, queries: Sequence[Query]) -> CostStats:
    """Postings per document from the index, per query from the query terms, and FLOPS."""
    reader = jclass("io.anserini.index.IndexReaderUtils").getReader(str(searcher.lucene_dir))
    try:
        term = jclass("org.apache.lucene.index.Term")
        query_terms = searcher.query_terms(queries)
        doc_freq = {t: reader.docFreq(term(FIELD, t)) for t in set().union(*query_terms)}
        postings = reader.getSumDocFreq(FIELD)
    finally:
        reader.close()
    num_docs = searcher.info.num_docs
    flops = sum(doc_freq[t] for terms in query_terms for t in terms) / (len(queries) * num_docs)
    return CostStats(postings_per_doc=postings / num_docs,
                     postings_per_query=sum(map(len, query_terms)) / len(queries), flops=flops)


def index_mb(index_dir: str | Path) -> float:
    """Size of an index folder's Lucene index in MiB."""
    return sum(f.stat().st_size for f in (Path(index_dir) / LUCENE_DIR).rglob("*") if f.is_file()) / 2**20

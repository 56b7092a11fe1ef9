"""Reading corpora, queries and qrels from BEIR folders, JSONL/TSV/TREC files and `irds:` ids.

Every reader validates as it goes and reports a bad input as an `LsrError` naming the
file and line; corpora are streamed, never held in memory.
"""

from lsr.data.records import Document, Query
from lsr.data.sources import read_corpus, read_qrels, read_queries

__all__ = ["Document", "Query", "read_corpus", "read_qrels", "read_queries"]

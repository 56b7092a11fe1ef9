"""Reading corpora, queries and qrels from BEIR folders, JSONL/TSV/TREC files and `irds:` ids,
and the training data built on them: queries with positives, training tuples, teacher scores.

Every reader validates as it goes and reports a bad input as an `LsrError` naming the
file and line; corpora are streamed, never held in memory.
"""

from lsr.data.records import Document, Query
from lsr.data.sources import read_corpus, read_qrels, read_queries
from lsr.data.training import (
                               TrainQuery,
                               TrainTuple,
                               content_id,
                               pseudo_queries,
                               read_teacher_scores,
                               read_train_queries,
                               read_train_tuples,
                               write_teacher_scores,
)

__all__ = ["Document", "Query", "TrainQuery", "TrainTuple", "content_id", "pseudo_queries", "read_corpus", "read_qrels",
           "read_queries", "read_teacher_scores", "read_train_queries", "read_train_tuples",
           "write_teacher_scores"]

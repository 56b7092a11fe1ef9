"""Retrievers named by a spec string, for hard-negative mining and as sparse/dense teachers.

    bm25            a BM25 index of the corpus (built once under the work folder)
    index:DIR       any lsr index folder (impact or BM25)
    dense:FOLDER    a dense bi-encoder (sentence-transformers folder), exact inner-product search with faiss
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lsr.data import Query, read_corpus
from lsr.errors import LsrError
from lsr.indexing.layout import INFO_FILE
from lsr.runs import Run

log = logging.getLogger(__name__)
KINDS = ("bm25", "index", "dense", "cross")


@dataclass(frozen=True)
class Spec:
    """A parsed spec: `kind` and its target (folder), and a file-name-safe `name`."""

    kind: str
    target: str = ""

    @property
    def name(self) -> str:
        if not self.target:
            return self.kind
        return f"{self.kind}-{Path(self.target.rstrip('/')).name}"

    @classmethod
    def parse(cls, text: str) -> Spec:
        kind, _, target = text.partition(":")
        if kind not in KINDS or (kind == "bm25") != (not target):
            raise LsrError(f"unknown retriever or teacher {text!r} (expected bm25, index:DIR, dense:FOLDER "
                           f"or, for teachers, cross:FOLDER)")
        return cls(kind, target)


class Retriever:
    """Top-k search over one corpus with a spec's system; indexes it needs are built under `work`."""

    def __init__(self, spec: Spec, corpus: str, work: Path, *, progress: bool = True):
        self.spec = spec
        self._searcher = None
        self._dense = None
        if spec.kind == "cross":
            raise LsrError(f"{spec.kind}:{spec.target}: a cross-encoder scores pairs; it cannot retrieve")
        if spec.kind == "dense":
            from lsr.models.dense import DenseEncoder
            from lsr.search.dense import DenseIndex

            self.encoder = DenseEncoder.from_folder(spec.target)
            self._dense = DenseIndex.build(read_corpus(corpus), self.encoder, work / spec.name,
                                           progress=progress)
        else:
            from lsr.search.lucene import LuceneSearcher

            folder = Path(spec.target) if spec.kind == "index" else work / "bm25"
            if spec.kind == "bm25" and not (folder / INFO_FILE).is_file():
                from lsr.indexing.build import build_bm25_index

                log.info("BM25 index of %s -> %s", corpus, folder)
                build_bm25_index(corpus, folder, overwrite=True)
            self._searcher = LuceneSearcher(folder)

    def search(self, queries: Sequence[Query], k: int, *, progress: bool = False) -> Run:
        """Top-`k` documents per query (best first)."""
        if self._dense is not None:
            embeddings = self.encoder.encode([q.text for q in queries], progress=progress)
            return self._dense.search(embeddings, [q.id for q in queries], k)
        assert self._searcher is not None  # a retriever that is not dense searches a Lucene index
        return self._searcher.search(queries, k, progress=progress)

    def dense_scores(self, queries: Sequence[Query], pairs: dict[str, list[str]]) -> dict[str, dict[str, float]]:
        """Inner product of each (query, doc) pair in `pairs` (dense retrievers only)."""
        embeddings = self.encoder.encode([q.text for q in queries])
        dense = self._dense
        assert dense is not None  # only a dense retriever has an encoder
        scores = {}
        for query, row in zip(queries, embeddings):
            docs = pairs.get(query.id, [])
            values = dense.embeddings_for(docs) @ row if docs else np.zeros(0)
            scores[query.id] = dict(zip(docs, values.astype(float).tolist()))
        return scores


def mine_negatives(retriever: Retriever, queries: Sequence[Query], positives: Mapping[str, Sequence[str]],
                   depth: int) -> Run:
    """Each query's top-`depth` documents that are not known positives, best first."""
    extra = max((len(p) for p in positives.values()), default=0)
    run = retriever.search(queries, depth + extra)
    mined = {}
    for qid, hits in run.items():
        known = set(positives.get(qid, ()))
        mined[qid] = [(doc, score) for doc, score in hits if doc not in known][:depth]
    return mined

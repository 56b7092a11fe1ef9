"""Why a document scored what it did: each matching query term's contribution, read from Lucene.

Impact index: contribution(t) = query impact(t) × the document's impact for t as stored in the
Lucene postings (after pruning and quantization), so the contributions sum to Lucene's score.
BM25: contribution(t) = (times t occurs in the analyzed query) × Lucene's BM25 weight of t in the
document, with the index's k1 and b.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from lsr.errors import LsrError
from lsr.lucene.jvm import jclass
from lsr.lucene.stats import FIELD
from lsr.search.lucene import LuceneSearcher


@dataclass(frozen=True)
class Contribution:
    """One matching term: its query weight, document weight and their product (Lucene score units)."""

    term: str
    query_weight: float
    doc_weight: float
    score: float


def explain(searcher: LuceneSearcher, text: str, doc_id: str) -> list[Contribution]:
    """The terms of query `text` that `doc_id` matches, largest contribution first."""
    utils = jclass("io.anserini.index.IndexReaderUtils")
    reader = utils.getReader(str(searcher.lucene_dir))
    try:
        docnum = utils.convertDocidToLuceneDocid(reader, doc_id)
        if docnum < 0:
            raise LsrError(f"{searcher.index_dir}: no document {doc_id!r}")
        if searcher.encoder is None:
            found = _bm25(reader, utils, searcher, text, doc_id)
        else:
            found = _impact(reader, searcher, text, docnum)
    finally:
        reader.close()
    return sorted(found, key=lambda c: -c.score)


def _impact(reader, searcher: LuceneSearcher, text: str, docnum: int) -> list[Contribution]:
    encoder, scale = searcher.encoder, searcher.info.scale
    assert encoder is not None and scale is not None  # an impact index's searcher: `explain` checked it
    vector = searcher.pruning.queries(encoder.encode_queries([text])).quantize(scale)
    terms, weights = vector.row(0)
    found = []
    for term, weight in zip(terms.tolist(), weights.tolist()):
        token = encoder.vocab[term]
        impact = _frequency(reader, token, docnum)
        if impact:
            found.append(Contribution(token, weight, impact, weight * impact))
    return found


def _bm25(reader, utils, searcher: LuceneSearcher, text: str, doc_id: str) -> list[Contribution]:
    bm25 = searcher.info.bm25 or {}
    k1, b = float(bm25.get("k1", 0.9)), float(bm25.get("b", 0.4))
    counts = Counter(jclass("io.anserini.analysis.AnalyzerUtils").analyze(text).toArray())
    found = []
    for term, count in counts.items():
        weight = utils.getBM25AnalyzedTermWeightWithParameters(reader, doc_id, term, k1, b)
        if weight:
            found.append(Contribution(term, count, weight, count * weight))
    return found


def _frequency(reader, token: str, docnum: int) -> int:
    """The term's frequency (an impact index's stored impact) in document `docnum`; 0 when absent."""
    terms = jclass("org.apache.lucene.index.MultiTerms").getTerms(reader, FIELD)
    cursor = terms.iterator()
    if not cursor.seekExact(jclass("org.apache.lucene.util.BytesRef")(token.encode("utf-8"))):
        return 0
    postings = cursor.postings(None)
    return postings.freq() if postings.advance(docnum) == docnum else 0

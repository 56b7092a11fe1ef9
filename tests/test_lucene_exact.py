"""Lucene's scores against independent computations, exactly.

Impact indexes (two scales; document and query pruning by top-k and threshold): every matching
document, with its score, equals a brute-force integer dot product of the pruned, quantized vectors
computed here row by row in plain Python. BM25 (default and other k1, b): the scores equal Lucene's
BM25 formula evaluated here from term counts of the analyzed documents.
"""

from __future__ import annotations

import math
import shutil
from collections import Counter
from pathlib import Path

import pytest

from lsr.data import Query, read_corpus, read_queries
from lsr.indexing.build import build_bm25_index, build_impact_index
from lsr.indexing.layout import LUCENE_DIR, VECTORS_DIR, part_paths
from lsr.lucene.jvm import jclass
from lsr.models import load_encoder
from lsr.pruning import Pruning
from lsr.search.lucene import LuceneSearcher
from lsr.sparse import SparseVectors

from helpers import cut_beir

NUM_DOCS = 200
NUM_QUERIES = 30
PART_SIZE = 100
FIELD = "contents"

# Thresholds are exact binary fractions: float32 and float64 comparisons agree on them.
CASES: dict[str, tuple[float, Pruning]] = {
    "scale 100": (100.0, Pruning()),
    "scale 37": (37.0, Pruning()),
    "doc top-k, query threshold": (100.0, Pruning(doc_top_k=40, query_threshold=0.625)),
    "doc threshold, query top-k, scale 37": (37.0, Pruning(doc_threshold=0.5, query_top_k=8)),
    "all four, scale 37": (37.0, Pruning(doc_top_k=60, doc_threshold=0.25, query_top_k=12, query_threshold=0.25)),
}
ENCODED = ("scale 100", "all four, scale 37")  # built from the corpus; the others reuse the first one's shards

Impacts = dict[int, int]  # term id -> integer impact


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, mini_scifact) -> Path:
    """The first NUM_DOCS documents and NUM_QUERIES test queries of mini_scifact."""
    return cut_beir(mini_scifact, tmp_path_factory.mktemp("corpus"), NUM_DOCS, NUM_QUERIES)


@pytest.fixture(scope="module")
def queries(corpus) -> list[Query]:
    found = read_queries(corpus, "test")
    assert len(found) == NUM_QUERIES
    return found


@pytest.fixture(scope="module")
def encoder(splade_tiny):
    return load_encoder(splade_tiny, doc_max_length=64, long_docs="first")


@pytest.fixture(scope="module")
def indexes(tmp_path_factory, corpus, splade_tiny, encoder) -> dict[str, Path]:
    """One impact index per case. Each is <tmp dir>/idx (one depth: the index records its model as a
    relative path, which the copied shards' manifest must match)."""
    built: dict[str, Path] = {}
    for name, (scale, pruning) in CASES.items():
        out = tmp_path_factory.mktemp("impact") / "idx"
        if name not in ENCODED:
            shutil.copytree(built[ENCODED[0]] / VECTORS_DIR, out / VECTORS_DIR)
        report = build_impact_index(str(corpus), out, splade_tiny, encoder=encoder, scale=scale, pruning=pruning,
                                    part_size=PART_SIZE, progress=False)
        assert report.encoded_docs == (NUM_DOCS if name in ENCODED else 0)
        built[name] = out
    return built


def reference_impacts(vectors: SparseVectors, top_k: int | None, threshold: float | None,
                      scale: float) -> list[Impacts]:
    """Each row's impacts as the index must hold them, in plain Python: the weights above `threshold`,
    the `top_k` largest of them (ties: lower term id), round(weight * scale), zeros dropped."""
    rows = []
    for i in range(len(vectors)):
        terms, weights = vectors.row(i)
        entries = [(t, w) for t, w in zip(terms.tolist(), weights.tolist()) if threshold is None or w > threshold]
        entries.sort(key=lambda entry: (-entry[1], entry[0]))
        impacts = {t: round(w * scale) for t, w in entries[:top_k]}
        rows.append({t: impact for t, impact in impacts.items() if impact})
    return rows


def as_impacts(vectors: SparseVectors) -> list[Impacts]:
    return [dict(zip(*(part.tolist() for part in vectors.row(i)))) for i in range(len(vectors))]


def full_vectors(index: Path) -> SparseVectors:
    return SparseVectors.concat([SparseVectors.read_parquet(p) for p in part_paths(index / VECTORS_DIR)])


def brute_force(query: Impacts, docs: list[Impacts], doc_ids: list[str]) -> dict[str, int]:
    """Every document with a positive integer dot product with `query`, and that product."""
    scores = {doc_id: sum(query.get(t, 0) * impact for t, impact in doc.items()) for doc_id, doc in zip(doc_ids, docs)}
    return {doc_id: score for doc_id, score in scores.items() if score > 0}


def as_integers(hits: list[tuple[str, float]]) -> list[tuple[str, int]]:
    """Lucene's impact scores as the integers they stand for. Anserini nudges tied scores down by
    millionths (ties are ordered by document id), so a tied score can be the float32 just under its integer."""
    for doc, score in hits:
        assert abs(score - round(score)) < 1e-3, f"{doc}: score {score} is no integer"
    return [(doc, round(score)) for doc, score in hits]


def assert_all_hits_exact(hits: list[tuple[str, float]], expected: dict[str, int]) -> None:
    """`hits` (searched with k > NUM_DOCS) are every matching document with its exact score, best first
    and ties by document id."""
    found = as_integers(hits)
    assert len(found) == len({doc for doc, _ in found}), "a document is listed twice"
    assert dict(found) == expected
    assert found == sorted(expected.items(), key=lambda hit: (-hit[1], hit[0]))


def assert_top_k_exact(hits: list[tuple[str, float]], expected: dict[str, int], k: int) -> None:
    """The top `k` scores are the brute-force top `k`; documents above the k-th score are all there
    (at the k-th score, ties may be cut either way)."""
    found = as_integers(hits)
    best = sorted(expected.values(), reverse=True)[:k]
    assert [score for _, score in found] == best
    assert {doc for doc, score in expected.items() if score > best[-1]} <= {doc for doc, _ in found}
    assert all(expected[doc] == score for doc, score in found)


@pytest.mark.parametrize("case", CASES)
def test_lucene_finds_every_match_with_the_exact_integer_dot_product(case, indexes, queries, encoder):
    scale, pruning = CASES[case]
    searcher = LuceneSearcher(indexes[case], encoder)
    full = full_vectors(indexes[case])
    docs = reference_impacts(full, pruning.doc_top_k, pruning.doc_threshold, scale)
    query_vectors = encoder.encode_queries([q.text for q in queries], [q.id for q in queries])
    wanted = reference_impacts(query_vectors, pruning.query_top_k, pruning.query_threshold, scale)
    assert as_impacts(searcher.encode_queries(queries)) == wanted
    every, top = searcher.search(queries, k=1000), searcher.search(queries, k=10)
    assert searcher.score_unit == scale**2
    for query, vector in zip(queries, wanted):
        expected = brute_force(vector, docs, full.ids)
        assert expected, f"query {query.id} matches nothing: a weak test"
        assert_all_hits_exact(every[query.id], expected)
        assert_top_k_exact(top[query.id], expected, 10)
        one = searcher.search_one(query.text, k=1000, raw=True)
        assert_all_hits_exact(one, expected)
    # Without `raw`, the scores are in units of the model's dot product (`one`: the last query's hits).
    assert searcher.search_one(queries[-1].text, k=3) == [(doc, score / scale**2) for doc, score in one[:3]]


@pytest.mark.parametrize("case", CASES)
def test_lucene_holds_the_pruned_postings_and_the_shards_the_full_vectors(case, indexes, encoder):
    scale, pruning = CASES[case]
    full = full_vectors(indexes[case])
    postings = sum(map(len, reference_impacts(full, pruning.doc_top_k, pruning.doc_threshold, scale)))
    assert (postings < sum(map(len, reference_impacts(full, None, None, scale)))) == (pruning != Pruning())
    reader = jclass("io.anserini.index.IndexReaderUtils").getReader(str(indexes[case] / LUCENE_DIR))
    try:
        assert reader.getSumDocFreq(FIELD) == postings
        assert reader.numDocs() == NUM_DOCS
    finally:
        reader.close()
    assert LuceneSearcher(indexes[case], encoder).info.avg_postings_per_doc == round(postings / NUM_DOCS, 2)
    # The shards are the unpruned build's, byte for byte (pruning is applied only on the way to Lucene).
    assert [p.read_bytes() for p in part_paths(indexes[case] / VECTORS_DIR)] \
        == [p.read_bytes() for p in part_paths(indexes["scale 100"] / VECTORS_DIR)]


@pytest.mark.parametrize("case", ["doc top-k, query threshold", "doc threshold, query top-k, scale 37",
                                  "all four, scale 37"])
def test_prepare_query_applies_the_query_pruning(case, indexes, queries, encoder):
    """`prepare_query` (what `search_one` sends) holds the pruned, quantized query terms (ten queries:
    each is encoded on its own)."""
    scale, pruning = CASES[case]
    searcher = LuceneSearcher(indexes[case], encoder)
    queries = queries[:10]
    query_vectors = encoder.encode_queries([q.text for q in queries])
    wanted = reference_impacts(query_vectors, pruning.query_top_k, pruning.query_threshold, scale)
    unpruned = reference_impacts(query_vectors, None, None, scale)
    for query, vector, whole in zip(queries, wanted, unpruned):
        prepared = searcher.prepare_query(query.text)
        assert prepared.scale == scale and len(prepared) == 1
        terms, weights = prepared.row(0)
        assert dict(zip(terms.tolist(), weights.tolist())) == vector
        assert len(vector) <= (pruning.query_top_k or len(whole))
    assert sum(map(len, wanted)) < sum(map(len, unpruned))


def reference_bm25(corpus: Path, queries: list[Query], k1: float, b: float) -> dict[str, dict[str, float]]:
    """Lucene's BM25 (no (k1 + 1) factor since Lucene 8), from term counts of the analyzed texts:
    sum over query terms t (times their count in the query) of idf(t) · tf / (tf + k1 · (1 - b + b · dl / avgdl)),
    idf(t) = ln(1 + (N - df + 0.5) / (df + 0.5)); dl is the document length as Lucene stores it
    (SmallFloat.intToByte4, lossy), avgdl the mean exact length."""
    analyze = jclass("io.anserini.analysis.AnalyzerUtils").analyze
    small_float = jclass("org.apache.lucene.util.SmallFloat")
    docs = {doc.id: Counter(analyze(doc.full_text()).toArray()) for doc in read_corpus(corpus)}
    lengths = {doc_id: sum(terms.values()) for doc_id, terms in docs.items()}
    num_docs, avgdl = len(docs), sum(lengths.values()) / len(docs)
    df = Counter(term for terms in docs.values() for term in terms)
    scores: dict[str, dict[str, float]] = {}
    for query in queries:
        found: dict[str, float] = {}
        for term, count in Counter(analyze(query.text).toArray()).items():
            idf = math.log(1 + (num_docs - df[term] + 0.5) / (df[term] + 0.5))
            for doc_id, terms in docs.items():
                if term in terms:
                    dl = small_float.byte4ToInt(small_float.intToByte4(lengths[doc_id]))
                    tf = terms[term]
                    found[doc_id] = found.get(doc_id, 0.0) + count * idf * tf / (tf + k1 * (1 - b + b * dl / avgdl))
        scores[query.id] = found
    return scores


@pytest.mark.parametrize("k1, b", [(0.9, 0.4), (1.6, 0.8)], ids=["default", "k1=1.6 b=0.8"])
def test_bm25_scores_follow_the_formula_with_the_recorded_k1_and_b(k1, b, tmp_path, corpus, queries):
    build_bm25_index(str(corpus), tmp_path / "bm25", k1=k1, b=b)
    searcher = LuceneSearcher(tmp_path / "bm25")
    assert searcher.info.bm25 == {"k1": k1, "b": b} and searcher.score_unit == 1.0
    expected = reference_bm25(corpus, queries, k1, b)
    every = searcher.search(queries, k=1000)
    for query in queries:
        assert expected[query.id]
        # Anserini rounds scores to 4 decimals.
        assert dict(every[query.id]) == pytest.approx(expected[query.id], abs=1e-4)
        assert dict(searcher.search_one(query.text, k=1000)) == pytest.approx(expected[query.id], abs=1e-4)

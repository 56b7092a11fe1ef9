"""Tests written against surviving mutants of lsr/indexing (search.py, bulk.py, index_info.py, build.py,
lucene.py; issue #13): each checks a result a user sees (scores, rankings, counts, metadata written to
the index folder, refusals) against a value computed here independently."""

from __future__ import annotations

import gc
import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from lsr.data import Query, read_corpus
from lsr.errors import LsrError
from lsr.indexing import bulk
from lsr.indexing.build import BuildReport, build_bm25_index, build_impact_index
from lsr.indexing.encode_corpus import shard_paths
from lsr.indexing.index_info import INFO_FILE, LUCENE_DIR, VECTORS_DIR, IndexInfo
from lsr.indexing.lucene import ImpactStats, check_vocab_terms, count_docs
from lsr.indexing.pruning import Pruning
from lsr.indexing.search import Searcher
from lsr.models import load_encoder
from lsr.sparse import SparseVectors
from tests.conftest import cut_beir, error_of, write_beir

NUM_DOCS = 40
SCALE = 37.0
PRUNING = Pruning(doc_top_k=40, query_top_k=8)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, scifact) -> Path:
    """SciFact's first documents and queries, plus a blank document and one of control characters only."""
    folder = cut_beir(scifact, tmp_path_factory.mktemp("mut-corpus"), NUM_DOCS, 8)
    lines = (folder / "corpus.jsonl").read_text().splitlines(keepends=True)
    blank = [json.dumps({"_id": "blank", "title": "", "text": "   "}) + "\n",
             json.dumps({"_id": "control", "title": "\x01", "text": "\x1f\t"}) + "\n"]
    (folder / "corpus.jsonl").write_text("".join(lines[:3] + blank + lines[3:]))  # in the first of 3 shards
    return folder


@pytest.fixture(scope="module")
def queries(corpus) -> list[Query]:
    found = [Query(q["_id"], q["text"]) for q in map(json.loads, open(corpus / "queries.jsonl"))]
    return found + [Query("empty", ""), Query("blank", " \t ")]


@pytest.fixture(scope="module")
def encoder(splade_tiny):
    return load_encoder(splade_tiny, doc_max_length=64, long_docs="first")


@pytest.fixture(scope="module")
def impact(tmp_path_factory, corpus, splade_tiny, encoder) -> Path:
    out = tmp_path_factory.mktemp("mut-impact") / "idx"
    build_impact_index(str(corpus), out, splade_tiny, encoder=encoder, scale=SCALE, pruning=PRUNING,
                       shard_size=16, progress=False)
    return out


@pytest.fixture(scope="module")
def bm25(tmp_path_factory, corpus) -> Path:
    out = tmp_path_factory.mktemp("mut-bm25") / "idx"
    build_bm25_index(str(corpus), out)
    return out


def impacts_of(vectors: SparseVectors) -> list[dict[int, int]]:
    return [dict(zip(*(part.tolist() for part in vectors.row(i)))) for i in range(len(vectors))]


def doc_impacts(index: Path) -> dict[str, dict[int, int]]:
    """The document impacts as the index must hold them: the full vectors of the shards, each row's
    doc_top_k largest weights (ties: lower term id), round(weight * scale), zeros dropped."""
    found = {}
    for path in shard_paths(index / VECTORS_DIR):
        vectors = SparseVectors.read_parquet(path)
        for i, doc_id in enumerate(vectors.ids):
            terms, weights = vectors.row(i)
            entries = sorted(zip(terms.tolist(), weights.tolist()), key=lambda e: (-e[1], e[0]))[:PRUNING.doc_top_k]
            found[doc_id] = {t: round(w * SCALE) for t, w in entries if round(w * SCALE)}
    return found


def query_impacts(encoder, text: str) -> dict[int, int]:
    terms, weights = encoder.encode_queries([text]).row(0)
    entries = sorted(zip(terms.tolist(), weights.tolist()), key=lambda e: (-e[1], e[0]))[:PRUNING.query_top_k]
    return {t: round(w * SCALE) for t, w in entries if round(w * SCALE)}


def brute_force(query: dict[int, int], docs: dict[str, dict[int, int]]) -> list[tuple[str, int]]:
    scores = {d: sum(query.get(t, 0) * w for t, w in impacts.items()) for d, impacts in docs.items()}
    return sorted(((d, s) for d, s in scores.items() if s > 0), key=lambda hit: (-hit[1], hit[0]))


def as_integers(hits):
    assert all(abs(score - round(score)) < 1e-3 for _, score in hits)
    return [(doc, round(score)) for doc, score in hits]


def no_helper(monkeypatch):
    """lsr's Java helper unavailable: searches go through Anserini's own searchers."""
    monkeypatch.setattr(bulk, "bulk_searcher_class", lambda: None)


# --- search.py ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("helper", [True, False], ids=["bulk", "anserini"])
def test_impact_search_one_is_the_exact_integer_dot_product(helper, impact, queries, encoder, monkeypatch):
    """search_one (bulk searcher, or Anserini's SimpleImpactSearcher fed a Java map of the query) scores
    every matching document with the integer dot product of the pruned, quantized vectors; without `raw`
    divided by scale²."""
    if not helper:
        no_helper(monkeypatch)
    searcher = Searcher(impact)
    docs = doc_impacts(impact)
    assert searcher.score_unit == SCALE ** 2
    for query in queries[:4]:
        expected = brute_force(query_impacts(encoder, query.text), docs)
        raw = searcher.search_one(query.text, k=100, raw=True)
        assert as_integers(raw) == expected
        scaled = searcher.search_one(query.text, k=100)
        assert [doc for doc, _ in scaled] == [doc for doc, _ in raw]
        assert [s for _, s in scaled] == pytest.approx([s / SCALE ** 2 for _, s in raw], rel=1e-9)
    if not helper:
        assert searcher._bulk is False and searcher._simple is not None
    searcher.close()


def test_impact_batch_search_is_the_exact_dot_product_and_keeps_empty_queries(impact, queries, encoder, caplog):
    searcher = Searcher(impact)
    docs = doc_impacts(impact)
    with caplog.at_level(logging.WARNING):
        run = searcher.search(queries, 1000)
    assert list(run) == [q.id for q in queries]
    assert run["empty"] == [] and run["blank"] == []
    for query in queries[:-2]:
        assert as_integers(run[query.id]) == brute_force(query_impacts(encoder, query.text), docs)
    assert f"2 of {len(queries)} queries are empty" in caplog.text
    # the Anserini path (topic file, terms repeated `impact` times) gives the same run
    assert searcher.search_with_anserini(queries, 1000) == run


def test_query_terms_are_the_pruned_quantized_query_terms_and_bm25_analyzed_tokens(impact, bm25, queries, encoder):
    searcher = Searcher(impact)
    vocab = encoder.vocab
    assert searcher.query_terms(queries[:4]) == [{vocab[t] for t in query_impacts(encoder, q.text)}
                                                 for q in queries[:4]]
    words = Searcher(bm25).query_terms([Query("a", "The running dogs"), Query("b", " \t"), Query("c", "")])
    assert words == [{"run", "dog"}, set(), set()]


def test_search_vectors_refusals_and_rows_without_terms(impact, bm25, queries, encoder):
    searcher = Searcher(impact)
    vectors = searcher.encode_queries(queries)
    run = searcher.search_vectors(vectors, 10)
    assert list(run) == [q.id for q in queries] and run["empty"] == [] and run["blank"] == []
    assert run == searcher.search(queries, 10)
    assert "scale" in error_of(lambda: searcher.search_vectors(encoder.encode_queries(["cells"]).quantize(100.0), 10))
    assert "at least 1" in error_of(lambda: searcher.search_vectors(vectors, 0))
    assert "BM25 index" in error_of(lambda: Searcher(bm25).search_vectors(vectors, 10))
    for call in (searcher.search, searcher.search_with_anserini):
        assert "at least 1" in error_of(lambda: call(queries, 0))


def test_prepare_query_joins_whitespace_and_blank_queries_find_nothing(bm25, impact):
    searcher = Searcher(bm25)
    assert searcher.prepare_query("  cell \t\n death ") == "cell death"
    assert searcher.prepare_query(" \t ") is None and searcher.search_one(" \t ") == []
    assert searcher.search_one("  cell \t\n death ", k=5) == searcher.search_one("cell death", k=5)
    assert Searcher(impact).search_prepared(None) == []


def write_without_bm25_settings(index: Path, out: Path) -> Path:
    shutil.copytree(index, out)
    raw = json.loads((out / INFO_FILE).read_text())
    raw.pop("bm25")
    (out / INFO_FILE).write_text(json.dumps(raw))
    return out


@pytest.mark.parametrize("helper", [True, False], ids=["bulk", "anserini"])
def test_bm25_metadata_without_k1_and_b_searches_with_k1_09_and_b_04(helper, bm25, corpus, queries, tmp_path,
                                                                     monkeypatch):
    """An index whose metadata records no BM25 parameters is searched with Anserini's defaults
    (k1 = 0.9, b = 0.4), by every path: batch, single query, Anserini's SearchCollection."""
    other = tmp_path / "other"
    build_bm25_index(str(corpus), other, k1=1.6, b=0.8)
    bare = write_without_bm25_settings(bm25, tmp_path / "bare")
    if not helper:
        no_helper(monkeypatch)
    assert IndexInfo.read(bare).bm25 is None and IndexInfo.read(bm25).bm25 == {"k1": 0.9, "b": 0.4}
    found, wanted, differs = Searcher(bare), Searcher(bm25), Searcher(other)
    assert found.search(queries, 20) == wanted.search(queries, 20) != differs.search(queries, 20)
    assert found.search_with_anserini(queries, 20) == wanted.search(queries, 20)
    for query in queries[:4]:
        assert found.search_one(query.text, 20) == wanted.search_one(query.text, 20)
    assert found.search_one(queries[0].text, 20) != differs.search_one(queries[0].text, 20)


def test_bm25_single_query_without_the_helper_uses_the_recorded_k1_and_b(corpus, queries, tmp_path, monkeypatch):
    index = tmp_path / "idx"
    build_bm25_index(str(corpus), index, k1=1.6, b=0.8)
    with_helper = [Searcher(index).search_one(q.text, 10) for q in queries[:4]]
    no_helper(monkeypatch)
    searcher = Searcher(index)
    assert [searcher.search_one(q.text, 10) for q in queries[:4]] == with_helper
    assert searcher._bulk is False


def test_a_closed_searcher_reopens_and_gives_the_same_run(impact, queries):
    searcher = Searcher(impact)
    first = searcher.search(queries, 10)
    one = searcher.search_one(queries[0].text, 5)
    searcher.close()
    assert searcher._bulk is None and searcher._simple is None
    assert searcher.search(queries, 10) == first and searcher.search_one(queries[0].text, 5) == one


# --- bulk.py ------------------------------------------------------------------------------------------

def test_bulk_search_restores_the_garbage_collectors_state(bm25, queries):
    searcher = Searcher(bm25)
    was = gc.isenabled()
    try:
        gc.enable()
        searcher.search(queries, 10)
        assert gc.isenabled()
        gc.disable()
        searcher.search(queries, 10)
        assert not gc.isenabled()
    finally:
        gc.enable() if was else gc.disable()
    assert bulk._gc_holders == 0


def test_bulk_search_vectors_needs_quantized_vectors_and_positive_k(impact, queries, encoder):
    searcher = Searcher(impact)
    java = searcher._bulk_searcher()
    with pytest.raises(ValueError, match="quantized"):
        java.search_vectors(encoder.encode_queries([queries[0].text], ["q"]), 10)
    assert "at least 1" in error_of(lambda: bulk._chunk(0))
    assert bulk._chunk(1) == bulk.MAX_HITS_PER_CALL and bulk._chunk(1000) == bulk.MAX_HITS_PER_CALL // 1000
    assert bulk._chunk(bulk.MAX_HITS_PER_CALL * 3) == 1


@pytest.mark.parametrize("k", [1, 3])
def test_bulk_searches_split_into_many_java_calls_give_the_same_run(k, impact, bm25, queries, monkeypatch):
    searchers = Searcher(impact), Searcher(bm25)
    whole = [s.search(queries, k) for s in searchers]
    monkeypatch.setattr(bulk, "MAX_HITS_PER_CALL", 2 * k + 1)  # two queries per call, the last call shorter
    assert [s.search(queries, k) for s in searchers] == whole
    assert all(len(hits) == k for run in whole for q, hits in run.items() if q not in ("empty", "blank"))


# --- index_info.py ------------------------------------------------------------------------------------

def test_index_metadata_round_trip_and_refusals(tmp_path):
    info = IndexInfo(kind="impact", num_docs=3, num_empty=1, corpus="c", model="../m", scale=37.0,
                     pruning={"doc_top_k": 5}, speed={"index_docs_per_s": 2.5})
    folder = tmp_path / "idx"
    folder.mkdir()
    info.save(folder)
    text = (folder / INFO_FILE).read_text()
    assert text.endswith("}\n") and json.loads(text)["scale"] == 37.0
    assert IndexInfo.read(folder) == info
    raw = json.loads(text) | {"later_field": 1}
    assert IndexInfo.from_dict(raw) == info
    assert "not a complete lsr index" in error_of(lambda: IndexInfo.read(tmp_path))
    assert "index not found" in error_of(lambda: IndexInfo.read(tmp_path / "nowhere"))
    for content in ("[1, 2]", "{", "\xff"):
        (folder / INFO_FILE).write_bytes(content.encode("latin-1"))
        assert "unreadable index metadata" in error_of(lambda: IndexInfo.read(folder))
    with pytest.raises(TypeError, match="JSON list"):
        IndexInfo.from_dict([1])


def test_model_location_is_relative_to_the_index_folder_when_there(tmp_path):
    (tmp_path / "model").mkdir()
    index = tmp_path / "idx"
    index.mkdir()
    assert IndexInfo("impact", 1, 0, "c", model="../model").model_location(index) == str(index / "../model")
    assert IndexInfo("impact", 1, 0, "c", model="org/hub-model").model_location(index) == "org/hub-model"
    assert IndexInfo("bm25", 1, 0, "c").model_location(index) is None


# --- build.py -----------------------------------------------------------------------------------------

def test_build_report_rates():
    info = IndexInfo("bm25", 12, 0, "c")
    assert BuildReport(info, encode_seconds=2.0, encoded_docs=10, lucene_seconds=4.0).encode_docs_per_second == 5.0
    assert BuildReport(info, encode_seconds=2.0, encoded_docs=10, lucene_seconds=4.0).lucene_docs_per_second == 3.0
    assert BuildReport(info, encode_seconds=0.0, encoded_docs=0).encode_docs_per_second is None
    assert BuildReport(info).lucene_docs_per_second is None


def test_impact_metadata_counts_and_postings(impact, corpus, splade_tiny, encoder):
    info = IndexInfo.read(impact)
    docs = doc_impacts(impact)
    ids = [d.id for d in read_corpus(corpus)]
    assert info.kind == "impact" and info.num_docs == len(ids) == NUM_DOCS + 2
    assert info.num_empty == sum(not d for d in docs.values()) >= 1 and not docs["blank"]
    assert info.avg_postings_per_doc == round(sum(map(len, docs.values())) / len(ids), 2)
    assert info.scale == SCALE and Pruning.from_dict(info.pruning) == PRUNING
    assert info.corpus == str(corpus) and info.vocab_fingerprint == encoder.fingerprint
    assert info.model == os.path.relpath(Path(splade_tiny).resolve(), impact.resolve())
    assert Path(info.model_location(impact)).resolve() == Path(splade_tiny).resolve()
    assert info.encoder_kind == encoder.kind and info.encoder_settings == encoder.settings
    assert set(info.speed) == {"encode_docs_per_s", "index_docs_per_s"} and all(v > 0 for v in info.speed.values())
    assert count_docs(impact / LUCENE_DIR) == len(ids) - info.num_empty


def test_bm25_metadata_counts_blank_documents(bm25, corpus):
    info = IndexInfo.read(bm25)
    assert (info.kind, info.num_docs, info.num_empty) == ("bm25", NUM_DOCS + 2, 2)
    assert info.bm25 == {"k1": 0.9, "b": 0.4} and info.corpus == str(corpus)
    assert set(info.speed) == {"index_docs_per_s"} and info.speed["index_docs_per_s"] > 0
    assert count_docs(bm25 / LUCENE_DIR) == NUM_DOCS


def test_a_build_is_refused_over_an_index_and_overwrite_rebuilds_from_scratch(tmp_path, corpus):
    out = tmp_path / "idx"
    build_bm25_index(str(corpus), out, k1=1.6)
    (out / "stray.txt").write_text("x")
    assert "already there" in error_of(lambda: build_bm25_index(str(corpus), out))
    assert IndexInfo.read(out).bm25 == {"k1": 1.6, "b": 0.4}
    build_bm25_index(str(corpus), out, overwrite=True)
    assert IndexInfo.read(out).bm25 == {"k1": 0.9, "b": 0.4} and not (out / "stray.txt").exists()


def test_the_warning_about_blank_documents_counts_them(tmp_path, caplog):
    corpus = write_beir(tmp_path / "c", [{"_id": "a", "title": "", "text": "okapi"},
                                         {"_id": "b", "title": "", "text": " "}], [], [])
    with caplog.at_level(logging.WARNING):
        build_bm25_index(str(corpus), tmp_path / "idx")
    assert "1 of 2 documents have no terms" in caplog.text


# --- lucene.py ----------------------------------------------------------------------------------------

def test_impact_stats_average_and_vocabulary_checks():
    assert ImpactStats(0, 0, 0).avg_postings_per_doc == 0.0
    assert ImpactStats(4, 1, 10).avg_postings_per_doc == 2.5
    check_vocab_terms(["a", "b##", "[CLS]"])
    for bad in ("", "a b", "a\tb", "\u3000"):
        assert "cannot be a Lucene term" in error_of(lambda: check_vocab_terms(["ok", bad]))


def test_temporaries_left_by_killed_builds_are_removed(tmp_path, corpus):
    out = tmp_path / "idx"
    stale = [tmp_path / "idx" / f".{LUCENE_DIR}.123.tmp", tmp_path / "idx" / f".{LUCENE_DIR}-input.456.tmp"]
    keep = tmp_path / "idx" / ".other.1.tmp"
    for folder in [*stale, keep]:
        folder.mkdir(parents=True)
    build_bm25_index(str(corpus), out)
    assert not any(p.exists() for p in stale) and keep.exists()
    assert sorted(p.name for p in out.iterdir()) == sorted([INFO_FILE, LUCENE_DIR, keep.name])


# --- added for the second batch of survivors ------------------------------------------------------------

def test_single_term_queries_are_searched_and_k_1_is_allowed(impact, queries, encoder, splade_tiny):
    """Query pruning to one term per query: every query still searches (with exact scores); k = 1 is a
    valid depth for `search_vectors`."""
    pruning = Pruning(doc_top_k=PRUNING.doc_top_k, query_top_k=1)
    searcher = Searcher(impact, encoder, pruning=pruning)
    docs = doc_impacts(impact)
    run = searcher.search(queries[:-2], 1000)
    vectors = searcher.encode_queries(queries[:-2])
    assert set(vectors.nnz_per_row().tolist()) == {1}
    matched = 0
    for i, query in enumerate(queries[:-2]):
        terms, weights = vectors.row(i)
        expected = brute_force(dict(zip(terms.tolist(), weights.tolist())), docs)
        assert as_integers(run[query.id]) == expected
        matched += bool(expected)
    assert matched >= 3
    assert searcher.search_vectors(vectors, 1000) == run
    top1 = searcher.search_vectors(vectors, 1)
    assert all(hits == run[query_id][:1] for query_id, hits in top1.items())


def test_search_prepared_defaults_to_ten_hits_and_the_fallback_honours_k(bm25, monkeypatch):
    searcher = Searcher(bm25)
    prepared = searcher.prepare_query("cell protein")
    many = searcher.search_prepared(prepared, 30)
    assert len(many) > 11 and searcher.search_prepared(prepared) == many[:10]
    no_helper(monkeypatch)
    fallback = Searcher(bm25)
    assert fallback.search_prepared(prepared, 30) == many and fallback._bulk is False


def test_single_query_scores_of_the_bulk_searcher_are_anserinis_simple_searcher_floats(impact, queries,
                                                                                       monkeypatch):
    texts = [q.text for q in queries[:-2]]
    with_helper = [Searcher(impact).search_one(text, 50, raw=True) for text in texts]
    no_helper(monkeypatch)
    simple = Searcher(impact)
    assert [simple.search_one(text, 50, raw=True) for text in texts] == with_helper


def test_no_warning_when_no_query_is_empty(bm25, queries, caplog):
    with caplog.at_level(logging.WARNING):
        Searcher(bm25).search(queries[:-2], 10)
    assert "empty" not in caplog.text


def test_search_returns_1000_hits_by_default(tmp_path):
    docs = [{"_id": f"d{i:04d}", "title": "", "text": f"okapi w{i}"} for i in range(1003)]
    corpus = write_beir(tmp_path / "c", docs, [], [])
    build_bm25_index(str(corpus), tmp_path / "idx")
    run = Searcher(tmp_path / "idx").search([Query("q", "okapi")])
    assert len(run["q"]) == 1000


def test_search_vectors_returns_1000_hits_by_default(tmp_path, encoder, splade_tiny):
    """An impact index of 1003 one-term documents (written from vectors, no encoding): a one-term query
    vector gets 1000 hits by default, with the exact integer scores."""
    from lsr.indexing.lucene import write_impact_index

    n, term = 1003, encoder.vocab.index("cell")
    weights = (np.arange(n) % 7 + 1) / 10.0
    vectors = SparseVectors([f"d{i:04d}" for i in range(n)], np.arange(n + 1), np.full(n, term), weights,
                            len(encoder.vocab))
    index = tmp_path / "idx"
    (index / VECTORS_DIR).mkdir(parents=True)
    vectors.to_parquet(index / VECTORS_DIR / "part-00000.parquet")
    stats = write_impact_index(shard_paths(index / VECTORS_DIR), encoder.vocab, 100.0, index / LUCENE_DIR)
    assert (stats.num_docs, stats.num_empty, stats.postings) == (n, 0, n)
    IndexInfo("impact", n, 0, "c", model=str(splade_tiny), vocab_fingerprint=encoder.fingerprint,
              scale=100.0).save(index)
    searcher = Searcher(index, encoder)
    query = SparseVectors(["q"], np.array([0, 1]), np.array([term]), np.array([3]), len(encoder.vocab), scale=100.0)
    hits = searcher.search_vectors(query)["q"]
    assert len(hits) == 1000
    assert sorted(round(score) for _, score in hits)[-1] == 3 * 70 and round(hits[-1][1]) == 3 * 10


def test_a_hub_model_is_recorded_by_its_id_and_a_local_one_relative_to_the_index(tmp_path):
    from lsr.indexing.build import _model_name

    (tmp_path / "model").mkdir()
    assert _model_name("org/some-model", tmp_path / "idx") == "org/some-model"
    assert _model_name(tmp_path / "model", tmp_path / "idx") == os.path.join("..", "model")


def test_a_corpus_of_blank_documents_only_gives_an_empty_index(tmp_path):
    corpus = write_beir(tmp_path / "c", [{"_id": "a", "title": "", "text": " "},
                                         {"_id": "b", "title": "\x02", "text": ""}], [], [])
    build_bm25_index(str(corpus), tmp_path / "idx")
    info = IndexInfo.read(tmp_path / "idx")
    assert (info.num_docs, info.num_empty) == (2, 2)
    assert Searcher(tmp_path / "idx").search([Query("q", "okapi")], 10) == {"q": []}

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
from lsr.indexing.build import BuildReport, build_bm25_index, build_impact_index
from lsr.indexing.layout import INFO_FILE, LUCENE_DIR, VECTORS_DIR, IndexInfo, part_paths
from lsr.lucene import bulk
from lsr.lucene.writers import ImpactStats, check_vocab_terms, count_docs
from lsr.models import load_encoder
from lsr.pruning import Pruning
from lsr.search.lucene import LuceneSearcher
from lsr.sparse import SparseVectors

from helpers import cut_beir, error_of, write_beir

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
                       part_size=16, progress=False)
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
    for path in part_paths(index / VECTORS_DIR):
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

def test_impact_search_one_is_the_exact_integer_dot_product(impact, queries, encoder, monkeypatch, tmp_path):
    """search_one (lsr's bulk searcher) scores every matching document with the integer dot product of the
    pruned, quantized vectors; without `raw` divided by scale². Without lsr's jar it is an error."""
    from lsr.lucene import jvm

    searcher = LuceneSearcher(impact)
    docs = doc_impacts(impact)
    assert searcher.score_unit == SCALE ** 2
    for query in queries[:4]:
        expected = brute_force(query_impacts(encoder, query.text), docs)
        raw = searcher.search_one(query.text, k=100, raw=True)
        assert as_integers(raw) == expected
        scaled = searcher.search_one(query.text, k=100)
        assert [doc for doc, _ in scaled] == [doc for doc, _ in raw]
        assert [s for _, s in scaled] == pytest.approx([s / SCALE ** 2 for _, s in raw], rel=1e-9)
    searcher.close()
    missing = tmp_path / "lsr-lucene.jar"  # lsr's jar missing: an error, no fallback to Anserini's searchers
    monkeypatch.setattr(jvm, "HELPER_JAR", missing)
    message = f"{missing} is missing: build lsr's Java classes with `bash scripts/build_java.sh`"
    assert error_of(lambda: LuceneSearcher(impact).search_one(queries[0].text, k=100)) == message


def test_impact_batch_search_is_the_exact_dot_product_and_keeps_empty_queries(impact, queries, encoder, caplog):
    searcher = LuceneSearcher(impact)
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
    searcher = LuceneSearcher(impact)
    vocab = encoder.vocab
    assert searcher.query_terms(queries[:4]) == [{vocab[t] for t in query_impacts(encoder, q.text)}
                                                 for q in queries[:4]]
    words = LuceneSearcher(bm25).query_terms([Query("a", "The running dogs"), Query("b", " \t"), Query("c", "")])
    assert words == [{"run", "dog"}, set(), set()]


def test_search_vectors_refusals_and_rows_without_terms(impact, bm25, queries, encoder):
    searcher = LuceneSearcher(impact)
    vectors = searcher.encode_queries(queries)
    run = searcher.search_vectors(vectors, 10)
    assert list(run) == [q.id for q in queries] and run["empty"] == [] and run["blank"] == []
    assert run == searcher.search(queries, 10)
    assert "scale" in error_of(lambda: searcher.search_vectors(encoder.encode_queries(["cells"]).quantize(100.0), 10))
    assert "at least 1" in error_of(lambda: searcher.search_vectors(vectors, 0))
    assert "BM25 index" in error_of(lambda: LuceneSearcher(bm25).search_vectors(vectors, 10))
    for call in (searcher.search, searcher.search_with_anserini):
        assert "at least 1" in error_of(lambda: call(queries, 0))


def test_prepare_query_joins_whitespace_and_blank_queries_find_nothing(bm25, impact):
    searcher = LuceneSearcher(bm25)
    assert searcher.prepare_query("  cell \t\n death ") == "cell death"
    assert searcher.prepare_query(" \t ") is None and searcher.search_one(" \t ") == []
    assert searcher.search_one("  cell \t\n death ", k=5) == searcher.search_one("cell death", k=5)
    assert LuceneSearcher(impact).search_prepared(None) == []


def write_without_bm25_settings(index: Path, out: Path) -> Path:
    shutil.copytree(index, out)
    raw = json.loads((out / INFO_FILE).read_text())
    raw.pop("bm25")
    (out / INFO_FILE).write_text(json.dumps(raw))
    return out


def test_bm25_metadata_without_k1_and_b_searches_with_k1_09_and_b_04(bm25, corpus, queries, tmp_path):
    """An index whose metadata records no BM25 parameters is searched with Anserini's defaults
    (k1 = 0.9, b = 0.4), by every path: batch, single query, and the references, Anserini's
    SearchCollection and SimpleSearcher."""
    other = tmp_path / "other"
    build_bm25_index(str(corpus), other, k1=1.6, b=0.8)
    bare = write_without_bm25_settings(bm25, tmp_path / "bare")
    assert IndexInfo.read(bare).bm25 is None and IndexInfo.read(bm25).bm25 == {"k1": 0.9, "b": 0.4}
    found, wanted, differs = LuceneSearcher(bare), LuceneSearcher(bm25), LuceneSearcher(other)
    assert found.search(queries, 20) == wanted.search(queries, 20) != differs.search(queries, 20)
    assert found.search_with_anserini(queries, 20) == wanted.search(queries, 20)
    for query in queries[:4]:
        assert found.search_one(query.text, 20) == wanted.search_one(query.text, 20)
        simple = found._simple_searcher().search(found.prepare_query(query.text), 20)
        assert [(hit.docid, hit.score) for hit in simple] == wanted.search_one(query.text, 20)
    assert found.search_one(queries[0].text, 20) != differs.search_one(queries[0].text, 20)


def test_bm25_single_query_uses_the_recorded_k1_and_b_and_without_the_jar_is_an_error(corpus, queries, tmp_path,
                                                                                        monkeypatch):
    """search_one gives what Anserini's SimpleSearcher with the recorded k1 and b gives (the reference)."""
    from lsr.lucene import jvm

    index = tmp_path / "idx"
    build_bm25_index(str(corpus), index, k1=1.6, b=0.8)
    searcher = LuceneSearcher(index)
    for query in queries[:4]:
        simple = searcher._simple_searcher().search(searcher.prepare_query(query.text), 10)
        assert searcher.search_one(query.text, 10) == [(hit.docid, hit.score) for hit in simple]
    searcher.close()
    missing = tmp_path / "lsr-lucene.jar"  # lsr's jar missing: an error, no fallback to Anserini's searchers
    monkeypatch.setattr(jvm, "HELPER_JAR", missing)
    message = f"{missing} is missing: build lsr's Java classes with `bash scripts/build_java.sh`"
    assert error_of(lambda: LuceneSearcher(index).search_one(queries[0].text, 10)) == message


def test_a_closed_searcher_reopens_and_gives_the_same_run(impact, queries):
    searcher = LuceneSearcher(impact)
    first = searcher.search(queries, 10)
    one = searcher.search_one(queries[0].text, 5)
    searcher.close()
    assert searcher._bulk is None and searcher._simple is None
    assert searcher.search(queries, 10) == first and searcher.search_one(queries[0].text, 5) == one


# --- bulk.py ------------------------------------------------------------------------------------------

def test_bulk_search_restores_the_garbage_collectors_state(bm25, queries):
    searcher = LuceneSearcher(bm25)
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
    searcher = LuceneSearcher(impact)
    java = searcher._bulk_searcher()
    with pytest.raises(ValueError, match="quantized"):
        java.search_vectors(encoder.encode_queries([queries[0].text], ["q"]), 10)
    assert "at least 1" in error_of(lambda: bulk._chunk(0))
    assert bulk._chunk(1) == bulk.MAX_HITS_PER_CALL and bulk._chunk(1000) == bulk.MAX_HITS_PER_CALL // 1000
    assert bulk._chunk(bulk.MAX_HITS_PER_CALL * 3) == 1


@pytest.mark.parametrize("k", [1, 3])
def test_bulk_searches_split_into_many_java_calls_give_the_same_run(k, impact, bm25, queries, monkeypatch):
    searchers = LuceneSearcher(impact), LuceneSearcher(bm25)
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
    searcher = LuceneSearcher(impact, encoder, pruning=pruning)
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


def test_search_prepared_defaults_to_ten_hits_and_without_the_jar_is_an_error(bm25, monkeypatch, tmp_path):
    from lsr.lucene import jvm

    searcher = LuceneSearcher(bm25)
    prepared = searcher.prepare_query("cell protein")
    many = searcher.search_prepared(prepared, 30)
    assert len(many) > 11 and searcher.search_prepared(prepared) == many[:10]
    missing = tmp_path / "lsr-lucene.jar"  # lsr's jar missing: an error, no fallback to Anserini's searchers
    monkeypatch.setattr(jvm, "HELPER_JAR", missing)
    message = f"{missing} is missing: build lsr's Java classes with `bash scripts/build_java.sh`"
    assert error_of(lambda: LuceneSearcher(bm25).search_prepared(prepared, 30)) == message


def test_single_query_scores_of_the_bulk_searcher_are_anserinis_simple_searcher_floats(impact, queries):
    """The reference: Anserini's SimpleImpactSearcher fed a Java map of the query (search_one's former path)."""
    from lsr.search.lucene import _java_int_map

    texts = [q.text for q in queries[:-2]]
    searcher = LuceneSearcher(impact)
    with_helper = [searcher.search_one(text, 50, raw=True) for text in texts]
    simple = searcher._simple_searcher()
    assert [[(hit.docid, hit.score) for hit in simple.search(_java_int_map(searcher.prepare_query(text),
                                                                            searcher.encoder.vocab), 50)]
            for text in texts] == with_helper


def test_no_warning_when_no_query_is_empty(bm25, queries, caplog):
    with caplog.at_level(logging.WARNING):
        LuceneSearcher(bm25).search(queries[:-2], 10)
    assert "empty" not in caplog.text


def test_search_returns_1000_hits_by_default(tmp_path):
    docs = [{"_id": f"d{i:04d}", "title": "", "text": f"okapi w{i}"} for i in range(1003)]
    corpus = write_beir(tmp_path / "c", docs, [], [])
    build_bm25_index(str(corpus), tmp_path / "idx")
    run = LuceneSearcher(tmp_path / "idx").search([Query("q", "okapi")])
    assert len(run["q"]) == 1000


def test_search_vectors_returns_1000_hits_by_default(tmp_path, encoder, splade_tiny):
    """An impact index of 1003 one-term documents (written from vectors, no encoding): a one-term query
    vector gets 1000 hits by default, with the exact integer scores."""
    from lsr.lucene.writers import write_impact_index

    n, term = 1003, encoder.vocab.index("cell")
    weights = (np.arange(n) % 7 + 1) / 10.0
    vectors = SparseVectors([f"d{i:04d}" for i in range(n)], np.arange(n + 1), np.full(n, term), weights,
                            len(encoder.vocab))
    index = tmp_path / "idx"
    (index / VECTORS_DIR).mkdir(parents=True)
    vectors.to_parquet(index / VECTORS_DIR / "part-00000.parquet")
    stats = write_impact_index(part_paths(index / VECTORS_DIR), encoder.vocab, 100.0, index / LUCENE_DIR)
    assert (stats.num_docs, stats.num_empty, stats.postings) == (n, 0, n)
    IndexInfo("impact", n, 0, "c", model=str(splade_tiny), vocab_fingerprint=encoder.fingerprint,
              scale=100.0).save(index)
    searcher = LuceneSearcher(index, encoder)
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
    assert LuceneSearcher(tmp_path / "idx").search([Query("q", "okapi")], 10) == {"q": []}


# --- third batch: a mutation run over lsr/indexing at 3165aff (bulk, build, lucene, backends,
# encode_corpus, sharded search) --------------------------------------------------------------------------

def test_every_query_lucene_refuses_is_named_with_lucenes_reason(impact, queries, encoder, caplog):
    """Two queries over Lucene's 1024-clause limit among others: both get no hits, the others their exact
    hits, and the warning names each refused query with the reason Lucene gave."""
    searcher = LuceneSearcher(impact)
    vectors = searcher.encode_queries(queries[:3])
    vocab_size, docs = vectors.vocab_size, doc_impacts(impact)

    def huge(name, first):
        return SparseVectors([name], np.array([0, 1100]), np.arange(first, first + 1100, dtype=np.int32),
                             np.ones(1100, np.int32), vocab_size, vectors.scale)
    batch = SparseVectors.concat([huge("huge-a", 1000), vectors.select([0]), huge("huge-b", 3000),
                                  vectors.select([1, 2])])
    with caplog.at_level(logging.WARNING):
        run = searcher.search_vectors(batch, 1000)
    assert run["huge-a"] == [] and run["huge-b"] == []
    for i, query in enumerate(queries[:3]):
        assert as_integers(run[query.id]) == brute_force(impacts_of(vectors)[i], docs)
    warning = next(r.getMessage() for r in caplog.records if "Lucene refused" in r.getMessage())
    assert "Lucene refused 2 queries" in warning
    reasons = dict(part.split(": ", 1) for part in warning.split("SearchCollection): ", 1)[1].split("; "))
    assert set(reasons) == {"huge-a", "huge-b"}
    for reason in reasons.values():
        assert reason.startswith("org.apache.lucene.") and "TooManyClauses" in reason
        assert reason.endswith("maxClauseCount is set to 1024")


def test_an_index_whose_lucene_folder_is_broken_is_an_error_naming_the_search(bm25, queries, tmp_path):
    broken = Path(shutil.copytree(bm25, tmp_path / "broken"))
    shutil.rmtree(broken / LUCENE_DIR)
    (broken / LUCENE_DIR).mkdir()
    message = error_of(lambda: LuceneSearcher(broken).search(queries, 10))
    assert message.startswith("Lucene search failed: ") and "IndexNotFound" in message


class _JavaBytes:
    def __init__(self, data: bytes):
        self.data = data

    def tostring(self) -> bytes:
        return self.data


class _JavaSearcherStandIn:
    """Stands in for the Java BulkSearcher class (lsr.lucene.BulkSearcher) with a given doc id table."""

    def __init__(self, table: bytes, max_doc: int):
        self.table, self.max_doc = table, max_doc

    def bm25(self, *args):
        return self

    def docIds(self):  # noqa: N802 (the Java method's name)
        return _JavaBytes(self.table)

    def maxDoc(self):  # noqa: N802
        return self.max_doc


@pytest.mark.parametrize("table, max_doc, read", [(b"a\nb\n", 3, 2), (b"a\nb\nc\n", 2, 3), (b"a\nb\nc", 2, 2)])
def test_a_doc_id_table_that_does_not_fit_the_index_is_refused(table, max_doc, read, monkeypatch, tmp_path):
    """BulkSearcher checks the doc id table Java sends (one id per line, a newline after each) against the
    index's document count before mapping Lucene doc numbers to ids."""
    monkeypatch.setattr(bulk, "bulk_searcher_class", lambda: _JavaSearcherStandIn(table, max_doc))
    message = error_of(lambda: bulk.BulkSearcher(tmp_path, 1, bm25=("0.9", "0.4")))
    assert message == f"{tmp_path}: read {read} doc ids for {max_doc} documents"
    monkeypatch.setattr(bulk, "bulk_searcher_class", lambda: _JavaSearcherStandIn(b"a\nb\n", 2))
    assert bulk.BulkSearcher(tmp_path, 1, bm25=("0.9", "0.4"))._ids.tolist() == ["a", "b"]


# --- backends.py --------------------------------------------------------------------------------------

def test_search_backends_are_checked_and_described_as_given():
    from lsr.search.backends import SearchBackend

    assert error_of(lambda: SearchBackend("faiss")) == "unknown search backend 'faiss': one of lucene, seismic"
    assert SearchBackend().describe() == {"name": "lucene"}
    assert SearchBackend("seismic", query_cut=7, heap_factor=0.5).describe() == {"name": "seismic", "query_cut": 7,
                                                                                 "heap_factor": 0.5}
    assert SearchBackend(ray="10.0.0.1:6379").describe() == {"name": "lucene", "ray": "10.0.0.1:6379"}


@pytest.fixture(scope="module")
def sharded_impact(tmp_path_factory, impact, encoder) -> Path:
    """The impact index's vectors (3 Parquet files) as a sharded index of 2 shards."""
    from lsr.indexing.sharded import shard_index

    out = tmp_path_factory.mktemp("mut-sharded") / "idx"
    shard_index(impact, out, num_shards=2, encoder=encoder, progress=False)
    return out


def test_a_backend_opens_its_searcher_with_the_encoder_and_threads_given(impact, sharded_impact, encoder, queries,
                                                                        tmp_path):
    from lsr.indexing.seismic import SeismicParams
    from lsr.search.backends import SearchBackend
    from lsr.search.sharded import ShardedSearcher

    single = SearchBackend().open(impact, encoder, threads=3)
    assert type(single) is LuceneSearcher and single.encoder is encoder and single.threads == 3
    sharded = SearchBackend().open(sharded_impact, encoder, threads=3)
    assert type(sharded) is ShardedSearcher and sharded.encoder is encoder
    assert [shard.searcher.threads for shard in sharded._shards] == [3, 3]
    assert sharded.search(queries, 20) == single.search(queries, 20)
    sharded.close()
    assert "is a sharded index, searched with Lucene: not with --backend seismic" in error_of(
        lambda: SearchBackend("seismic").open(sharded_impact, encoder))
    assert "--ray searches a sharded index" in error_of(lambda: SearchBackend(ray="auto").open(impact, encoder))
    pytest.importorskip("seismic")
    from lsr.indexing.seismic import build_seismic_index
    from lsr.search.seismic import SeismicSearcher

    copy = Path(shutil.copytree(impact, tmp_path / "with-seismic"))
    build_seismic_index(copy, SeismicParams(n_postings=100_000, summary_energy=1.0), threads=1)
    found = SearchBackend("seismic", query_cut=7, heap_factor=0.5).open(copy, encoder, threads=3)
    assert type(found) is SeismicSearcher and found.encoder is encoder and found.index_dir == copy
    assert (found.query_cut, found.heap_factor, found.threads) == (7, 0.5, 3)


# --- build.py, lucene.py, encode_corpus.py with a tiny random masked LM (fast to encode) ---------------

TINY_WORDS = ["heart", "disease", "liver", "glucose", "cell", "protein", "gene", "blood"]
TINY_SCALE = 10.0
TINY_PRUNING = Pruning(doc_top_k=3)


@pytest.fixture(scope="module")
def tiny_mlm(tmp_path_factory) -> Path:
    from helpers import make_tiny_mlm

    return make_tiny_mlm(tmp_path_factory.mktemp("mut-mlm") / "mlm", TINY_WORDS)


def tiny_docs(count: int) -> list:
    from lsr.data import Document

    return [Document(f"t{i:02d}", " ".join(TINY_WORDS[i % 8:] + TINY_WORDS[:i % 8][:i % 3])) for i in range(count)]


@pytest.fixture(scope="module")
def tiny_build(tmp_path_factory, tiny_mlm):
    """12 documents built into an impact index (doc_top_k 3, scale 10, shards of 5), and the build's
    wall-clock time."""
    import time

    corpus = write_beir(tmp_path_factory.mktemp("mut-tiny-corpus"),
                        [{"_id": d.id, "title": "", "text": d.text} for d in tiny_docs(12)], [], [])
    out = tmp_path_factory.mktemp("mut-tiny") / "idx"
    start = time.perf_counter()
    report = build_impact_index(str(corpus), out, tiny_mlm, scale=TINY_SCALE, pruning=TINY_PRUNING, part_size=5,
                                progress=False)
    return out, report, time.perf_counter() - start


def pruned_impacts(index: Path, top_k: int | None, scale: float) -> dict[str, dict[int, int]]:
    """Each document's top_k largest weights (ties: lower term id) of the shards, round(weight * scale),
    zeros dropped."""
    found = {}
    for path in part_paths(index / VECTORS_DIR):
        vectors = SparseVectors.read_parquet(path)
        for i, doc_id in enumerate(vectors.ids):
            terms, weights = vectors.row(i)
            entries = sorted(zip(terms.tolist(), weights.tolist()), key=lambda e: (-e[1], e[0]))[:top_k]
            found[doc_id] = {t: round(w * scale) for t, w in entries if round(w * scale)}
    return found


def every_term_query(vocab_size: int, scale: float) -> SparseVectors:
    return SparseVectors(["all"], np.array([0, vocab_size]), np.arange(vocab_size), np.ones(vocab_size, np.int64),
                         vocab_size, scale=scale)


def test_an_impact_build_writes_the_pruning_it_records_and_times_its_steps(tiny_build):
    out, report, elapsed = tiny_build
    info = IndexInfo.read(out)
    assert report.info == info and report.encoded_docs == 12
    full = pruned_impacts(out, None, TINY_SCALE)
    assert max(map(len, full.values())) > TINY_PRUNING.doc_top_k  # the pruning removes postings
    docs = pruned_impacts(out, TINY_PRUNING.doc_top_k, TINY_SCALE)
    assert info.avg_postings_per_doc == round(sum(map(len, docs.values())) / 12, 2)
    vocab_size = len(load_encoder(info.model_location(out)).vocab)
    hits = LuceneSearcher(out).search_vectors(every_term_query(vocab_size, TINY_SCALE), 100)["all"]
    assert as_integers(hits) == brute_force({t: 1 for t in range(vocab_size)}, docs)
    # each rate is over a part of the build: at least the documents over the whole build's time
    assert set(info.speed) == {"encode_docs_per_s", "index_docs_per_s"}
    assert all(12 / elapsed <= rate for rate in info.speed.values())


def test_a_bm25_build_times_its_indexing(tmp_path):
    import time

    corpus = write_beir(tmp_path / "c", [{"_id": d.id, "title": "", "text": d.text} for d in tiny_docs(12)], [], [])
    start = time.perf_counter()
    build_bm25_index(str(corpus), tmp_path / "idx")
    elapsed = time.perf_counter() - start
    assert 12 / elapsed <= IndexInfo.read(tmp_path / "idx").speed["index_docs_per_s"]


def test_a_bm25_build_killed_after_lucene_finished_is_completed_by_a_rerun(tmp_path, queries):
    """Killed once Lucene's folder is in place but before lsr-index.json: the rerun writes Lucene again
    over it and completes the index."""
    corpus = write_beir(tmp_path / "c", [{"_id": d.id, "title": "", "text": d.text} for d in tiny_docs(12)], [], [])
    out = tmp_path / "idx"
    build_bm25_index(str(corpus), out)
    expected = LuceneSearcher(out).search([Query("q", "liver glucose")], 20)
    (out / INFO_FILE).unlink()
    build_bm25_index(str(corpus), out)
    assert IndexInfo.read(out).num_docs == 12 and count_docs(out / LUCENE_DIR) == 12
    assert LuceneSearcher(out).search([Query("q", "liver glucose")], 20) == expected != {"q": []}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c", "idx"] and not list(out.glob(".*"))


def test_the_anserini_writer_gives_the_index_and_counts_of_lsrs_indexer_which_needs_its_jar(tiny_build, tmp_path,
                                                                                              monkeypatch):
    from lsr.lucene import jvm
    from lsr.lucene import writers as lucene

    out, _, _ = tiny_build
    vocab = load_encoder(IndexInfo.read(out).model_location(out)).vocab
    shards = part_paths(out / VECTORS_DIR)
    ours = lucene.write_impact_index(shards, vocab, TINY_SCALE, tmp_path / "ours", pruning=TINY_PRUNING)
    deep = tmp_path / "new" / "deeper" / "theirs"  # folders created
    theirs = lucene.write_impact_index_with_anserini(shards, vocab, TINY_SCALE, deep, pruning=TINY_PRUNING)
    docs = pruned_impacts(out, TINY_PRUNING.doc_top_k, TINY_SCALE)
    assert ours == theirs == ImpactStats(12, sum(not d for d in docs.values()), sum(map(len, docs.values())))
    searcher = LuceneSearcher(out)
    query = every_term_query(len(vocab), TINY_SCALE)
    expected = searcher.search_vectors(query, 100)
    for lucene_dir in (tmp_path / "ours", deep):
        searcher.close()
        searcher.lucene_dir = lucene_dir
        assert searcher.search_vectors(query, 100) == expected
    searcher.close()
    missing = tmp_path / "lsr-lucene.jar"  # lsr's jar missing: an error, no fallback to Anserini's searchers
    monkeypatch.setattr(jvm, "HELPER_JAR", missing)
    message = f"{missing} is missing: build lsr's Java classes with `bash scripts/build_java.sh`"
    assert error_of(lambda: lucene.write_impact_index(shards, vocab, TINY_SCALE, tmp_path / "no-jar",
                                                      pruning=TINY_PRUNING)) == message
    assert not (tmp_path / "no-jar").exists() and not list(tmp_path.glob(".no-jar*"))


def test_resuming_an_encoding_counts_the_finished_shards_and_names_the_first_changed_document(tmp_path, tiny_mlm):
    from lsr.data import Document
    from lsr.indexing.vectors import encode_corpus

    encoder = load_encoder(tiny_mlm, batch_size=4)
    folder = tmp_path / "new" / "deeper" / "vectors"  # parents created
    first = encode_corpus(tiny_docs(10), encoder, folder, model_name="mlm", part_size=3, progress=False)
    assert (first.num_docs, first.encoded_now) == (10, 10)
    assert [SparseVectors.read_parquet(p).ids for p in part_paths(folder)] == [
        [d.id for d in tiny_docs(10)[i:i + 3]] for i in range(0, 10, 3)]
    again = encode_corpus(tiny_docs(10), encoder, folder, model_name="mlm", part_size=3, progress=False)
    assert (again.num_docs, again.encoded_now) == (10, 0)
    part_paths(folder)[-1].unlink()
    rest = encode_corpus(tiny_docs(10), encoder, folder, model_name="mlm", part_size=3, progress=False)
    assert (rest.num_docs, rest.encoded_now) == (10, 1)
    changed = tiny_docs(10)
    changed[7] = Document("other", changed[7].text)
    message = error_of(lambda: encode_corpus(changed, encoder, folder, model_name="mlm", part_size=3,
                                             progress=False))
    assert message == (f"{part_paths(folder)[2]}: the corpus changed since this part was written (ids differ "
                       f"near document 7); use a new output folder or --overwrite")


def test_a_refused_resume_names_each_difference_with_both_values(tmp_path, tiny_mlm):
    from lsr.indexing.vectors import VECTORS_INFO, check_vectors_info

    encoder = load_encoder(tiny_mlm, doc_max_length=32)
    check_vectors_info(tmp_path, encoder, "mlm")
    other = load_encoder(tiny_mlm, doc_max_length=48)
    assert error_of(lambda: check_vectors_info(tmp_path, other, "elsewhere/mlm")) == (
        f"{tmp_path}: holds vectors from another model or settings (model: 'mlm' there, 'elsewhere/mlm' now; "
        f"settings.doc_max_length: 32 there, 48 now); use a new output folder or --overwrite")
    manifest = json.loads((tmp_path / VECTORS_INFO).read_text())
    manifest["settings"]["retired"] = 1
    (tmp_path / VECTORS_INFO).write_text(json.dumps(manifest))
    assert error_of(lambda: check_vectors_info(tmp_path, encoder, "mlm")) == (
        f"{tmp_path}: holds vectors from another model or settings (settings.retired: 1 there, None now); "
        f"use a new output folder or --overwrite")
    del manifest["settings"]["retired"], manifest["settings"]["precision"]  # written before the setting existed
    (tmp_path / VECTORS_INFO).write_text(json.dumps(manifest))
    check_vectors_info(tmp_path, encoder, "mlm")


# --- sharded search (lsr/distributed/search.py) -------------------------------------------------------

def test_a_sharded_index_is_searched_with_the_encoder_and_pruning_given(impact, sharded_impact, encoder, queries,
                                                                        tmp_path, caplog):
    """With its recorded model gone, a sharded index searched with an encoder given
    loads no model; its runs, single-query hits (default 10, raw or scaled) and the empty-query warning are
    the single index's; a query pruning given is the one used."""
    from lsr.search.sharded import ShardedSearcher

    moved = Path(shutil.copytree(sharded_impact, tmp_path / "moved"))
    for path in [moved / "lsr-sharded-index.json", *moved.glob("*/" + INFO_FILE)]:  # the model is gone
        raw = json.loads(path.read_text())
        (raw["index"] if "index" in raw else raw)["model"] = "/nonexistent/splade-tiny"
        path.write_text(json.dumps(raw))
    assert "model not found" in str(pytest.raises(LsrError, ShardedSearcher, moved).value)
    single = LuceneSearcher(impact, encoder)
    expected = single.search(queries, 30)
    with ShardedSearcher(moved, encoder) as sharded:
        with caplog.at_level(logging.WARNING):
            assert sharded.search(queries, 30) == expected
        warned = [r.getMessage() for r in caplog.records if r.name == "lsr.distributed.search"]
        assert len(warned) == 1 and warned[0].startswith(f"2 of {len(queries)} queries are empty")
        for query in queries[:-2]:
            assert sharded.search_one(query.text, 5, raw=True) == single.search_one(query.text, 5, raw=True)
            hits = sharded.search_one(query.text)
            assert hits == single.search_one(query.text) and len(hits) == min(10, len(expected[query.id]))
        assert max(len(hits) for hits in expected.values()) > 10
    pruning = Pruning(query_top_k=1)
    with ShardedSearcher(moved, encoder, pruning=pruning) as pruned:
        assert pruned.pruning == pruning
        assert pruned.search(queries, 30) == LuceneSearcher(impact, encoder, pruning=pruning).search(queries, 30) != expected


def test_a_sharded_index_of_one_shard_is_searched_as_its_single_index(impact, encoder, queries, tmp_path):
    from lsr.indexing.sharded import shard_index
    from lsr.search.sharded import ShardedSearcher

    shard_index(impact, tmp_path / "one", num_shards=1, encoder=encoder, progress=False)
    with ShardedSearcher(tmp_path / "one", encoder) as one:
        assert one.search(queries, 30) == LuceneSearcher(impact, encoder).search(queries, 30)


def test_sharded_searches_deeper_than_a_thousand_hits_and_their_default_depths(tmp_path, encoder, splade_tiny):
    """2500 one-term documents in 2 shards, the first shard's impacts all higher: the top 2000 take 1250
    hits from one shard; `search` returns 1000 hits by default, `search_one` 10."""
    from lsr.indexing.layout import part_path
    from lsr.indexing.sharded import build_sharded_index
    from lsr.indexing.vectors import check_vectors_info
    from lsr.search.sharded import ShardedSearcher

    n, half, term = 2500, 1250, encoder.vocab.index("cell")
    ids = [f"d{i:04d}" for i in range(n)]
    weights = np.where(np.arange(n) < half, 0.5 + np.arange(n) % 5 / 10, 0.1 + np.arange(n) % 3 / 10)
    vectors = tmp_path / "vectors"
    vectors.mkdir()
    for part, rows in enumerate((np.arange(half), np.arange(half, n))):
        SparseVectors([ids[i] for i in rows], np.arange(len(rows) + 1), np.full(len(rows), term), weights[rows],
                      len(encoder.vocab)).to_parquet(part_path(vectors, part))
    check_vectors_info(vectors, encoder, str(splade_tiny))
    build_sharded_index(vectors, tmp_path / "idx", splade_tiny, num_shards=2, encoder=encoder, progress=False)
    impacts = {doc: round(w * 100) for doc, w in zip(ids, weights.tolist())}
    expected = sorted(impacts.items(), key=lambda hit: (-hit[1], hit[0]))[:2000]
    query = SparseVectors(["q"], np.array([0, 1]), np.array([term]), np.array([1]), len(encoder.vocab), scale=100.0)
    with ShardedSearcher(tmp_path / "idx", encoder) as searcher:
        assert as_integers(searcher.search_vectors(query, 2000)["q"]) == expected
        assert sum(doc < ids[half] for doc, _ in expected) == half
        assert len(searcher.search_vectors(query)["q"]) == 1000
        assert len(searcher.search([Query("q", "cell")])["q"]) == 1000
        assert len(searcher.search_one("cell")) == 10
    searcher.close()  # closing again is harmless


def test_merged_shard_runs_rank_and_score_as_one_index():
    """Queries found in one shard only keep that shard's hits and scores; hits from several are ranked by
    score then id and tied scores lowered as Anserini does, in float32 (a step of 1e-6 vanishes at 3e6)."""
    from lsr.search.merge import MAX_MERGED_K, merge_runs

    first = {"first": [("x", 4.0), ("y", 3.999999)], "both": [("a", 9.0), ("c", 5.0)], "big": [("p", 3e6)]}
    second = {"both": [("b", 7.0), ("d", 5.0)], "second": [("z", 2.0)], "none": [], "big": [("o", 3e6)]}
    merged = merge_runs([first, second], ["first", "both", "second", "none", "big"], 4)
    assert merged == {"first": [("x", 4.0), ("y", 3.999999)], "second": [("z", 2.0)], "none": [],
                      "both": [("a", 9.0), ("b", 7.0), ("c", 5.0), ("d", 4.999999)],
                      "big": [("o", 3e6), ("p", 3e6)]}
    assert merge_runs([first, second], ["both", "first"], 1) == {"both": [("a", 9.0)], "first": [("x", 4.0)]}
    assert merge_runs([first, second], ["both"], MAX_MERGED_K)["both"] == merged["both"]
    assert "at most 500000" in error_of(lambda: merge_runs([first], ["both"], MAX_MERGED_K + 1))


def test_merged_scores_of_long_tied_runs_are_printed_as_java_prints_them():
    """Over 19,532 hits tied at a score in [2^16, 2^17) step down to x.9765625 (float32), a 6-decimal
    rounding tie that Java's %f rounds half up (the 6th digit even: round-half-even would differ)."""
    from lsr.lucene import jvm
    from lsr.search.merge import run_scores

    java = jvm.bulk_searcher_class()
    for score in (65537, 99999, 131071):
        raw = np.full(25_000, score, np.float32)
        adjusted = raw.tolist()
        java.adjustTies(adjusted)  # in place (pyjnius copies the array back)
        assert run_scores(raw).tolist() == list(java.asPrinted(adjusted))
    assert run_scores(np.full(25_000, 65537, np.float32))[-1] == 65536.976563


# --- search.py (functions the first run did not cover) ------------------------------------------------

def test_a_searcher_loads_the_model_with_the_settings_the_index_records(tmp_path, tiny_mlm):
    encoder = load_encoder(tiny_mlm, query_max_length=4)
    corpus = write_beir(tmp_path / "c", [{"_id": d.id, "title": "", "text": d.text} for d in tiny_docs(6)], [], [])
    build_impact_index(str(corpus), tmp_path / "idx", tiny_mlm, encoder=encoder, scale=TINY_SCALE, progress=False)
    searcher = LuceneSearcher(tmp_path / "idx")
    assert searcher.encoder.settings == encoder.settings
    text = " ".join(TINY_WORDS * 3)
    truncated = impacts_of(encoder.encode_queries([text]).quantize(TINY_SCALE))
    assert impacts_of(searcher.encode_queries([Query("q", text)])) == truncated
    assert impacts_of(load_encoder(tiny_mlm).encode_queries([text]).quantize(TINY_SCALE)) != truncated


def test_anserinis_path_returns_1000_hits_by_default(tmp_path):
    docs = [{"_id": f"d{i:04d}", "title": "", "text": f"okapi w{i}"} for i in range(1003)]
    build_bm25_index(str(write_beir(tmp_path / "c", docs, [], [])), tmp_path / "idx")
    assert len(LuceneSearcher(tmp_path / "idx").search_with_anserini([Query("q", "okapi")])["q"]) == 1000


def test_single_queries_default_to_ten_hits_reopen_after_close_and_without_the_jar_are_an_error(bm25, monkeypatch,
                                                                                                 tmp_path):
    from lsr.lucene import jvm

    searcher = LuceneSearcher(bm25)
    many = searcher.search_one("cell protein", 30)
    assert len(many) > 10 and searcher.search_one("cell protein") == many[:10]
    searcher.close()
    assert searcher._bulk is None and searcher.search_one("cell protein", 30) == many
    missing = tmp_path / "lsr-lucene.jar"  # lsr's jar missing: an error, no fallback to Anserini's searchers
    monkeypatch.setattr(jvm, "HELPER_JAR", missing)
    message = f"{missing} is missing: build lsr's Java classes with `bash scripts/build_java.sh`"
    assert error_of(lambda: LuceneSearcher(bm25).search_one("cell protein", 30)) == message


def test_lucene_refusing_a_document_is_an_error_naming_the_indexing(tiny_build, tmp_path):
    """Vectors whose term ids lie beyond the vocabulary given: Java throws while adding them."""
    from lsr.lucene import writers as lucene

    out, _, _ = tiny_build
    message = error_of(lambda: lucene.write_impact_index(part_paths(out / VECTORS_DIR), ["[PAD]", "[UNK]"],
                                                         TINY_SCALE, tmp_path / "lucene"))
    assert message.startswith("Lucene indexing failed: ") and not (tmp_path / "lucene").exists()


def test_the_input_folder_a_killed_build_leaves_is_removed_by_the_next(tmp_path, corpus):
    """Anserini's input is written to a temporary folder beside the Lucene folder; one a build killed with
    SIGKILL left (never cleaned up) is removed by the next build of that index."""
    from lsr.lucene import writers as lucene

    out = tmp_path / "idx"
    out.mkdir()
    left = lucene._work_folder(out / LUCENE_DIR)
    left._finalizer.detach()  # what SIGKILL leaves: no cleanup
    path = Path(left.name)
    assert path.parent == out and path.is_dir()
    build_bm25_index(str(corpus), out)
    assert not path.exists() and IndexInfo.read(out).num_docs == NUM_DOCS + 2


# --- sharded indexes (lsr/distributed/shards.py) ------------------------------------------------------

def test_shard_groups_split_the_files_nearest_the_even_split_points():
    from lsr.indexing.sharded import plan_groups

    assert plan_groups([5], 1) == [range(0, 1)]
    assert plan_groups([1, 1, 1, 10], 2) == [range(0, 3), range(3, 4)]  # split points 6.5 of 13: after 3
    assert plan_groups([10, 1, 1, 1], 3) == [range(0, 1), range(1, 2), range(2, 4)]
    assert plan_groups([1, 1, 1, 1, 10], 3) == [range(0, 3), range(3, 4), range(4, 5)]  # every shard a file


def test_a_sharded_manifest_reads_back_and_names_what_is_wrong(sharded_impact, tmp_path):
    from lsr.indexing.layout import ShardedIndexInfo
    from lsr.indexing.sharded import SHARDED_INFO_FILE

    manifest = ShardedIndexInfo.read(sharded_impact)
    assert manifest.format_version == 1 and [shard.folder for shard in manifest.shards] == ["shard-00000",
                                                                                            "shard-00001"]
    raw = json.loads((sharded_impact / SHARDED_INFO_FILE).read_text())
    folder = tmp_path / "copy"
    folder.mkdir()
    for version in (None, 2):  # written before the field existed; a later format
        changed = {key: value for key, value in raw.items() if key != "format_version"}
        if version is not None:
            changed["format_version"] = version
        (folder / SHARDED_INFO_FILE).write_text(json.dumps(changed))
        found = ShardedIndexInfo.read(folder)
        assert found.format_version == (version or 1) and found.shards == manifest.shards
    assert error_of(lambda: ShardedIndexInfo.read(tmp_path)) == (
        f"{tmp_path}: not a complete sharded lsr index (no {SHARDED_INFO_FILE}; an interrupted sharded build "
        f"resumes when run again)")
    (folder / SHARDED_INFO_FILE).write_text("{")
    assert error_of(lambda: ShardedIndexInfo.read(folder)).startswith(
        f"{folder / SHARDED_INFO_FILE}: unreadable sharded index metadata (JSONDecodeError(")


def test_a_sharded_build_from_vectors_records_no_corpus_runs_here_and_refuses_to_overwrite(
        tiny_build, tiny_mlm, tmp_path, monkeypatch):
    import lsr.distributed.shards as ray_shards
    import lsr.indexing.sharded as shards

    def no_ray(*args, **kwargs):
        raise AssertionError("a build not asked to use Ray used it")

    monkeypatch.setattr(ray_shards, "build_on_ray", no_ray)
    vectors, out = tiny_build[0] / VECTORS_DIR, tmp_path / "new" / "idx"
    manifest = shards.build_sharded_index(vectors, out, tiny_mlm, num_shards=2, progress=False)  # model loaded
    assert manifest.index.corpus == "" and shards.ShardedIndexInfo.read(out) == manifest
    assert [shard.num_docs for shard in manifest.shards] == [5, 7]
    (out / "stray.txt").write_text("x")
    encoder = load_encoder(tiny_mlm)
    assert "already there" in error_of(lambda: shards.build_sharded_index(vectors, out, tiny_mlm, num_shards=2,
                                                                          encoder=encoder, progress=False))
    assert (out / "stray.txt").exists() and shards.ShardedIndexInfo.read(out) == manifest
    rebuilt = shards.build_sharded_index(vectors, out, tiny_mlm, num_shards=3, encoder=encoder, overwrite=True,
                                         progress=False)
    assert [shard.num_docs for shard in rebuilt.shards] == [5, 5, 2] and shards.ShardedIndexInfo.read(out) == rebuilt
    (tmp_path / "empty").mkdir()
    assert error_of(lambda: shards.build_sharded_index(tmp_path / "empty", tmp_path / "other", tiny_mlm,
                                                       num_shards=2, encoder=encoder, progress=False)) == (
        f"{tmp_path / 'empty'}: no Parquet vectors (part-*.parquet) to index")

"""The bulk search path (lsr's Java BulkSearcher) against the former one (Anserini's SearchCollection).

`LuceneSearcher.search` must return exactly the run `LuceneSearcher.search_with_anserini` reads back from Anserini's
run file: the same documents, the same scores (Anserini's tie adjustment and 6-decimal printing
included), in the same order, ties included; for BM25 and impact indexes, k below and above the number
of matching documents, and queries that match nothing.
The bulk searcher's own duties: the garbage collector's state restored, Java calls split by hits, the doc
id table checked against the index.
"""

from __future__ import annotations

import gc
import glob
import json
import logging
import os
import random
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from lsr.data import Query
from lsr.errors import LsrError
from lsr.indexing.build import build_bm25_index, build_impact_index
from lsr.lucene import bulk, jvm
from lsr.models import load_encoder
from lsr.search.lucene import LuceneSearcher
from lsr.sparse import SparseVectors

from helpers import error_of, write_beir

NUM_DOCS = 150
TWINS = 40  # identical short documents: 40-way score ties (Anserini lowers each tied score by 1e-6 per rank)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, mini_scifact) -> Path:
    """SciFact documents, some copied under other ids (ties whose id order is not the insertion order),
    TWINS identical short documents written in shuffled id order, and four more whose ids order one way
    as UTF-8 bytes (Lucene's order) and another as UTF-16 (Java's String order), with an emoji (beyond
    U+FFFF) in ids and text."""
    docs = [json.loads(line) for line in open(mini_scifact / "corpus.jsonl")][:NUM_DOCS]
    copies = [{**doc, "_id": f"{prefix}{doc['_id']}"} for doc in docs[:5] for prefix in ("z-", "a-", "0")]
    twins = [{"_id": f"twin-{i:02d}", "title": "", "text": "zebra quagga stripes"} for i in range(TWINS)]
    twins += [{"_id": f"okapi-{c}", "title": "", "text": "okapi \N{GRINNING FACE} giraffe"}
              for c in ("\N{GRINNING FACE}", "\N{FULLWIDTH EXCLAMATION MARK}", "\u00e9", "z")]
    random.Random(0).shuffle(twins)
    queries = [json.loads(line) for line in open(mini_scifact / "queries.jsonl")][:20]
    queries += [{"_id": f"title-{i}", "text": doc["title"]} for i, doc in enumerate(docs[:5])]
    return write_beir(tmp_path_factory.mktemp("bulk-corpus"), docs[:60] + copies + twins + docs[60:],
                      queries, [(q["_id"], docs[0]["_id"], 1) for q in queries])


@pytest.fixture(scope="module")
def queries(corpus) -> list[Query]:
    found = [Query(q["_id"], q["text"]) for q in map(json.loads, open(corpus / "queries.jsonl"))]
    return found + [Query("empty", ""), Query("blank", " \t "), Query("stopwords", "the of and"),
                    Query("spaces", "\tzebra \n  stripes  "), Query("repeats", "zebra zebra zebra quagga"),
                    Query("nothing", "xylophonist"), Query("emoji", "\N{GRINNING FACE} giraffe")]


@pytest.fixture(scope="module")
def bm25_index(tmp_path_factory, corpus) -> Path:
    out = tmp_path_factory.mktemp("bulk-bm25") / "idx"
    build_bm25_index(str(corpus), out)
    return out


@pytest.fixture(scope="module")
def impact_index(tmp_path_factory, corpus, splade_tiny) -> Path:
    out = tmp_path_factory.mktemp("bulk-impact") / "idx"
    encoder = load_encoder(splade_tiny, doc_max_length=64, long_docs="first")
    build_impact_index(str(corpus), out, splade_tiny, encoder=encoder, progress=False)
    return out


def assert_same_run(new: dict, old: dict) -> None:
    assert list(new) == list(old)
    for query_id in old:
        assert new[query_id] == old[query_id], query_id


def has_ties(run: dict) -> bool:
    """Whether some query has neighbouring scores within 1e-4 (Anserini's tie adjustment at work)."""
    return any(0 <= a - b <= 1e-4 for hits in run.values() for (_, a), (_, b) in zip(hits, hits[1:]))


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("k", [1000, 7, 1])
def test_bm25_bulk_run_equals_anserinis(bm25_index, queries, k, threads):
    searcher = LuceneSearcher(bm25_index, threads=threads)
    new, old = searcher.search(queries, k), searcher.search_with_anserini(queries, k)
    assert isinstance(searcher._bulk, bulk.BulkSearcher), "the bulk path did not run"
    assert_same_run(new, old)
    assert all(not new[q] for q in ("empty", "blank", "stopwords", "nothing"))
    assert all(len(hits) <= k for hits in new.values())
    if k == 1000:
        assert has_ties(new) and len(new["repeats"]) == TWINS and len(new["spaces"]) == TWINS
        assert max(map(len, new.values())) < k  # k above the number of matching documents
        assert [doc for doc, _ in new["emoji"]] == ["okapi-z", "okapi-\u00e9", "okapi-\N{FULLWIDTH EXCLAMATION MARK}",
                                                    "okapi-\N{GRINNING FACE}"]


@pytest.mark.parametrize("threads", [1, 3])
@pytest.mark.parametrize("k", [1000, 7])
def test_impact_bulk_run_equals_anserinis(impact_index, queries, k, threads):
    searcher = LuceneSearcher(impact_index, threads=threads)
    new, old = searcher.search(queries, k), searcher.search_with_anserini(queries, k)
    assert isinstance(searcher._bulk, bulk.BulkSearcher), "the bulk path did not run"
    assert_same_run(new, old)
    assert not new["empty"] and not new["blank"]
    if k == 1000:
        assert has_ties(new)
        assert max(map(len, new.values())) < k  # k above the number of matching documents


@pytest.mark.parametrize("kind", ["bm25", "impact"])
def test_anserinis_own_search_inside_the_bulk_searcher_gives_the_same_run(kind, bm25_index, impact_index, queries):
    """The bulk searcher's fallback, forced here: Anserini's sorted search with the hits' scores recomputed
    (taken when the score sums may not be exact). The run is the same."""
    index = bm25_index if kind == "bm25" else impact_index
    expected = LuceneSearcher(index).search_with_anserini(queries, 50)
    system = jvm.jclass("java.lang.System")
    system.setProperty("lsr.bulk.alwaysRecompute", "true")
    try:
        searcher = LuceneSearcher(index, threads=2)
        assert_same_run(searcher.search(queries, 50), expected)
    finally:
        system.clearProperty("lsr.bulk.alwaysRecompute")


def test_search_vectors_is_search_without_the_encoder(impact_index, queries):
    searcher = LuceneSearcher(impact_index)
    vectors = searcher.encode_queries(queries)
    empty = SparseVectors(["no-terms"], np.zeros(2, np.int64), np.zeros(0, np.int32), np.zeros(0, np.int32),
                          vectors.vocab_size, vectors.scale)
    run = searcher.search_vectors(SparseVectors.concat([vectors, empty]), 50)
    assert run == {**searcher.search(queries, 50), "no-terms": []}
    with pytest.raises(LsrError, match="scale"):
        searcher.search_vectors(SparseVectors(["q"], np.array([0, 1]), np.array([5], np.int32),
                                              np.array([3], np.int32), vectors.vocab_size, 7.0))


def test_the_java_searcher_opens_once_and_answers_every_batch(bm25_index, queries):
    searcher = LuceneSearcher(bm25_index)
    first = searcher.search(queries[:3], 10)
    java = searcher._bulk
    assert searcher.search(queries[3:5], 10) and searcher._bulk is java
    assert searcher.search([], 10) == {} and searcher.search(queries[:3], 10) == first
    with pytest.raises(LsrError, match="k must be at least 1"):
        searcher.search(queries, 0)
    searcher.close()
    assert searcher.search(queries[:3], 10) == first  # reopened after close()


def test_batches_larger_than_one_java_call_are_split(bm25_index, queries, monkeypatch):
    searcher = LuceneSearcher(bm25_index)
    whole = searcher.search(queries, 5)
    monkeypatch.setattr(bulk, "MAX_HITS_PER_CALL", 12)  # two queries per call
    assert searcher.search(queries, 5) == whole


def missing_jar_message(jar) -> str:
    return f"{jar} is missing: build lsr's Java classes with `bash scripts/build_java.sh`"


def test_without_the_jar_search_is_a_one_line_error(bm25_index, queries, monkeypatch, tmp_path):
    """No silent fallback to Anserini's searchers: the error says how to build the jar."""
    missing = tmp_path / "lsr-lucene.jar"
    monkeypatch.setattr(jvm, "HELPER_JAR", missing)
    searcher = LuceneSearcher(bm25_index)
    for search in (lambda: searcher.search(queries, 20), lambda: searcher.search_one("zebra", 5)):
        with pytest.raises(LsrError) as caught:
            search()
        assert str(caught.value) == missing_jar_message(missing)
    assert searcher._bulk is None and searcher._simple is None


@pytest.mark.parametrize("kind", ["bm25", "impact"])
def test_without_the_jar_a_fresh_process_fails_to_search_with_a_one_line_error(kind, bm25_index, impact_index,
                                                                                 queries, tmp_path):
    """The jar missing when the JVM starts (not on its class path): `search` and `search_one` are the LsrError."""
    code = ("import json, sys\nfrom pathlib import Path\nimport lsr.lucene.jvm as jvm\n"
            "jvm.HELPER_JAR = Path(sys.argv[2])\nfrom lsr.data import Query\nfrom lsr.errors import LsrError\n"
            "from lsr.search.lucene import LuceneSearcher\nsearcher = LuceneSearcher(sys.argv[1])\n"
            "for search in (lambda: searcher.search([Query(i, t) for i, t in json.loads(sys.argv[3])], 20),\n"
            "               lambda: searcher.search_one('zebra stripes', 5)):\n"
            "    try:\n        search()\n    except LsrError as e:\n        print(json.dumps(str(e)))\n"
            "    else:\n        print('searched')\n")
    index = bm25_index if kind == "bm25" else impact_index
    out = subprocess.run([sys.executable, "-c", code, str(index), str(tmp_path / "no.jar"),
                          json.dumps([[q.id, q.text] for q in queries])], capture_output=True, text=True, check=True)
    assert [json.loads(line) for line in out.stdout.strip().splitlines()[-2:]] == \
        [missing_jar_message(tmp_path / "no.jar")] * 2


class _NotLinking:
    """Stands in for the Java BulkSearcher object: every search throws Java's NoSuchMethodError."""

    def searchTexts(self, *args):  # noqa: N802 (the Java method's name)
        raise jvm.jnius().JavaException("JVM exception occurred: java.lang.NoSuchMethodError: "
                                        "'void org.apache.lucene.search.IndexSearcher.search()'\n\tat x",
                                        "java.lang.NoSuchMethodError", "", [])

    def close(self):
        pass


def test_a_jar_that_does_not_link_is_a_one_line_error(bm25_index, queries):
    """A Java linkage error from lsr's searcher (built against other Lucene/Anserini classes): no fallback."""
    searcher = LuceneSearcher(bm25_index)
    searcher.search(queries[:2], 5)
    searcher._bulk._java = _NotLinking()
    for search in (lambda: searcher.search(queries, 20), lambda: searcher.search_one("zebra", 5)):
        with pytest.raises(LsrError) as caught:
            search()
        assert str(caught.value) == (
            f"{jvm.HELPER_JAR} does not link against {jvm.anserini_jar().name} on the class path (JVM exception "
            f"occurred: java.lang.NoSuchMethodError: 'void org.apache.lucene.search.IndexSearcher.search()'): "
            f"rebuild it with `bash scripts/build_java.sh`")


def _javac() -> str | None:
    """Any JDK's javac (the stand-in jar below is compiled for Java 17)."""
    found = [os.path.join(os.environ["JAVA_HOME"], "bin", "javac")] if os.environ.get("JAVA_HOME") else []
    found += sorted(glob.glob("/usr/lib/jvm/*/bin/javac")) + [shutil.which("javac") or ""]
    return next((path for path in found if path and os.access(path, os.X_OK)), None)


def test_a_fresh_process_with_a_jar_built_against_other_classes_fails_to_search(bm25_index, queries, tmp_path):
    """A real jar that does not link: its BulkSearcher.bm25 calls a Lucene class the Anserini fatjar lacks
    (compiled against a stand-in), so Java throws NoClassDefFoundError; the search is the one-line LsrError."""
    javac = _javac()
    if javac is None:
        pytest.skip("no javac found (JAVA_HOME, /usr/lib/jvm, PATH) to build a jar that does not link")
    sources = {"org/apache/lucene/search/GoneInThisLucene.java":
               "package org.apache.lucene.search;\npublic class GoneInThisLucene { public static void call() {} }\n",
               "lsr/lucene/BulkSearcher.java":
               "package lsr.lucene;\npublic class BulkSearcher {\n"
               "  public static BulkSearcher bm25(byte[] path, int threads, String k1, String b) {\n"
               "    org.apache.lucene.search.GoneInThisLucene.call();\n    return new BulkSearcher();\n  }\n}\n"}
    for name, text in sources.items():
        (tmp_path / "src" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "src" / name).write_text(text)
    subprocess.run([javac, "--release", "17", "-d", str(tmp_path / "classes"),
                    *(str(tmp_path / "src" / name) for name in sources)], check=True, capture_output=True)
    jar = tmp_path / "lsr-lucene.jar"
    with zipfile.ZipFile(jar, "w") as out:  # BulkSearcher only: GoneInThisLucene is what "Anserini" lacks
        out.write(tmp_path / "classes" / "lsr" / "lucene" / "BulkSearcher.class", "lsr/lucene/BulkSearcher.class")
    code = ("import sys\nfrom pathlib import Path\nimport lsr.lucene.jvm as jvm\njvm.HELPER_JAR = Path(sys.argv[2])\n"
            "from lsr.data import Query\nfrom lsr.errors import LsrError\n"
            "from lsr.search.lucene import LuceneSearcher\n"
            "try:\n    LuceneSearcher(sys.argv[1]).search([Query('q', 'zebra')], 5)\n"
            "except LsrError as e:\n    print('error:', e)\n")
    out = subprocess.run([sys.executable, "-c", code, str(bm25_index), str(jar)], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip().splitlines()[-1] == (
        f"error: {jar} does not link against {jvm.anserini_jar().name} on the class path (JVM exception occurred: "
        f"java.lang.NoClassDefFoundError: org/apache/lucene/search/GoneInThisLucene): "
        f"rebuild it with `bash scripts/build_java.sh`")


def test_scores_are_read_as_anserini_prints_them():
    """BulkSearcher.asPrinted(score) == the number Anserini's "%f" of the float score reads as, for scores
    of every size and for 6-decimal rounding ties (the float then holds x.xxxxxx5 exactly)."""
    java = jvm.bulk_searcher_class()
    string, locale, boxed = (jvm.jclass(name) for name in ("java.lang.String", "java.util.Locale", "java.lang.Float"))
    rng = np.random.default_rng(0)
    scores = np.concatenate([
        rng.random(3000) * 30, rng.random(1000) * 1e4, rng.random(500) * 1e7, rng.random(500) * 1e-4,
        np.arange(1, 2000, 2) / 2**7 + 2.0**16,  # odd multiples of 2^-7 above 65536: exact 7th-decimal 5s
        np.arange(1, 400, 2) / 2**7, -rng.random(100), [0.0, 1e9, 3e10, 16777216.0],
    ]).astype(np.float32)
    printed = java.asPrinted(scores.tolist())
    for score, value in zip(scores.tolist(), printed):
        assert value == float(string.format(locale.US, "%f", boxed(score))), score


def test_a_query_lucene_refuses_gets_no_hits_as_before(impact_index, queries, caplog):
    """Over 1024 terms Lucene throws; SearchCollection then leaves the query out and goes on, and so does
    the bulk path, with a warning."""
    searcher = LuceneSearcher(impact_index)
    vectors = searcher.encode_queries(queries[:3])
    huge = SparseVectors(["huge"], np.array([0, 1100]), np.arange(1000, 2100, dtype=np.int32),
                         np.ones(1100, np.int32), vectors.vocab_size, vectors.scale)
    batch = SparseVectors.concat([vectors, huge])
    with caplog.at_level(logging.WARNING):
        new = searcher.search_vectors(batch, 20)
    old = searcher._search_collection(searcher._topic_lines(batch), 20)
    assert new["huge"] == [] and "huge" not in old
    assert {query_id: hits for query_id, hits in new.items() if hits} == old and len(old) == 3
    assert "Lucene refused 1 queries" in caplog.text and "huge" in caplog.text


def test_impact_scores_from_2_to_the_24_on_equal_anserinis(impact_index, queries):
    """Up to 2^24 an impact score is an exact float sum and the collector's score is Anserini's; above,
    the bulk path takes Lucene's recomputed scores, as Anserini does. Each query's three strongest terms,
    weighted 100000, give scores of tens of millions."""
    searcher = LuceneSearcher(impact_index)
    vectors = searcher.encode_queries(queries[:3])
    rows = [np.sort(terms[np.argsort(-weights, kind="stable")[:3]]) for terms, weights in map(vectors.row, range(3))]
    heavy = SparseVectors([f"heavy-{i}" for i in range(3)], np.cumsum([0] + [len(row) for row in rows]),
                          np.concatenate(rows), np.full(sum(map(len, rows)), 100_000, np.int32),
                          vectors.vocab_size, vectors.scale)
    new = searcher.search_vectors(heavy, 50)
    assert new == searcher._search_collection(searcher._topic_lines(heavy), 50)
    assert max(score for hits in new.values() for _, score in hits) > 2**24


@pytest.mark.parametrize("kind", ["bm25", "impact"])
def test_search_one_equals_anserinis_simple_searcher(kind, bm25_index, impact_index, queries):
    """`search_one` (lsr's Java searcher, one query) gives the hits and float scores of Anserini's
    SimpleSearcher / SimpleImpactSearcher, which it used before (a Java map per impact query)."""
    from lsr.search.lucene import _java_int_map

    searcher = LuceneSearcher(bm25_index if kind == "bm25" else impact_index)
    for query in queries:
        prepared = searcher.prepare_query(query.text)
        new = searcher.search_one(query.text, 30, raw=True)
        if prepared is None:  # no terms: blank text, or (impact) a query the model encodes to nothing
            assert new == []
            continue
        java_query = _java_int_map(prepared, searcher.encoder.vocab) if kind == "impact" else prepared
        old = [(hit.docid, hit.score) for hit in searcher._simple_searcher().search(java_query, 30)]
        assert new == old, query.id
    assert isinstance(searcher._bulk, bulk.BulkSearcher)


def test_bulk_search_restores_the_garbage_collectors_state(cut_bm25, cut_queries):
    searcher = LuceneSearcher(cut_bm25)
    was = gc.isenabled()
    try:
        gc.enable()
        searcher.search(cut_queries, 10)
        assert gc.isenabled()
        gc.disable()
        searcher.search(cut_queries, 10)
        assert not gc.isenabled()
    finally:
        gc.enable() if was else gc.disable()
    assert bulk._gc_holders == 0


def test_bulk_search_vectors_needs_quantized_vectors_and_positive_k(cut_impact, cut_queries, cut_encoder):
    searcher = LuceneSearcher(cut_impact)
    java = searcher._bulk_searcher()
    with pytest.raises(ValueError, match="quantized"):
        java.search_vectors(cut_encoder.encode_queries([cut_queries[0].text], ["q"]), 10)
    assert "at least 1" in error_of(lambda: bulk._chunk(0))
    assert bulk._chunk(1) == bulk.MAX_HITS_PER_CALL and bulk._chunk(1000) == bulk.MAX_HITS_PER_CALL // 1000
    assert bulk._chunk(bulk.MAX_HITS_PER_CALL * 3) == 1


@pytest.mark.parametrize("k", [1, 3])
def test_bulk_searches_split_into_many_java_calls_give_the_same_run(k, cut_impact, cut_bm25, cut_queries, monkeypatch):
    searchers = LuceneSearcher(cut_impact), LuceneSearcher(cut_bm25)
    whole = [s.search(cut_queries, k) for s in searchers]
    monkeypatch.setattr(bulk, "MAX_HITS_PER_CALL", 2 * k + 1)  # two queries per call, the last call shorter
    assert [s.search(cut_queries, k) for s in searchers] == whole
    assert all(len(hits) == k for run in whole for q, hits in run.items() if q not in ("empty", "blank"))


def test_single_query_scores_of_the_bulk_searcher_are_anserinis_simple_searcher_floats(cut_impact, cut_queries):
    """The reference: Anserini's SimpleImpactSearcher fed a Java map of the query (search_one's former path)."""
    from lsr.search.lucene import _java_int_map

    texts = [q.text for q in cut_queries[:-2]]
    searcher = LuceneSearcher(cut_impact)
    with_helper = [searcher.search_one(text, 50, raw=True) for text in texts]
    simple = searcher._simple_searcher()
    assert [[(hit.docid, hit.score) for hit in simple.search(_java_int_map(searcher.prepare_query(text),
                                                                            searcher.encoder.vocab), 50)]
            for text in texts] == with_helper


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

"""Lucene search of impact and BM25 indexes (`LuceneSearcher`) on a SciFact cut: exact integer scores against
a brute-force dot product of the pruned, quantized vectors, single and batch queries, empty and refused
queries, default depths, BM25's recorded (or default) k1 and b, the Java jar required, search backends."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from lsr.data import Query
from lsr.indexing.build import build_bm25_index, build_impact_index
from lsr.indexing.layout import INFO_FILE, LUCENE_DIR, VECTORS_DIR, IndexInfo, part_paths
from lsr.models import load_encoder
from lsr.pruning import Pruning
from lsr.search.lucene import LuceneSearcher
from lsr.sparse import SparseVectors

from helpers import (
    CUT_PRUNING,
    CUT_SCALE,
    TINY_SCALE,
    TINY_WORDS,
    as_integers,
    brute_force,
    doc_impacts,
    error_of,
    impacts_of,
    query_impacts,
    tiny_docs,
    write_beir,
)


def test_impact_search_one_is_the_exact_integer_dot_product(cut_impact, cut_queries, cut_encoder, monkeypatch,
                                                            tmp_path):
    """search_one (lsr's bulk searcher) scores every matching document with the integer dot product of the
    pruned, quantized vectors; without `raw` divided by scale². Without lsr's jar it is an error."""
    from lsr.lucene import jvm

    searcher = LuceneSearcher(cut_impact)
    docs = doc_impacts(cut_impact)
    assert searcher.score_unit == CUT_SCALE ** 2
    for query in cut_queries[:4]:
        expected = brute_force(query_impacts(cut_encoder, query.text), docs)
        raw = searcher.search_one(query.text, k=100, raw=True)
        assert as_integers(raw) == expected
        scaled = searcher.search_one(query.text, k=100)
        assert [doc for doc, _ in scaled] == [doc for doc, _ in raw]
        assert [s for _, s in scaled] == pytest.approx([s / CUT_SCALE ** 2 for _, s in raw], rel=1e-9)
    searcher.close()
    missing = tmp_path / "lsr-lucene.jar"  # lsr's jar missing: an error, no fallback to Anserini's searchers
    monkeypatch.setattr(jvm, "HELPER_JAR", missing)
    message = f"{missing} is missing: build lsr's Java classes with `bash scripts/build_java.sh`"
    assert error_of(lambda: LuceneSearcher(cut_impact).search_one(cut_queries[0].text, k=100)) == message


def test_impact_batch_search_is_the_exact_dot_product_and_keeps_empty_queries(cut_impact, cut_queries, cut_encoder,
                                                                              caplog):
    searcher = LuceneSearcher(cut_impact)
    docs = doc_impacts(cut_impact)
    with caplog.at_level(logging.WARNING):
        run = searcher.search(cut_queries, 1000)
    assert list(run) == [q.id for q in cut_queries]
    assert run["empty"] == [] and run["blank"] == []
    for query in cut_queries[:-2]:
        assert as_integers(run[query.id]) == brute_force(query_impacts(cut_encoder, query.text), docs)
    assert f"2 of {len(cut_queries)} queries are empty" in caplog.text
    # the Anserini path (topic file, terms repeated `impact` times) gives the same run
    assert searcher.search_with_anserini(cut_queries, 1000) == run


def test_query_terms_are_the_pruned_quantized_query_terms_and_bm25_analyzed_tokens(cut_impact, cut_bm25, cut_queries,
                                                                                   cut_encoder):
    searcher = LuceneSearcher(cut_impact)
    vocab = cut_encoder.vocab
    assert searcher.query_terms(cut_queries[:4]) == [{vocab[t] for t in query_impacts(cut_encoder, q.text)}
                                                 for q in cut_queries[:4]]
    words = LuceneSearcher(cut_bm25).query_terms([Query("a", "The running dogs"), Query("b", " \t"), Query("c", "")])
    assert words == [{"run", "dog"}, set(), set()]


def test_search_vectors_refusals_and_rows_without_terms(cut_impact, cut_bm25, cut_queries, cut_encoder):
    searcher = LuceneSearcher(cut_impact)
    vectors = searcher.encode_queries(cut_queries)
    run = searcher.search_vectors(vectors, 10)
    assert list(run) == [q.id for q in cut_queries] and run["empty"] == [] and run["blank"] == []
    assert run == searcher.search(cut_queries, 10)
    other_scale = cut_encoder.encode_queries(["cells"]).quantize(100.0)
    assert "scale" in error_of(lambda: searcher.search_vectors(other_scale, 10))
    assert "at least 1" in error_of(lambda: searcher.search_vectors(vectors, 0))
    assert "BM25 index" in error_of(lambda: LuceneSearcher(cut_bm25).search_vectors(vectors, 10))
    for call in (searcher.search, searcher.search_with_anserini):
        assert "at least 1" in error_of(lambda call=call: call(cut_queries, 0))


def test_prepare_query_joins_whitespace_and_blank_queries_find_nothing(cut_bm25, cut_impact):
    searcher = LuceneSearcher(cut_bm25)
    assert searcher.prepare_query("  cell \t\n death ") == "cell death"
    assert searcher.prepare_query(" \t ") is None and searcher.search_one(" \t ") == []
    assert searcher.search_one("  cell \t\n death ", k=5) == searcher.search_one("cell death", k=5)
    assert LuceneSearcher(cut_impact).search_prepared(None) == []


def test_a_closed_searcher_reopens_and_gives_the_same_run(cut_impact, cut_queries):
    searcher = LuceneSearcher(cut_impact)
    first = searcher.search(cut_queries, 10)
    one = searcher.search_one(cut_queries[0].text, 5)
    searcher.close()
    assert searcher._bulk is None and searcher._simple is None
    assert searcher.search(cut_queries, 10) == first and searcher.search_one(cut_queries[0].text, 5) == one


def test_single_queries_default_to_ten_hits_reopen_after_close_and_without_the_jar_are_an_error(cut_bm25, monkeypatch,
                                                                                                 tmp_path):
    from lsr.lucene import jvm

    searcher = LuceneSearcher(cut_bm25)
    many = searcher.search_one("cell protein", 30)
    assert len(many) > 10 and searcher.search_one("cell protein") == many[:10]
    searcher.close()
    assert searcher._bulk is None and searcher.search_one("cell protein", 30) == many
    missing = tmp_path / "lsr-lucene.jar"  # lsr's jar missing: an error, no fallback to Anserini's searchers
    monkeypatch.setattr(jvm, "HELPER_JAR", missing)
    message = f"{missing} is missing: build lsr's Java classes with `bash scripts/build_java.sh`"
    assert error_of(lambda: LuceneSearcher(cut_bm25).search_one("cell protein", 30)) == message


def test_search_prepared_defaults_to_ten_hits_and_without_the_jar_is_an_error(cut_bm25, monkeypatch, tmp_path):
    from lsr.lucene import jvm

    searcher = LuceneSearcher(cut_bm25)
    prepared = searcher.prepare_query("cell protein")
    many = searcher.search_prepared(prepared, 30)
    assert len(many) > 11 and searcher.search_prepared(prepared) == many[:10]
    missing = tmp_path / "lsr-lucene.jar"  # lsr's jar missing: an error, no fallback to Anserini's searchers
    monkeypatch.setattr(jvm, "HELPER_JAR", missing)
    message = f"{missing} is missing: build lsr's Java classes with `bash scripts/build_java.sh`"
    assert error_of(lambda: LuceneSearcher(cut_bm25).search_prepared(prepared, 30)) == message


def test_single_term_queries_are_searched_and_k_1_is_allowed(cut_impact, cut_queries, cut_encoder, splade_tiny):
    """Query pruning to one term per query: every query still searches (with exact scores); k = 1 is a
    valid depth for `search_vectors`."""
    pruning = Pruning(doc_top_k=CUT_PRUNING.doc_top_k, query_top_k=1)
    searcher = LuceneSearcher(cut_impact, cut_encoder, pruning=pruning)
    docs = doc_impacts(cut_impact)
    run = searcher.search(cut_queries[:-2], 1000)
    vectors = searcher.encode_queries(cut_queries[:-2])
    assert set(vectors.nnz_per_row().tolist()) == {1}
    matched = 0
    for i, query in enumerate(cut_queries[:-2]):
        terms, weights = vectors.row(i)
        expected = brute_force(dict(zip(terms.tolist(), weights.tolist())), docs)
        assert as_integers(run[query.id]) == expected
        matched += bool(expected)
    assert matched >= 3
    assert searcher.search_vectors(vectors, 1000) == run
    top1 = searcher.search_vectors(vectors, 1)
    assert all(hits == run[query_id][:1] for query_id, hits in top1.items())


def test_no_warning_when_no_query_is_empty(cut_bm25, cut_queries, caplog):
    with caplog.at_level(logging.WARNING):
        LuceneSearcher(cut_bm25).search(cut_queries[:-2], 10)
    assert "empty" not in caplog.text


def test_search_returns_1000_hits_by_default(tmp_path):
    docs = [{"_id": f"d{i:04d}", "title": "", "text": f"okapi w{i}"} for i in range(1003)]
    corpus = write_beir(tmp_path / "c", docs, [], [])
    build_bm25_index(str(corpus), tmp_path / "idx")
    run = LuceneSearcher(tmp_path / "idx").search([Query("q", "okapi")])
    assert len(run["q"]) == 1000


def test_search_vectors_returns_1000_hits_by_default(tmp_path, cut_encoder, splade_tiny):
    """An impact index of 1003 one-term documents (written from vectors, no encoding): a one-term query
    vector gets 1000 hits by default, with the exact integer scores."""
    from lsr.lucene.writers import write_impact_index

    n, term = 1003, cut_encoder.vocab.index("cell")
    weights = (np.arange(n) % 7 + 1) / 10.0
    vectors = SparseVectors([f"d{i:04d}" for i in range(n)], np.arange(n + 1), np.full(n, term), weights,
                            len(cut_encoder.vocab))
    index = tmp_path / "idx"
    (index / VECTORS_DIR).mkdir(parents=True)
    vectors.to_parquet(index / VECTORS_DIR / "part-00000.parquet")
    stats = write_impact_index(part_paths(index / VECTORS_DIR), cut_encoder.vocab, 100.0, index / LUCENE_DIR)
    assert (stats.num_docs, stats.num_empty, stats.postings) == (n, 0, n)
    IndexInfo("impact", n, 0, "c", model=str(splade_tiny), vocab_fingerprint=cut_encoder.fingerprint,
              scale=100.0).save(index)
    searcher = LuceneSearcher(index, cut_encoder)
    query = SparseVectors(["q"], np.array([0, 1]), np.array([term]), np.array([3]), len(cut_encoder.vocab), scale=100.0)
    hits = searcher.search_vectors(query)["q"]
    assert len(hits) == 1000
    assert sorted(round(score) for _, score in hits)[-1] == 3 * 70 and round(hits[-1][1]) == 3 * 10


def test_anserinis_path_returns_1000_hits_by_default(tmp_path):
    docs = [{"_id": f"d{i:04d}", "title": "", "text": f"okapi w{i}"} for i in range(1003)]
    build_bm25_index(str(write_beir(tmp_path / "c", docs, [], [])), tmp_path / "idx")
    assert len(LuceneSearcher(tmp_path / "idx").search_with_anserini([Query("q", "okapi")])["q"]) == 1000


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


def write_without_bm25_settings(index: Path, out: Path) -> Path:
    shutil.copytree(index, out)
    raw = json.loads((out / INFO_FILE).read_text())
    raw.pop("bm25")
    (out / INFO_FILE).write_text(json.dumps(raw))
    return out


def test_bm25_metadata_without_k1_and_b_searches_with_k1_09_and_b_04(cut_bm25, cut_corpus, cut_queries, tmp_path):
    """An index whose metadata records no BM25 parameters is searched with Anserini's defaults
    (k1 = 0.9, b = 0.4), by every path: batch, single query, and the references, Anserini's
    SearchCollection and SimpleSearcher."""
    other = tmp_path / "other"
    build_bm25_index(str(cut_corpus), other, k1=1.6, b=0.8)
    bare = write_without_bm25_settings(cut_bm25, tmp_path / "bare")
    assert IndexInfo.read(bare).bm25 is None and IndexInfo.read(cut_bm25).bm25 == {"k1": 0.9, "b": 0.4}
    found, wanted, differs = LuceneSearcher(bare), LuceneSearcher(cut_bm25), LuceneSearcher(other)
    assert found.search(cut_queries, 20) == wanted.search(cut_queries, 20) != differs.search(cut_queries, 20)
    assert found.search_with_anserini(cut_queries, 20) == wanted.search(cut_queries, 20)
    for query in cut_queries[:4]:
        assert found.search_one(query.text, 20) == wanted.search_one(query.text, 20)
        simple = found._simple_searcher().search(found.prepare_query(query.text), 20)
        assert [(hit.docid, hit.score) for hit in simple] == wanted.search_one(query.text, 20)
    assert found.search_one(cut_queries[0].text, 20) != differs.search_one(cut_queries[0].text, 20)


def test_bm25_single_query_uses_the_recorded_k1_and_b_and_without_the_jar_is_an_error(cut_corpus, cut_queries, tmp_path,
                                                                                        monkeypatch):
    """search_one gives what Anserini's SimpleSearcher with the recorded k1 and b gives (the reference)."""
    from lsr.lucene import jvm

    index = tmp_path / "idx"
    build_bm25_index(str(cut_corpus), index, k1=1.6, b=0.8)
    searcher = LuceneSearcher(index)
    for query in cut_queries[:4]:
        simple = searcher._simple_searcher().search(searcher.prepare_query(query.text), 10)
        assert searcher.search_one(query.text, 10) == [(hit.docid, hit.score) for hit in simple]
    searcher.close()
    missing = tmp_path / "lsr-lucene.jar"  # lsr's jar missing: an error, no fallback to Anserini's searchers
    monkeypatch.setattr(jvm, "HELPER_JAR", missing)
    message = f"{missing} is missing: build lsr's Java classes with `bash scripts/build_java.sh`"
    assert error_of(lambda: LuceneSearcher(index).search_one(cut_queries[0].text, 10)) == message


def test_every_query_lucene_refuses_is_named_with_lucenes_reason(cut_impact, cut_queries, cut_encoder, caplog):
    """Two queries over Lucene's 1024-clause limit among others: both get no hits, the others their exact
    hits, and the warning names each refused query with the reason Lucene gave."""
    searcher = LuceneSearcher(cut_impact)
    vectors = searcher.encode_queries(cut_queries[:3])
    vocab_size, docs = vectors.vocab_size, doc_impacts(cut_impact)

    def huge(name, first):
        return SparseVectors([name], np.array([0, 1100]), np.arange(first, first + 1100, dtype=np.int32),
                             np.ones(1100, np.int32), vocab_size, vectors.scale)
    batch = SparseVectors.concat([huge("huge-a", 1000), vectors.select([0]), huge("huge-b", 3000),
                                  vectors.select([1, 2])])
    with caplog.at_level(logging.WARNING):
        run = searcher.search_vectors(batch, 1000)
    assert run["huge-a"] == [] and run["huge-b"] == []
    for i, query in enumerate(cut_queries[:3]):
        assert as_integers(run[query.id]) == brute_force(impacts_of(vectors)[i], docs)
    warning = next(r.getMessage() for r in caplog.records if "Lucene refused" in r.getMessage())
    assert "Lucene refused 2 queries" in warning
    reasons = dict(part.split(": ", 1) for part in warning.split("SearchCollection): ", 1)[1].split("; "))
    assert set(reasons) == {"huge-a", "huge-b"}
    for reason in reasons.values():
        assert reason.startswith("org.apache.lucene.") and "TooManyClauses" in reason
        assert reason.endswith("maxClauseCount is set to 1024")


def test_an_index_whose_lucene_folder_is_broken_is_an_error_naming_the_search(cut_bm25, cut_queries, tmp_path):
    broken = Path(shutil.copytree(cut_bm25, tmp_path / "broken"))
    shutil.rmtree(broken / LUCENE_DIR)
    (broken / LUCENE_DIR).mkdir()
    message = error_of(lambda: LuceneSearcher(broken).search(cut_queries, 10))
    assert message.startswith("Lucene search failed: ") and "IndexNotFound" in message


def test_search_backends_are_checked_and_described_as_given():
    from lsr.search.backends import SearchBackend

    assert error_of(lambda: SearchBackend("faiss")) == "unknown search backend 'faiss': one of lucene, seismic"
    assert SearchBackend().describe() == {"name": "lucene"}
    assert SearchBackend("seismic", query_cut=7, heap_factor=0.5).describe() == {"name": "seismic", "query_cut": 7,
                                                                                 "heap_factor": 0.5}
    assert SearchBackend(ray="10.0.0.1:6379").describe() == {"name": "lucene", "ray": "10.0.0.1:6379"}


def test_a_backend_opens_its_searcher_with_the_encoder_and_threads_given(cut_impact, cut_sharded, cut_encoder,
                                                                         cut_queries, tmp_path):
    from lsr.indexing.seismic import SeismicParams
    from lsr.search.backends import SearchBackend
    from lsr.search.open import open_searcher
    from lsr.search.sharded import ShardedSearcher

    single = open_searcher(cut_impact, SearchBackend(), cut_encoder, threads=3)
    assert open_searcher(cut_impact, encoder=cut_encoder).index_dir == Path(cut_impact)  # Lucene by default
    assert type(single) is LuceneSearcher and single.encoder is cut_encoder and single.threads == 3
    sharded = open_searcher(cut_sharded, SearchBackend(), cut_encoder, threads=3)
    assert type(sharded) is ShardedSearcher and sharded.encoder is cut_encoder
    assert [shard.searcher.threads for shard in sharded._shards] == [3, 3]
    assert sharded.search(cut_queries, 20) == single.search(cut_queries, 20)
    sharded.close()
    assert "is a sharded index, searched with Lucene: not with --backend seismic" in error_of(
        lambda: open_searcher(cut_sharded, SearchBackend("seismic"), cut_encoder))
    assert "--ray searches a sharded index" in error_of(
        lambda: open_searcher(cut_impact, SearchBackend(ray="auto"), cut_encoder))
    assert "is searched by lsr.distributed.search.open_searcher" in error_of(
        lambda: open_searcher(cut_sharded, SearchBackend(ray="auto"), cut_encoder))
    pytest.importorskip("seismic")
    from lsr.indexing.seismic import build_seismic_index
    from lsr.search.seismic import SeismicSearcher

    copy = Path(shutil.copytree(cut_impact, tmp_path / "with-seismic"))
    build_seismic_index(copy, SeismicParams(n_postings=100_000, summary_energy=1.0), threads=1)
    found = open_searcher(copy, SearchBackend("seismic", query_cut=7, heap_factor=0.5), cut_encoder, threads=3)
    assert type(found) is SeismicSearcher and found.encoder is cut_encoder and found.index_dir == copy
    assert (found.query_cut, found.heap_factor, found.threads) == (7, 0.5, 3)

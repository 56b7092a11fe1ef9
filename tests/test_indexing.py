"""Index building and Lucene search: impact (splade-tiny, a tiny random masked LM) and BM25 on SciFact cuts;
what a build records, refuses, warns about and cleans up after a killed build."""

from __future__ import annotations

import json
import logging
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from lsr.data import Query, read_corpus, read_queries
from lsr.errors import LsrError
from lsr.indexing.build import BuildReport, build_bm25_index, build_impact_index
from lsr.indexing.layout import INFO_FILE, LUCENE_DIR, VECTORS_DIR, IndexInfo, part_paths
from lsr.indexing.vectors import VECTORS_INFO, check_vectors_info
from lsr.lucene.writers import ImpactStats, check_vocab_terms, count_docs
from lsr.models import load_encoder
from lsr.pruning import Pruning
from lsr.search.lucene import LuceneSearcher
from lsr.sparse import SparseVectors

from helpers import (
    CUT_NUM_DOCS,
    CUT_PRUNING,
    CUT_SCALE,
    TINY_PRUNING,
    TINY_SCALE,
    as_integers,
    brute_force,
    doc_impacts,
    error_of,
    every_term_query,
    make_tiny_mlm,
    pruned_impacts,
    tiny_docs,
    write_beir,
)


@pytest.fixture(scope="module")
def encoder(splade_tiny):
    return load_encoder(splade_tiny)


@pytest.fixture(scope="module")
def impact_index(tmp_path_factory, mini_scifact, splade_tiny, encoder):
    out = tmp_path_factory.mktemp("idx") / "splade"
    build_impact_index(str(mini_scifact), out, splade_tiny, encoder=encoder, part_size=256, progress=False)
    return out


def test_impact_index_records_what_it_was_built_with(impact_index, splade_tiny, encoder):
    info = IndexInfo.read(impact_index)
    assert (info.kind, info.num_docs, info.num_empty, info.scale) == ("impact", 600, 0, 100.0)
    assert Path(info.model_location(impact_index)).resolve() == splade_tiny.resolve()
    assert not Path(info.model).is_absolute()
    assert info.vocab_fingerprint == encoder.fingerprint
    assert info.encoder_settings["doc_max_length"] == 256
    assert 100 < info.avg_postings_per_doc < 400
    assert count_docs(impact_index / LUCENE_DIR) == 600
    assert len(part_paths(impact_index / VECTORS_DIR)) == 3


def test_an_index_moves_with_the_model_folder_beside_it(tmp_path, mini_scifact, splade_tiny):
    """The index records its model relative to itself: index and model moved together still search."""
    shutil.copytree(splade_tiny, tmp_path / "a" / "model")
    docs = [json.loads(line) for line in open(mini_scifact / "corpus.jsonl")][:20]
    write_beir(tmp_path / "data", docs, [{"_id": "q", "text": "cells"}], [("q", docs[0]["_id"], 1)])
    build_impact_index(str(tmp_path / "data"), tmp_path / "a" / "index", tmp_path / "a" / "model", progress=False)
    assert IndexInfo.read(tmp_path / "a" / "index").model == "../model"
    shutil.move(tmp_path / "a", tmp_path / "b")
    assert LuceneSearcher(tmp_path / "b" / "index").search_one("cells", k=3)


def test_lucene_top10_equals_brute_force_on_the_quantized_vectors(impact_index, mini_scifact):
    searcher = LuceneSearcher(impact_index)
    queries = read_queries(mini_scifact, "test")
    run = searcher.search(queries, k=10)
    docs = SparseVectors.concat([SparseVectors.read_parquet(p) for p in part_paths(impact_index / VECTORS_DIR)])
    scores = searcher.encode_queries(queries).dot(docs.quantize(100.0))
    agree = 0
    for row, query in enumerate(queries):
        exact = scores[row]
        tenth = np.sort(exact)[-10]
        lucene = run[query.id]
        same_scores = [s for _, s in lucene] == sorted(exact[exact >= tenth], reverse=True)[:10]
        above_ties = {docs.ids[i] for i in np.flatnonzero(exact > tenth)}
        agree += same_scores and above_ties <= {d for d, _ in lucene}
    assert agree >= 0.99 * len(queries)


def test_search_one_matches_batch_search(impact_index, mini_scifact):
    searcher = LuceneSearcher(impact_index)
    query = read_queries(mini_scifact, "test")[0]
    assert searcher.search_one(query.text, k=5, raw=True) == searcher.search([query], k=5)[query.id]


def test_search_one_scores_are_the_models_dot_products(impact_index, mini_scifact, encoder):
    searcher = LuceneSearcher(impact_index)
    query = read_queries(mini_scifact, "test")[0]
    hits = searcher.search_one(query.text, k=3)
    docs = {d.id: d for d in read_corpus(mini_scifact)}
    q = encoder.encode_queries([query.text]).to_scipy()
    d = encoder.encode_docs([docs[doc_id].full_text() for doc_id, _ in hits]).to_scipy()
    exact = (d @ q.T).toarray().ravel()
    assert searcher.score_unit == 100.0 ** 2
    assert [score for _, score in hits] == pytest.approx(exact.tolist(), rel=0.01)


def test_resume_after_a_crash_indexes_every_document_once(tmp_path, mini_scifact, splade_tiny, encoder):
    class Crash(Exception):
        pass

    calls = {"n": 0}
    original = encoder.encode_docs

    def crash_on_third_shard(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise Crash
        return original(*args, **kwargs)

    out = tmp_path / "idx"
    encoder.encode_docs = crash_on_third_shard
    try:
        with pytest.raises(Crash):
            build_impact_index(str(mini_scifact), out, splade_tiny, encoder=encoder, part_size=100, progress=False)
    finally:
        del encoder.encode_docs
    assert len(part_paths(out / VECTORS_DIR)) == 2
    assert not (out / INFO_FILE).exists()
    with pytest.raises(LsrError, match="not a complete lsr index"):
        LuceneSearcher(out)
    report = build_impact_index(str(mini_scifact), out, splade_tiny, encoder=encoder, part_size=100,
                                progress=False)
    assert report.encoded_docs == 400
    ids = [i for p in part_paths(out / VECTORS_DIR) for i in SparseVectors.read_parquet(p).ids]
    assert len(ids) == len(set(ids)) == 600
    assert count_docs(out / LUCENE_DIR) == 600


def test_complete_index_is_not_overwritten_by_accident(impact_index, mini_scifact, splade_tiny):
    with pytest.raises(LsrError, match="already there"):
        build_impact_index(str(mini_scifact), impact_index, splade_tiny)


def test_searching_with_another_vocabulary_is_refused(impact_index, encoder):
    class OtherVocab(type(encoder)):
        @property
        def vocab(self):
            return encoder.vocab[:-1] + ["[other]"]

    other = OtherVocab(encoder.model, encoder.tokenizer)
    with pytest.raises(LsrError, match="vocabulary"):
        LuceneSearcher(impact_index, other)


def test_bm25_index_and_search(tmp_path, mini_scifact):
    report = build_bm25_index(str(mini_scifact), tmp_path / "bm25")
    assert (report.info.kind, report.info.num_docs, report.info.bm25) == ("bm25", 600, {"k1": 0.9, "b": 0.4})
    searcher = LuceneSearcher(tmp_path / "bm25")
    queries = read_queries(mini_scifact, "test")
    run = searcher.search(queries, k=1000)
    assert set(run) == {q.id for q in queries}
    assert max(len(hits) for hits in run.values()) <= 600
    one = searcher.search_one(queries[0].text, k=3)
    assert [d for d, _ in one] == [d for d, _ in run[queries[0].id][:3]]
    assert [s for _, s in one] == pytest.approx([s for _, s in run[queries[0].id][:3]], abs=1e-4)


def test_blank_documents_and_queries_are_kept_and_match_nothing(tmp_path, splade_tiny, encoder, caplog):
    docs = [{"_id": "d1", "title": "", "text": "heart disease risk"}, {"_id": "d2", "title": "", "text": ""},
            {"_id": "d3", "title": "Liver", "text": "glucose metabolism"}]
    queries = [{"_id": "q1", "text": "heart"}, {"_id": "q2", "text": ""}]
    folder = write_beir(tmp_path / "beir", docs, queries, [("q1", "d1", 1), ("q2", "d2", 1)])
    for name, build in [("impact", lambda o: build_impact_index(str(folder), o, splade_tiny, encoder=encoder,
                                                                progress=False)),
                        ("bm25", lambda o: build_bm25_index(str(folder), o))]:
        info = build(tmp_path / name).info
        assert (info.num_docs, info.num_empty) == (3, 1)
        assert "1 of 3 documents have no terms" in caplog.text and "near-dense" not in caplog.text
        caplog.clear()
        run = LuceneSearcher(tmp_path / name).search(read_queries(folder, "test"), k=10)
        assert run["q2"] == [] and run["q1"][0][0] == "d1"
        assert "1 of 2 queries are empty" in caplog.text
        assert "d2" not in {d for d, _ in run["q1"]}


def test_near_dense_vectors_are_warned_about(tmp_path, caplog):
    words = ["heart", "disease", "liver", "glucose", "cell", "protein"]
    model = make_tiny_mlm(tmp_path / "random-mlm", words)
    docs = [{"_id": f"d{i}", "title": "", "text": " ".join(words[i:] + words[:i])} for i in range(len(words))]
    folder = write_beir(tmp_path / "beir", docs, [], [])
    with caplog.at_level(logging.WARNING):
        info = build_impact_index(str(folder), tmp_path / "idx", model, progress=False).info
    assert info.avg_postings_per_doc > 0.1 * 11
    assert "near-dense" in caplog.text and "--doc-top-k" in caplog.text


def test_duplicate_document_id_fails_without_a_complete_index(tmp_path):
    docs = [{"_id": "d1", "title": "", "text": "a"}, {"_id": "d1", "title": "", "text": "b"}]
    folder = write_beir(tmp_path / "beir", docs, [], [])
    with pytest.raises(LsrError, match="d1"):
        build_bm25_index(str(folder), tmp_path / "bm25")
    assert not (tmp_path / "bm25" / INFO_FILE).exists()


def test_pruning_is_applied_recorded_and_used_for_queries(tmp_path, mini_scifact, splade_tiny, encoder):
    from lsr.pruning import Pruning

    pruning = Pruning(doc_top_k=32, query_top_k=8)
    report = build_impact_index(str(mini_scifact), tmp_path / "idx", splade_tiny, encoder=encoder,
                                pruning=pruning, progress=False)
    assert report.info.pruning == pruning.to_dict()
    assert report.info.avg_postings_per_doc <= 32
    searcher = LuceneSearcher(tmp_path / "idx")
    assert searcher.pruning == pruning
    assert searcher.encode_queries(read_queries(mini_scifact, "test")[:20]).nnz_per_row().max() <= 8


def test_a_vectors_folder_from_before_a_setting_existed_resumes_at_its_default(tmp_path, encoder):
    """A manifest without `runtime` (written before the setting existed) means the default, torch; one
    that records another runtime is refused by name."""
    check_vectors_info(tmp_path, encoder, "splade-tiny")
    manifest = json.loads((tmp_path / VECTORS_INFO).read_text())
    del manifest["settings"]["runtime"]
    (tmp_path / VECTORS_INFO).write_text(json.dumps(manifest))
    check_vectors_info(tmp_path, encoder, "splade-tiny")
    manifest["settings"]["runtime"] = "onnx-int8"
    (tmp_path / VECTORS_INFO).write_text(json.dumps(manifest))
    with pytest.raises(LsrError, match="settings.runtime: 'onnx-int8' there, 'torch' now"):
        check_vectors_info(tmp_path, encoder, "splade-tiny")


TEXTS = ["heart disease and blood pressure", "liver glucose metabolism", "protein folding in cells",
         "heart attack risk factors"]


def test_a_lucene_document_count_that_differs_is_a_one_line_error(tmp_path):
    """Lucene's document count is checked against lsr's: no index and no temporary left when they differ."""
    from lsr.errors import LsrError
    from lsr.lucene.writers import _index_collection

    (tmp_path / "input").mkdir()
    (tmp_path / "input" / "docs.jsonl").write_text(
        "".join(json.dumps({"id": f"d{i}", "contents": text}) + "\n" for i, text in enumerate(TEXTS)))
    args = ["-collection", "JsonCollection", "-generator", "DefaultLuceneDocumentGenerator"]
    with pytest.raises(LsrError) as caught:
        _index_collection(tmp_path / "input", tmp_path / "lucene", len(TEXTS) + 1, 1, args)
    assert str(caught.value) == f"{tmp_path / 'lucene'}: Lucene indexed 4 documents, expected 5"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["input"]  # no index, no temporary left
    _index_collection(tmp_path / "input", tmp_path / "lucene", len(TEXTS), 1, args)  # the right count passes
    assert (tmp_path / "lucene").is_dir()


def test_build_report_rates():
    info = IndexInfo("bm25", 12, 0, "c")
    assert BuildReport(info, encode_seconds=2.0, encoded_docs=10, lucene_seconds=4.0).encode_docs_per_second == 5.0
    assert BuildReport(info, encode_seconds=2.0, encoded_docs=10, lucene_seconds=4.0).lucene_docs_per_second == 3.0
    assert BuildReport(info, encode_seconds=0.0, encoded_docs=0).encode_docs_per_second is None
    assert BuildReport(info).lucene_docs_per_second is None


def test_impact_metadata_counts_and_postings(cut_impact, cut_corpus, splade_tiny, cut_encoder):
    info = IndexInfo.read(cut_impact)
    docs = doc_impacts(cut_impact)
    ids = [d.id for d in read_corpus(cut_corpus)]
    assert info.kind == "impact" and info.num_docs == len(ids) == CUT_NUM_DOCS + 2
    assert info.num_empty == sum(not d for d in docs.values()) >= 1 and not docs["blank"]
    assert info.avg_postings_per_doc == round(sum(map(len, docs.values())) / len(ids), 2)
    assert info.scale == CUT_SCALE and Pruning.from_dict(info.pruning) == CUT_PRUNING
    assert info.corpus == str(cut_corpus) and info.vocab_fingerprint == cut_encoder.fingerprint
    assert info.model == os.path.relpath(Path(splade_tiny).resolve(), cut_impact.resolve())
    assert Path(info.model_location(cut_impact)).resolve() == Path(splade_tiny).resolve()
    assert info.encoder_kind == cut_encoder.kind and info.encoder_settings == cut_encoder.recorded_settings()
    assert set(info.speed) == {"encode_docs_per_s", "index_docs_per_s"} and all(v > 0 for v in info.speed.values())
    assert count_docs(cut_impact / LUCENE_DIR) == len(ids) - info.num_empty


def test_bm25_metadata_counts_blank_documents(cut_bm25, cut_corpus):
    info = IndexInfo.read(cut_bm25)
    assert (info.kind, info.num_docs, info.num_empty) == ("bm25", CUT_NUM_DOCS + 2, 2)
    assert info.bm25 == {"k1": 0.9, "b": 0.4} and info.corpus == str(cut_corpus)
    assert set(info.speed) == {"index_docs_per_s"} and info.speed["index_docs_per_s"] > 0
    assert count_docs(cut_bm25 / LUCENE_DIR) == CUT_NUM_DOCS


def test_a_build_is_refused_over_an_index_and_overwrite_rebuilds_from_scratch(tmp_path, cut_corpus):
    out = tmp_path / "idx"
    build_bm25_index(str(cut_corpus), out, k1=1.6)
    (out / "stray.txt").write_text("x")
    assert "already there" in error_of(lambda: build_bm25_index(str(cut_corpus), out))
    assert IndexInfo.read(out).bm25 == {"k1": 1.6, "b": 0.4}
    build_bm25_index(str(cut_corpus), out, overwrite=True)
    assert IndexInfo.read(out).bm25 == {"k1": 0.9, "b": 0.4} and not (out / "stray.txt").exists()


def test_the_warning_about_blank_documents_counts_them(tmp_path, caplog):
    corpus = write_beir(tmp_path / "c", [{"_id": "a", "title": "", "text": "okapi"},
                                         {"_id": "b", "title": "", "text": " "}], [], [])
    with caplog.at_level(logging.WARNING):
        build_bm25_index(str(corpus), tmp_path / "idx")
    assert "1 of 2 documents have no terms" in caplog.text


def test_a_corpus_of_blank_documents_only_gives_an_empty_index(tmp_path):
    corpus = write_beir(tmp_path / "c", [{"_id": "a", "title": "", "text": " "},
                                         {"_id": "b", "title": "\x02", "text": ""}], [], [])
    build_bm25_index(str(corpus), tmp_path / "idx")
    info = IndexInfo.read(tmp_path / "idx")
    assert (info.num_docs, info.num_empty) == (2, 2)
    assert LuceneSearcher(tmp_path / "idx").search([Query("q", "okapi")], 10) == {"q": []}


def test_a_hub_model_is_recorded_by_its_id_and_a_local_one_relative_to_the_index(tmp_path):
    from lsr.indexing.build import model_name_for

    (tmp_path / "model").mkdir()
    assert model_name_for("org/some-model", tmp_path / "idx") == "org/some-model"
    assert model_name_for(tmp_path / "model", tmp_path / "idx") == os.path.join("..", "model")


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


def test_a_bm25_build_killed_after_lucene_finished_is_completed_by_a_rerun(tmp_path, cut_queries):
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


def test_impact_stats_average_and_vocabulary_checks():
    assert ImpactStats(0, 0, 0).avg_postings_per_doc == 0.0
    assert ImpactStats(4, 1, 10).avg_postings_per_doc == 2.5
    check_vocab_terms(["a", "b##", "[CLS]"])
    for bad in ("", "a b", "a\tb", "\u3000"):
        assert "cannot be a Lucene term" in error_of(lambda bad=bad: check_vocab_terms(["ok", bad]))


def test_lucene_refusing_a_document_is_an_error_naming_the_indexing(tiny_build, tmp_path):
    """Vectors whose term ids lie beyond the vocabulary given: Java throws while adding them."""
    from lsr.lucene import writers as lucene

    out, _, _ = tiny_build
    message = error_of(lambda: lucene.write_impact_index(part_paths(out / VECTORS_DIR), ["[PAD]", "[UNK]"],
                                                         TINY_SCALE, tmp_path / "lucene"))
    assert message.startswith("Lucene indexing failed: ") and not (tmp_path / "lucene").exists()


def test_temporaries_left_by_killed_builds_are_removed(tmp_path, cut_corpus):
    out = tmp_path / "idx"
    stale = [tmp_path / "idx" / f".{LUCENE_DIR}.123.tmp", tmp_path / "idx" / f".{LUCENE_DIR}-input.456.tmp"]
    keep = tmp_path / "idx" / ".other.1.tmp"
    for folder in [*stale, keep]:
        folder.mkdir(parents=True)
    build_bm25_index(str(cut_corpus), out)
    assert not any(p.exists() for p in stale) and keep.exists()
    assert sorted(p.name for p in out.iterdir()) == sorted([INFO_FILE, LUCENE_DIR, keep.name])


def test_the_input_folder_a_killed_build_leaves_is_removed_by_the_next(tmp_path, cut_corpus):
    """Anserini's input is written to a temporary folder beside the Lucene folder; one a build killed with
    SIGKILL left (never cleaned up) is removed by the next build of that index."""
    from lsr.lucene import writers as lucene

    out = tmp_path / "idx"
    out.mkdir()
    left = lucene._work_folder(out / LUCENE_DIR)
    left._finalizer.detach()  # what SIGKILL leaves: no cleanup
    path = Path(left.name)
    assert path.parent == out and path.is_dir()
    build_bm25_index(str(cut_corpus), out)
    assert not path.exists() and IndexInfo.read(out).num_docs == CUT_NUM_DOCS + 2

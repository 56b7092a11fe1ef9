"""The inference-free encoder: splade-tiny documents, OpenSearch IDF queries."""

from __future__ import annotations

import json
import logging
import shutil

import numpy as np
import pytest

from lsr.data import read_qrels, read_queries
from lsr.errors import LsrError
from lsr.eval.metrics import evaluate
from lsr.models import load_encoder
from lsr.models.base import MODEL_INFO_FILE
from lsr.models.idf import load_idf
from lsr.models.inference_free import InferenceFreeEncoder
from lsr.models.settings import SpladeSettings
from lsr.models.splade import SpladeEncoder
from lsr.pruning import Pruning
from lsr.sparse import SparseVectors

from helpers import SHARED, require

QUERIES = ["what causes heart disease", "Statin use and breast cancer survival",
           "glucose metabolism in the liver", "the the the"]


@pytest.fixture(scope="session")
def opensearch_idf():
    return require(SHARED / "data" / "idf" / "opensearch-idf.json")


@pytest.fixture(scope="module")
def table(opensearch_idf):
    return load_idf(opensearch_idf)


@pytest.fixture(scope="module")
def encoder(splade_tiny, table):
    return InferenceFreeEncoder.from_folder(splade_tiny, table=table)


def test_the_opensearch_table(table):
    assert len(table) == 30_522
    assert table["the"] == pytest.approx(0.135, abs=1e-3) and table["heart"] == pytest.approx(4.19, abs=1e-2)


def test_query_weights_are_the_table(encoder, table):
    for text, weights in zip(QUERIES, encoder.encode_queries(QUERIES).to_dicts(encoder.vocab)):
        tokens = encoder.tokenizer.tokenize(text)
        assert weights == pytest.approx({token: table[token] for token in tokens}), text
    first = encoder.encode_queries(["what causes heart disease"]).to_dicts(encoder.vocab)[0]
    assert first["heart"] == pytest.approx(4.19, abs=0.01) and set(first) == {"what", "causes", "heart", "disease"}


def test_one_query_at_a_time_equals_a_batch_and_passes_the_checks(encoder):
    batch = encoder.encode_queries(QUERIES)
    for i, text in enumerate(QUERIES):
        one = encoder.encode_queries([text])
        checked = SparseVectors(one.ids, one.indptr, one.indices, one.values, one.vocab_size)
        assert checked.to_dicts(encoder.vocab) == [batch.to_dicts(encoder.vocab)[i]]


def test_non_finite_table_weights_are_refused(encoder):
    with pytest.raises(LsrError, match="NaN or infinite"):
        InferenceFreeEncoder(encoder.doc_encoder, {"heart": float("inf")})


def test_repeats_count_once_and_special_tokens_never_appear(encoder, table):
    weights = encoder.encode_queries(["heart heart [CLS] heart [SEP] [MASK]"]).to_dicts(encoder.vocab)[0]
    assert weights == pytest.approx({"heart": table["heart"]})
    assert table["[CLS]"] == 1.0 and not encoder.query_weights[encoder.tokenizer.all_special_ids].any()


def test_blank_and_truncated_queries(encoder, table):
    vectors = encoder.encode_queries(["", "heart disease", "  "], ids=["a", "b", "c"])
    assert vectors.ids == ["a", "b", "c"] and list(vectors.nnz_per_row()) == [0, 2, 0]
    encoder.settings = encoder.settings.replace(query_max_length=2)
    try:
        weights = encoder.encode_queries(["heart disease causes"]).to_dicts(encoder.vocab)[0]
    finally:
        encoder.settings = encoder.settings.replace(query_max_length=64)
    assert set(weights) == {"heart", "disease"}


def test_tokens_missing_from_the_table(splade_tiny, caplog):
    with caplog.at_level(logging.WARNING):
        small = InferenceFreeEncoder.from_folder(splade_tiny, table={"heart": 2.0, "not-a-token": 1.0})
    assert "1 of 2 tokens" in caplog.text
    assert small.encode_queries(["heart disease"]).to_dicts(small.vocab)[0] == {"heart": 2.0}
    default = InferenceFreeEncoder(small.doc_encoder, small.table, default_weight=0.5)
    assert default.encode_queries(["heart disease"]).to_dicts(small.vocab)[0] == {"heart": 2.0, "disease": 0.5}


def test_queries_run_no_network(encoder, monkeypatch):
    def no_forward(*args, **kwargs):
        raise AssertionError("the network ran")

    monkeypatch.setattr(encoder.doc_encoder.model, "forward", no_forward)
    assert encoder.encode_queries(QUERIES).nnz_per_row().all()
    with pytest.raises(AssertionError, match="the network ran"):
        encoder.encode_docs(["heart disease"])


def test_documents_are_splade_vectors(encoder, splade_tiny):
    texts = ["Heart disease and blood pressure.", "Protein folding in cells " * 10]
    ours, splade = encoder.encode_docs(texts), SpladeEncoder.from_folder(splade_tiny).encode_docs(texts)
    assert np.array_equal(ours.indptr, splade.indptr) and np.array_equal(ours.indices, splade.indices)
    assert np.allclose(ours.values, splade.values, atol=1e-6)


def assert_same_encoder(a, b):
    assert type(a) is type(b) and a.fingerprint == b.fingerprint and a.settings == b.settings
    assert np.array_equal(a.query_weights, b.query_weights)
    for encode in ("encode_queries", "encode_docs"):
        x, y = getattr(a, encode)(QUERIES), getattr(b, encode)(QUERIES)
        assert np.array_equal(x.indices, y.indices) and np.allclose(x.values, y.values, atol=1e-6)


def test_save_and_load_round_trip(encoder, tmp_path):
    encoder.save(tmp_path / "model")
    info = json.loads((tmp_path / "model" / MODEL_INFO_FILE).read_text())
    assert info["kind"] == "inference-free"
    assert info["settings"] == {**encoder.doc_encoder.recorded_settings(), "weights_file": "idf.json",
                                "default_weight": 0.0}
    assert load_idf(tmp_path / "model" / "idf.json") == encoder.table
    assert_same_encoder(load_encoder(tmp_path / "model"), encoder)


def test_opensearch_layout_loads_as_inference_free(encoder, copy_of, splade_tiny, opensearch_idf):
    folder = copy_of(splade_tiny)  # a BertForMaskedLM folder, no lsr.json ...
    shutil.copy(opensearch_idf, folder / "idf.json")  # ... with idf.json beside it
    assert_same_encoder(load_encoder(folder), encoder)
    assert load_encoder(folder, default_weight=1.0).settings.default_weight == 1.0


def test_index_and_search_mini_scifact(tmp_path, encoder, mini_scifact):
    from lsr.indexing.build import build_impact_index
    from lsr.search.lucene import LuceneSearcher

    model = tmp_path / "model"
    first_32 = SpladeEncoder(encoder.doc_encoder.model, encoder.tokenizer,
                             SpladeSettings(doc_max_length=32, long_docs="first"))
    short = InferenceFreeEncoder(first_32, encoder.table)  # documents cut to 32 tokens keep this test quick
    short.save(model)
    report = build_impact_index(str(mini_scifact), tmp_path / "index", model, encoder=short, progress=False)
    assert report.info.encoder_kind == "inference-free" and report.info.encoder_settings["doc_max_length"] == 32
    searcher = LuceneSearcher(tmp_path / "index")  # loads the query side from the recorded model folder
    assert isinstance(searcher.encoder, InferenceFreeEncoder)
    queries = read_queries(mini_scifact, "test")
    run = searcher.search(queries, k=100)
    assert sum(bool(hits) for hits in run.values()) == len(queries)
    ndcg = evaluate(run, read_qrels(mini_scifact, "test"), ["nDCG@10"]).values["nDCG@10"]
    print(f"mini-SciFact nDCG@10, splade-tiny documents (32 tokens) + OpenSearch IDF queries: {ndcg:.4f}")
    assert ndcg > 0.3
    pruned = LuceneSearcher(tmp_path / "index", searcher.encoder, pruning=Pruning(query_top_k=2))
    prepared = pruned.prepare_query(queries[0].text)
    assert prepared.nnz_per_row().tolist() == [2]
    assert prepared.to_dicts(short.vocab) == short.encode_queries([queries[0].text]).prune(top_k=2).quantize(
        100.0).to_dicts(short.vocab)


def test_quantized_queries_equal_the_quantized_vectors(encoder, scifact):
    texts = [q.text for q in read_queries(scifact, "test")] + QUERIES + ["", "  ", "[CLS]"]
    ids = [f"q{i}" for i in range(len(texts))]
    for scale in (100.0, 37.0, 0.5):  # at 0.5 most weights round to 0 and are left out
        fast, slow = encoder.encode_quantized_queries(texts, ids, scale=scale), encoder.encode_queries(texts, ids)
        slow = slow.quantize(scale)
        assert fast.ids == slow.ids and fast.scale == slow.scale == scale and fast.vocab_size == slow.vocab_size
        for field in ("indptr", "indices", "values"):
            assert np.array_equal(getattr(fast, field), getattr(slow, field)), (scale, field)
            assert getattr(fast, field).dtype == getattr(slow, field).dtype, (scale, field)
    cold = InferenceFreeEncoder(encoder.doc_encoder, encoder.table)
    cold.token_cache = None  # a tokenizer the chunk cache cannot serve: one tokenizer call per batch
    assert cold.encode_quantized_queries(texts, ids, scale=100.0).to_dicts(encoder.vocab) == \
        encoder.encode_quantized_queries(texts, ids, scale=100.0).to_dicts(encoder.vocab)


def test_tables_quantize_refuses_refuse_only_the_queries_holding_those_terms(encoder):
    for table, error in (({"heart": 2.0, "disease": -1.0}, "negative"), ({"heart": 2.0, "disease": 3e7}, "overflow")):
        odd = InferenceFreeEncoder(encoder.doc_encoder, table)
        assert odd.encode_quantized_queries(["heart"], scale=100.0).to_dicts(odd.vocab) == [{"heart": 200}]
        with pytest.raises(ValueError, match=error):
            odd.encode_quantized_queries(["heart disease"], scale=100.0)

"""The masked-LM SPLADE encoder on the real splade-tiny model."""

from __future__ import annotations

import json
import threading

import numpy as np
import pytest
import torch

from lsr.errors import LsrError
from lsr.models import load_encoder
from lsr.models.base import MODEL_INFO_FILE
from lsr.models.splade import encode_in_length_order

from helpers import model_logits


@pytest.fixture(scope="module")
def encoder(splade_tiny):
    return load_encoder(splade_tiny)


def top_terms(encoder, vectors, row, n):
    terms, weights = vectors.row(row)
    best = np.argsort(-weights)[:n]
    return {encoder.vocab[terms[i]]: float(weights[i]) for i in best}


def test_expands_and_weights_a_query(encoder):
    vectors = encoder.encode_queries(["what causes heart disease"])
    top = top_terms(encoder, vectors, 0, 5)
    assert {"heart", "causes", "disease"} <= set(top)
    assert top["heart"] == pytest.approx(2.55, abs=0.01)
    assert 5 < vectors.nnz_per_row()[0] < 100


@pytest.mark.parametrize("pooling, activation", [("max", "relu"), ("sum", "relu"), ("max", "log1p_relu"),
                                                  ("sum", "log1p_relu")])
def test_pooling_equals_the_literal_splade_formula(splade_tiny, pooling, activation):
    encoder = load_encoder(splade_tiny, pooling=pooling, activation=activation)
    texts = ["Statin use and breast cancer survival", "a much longer text " * 20, "x"]
    batch = encoder.tokenizer(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
    with torch.inference_mode():
        logits = model_logits(encoder, **batch)
    weights = torch.log1p(torch.relu(logits))
    if activation == "log1p_relu":
        weights = torch.log1p(weights)
    weights = weights * batch["attention_mask"].unsqueeze(-1)
    literal = weights.max(dim=1).values if pooling == "max" else weights.sum(dim=1)
    ours = encoder.encode_queries(texts).to_dense_torch()
    assert torch.allclose(ours, literal, atol=1e-4)
    assert encoder.settings.pooling == pooling and encoder.settings.activation == activation


def test_unknown_pooling_or_activation_is_refused(splade_tiny):
    with pytest.raises(LsrError, match="pooling must be one of max, sum, not 'mean'"):
        load_encoder(splade_tiny, pooling="mean")
    with pytest.raises(LsrError, match="activation must be one of relu, log1p_relu"):
        load_encoder(splade_tiny, activation="gelu")


def test_batching_and_length_sorting_do_not_change_vectors(encoder):
    texts = [f"document {i} about " + "protein folding " * (i % 7) for i in range(11)]
    one_batch = encoder.encode_docs(texts)
    encoder.settings = encoder.settings.replace(batch_size=3)
    try:
        small_batches = encoder.encode_docs(texts)
    finally:
        encoder.settings = encoder.settings.replace(batch_size=32)
    assert np.array_equal(one_batch.indptr, small_batches.indptr)
    assert np.array_equal(one_batch.indices, small_batches.indices)
    assert np.allclose(one_batch.values, small_batches.values, atol=1e-5)


def test_blank_texts_give_empty_vectors(encoder):
    vectors = encoder.encode_docs(["", "heart disease", "   "], ids=["a", "b", "c"])
    assert vectors.ids == ["a", "b", "c"]
    assert list(vectors.nnz_per_row() > 0) == [False, True, False]


def test_long_documents_are_windowed_or_truncated(encoder):
    long_text = "heart " * 50 + "zebra"
    encoder.settings = encoder.settings.replace(doc_max_length=16)
    try:
        windowed = encoder.encode_docs([long_text])
        assert "zebra" in top_terms(encoder, windowed, 0, 200)
        encoder.settings = encoder.settings.replace(long_docs="first")
        assert "zebra" not in top_terms(encoder, encoder.encode_docs([long_text]), 0, 200)
    finally:
        encoder.settings = encoder.settings.replace(doc_max_length=256, long_docs="windows")
    assert "zebra" not in top_terms(encoder, encoder.encode_queries(["heart " * 70 + "zebra"]), 0, 200)


def test_windows_overlap_and_are_max_pooled(encoder):
    from lsr.models.splade import split_windows

    ids = encoder.tokenizer("protein folding " * 20 + "insulin receptor", add_special_tokens=False)["input_ids"]
    windows = split_windows(ids, 14, 4)
    assert all(a[-4:] == b[:4] for a, b in zip(windows, windows[1:])) and windows[-1][-1] == ids[-1]
    texts = [encoder.tokenizer.decode(w) for w in windows]
    encoder.settings = encoder.settings.replace(doc_max_length=16, window_overlap=4)
    try:
        pooled = encoder.encode_docs([encoder.tokenizer.decode(ids)]).to_dense_torch()[0]
        encoder.settings = encoder.settings.replace(long_docs="first")
        separately = encoder.encode_docs(texts).to_dense_torch()
    finally:
        encoder.settings = encoder.settings.replace(doc_max_length=256, long_docs="windows", window_overlap=64)
    assert torch.allclose(pooled, separately.max(dim=0).values, atol=1e-5)


def test_save_and_load_round_trip(encoder, tmp_path):
    encoder.save(tmp_path / "model")
    config = json.loads((tmp_path / "model" / MODEL_INFO_FILE).read_text())
    assert config["kind"] == "splade"
    again = load_encoder(tmp_path / "model")
    assert again.fingerprint == encoder.fingerprint
    text = ["glucose metabolism in the liver"]
    assert np.allclose(again.encode_queries(text).values, encoder.encode_queries(text).values)


def test_overrides_replace_saved_settings(splade_tiny):
    assert load_encoder(splade_tiny, query_max_length=8, batch_size=None).settings.query_max_length == 8


@pytest.mark.parametrize("make, message", [
    (lambda p: p / "missing", "model not found"),
    (lambda p: p, "not a model folder"),
    (lambda p: (p / "config.json").write_text('{"architectures": ["GPT2LMHeadModel"]}') and p,
     "unsupported model"),
    (lambda p: (p / MODEL_INFO_FILE).write_text("{broken") and p, "not a valid lsr model info file"),
])
def test_bad_model_folders_give_one_line_errors(tmp_path, make, message):
    with pytest.raises(LsrError, match=message) as info:
        load_encoder(make(tmp_path))
    assert "\n" not in str(info.value)


def test_training_forward_equals_inference_and_has_gradients(encoder):
    texts = ["Statin use and breast cancer survival", "what causes heart disease", "x"]
    try:  # eval mode (no dropout), gradients on: the masked training path
        weights = encoder.forward(texts, is_query=True)
        weights.sum().backward()
        assert encoder.network.get_output_embeddings().weight.grad.abs().sum() > 0
    finally:
        encoder.network.zero_grad(set_to_none=True)
    assert weights.requires_grad and weights.dtype == torch.float32
    assert torch.allclose(weights.detach(), encoder.encode_queries(texts).to_dense_torch(), atol=1e-5)


@pytest.mark.parametrize("pooling, activation", [("max", "relu"), ("sum", "relu"), ("max", "log1p_relu"),
                                                  ("sum", "log1p_relu")])
def test_pooling_with_gradients_equals_pooling_without(pooling, activation):
    from lsr.models.pooling import SpladePooling

    torch.manual_seed(0)
    logits = torch.randn(3, 7, 11, requires_grad=True)
    spans = [(0, 7), (2, 5), (4, 5)]
    module = SpladePooling(pooling, activation)
    with_grad = module(logits, spans)
    with torch.no_grad():
        without = module(logits, spans)
    assert torch.allclose(with_grad, without, atol=1e-6)
    with_grad.sum().backward()
    assert logits.grad[1, :2].abs().sum() == 0 and logits.grad[1, 2:5].abs().sum() > 0


def test_bfloat16_precision_is_the_splade_formula_in_bf16_arithmetic(splade_tiny, encoder):
    """precision="bfloat16": the literal formula over the model's own logits under CPU bf16 autocast (an
    independent path), not float32's numbers though close to them; training through it gives float32
    gradients to the float32 weights."""
    bf16 = load_encoder(splade_tiny, precision="bfloat16")
    texts = ["Statin use and breast cancer survival", "what causes heart disease " * 6, "x"]
    batch = bf16.tokenizer(texts, padding=True, truncation=True, max_length=64, return_tensors="pt")
    with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model_logits(bf16, **batch).float()
    literal = (torch.log1p(torch.relu(logits)) * batch["attention_mask"].unsqueeze(-1)).amax(dim=1)
    ours, float32 = bf16.encode_queries(texts).to_dense_torch(), encoder.encode_queries(texts).to_dense_torch()
    assert (ours - literal).abs().max() < 0.03
    assert 1e-3 < (ours - float32).abs().max() < 0.2
    assert ((ours > 0) == (float32 > 0)).float().mean() > 0.999
    try:
        bf16.forward(texts, is_query=True).sum().backward()
        grad = bf16.network.get_output_embeddings().weight.grad
        assert grad.dtype == torch.float32 and grad.abs().sum() > 0
    finally:
        bf16.network.zero_grad(set_to_none=True)


def test_bfloat16_precision_goes_with_torch_only(splade_tiny):
    with pytest.raises(LsrError, match="precision 'bfloat16' is torch's: not with runtime 'onnx'"):
        load_encoder(splade_tiny, runtime="onnx", precision="bfloat16")
    with pytest.raises(LsrError, match="precision must be one of auto, float32, bfloat16"):
        load_encoder(splade_tiny, precision="float16")


def test_a_model_spec_sets_settings_on_the_command_line(tmp_path, splade_tiny, encoder):
    """`-m MODEL:precision=bfloat16` (the spec `lsr beir -m` takes) in `lsr encode`; a bad value, one line."""
    from helpers import run_cli

    plain = run_cli("encode", "-m", splade_tiny, "heart disease causes", "--json").output
    spec = run_cli("encode", "-m", f"{splade_tiny}:precision=bfloat16", "heart disease causes", "--json")
    assert spec.exit_code == 0, spec.output
    assert json.loads(spec.output)["terms"] != json.loads(plain)["terms"]
    assert json.loads(spec.output)["terms"].keys() & {"heart", "disease"} == {"heart", "disease"}
    bad = run_cli("encode", "-m", f"{splade_tiny}:precision=float8", "x")
    assert bad.exit_code == 2 and "precision must be one of" in bad.output


def test_batches_are_prepared_ahead_while_the_model_runs():
    """With overlap (what a GPU gets), batch i+1 is padded on a second thread while batch i is in the
    model; the vectors are those of the plain loop."""
    lengths = [5, 1, 4, 2, 3, 6, 2]  # batches of 2, longest first: rows (5, 0), (2, 4), (3, 6), (1,)
    terms = [str(t) for t in range(8)]
    prepared: dict[int, threading.Event] = {}
    threads: dict[str, set[str]] = {"prepare": set(), "pooled": set()}

    def prepare(rows):
        threads["prepare"].add(threading.current_thread().name)
        prepared.setdefault(int(rows[0]), threading.Event()).set()
        return torch.tensor([[float(r + 1) if t == r else 0.0 for t in range(8)] for r in rows])

    def pooled(batch):
        threads["pooled"].add(threading.current_thread().name)
        return batch

    plain = encode_in_length_order(lengths, 2, prepare, pooled, progress=False)
    assert plain.to_dicts(terms) == [{str(r): r + 1.0} for r in range(7)]
    following = {5: 2, 2: 3, 3: 1}  # first row of a batch -> first row of the next

    def pooled_waiting(batch):
        first = next(r for r in range(7) if batch[0, r] > 0)
        if first in following:  # the next batch is being prepared while this one is in the model
            assert prepared.setdefault(following[first], threading.Event()).wait(timeout=30)
        return pooled(batch)

    prepared.clear()
    threads = {"prepare": set(), "pooled": set()}
    ahead = encode_in_length_order(lengths, 2, prepare, pooled_waiting, progress=False, overlap=True)
    assert ahead.to_dicts(terms) == plain.to_dicts(terms)
    assert threads == {"prepare": {"lsr-batches_0"}, "pooled": {threading.main_thread().name}}


def test_overlapped_encoding_gives_the_same_vectors(encoder, monkeypatch):
    from lsr.models import splade

    texts = [f"document {i} about " + "protein folding " * (i % 7) for i in range(11)]
    plain = encoder.encode_docs(texts)
    real = splade.encode_in_length_order
    monkeypatch.setattr(splade, "encode_in_length_order", lambda *a, **k: real(*a, **{**k, "overlap": True}))
    encoder.settings = encoder.settings.replace(batch_size=3)
    try:
        ahead = encoder.encode_docs(texts)
    finally:
        encoder.settings = encoder.settings.replace(batch_size=32)
    assert np.array_equal(plain.indices, ahead.indices) and np.allclose(plain.values, ahead.values, atol=1e-5)

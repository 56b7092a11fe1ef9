"""The ONNX Runtime encoding path (`runtime="onnx"` / `"onnx-int8"`) against the torch path."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from lsr.models import load_encoder

from helpers import error_of, make_tiny_mlm

pytest.importorskip("onnxruntime")
pytest.importorskip("onnx")

WORDS = "heart disease cancer cell protein gene risk blood study trial effect patients".split()


@pytest.fixture(scope="module")
def cache_home(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(autouse=True)
def onnx_cache(cache_home, monkeypatch):
    """Exported graphs go to a folder of this module's own (shared by its tests)."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_home))
    return cache_home / "lsr" / "onnx"


@pytest.fixture(scope="module")
def tiny_mlm(tmp_path_factory):
    return make_tiny_mlm(tmp_path_factory.mktemp("tiny-mlm"), WORDS)


def _texts(count: int, seed: int = 0) -> list[str]:
    rng = np.random.default_rng(seed)
    return [" ".join(rng.choice(WORDS, size=int(rng.integers(1, 40)))) for _ in range(count)]


def _scifact_docs(scifact, count: int) -> list[str]:
    with open(scifact / "corpus.jsonl") as f:
        docs = [json.loads(next(f)) for _ in range(count)]
    return [f"{d['title']} {d['text']}" for d in docs]


def _dense(vectors) -> np.ndarray:
    return vectors.to_dense_torch().numpy()


def _assert_same(onnx: np.ndarray, reference: np.ndarray) -> None:
    """Equal to float tolerance, and every term above a tiny weight present in both."""
    np.testing.assert_allclose(onnx, reference, atol=1e-4, rtol=1e-4)
    assert np.all(reference[onnx > 1e-3] > 0) and np.all(onnx[reference > 1e-3] > 0)


@pytest.mark.parametrize("settings", [{}, {"pooling": "sum", "activation": "log1p_relu"}])
def test_onnx_equals_torch_on_random_model(tiny_mlm, settings):
    texts = _texts(40)
    # 16-token windows: long texts are cut into several windows, max-pooled after the graph
    common = dict(device="cpu", batch_size=8, doc_max_length=16, window_overlap=4, **settings)
    reference = load_encoder(tiny_mlm, **common)
    onnx = load_encoder(tiny_mlm, runtime="onnx", **common)
    for side in ("encode_docs", "encode_queries"):
        _assert_same(_dense(getattr(onnx, side)(texts)), _dense(getattr(reference, side)(texts)))


def test_splade_tiny_fp32_and_int8(splade_tiny, scifact):
    texts = _scifact_docs(scifact, 24)
    reference = _dense(load_encoder(splade_tiny, device="cpu", batch_size=8).encode_docs(texts))
    fp32 = _dense(load_encoder(splade_tiny, device="cpu", batch_size=8, runtime="onnx").encode_docs(texts))
    _assert_same(fp32, reference)
    int8 = _dense(load_encoder(splade_tiny, device="cpu", batch_size=8, runtime="onnx-int8").encode_docs(texts))
    cosine = (int8 * reference).sum(1) / np.linalg.norm(int8, axis=1) / np.linalg.norm(reference, axis=1)
    top = [len(set(np.argsort(-a)[:50]) & set(np.argsort(-b)[:50])) / 50 for a, b in zip(int8, reference)]
    print(f"int8 vs torch: cosine min {cosine.min():.4f} mean {cosine.mean():.4f}; "
          f"top-50 term overlap mean {np.mean(top):.3f}")
    assert cosine.min() > 0.97 and np.mean(top) > 0.8


def test_export_is_cached(tiny_mlm, onnx_cache, monkeypatch):
    import lsr.models.onnx_runtime as onnx_runtime

    texts = _texts(5, seed=1)
    first = load_encoder(tiny_mlm, device="cpu", runtime="onnx-int8").encode_docs(texts)
    files = sorted(onnx_cache.glob("*.onnx"))
    assert any(f.name.startswith("onnx-int8-") for f in files)

    def refuse(*args, **kwargs):
        raise AssertionError("exported again")

    monkeypatch.setattr(onnx_runtime, "_export", refuse)
    again = load_encoder(tiny_mlm, device="cpu", runtime="onnx-int8").encode_docs(texts)
    np.testing.assert_array_equal(_dense(again), _dense(first))
    assert sorted(onnx_cache.glob("*")) == files  # no temporary leftovers either


def test_unknown_runtime_is_one_line(tiny_mlm):
    message = error_of(lambda: load_encoder(tiny_mlm, runtime="tensorrt"))
    assert message == "runtime must be one of torch, onnx, onnx-int8, not 'tensorrt'"


def test_missing_onnxruntime_names_the_extra(tiny_mlm, monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime now raises ImportError
    encoder = load_encoder(tiny_mlm, device="cpu", runtime="onnx")
    message = error_of(lambda: encoder.encode_docs(["heart disease"]))
    assert "\n" not in message and "onnxruntime" in message and "lsr[onnx]" in message

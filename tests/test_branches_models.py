"""Model branches no other test reaches (issue #13, item 8): the decoder encoder cast to float16."""

from __future__ import annotations

import json

import pytest
import torch
from tests.test_decoder import TEXTS, make_encoder

from lsr.models import load_encoder
from lsr.models.base import CONFIG_FILE


@pytest.mark.parametrize("arch", ["llama", "mistral"])
def test_float16_weights_give_vectors_close_to_float32s(arch):
    half = make_encoder(arch, dtype="float16")
    full = make_encoder(arch)  # the same seed: the same random weights, kept in float32
    assert {p.dtype for p in half.model.parameters()} == {torch.float16}
    assert {p.dtype for p in full.model.parameters()} == {torch.float32}
    pooled = half.forward(TEXTS, is_query=False)
    assert pooled.dtype == torch.float32 and pooled.shape == (len(TEXTS), len(half.vocab))
    for side in ("encode_docs", "encode_queries"):
        got, expected = (getattr(e, side)(TEXTS).to_dense_torch() for e in (half, full))
        assert got.shape == expected.shape and expected.abs().max() > 1  # weights big enough to compare
        assert torch.allclose(got, expected, atol=0.02, rtol=0.01), (got - expected).abs().max()
        assert not torch.equal(got, expected)  # float16 arithmetic did run


def test_float16_setting_is_saved_and_loaded(tmp_path):
    half = make_encoder("llama", dtype="float16")
    half.save(tmp_path / "model")
    assert json.loads((tmp_path / "model" / CONFIG_FILE).read_text())["settings"]["dtype"] == "float16"
    again = load_encoder(tmp_path / "model", device="cpu")
    assert {p.dtype for p in again.model.parameters()} == {torch.float16}
    assert torch.equal(again.encode_docs(TEXTS).to_dense_torch(), half.encode_docs(TEXTS).to_dense_torch())
    widened = load_encoder(tmp_path / "model", device="cpu", dtype="float32")
    assert {p.dtype for p in widened.model.parameters()} == {torch.float32}

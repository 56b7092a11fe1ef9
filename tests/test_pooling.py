"""The fused LM head + max pooling: the same weights and gradients as the literal formula."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lsr.models import load_encoder
from lsr.models.pooling import SpladePooling, defer_head, head_max

from helpers import make_tiny_mlm, model_logits

SPANS = [(1, 6), (0, 3), (2, 7)]


def literal(hidden, weight, bias, spans):
    """log1p(relu(·)) of the masked max over each span of hidden @ W.T + b, by autograd."""
    logits = F.linear(hidden, weight, bias)
    positions = torch.arange(hidden.shape[1])
    inside = torch.stack([(positions >= a) & (positions < b) for a, b in spans]).unsqueeze(-1)
    return torch.log1p(torch.relu(logits.masked_fill(~inside, float("-inf")).amax(dim=1)))


@pytest.mark.parametrize("with_bias", [True, False])
def test_fused_head_max_matches_autograd_in_value_and_gradient(with_bias):
    torch.manual_seed(0)
    hidden = torch.randn(3, 7, 8, requires_grad=True)
    head = nn.Linear(8, 50, bias=with_bias)
    upstream = torch.randn(3, 50)
    expected = literal(hidden, head.weight, head.bias, SPANS)
    (expected * upstream).sum().backward()
    reference = [hidden.grad.clone(), head.weight.grad.clone(), *([head.bias.grad.clone()] if with_bias else [])]
    hidden.grad = None
    head.zero_grad()
    ours = SpladePooling("max", "relu")(hidden, SPANS, head)
    (ours * upstream).sum().backward()
    assert torch.allclose(ours, expected, atol=1e-6)
    got = [hidden.grad, head.weight.grad, *([head.bias.grad] if with_bias else [])]
    for a, b in zip(got, reference):
        assert torch.allclose(a, b, atol=1e-5)
    assert (hidden.grad[0, 0] == 0).all() and (hidden.grad[1, 3:] == 0).all()  # outside the spans: none


def test_fused_head_max_is_the_span_max_without_gradients():
    torch.manual_seed(1)
    hidden, head = torch.randn(3, 7, 8), nn.Linear(8, 20)
    with torch.inference_mode():
        best = head_max(hidden, head, SPANS)
        logits = head(hidden)
    for row, (a, b) in enumerate(SPANS):
        # Row by row against the whole batch at once: the GEMM's summation order may differ by CPU (AMD: ~1e-7).
        torch.testing.assert_close(best[row], logits[row, a:b].amax(dim=0), rtol=0, atol=1e-6)


def test_encoder_defers_its_head_and_keeps_the_models_weights(tmp_path):
    folder = make_tiny_mlm(tmp_path / "mlm", ["heart", "disease", "liver", "glucose"])
    encoder = load_encoder(folder)
    assert encoder.head is encoder.model.get_output_embeddings()
    texts = ["heart disease", "liver glucose heart"]
    batch = encoder.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.inference_mode():
        logits = model_logits(encoder, **batch)
    literal_weights = torch.log1p(torch.relu(logits.masked_fill(batch["attention_mask"].unsqueeze(-1) == 0,
                                                                float("-inf")).amax(dim=1)))
    assert torch.allclose(encoder.encode_queries(texts).to_dense_torch(), literal_weights, atol=1e-5)
    encoder.save(tmp_path / "saved")  # the state dict is the model's own: reloads to the same vectors
    again = load_encoder(tmp_path / "saved")
    assert torch.equal(again.encode_queries(texts).to_dense_torch(), encoder.encode_queries(texts).to_dense_torch())


class ScaledLogits(nn.Module):
    """A model whose logits are its head's output times 2: deferring its head would be wrong."""

    def __init__(self):
        super().__init__()
        self.embed, self.head = nn.Embedding(10, 4), nn.Linear(4, 10)

    def get_output_embeddings(self):
        return self.head

    def forward(self, input_ids):
        return type("Out", (), {"logits": 2 * self.head(self.embed(input_ids))})()


def test_a_model_that_changes_its_logits_keeps_its_head():
    model = ScaledLogits()
    assert defer_head(model) is None
    ids = torch.tensor([[1, 2]])
    assert torch.allclose(model(ids).logits, 2 * model.head(model.embed(ids)))

"""SPLADE pooling: a vocabulary-sized logit tensor becomes one term-weight vector per text.

One `nn.Module` serves the masked-LM and the decoder encoders, at inference (under
`torch.inference_mode`) and in training (with gradients) alike.

The vocabulary projection (the LM head) is most of a small model's work: for BERT-tiny, 90 % of
the multiply-adds, and a [rows, length, vocab] logit tensor of half a gigabyte per training batch.
`defer_head` makes the model return the head's input instead, and max pooling then applies the
head row by row, fused with the max (`head_max`): no vocabulary-sized tensor per position, no
logits for padding, and a backward pass that touches only each term's winning position.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

import torch
import torch.nn.functional as F
from torch import nn

if TYPE_CHECKING:
    from transformers import PreTrainedModel

POOLINGS = ("max", "sum")
# What is applied to the logits before the final log1p: relu (SPLADE) or log1p∘relu (OpenSearch v3).
ACTIVATIONS = ("relu", "log1p_relu")

Span = tuple[int, int]


class SpladePooling(nn.Module):
    """w_j = pool over a text's positions i of log1p(activation(logit_ij - threshold)).

    `pooling` is "max" (SPLADE++) or "sum" (SPLADE v1); `activation` is "relu" (log(1 + ReLU)) or
    "log1p_relu" (log(1 + log(1 + ReLU)), OpenSearch's v3 models), named as in sentence-transformers'
    `SpladePooling`. `threshold` (default 0) is the logit a term must exceed to get weight: a decoder
    LLM's head gives nearly every vocabulary entry a positive logit, so its untrained vectors are dense
    without one (see `lsr.training.calibrate`). Each row's pooled positions are one span (start, stop).
    Without gradients, slicing reads only them, with no masking pass over the [rows, length, vocab] tensor; with
    gradients, one masked reduction over the whole batch (a slice's backward would allocate a
    gradient the size of the whole batch, once per row). For max pooling the max is taken over the
    raw logits and the (monotone) saturation applied after: the same function and the same gradient,
    with one pass over the vocabulary-sized tensor instead of three.
    """

    def __init__(self, pooling: str = "max", activation: str = "relu", threshold: float = 0.0):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, not {pooling!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, not {activation!r}")
        self.pooling = pooling
        self.activation = activation
        self.threshold = float(threshold)

    def forward(self, logits: torch.Tensor, spans: Sequence[Span], head: nn.Linear | None = None) -> torch.Tensor:
        """[rows, vocab] float32 weights from [rows, length, vocab] logits and each row's (start, stop);
        with `head`, from the [rows, length, hidden] states that `head` projects to logits."""
        if head is not None:
            if self.pooling == "max":
                return self.saturate(head_max(logits, head, spans).float())
            logits = F.linear(logits, head.weight, head.bias)
        if logits.requires_grad and torch.is_grad_enabled():
            return self._masked(logits, spans)
        if self.pooling == "max":
            best = torch.stack([logits[row, start:stop].amax(dim=0) for row, (start, stop) in enumerate(spans)])
            return self.saturate(best.float())
        return torch.stack([self.saturate(logits[row, start:stop].float()).sum(dim=0)
                            for row, (start, stop) in enumerate(spans)])

    def _masked(self, logits: torch.Tensor, spans: Sequence[Span]) -> torch.Tensor:
        positions = torch.arange(logits.shape[1], device=logits.device)
        bounds = torch.tensor(spans, dtype=torch.long, device=logits.device).view(-1, 2)
        inside = ((positions >= bounds[:, :1]) & (positions < bounds[:, 1:])).unsqueeze(-1)
        if self.pooling == "max":
            return self.saturate(logits.masked_fill(~inside, float("-inf")).amax(dim=1).float())
        return (self.saturate(logits.float()) * inside).sum(dim=1)

    def saturate(self, logits: torch.Tensor) -> torch.Tensor:
        """log1p(activation(logits - threshold))."""
        weights = torch.log1p(torch.relu(logits - self.threshold if self.threshold else logits))
        return torch.log1p(weights) if self.activation == "log1p_relu" else weights

    def extra_repr(self) -> str:
        return f"pooling={self.pooling!r}, activation={self.activation!r}, threshold={self.threshold}"


def head_max(hidden: torch.Tensor, head: nn.Linear, spans: Sequence[Span]) -> torch.Tensor:
    """[rows, vocab]: max over each row's span of `head(hidden)`, computed row by row (see `_HeadMax`).

    Under autocast, the head's weights are cast to its dtype once per batch (differentiably), not once
    per row as autocast would inside the loop."""
    bounds = torch.tensor(spans, dtype=torch.long).view(-1, 2)
    weight: torch.Tensor = head.weight
    bias: torch.Tensor | None = head.bias
    device = hidden.device.type
    if torch.is_autocast_enabled(device):
        dtype = torch.get_autocast_dtype(device)
        hidden, weight = hidden.to(dtype), weight.to(dtype)
        bias = None if bias is None else bias.to(dtype)
    with torch.autocast(device, enabled=False):
        return _HeadMax.apply(hidden, weight, bias, bounds)


class _HeadMax(torch.autograd.Function):
    """best[r, v] = max_{s_r <= i < e_r} (hidden[r, i] · W[v] + b[v]), remembering the winning i.

    Backward: with g = dL/dbest, only the winning position of each (row, term) receives gradient,
    and only where g is nonzero (after log1p∘ReLU, the terms a text actually has):
    dhidden[r, i*] += g·W[v], dW[v] += g·hidden[r, i*], db[v] += g. (Exact ties, which autograd's
    amax would split evenly, go to the first position.)
    """

    @staticmethod
    def forward(ctx, hidden: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None,
                bounds: torch.Tensor) -> torch.Tensor:
        rows = []
        winners = []
        for row, (start, stop) in enumerate(bounds.tolist()):
            logits = F.linear(hidden[row, start:stop], weight, bias)
            best, where = logits.max(dim=0)
            rows.append(best)
            winners.append(where + start)
        ctx.save_for_backward(hidden, weight, torch.stack(winners))
        ctx.has_bias = bias is not None
        return torch.stack(rows)

    @staticmethod
    def backward(ctx, grad: torch.Tensor):
        hidden, weight, winners = ctx.saved_tensors
        rows, terms = grad.nonzero(as_tuple=True)
        g = grad[rows, terms].unsqueeze(1)
        length, width = hidden.shape[1], hidden.shape[2]
        flat = rows * length + winners[rows, terms]
        d_hidden = d_weight = d_bias = None
        if ctx.needs_input_grad[0]:
            d_hidden = torch.zeros(hidden.shape[0] * length, width, dtype=hidden.dtype, device=hidden.device)
            d_hidden.index_add_(0, flat, (g * weight[terms].to(g.dtype)).to(hidden.dtype))
            d_hidden = d_hidden.view_as(hidden)
        if ctx.needs_input_grad[1]:
            picked = hidden.reshape(-1, width)[flat]
            d_weight = torch.zeros_like(weight).index_add_(0, terms, (g * picked.to(g.dtype)).to(weight.dtype))
        if ctx.has_bias and ctx.needs_input_grad[2]:
            d_bias = torch.zeros(weight.shape[0], dtype=grad.dtype, device=grad.device)
            d_bias.index_add_(0, terms, g.squeeze(1))
        return d_hidden, d_weight, d_bias, None


def _pass_through(states: torch.Tensor) -> torch.Tensor:
    return states


def defer_head(model: nn.Module) -> nn.Linear | None:
    """Make `model` return its LM head's input in place of logits; the head, for `SpladePooling`.

    Only when the model's logits are exactly that head's output (checked on a two-token input: a
    model that scales or caps its logits keeps them); None, with the model unchanged, otherwise.
    The head keeps its weights (and their tying): only its `forward`, an instance attribute, changes.
    """
    head = cast("PreTrainedModel", model).get_output_embeddings()  # a Hugging Face model
    if type(head) is not nn.Linear:
        return None
    if head.__dict__.get("forward") is _pass_through:  # another encoder over the same model did it
        return head
    probe = torch.tensor([[min(5, head.weight.shape[0] - 1)] * 2], device=head.weight.device)
    tolerance = 1e-4 if head.weight.dtype == torch.float32 else 2e-2
    with torch.inference_mode():
        logits = model(input_ids=probe).logits
        head.__dict__["forward"] = _pass_through  # an instance attribute, as `del head.forward` below expects
        hidden = model(input_ids=probe).logits
        projected = F.linear(hidden, head.weight, head.bias) if hidden.shape[-1] == head.weight.shape[1] else None
        same = projected is not None and projected.shape == logits.shape and torch.allclose(
            projected.float(), logits.float(), rtol=tolerance, atol=tolerance)
    if not same:
        del head.forward
        return None
    return head


def mask_spans(attention_mask: torch.Tensor) -> list[Span]:
    """Each row's (start, stop) of attended positions; padding must sit on one side of every row."""
    starts, counts = attention_mask.argmax(dim=1).tolist(), attention_mask.sum(dim=1).tolist()
    return [(start, start + count) for start, count in zip(starts, counts)]

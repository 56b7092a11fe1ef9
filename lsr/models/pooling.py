"""SPLADE pooling: a vocabulary-sized logit tensor becomes one term-weight vector per text.

One `nn.Module` serves the masked-LM and the decoder encoders, at inference (under
`torch.inference_mode`) and in training (with gradients) alike.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

POOLINGS = ("max", "sum")
# What is applied to the logits before the final log1p: relu (SPLADE) or log1p∘relu (OpenSearch v3).
ACTIVATIONS = ("relu", "log1p_relu")

Span = tuple[int, int]


class SpladePooling(nn.Module):
    """w_j = pool over a text's positions i of log1p(activation(logit_ij)).

    `pooling` is "max" (SPLADE++) or "sum" (SPLADE v1); `activation` is "relu" (log(1 + ReLU)) or
    "log1p_relu" (log(1 + log(1 + ReLU)), OpenSearch's v3 models), named as in sentence-transformers'
    `SpladePooling`. Each row's pooled positions are one span (start, stop). Without gradients,
    slicing reads only them, with no masking pass over the [rows, length, vocab] tensor; with
    gradients, one masked reduction over the whole batch (a slice's backward would allocate a
    gradient the size of the whole batch, once per row). For max pooling the max is taken over the
    raw logits and the (monotone) saturation applied after: the same function and the same gradient,
    with one pass over the vocabulary-sized tensor instead of three.
    """

    def __init__(self, pooling: str = "max", activation: str = "relu"):
        super().__init__()
        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {', '.join(POOLINGS)}, not {pooling!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}, not {activation!r}")
        self.pooling = pooling
        self.activation = activation

    def forward(self, logits: torch.Tensor, spans: Sequence[Span]) -> torch.Tensor:
        """[rows, vocab] float32 weights from [rows, length, vocab] logits and each row's (start, stop)."""
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
        """log1p(activation(logits))."""
        weights = torch.log1p(torch.relu(logits))
        return torch.log1p(weights) if self.activation == "log1p_relu" else weights

    def extra_repr(self) -> str:
        return f"pooling={self.pooling!r}, activation={self.activation!r}"


def mask_spans(attention_mask: torch.Tensor) -> list[Span]:
    """Each row's (start, stop) of attended positions; padding must sit on one side of every row."""
    starts, counts = attention_mask.argmax(dim=1).tolist(), attention_mask.sum(dim=1).tolist()
    return [(start, start + count) for start, count in zip(starts, counts)]

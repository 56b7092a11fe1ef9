"""SPLADE with a masked-LM backbone: w = max over tokens of log(1 + ReLU(MLM logits)).

Sum pooling and OpenSearch's doubly saturated log(1 + log(1 + ReLU)) are settings, named as in
sentence-transformers' `SpladePooling` (`pooling_strategy`, `activation_function`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from lsr.errors import LsrError
from lsr.models.base import Encoder, EncoderConfig
from lsr.models.device import pick_device, pick_dtype
from lsr.sparse import SparseVectors


LONG_DOC_MODES = ("windows", "first")
POOLINGS = ("max", "sum")
# What is applied to the logits before the final log1p: relu (SPLADE) or log1p∘relu (OpenSearch v3).
ACTIVATIONS = ("relu", "log1p_relu")


class SpladeEncoder(Encoder):
    """A Hugging Face `*ForMaskedLM` model (BERT, DistilBERT, …) used as a SPLADE encoder.

    Texts are tokenized once, sorted by length and batched, so padding is small. A document
    longer than `doc_max_length` is cut into windows overlapping by `window_overlap` tokens
    whose vectors are max-pooled (`long_docs="windows"`), or truncated (`"first"`); queries
    are truncated.
    Term weight = `pooling` ("max" or "sum") over the text's tokens of log1p(`activation`(logit)),
    `activation` being "relu" or "log1p_relu". For max pooling the max is taken over the raw
    logits and the (monotone) transform applied after: the same function with one pass over the
    vocabulary-sized tensor instead of three.
    """

    kind = "splade"

    def __init__(self, model: torch.nn.Module, tokenizer, *, query_max_length: int = 64,
                 doc_max_length: int = 256, batch_size: int = 32, long_docs: str = "windows",
                 window_overlap: int = 64, pooling: str = "max", activation: str = "relu",
                 device: str | None = None):
        for name, value, allowed in [("long_docs", long_docs, LONG_DOC_MODES), ("pooling", pooling, POOLINGS),
                                     ("activation", activation, ACTIVATIONS)]:
            if value not in allowed:
                raise LsrError(f"{name} must be one of {', '.join(allowed)}, not {value!r}")
        self.device = pick_device(device)
        self.model = model.to(device=self.device, dtype=pick_dtype(self.device)).eval()
        self.tokenizer = tokenizer
        self.query_max_length = query_max_length
        self.doc_max_length = doc_max_length
        self.batch_size = batch_size
        self.long_docs = long_docs
        self.window_overlap = window_overlap
        self.pooling = pooling
        self.activation = activation
        size = self.model.get_output_embeddings().weight.shape[0]
        tokens = tokenizer.convert_ids_to_tokens(list(range(min(size, len(tokenizer)))))
        self._vocab = tokens + [f"[lsr:{i}]" for i in range(len(tokens), size)]

    @classmethod
    def from_folder(cls, folder: str | Path, **settings: Any) -> SpladeEncoder:
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        model = AutoModelForMaskedLM.from_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        return cls(model, tokenizer, **settings)

    @property
    def vocab(self) -> list[str]:
        return self._vocab

    @property
    def settings(self) -> dict[str, Any]:
        return {"query_max_length": self.query_max_length, "doc_max_length": self.doc_max_length,
                "batch_size": self.batch_size, "long_docs": self.long_docs, "window_overlap": self.window_overlap,
                "pooling": self.pooling, "activation": self.activation}

    def save(self, folder: str | Path) -> None:
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        EncoderConfig(self.kind, self.settings).save(folder)

    def _encode(self, texts: list[str], *, is_query: bool, progress: bool) -> SparseVectors:
        max_length = self.query_max_length if is_query else self.doc_max_length
        prefix, suffix = special_affixes(self.tokenizer)
        content = max_length - len(prefix) - len(suffix)
        overlap = None if is_query or self.long_docs == "first" else self.window_overlap
        token_ids = self.tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
        windows, owners = [], []
        for owner, ids in enumerate(token_ids):
            for chunk in split_windows(ids, content, overlap):
                windows.append(prefix + chunk + suffix)
                owners.append(owner)

        def pooled(rows: np.ndarray) -> torch.Tensor:
            return self._pooled(self.tokenizer.pad({"input_ids": [windows[i] for i in rows]}, return_tensors="pt"))

        vectors = encode_in_length_order([len(w) for w in windows], self.batch_size, pooled, progress=progress)
        if len(windows) == len(texts):
            return vectors
        return vectors.group_max(owners, [str(i) for i in range(len(texts))])

    @torch.inference_mode()
    def _pooled(self, batch) -> torch.Tensor:
        input_ids = batch["input_ids"].to(self.device)
        mask = batch["attention_mask"].to(self.device)
        logits = self.model(input_ids=input_ids, attention_mask=mask).logits
        # `tokenizer.pad` puts padding on one side, so each row's tokens are one span.
        starts, counts = mask.argmax(dim=1).tolist(), mask.sum(dim=1).tolist()
        spans = [(start, start + count) for start, count in zip(starts, counts)]
        if self.pooling == "max":
            return self._saturate(pool_spans(logits, spans, lambda span: span.amax(dim=0)))
        return pool_spans(logits, spans, lambda span: self._saturate(span).sum(dim=0))

    def _saturate(self, logits: torch.Tensor) -> torch.Tensor:
        """log1p(activation(logits))."""
        weights = torch.log1p(torch.relu(logits))
        return torch.log1p(weights) if self.activation == "log1p_relu" else weights


def pool_spans(logits: torch.Tensor, spans: Sequence[tuple[int, int]],
               pool: Callable[[torch.Tensor], torch.Tensor]) -> torch.Tensor:
    """[rows, vocab]: `pool` of each row's logits over its positions `spans[row]` = (start, stop).

    Slicing the pooled positions reads only them: no masking pass over the [rows, length, vocab] tensor.
    """
    return torch.stack([pool(logits[row, start:stop]) for row, (start, stop) in enumerate(spans)])


def special_affixes(tokenizer) -> tuple[list[int], list[int]]:
    """The special token ids the tokenizer puts before and after one text (e.g. [CLS], [SEP])."""
    plain = tokenizer("a", add_special_tokens=False)["input_ids"]
    full = tokenizer("a")["input_ids"]
    start = next(i for i in range(len(full)) if full[i:i + len(plain)] == plain)
    return full[:start], full[start + len(plain):]


def split_windows(ids: list[int], size: int, overlap: int | None) -> list[list[int]]:
    """`ids` cut into windows of `size` tokens overlapping by `overlap` (at most half a window),
    the last one ending with `ids`; None: the first window only. Never empty."""
    if overlap is None or len(ids) <= size:
        return [ids[:size]]
    step = size - min(overlap, size // 2)
    return [ids[start:start + size] for start in range(0, len(ids) - size + step, step)]


def encode_in_length_order(lengths: Sequence[int], batch_size: int,
                           pooled: Callable[[np.ndarray], torch.Tensor], *, progress: bool) -> SparseVectors:
    """Sparse rows of `pooled(rows)` over batches of row numbers taken longest first (little padding),
    returned in input order; `lengths` are the rows' token counts."""
    order = np.argsort([-n for n in lengths], kind="stable")
    parts = []
    starts = range(0, len(lengths), batch_size)
    for start in tqdm(starts, desc="encode", unit="batch", disable=not progress, leave=False):
        rows = order[start:start + batch_size]
        parts.append(SparseVectors.from_dense(pooled(rows), [str(i) for i in rows]))
    return SparseVectors.concat(parts).select(np.argsort(order, kind="stable"))

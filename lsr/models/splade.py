"""SPLADE with a masked-LM backbone: w = max over tokens of log(1 + ReLU(MLM logits)).

Sum pooling and OpenSearch's doubly saturated log(1 + log(1 + ReLU)) are settings (see
`lsr.models.pooling`), named as in sentence-transformers' `SpladePooling`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from tqdm.auto import tqdm

from lsr.models.base import Encoder, ModelInfo
from lsr.models.device import autocast, pick_device
from lsr.models.pooling import SpladePooling, defer_head, mask_spans
from lsr.models.settings import SpladeSettings
from lsr.sparse import SparseVectors

if TYPE_CHECKING:
    from transformers import PreTrainedModel

    from lsr.models.onnx_runtime import OnnxSplade


class SpladeEncoder(Encoder):
    """A Hugging Face `*ForMaskedLM` model (BERT, DistilBERT, …) used as a SPLADE encoder.

    Texts are tokenized once, sorted by length and batched, so padding is small. A document
    longer than `doc_max_length` is cut into windows overlapping by `window_overlap` tokens
    whose vectors are max-pooled (`long_docs="windows"`), or truncated (`"first"`); queries
    are truncated. Term weights come from `SpladePooling` (settings `pooling`, `activation`).
    Training (`forward`) truncates every text to its side's max length.
    """

    kind = "splade"
    settings: SpladeSettings

    def __init__(self, model: torch.nn.Module, tokenizer, settings: SpladeSettings | None = None, *,
                 device: str | None = None):
        self.settings = settings or SpladeSettings()
        self.device = pick_device(device or ("cpu" if self.settings.runtime != "torch" else None))
        # A Hugging Face masked LM (torch types a plain module's attributes as `Tensor | Module`).
        self.model = cast("PreTrainedModel", model.to(self.device).eval())
        self.tokenizer = tokenizer
        self.pooling = SpladePooling(self.settings.pooling, self.settings.activation)
        self.head = defer_head(self.model)  # None: the model returns logits
        # The ONNX Runtime session of runtime="onnx"/"onnx-int8", made at the first encode.
        self._onnx: OnnxSplade | None = None
        size = self.model.get_output_embeddings().weight.shape[0]
        tokens = tokenizer.convert_ids_to_tokens(list(range(min(size, len(tokenizer)))))
        self._vocab = tokens + [f"[lsr:{i}]" for i in range(len(tokens), size)]

    @classmethod
    def from_folder(cls, folder: str | Path, settings: SpladeSettings | None = None, *,
                    device: str | None = None) -> SpladeEncoder:
        from transformers import AutoModelForMaskedLM, AutoTokenizer

        model = AutoModelForMaskedLM.from_pretrained(folder)
        tokenizer = AutoTokenizer.from_pretrained(folder)
        return cls(model, tokenizer, settings, device=device)

    @property
    def vocab(self) -> list[str]:
        return self._vocab

    @property
    def network(self) -> torch.nn.Module:
        return self.model

    def save(self, folder: str | Path) -> None:
        self.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        ModelInfo(self.kind, self.recorded_settings()).save(folder)

    def forward(self, texts: Sequence[str], *, is_query: bool) -> torch.Tensor:
        max_length = self.settings.query_max_length if is_query else self.settings.doc_max_length
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=max_length,
                               return_tensors="pt")
        return self._weights(batch["input_ids"], batch["attention_mask"])

    def _encode(self, texts: list[str], *, is_query: bool, progress: bool) -> SparseVectors:
        settings = self.settings
        max_length = settings.query_max_length if is_query else settings.doc_max_length
        prefix, suffix = special_affixes(self.tokenizer)
        content = max_length - len(prefix) - len(suffix)
        overlap = None if is_query or settings.long_docs == "first" else settings.window_overlap
        token_ids = self.tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]
        windows, owners = [], []
        for owner, ids in enumerate(token_ids):
            for chunk in split_windows(ids, content, overlap):
                windows.append(prefix + chunk + suffix)
                owners.append(owner)

        onnx = self._onnx_session()

        def padded(rows: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
            batch = self.tokenizer.pad({"input_ids": [windows[i] for i in rows]}, return_tensors="pt")
            return pinned(batch["input_ids"], self.device), pinned(batch["attention_mask"], self.device)

        def pooled(batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
            if onnx is not None:
                return onnx(*batch)
            with torch.inference_mode():
                return self._weights(*batch)

        vectors = encode_in_length_order([len(w) for w in windows], settings.batch_size, padded, pooled,
                                         progress=progress, overlap=self.device.type == "cuda")
        if len(windows) == len(texts):
            return vectors
        return vectors.group_max(owners, [str(i) for i in range(len(texts))])

    def _onnx_session(self) -> OnnxSplade | None:
        """The ONNX Runtime encoder of the `runtime` setting (see `lsr.models.onnx_runtime`); None for torch."""
        runtime = self.settings.runtime
        if runtime != "torch" and (self._onnx is None or self._onnx.runtime != runtime):
            from lsr.models.onnx_runtime import OnnxSplade

            self._onnx = OnnxSplade(self.model, self.head, self.pooling, runtime)
        return self._onnx if runtime != "torch" else None

    def _weights(self, input_ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """[rows, vocab] weights of a padded batch (padding on one side, as the tokenizer puts it)."""
        with autocast(self.device, self.settings.precision):  # the vocabulary projection in the pooling included
            logits = self.model(input_ids=input_ids.to(self.device, non_blocking=True),
                                attention_mask=mask.to(self.device, non_blocking=True)).logits
            return self.pooling(logits, mask_spans(mask), self.head)


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


def encode_in_length_order(lengths: Sequence[int], batch_size: int, prepare: Callable[[np.ndarray], Any],
                           pooled: Callable[[Any], torch.Tensor], *, progress: bool,
                           overlap: bool = False) -> SparseVectors:
    """Sparse rows of `pooled(prepare(rows))` over batches of row numbers taken longest first (little
    padding), returned in input order; `lengths` are the rows' token counts. `prepare` builds a batch
    on the CPU, `pooled` runs the model on it. With `overlap` (on a GPU), the next batch is prepared on
    a second thread while the model runs on this one."""
    order = np.argsort([-n for n in lengths], kind="stable")
    batches = [order[start:start + batch_size] for start in range(0, len(lengths), batch_size)]
    parts = []
    with ThreadPoolExecutor(1, thread_name_prefix="lsr-batches") if overlap else contextlib.nullcontext() as pool:
        ahead = pool.submit(prepare, batches[0]) if pool is not None and batches else None
        for number, rows in enumerate(tqdm(batches, desc="encode", unit="batch", disable=not progress, leave=False)):
            if ahead is None:
                batch = prepare(rows)
            else:
                assert pool is not None  # a batch is prepared ahead only with the thread pool
                batch = ahead.result()
                ahead = pool.submit(prepare, batches[number + 1]) if number + 1 < len(batches) else None
            parts.append(SparseVectors.from_dense(pooled(batch), [str(row) for row in rows]))
    return SparseVectors.concat(parts).select(np.argsort(order, kind="stable"))


def pinned(tensor: torch.Tensor, device: torch.device) -> torch.Tensor:
    """`tensor` in page-locked memory when it goes to a GPU (so the copy runs asynchronously)."""
    return tensor.pin_memory() if device.type == "cuda" else tensor

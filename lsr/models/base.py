"""The `Encoder` interface and a model folder's `lsr.json` (`ModelInfo`: the encoder's kind and settings)."""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from lsr.errors import LsrError
from lsr.fileio import write_text_atomic
from lsr.models.settings import Settings
from lsr.sparse import SparseVectors

if TYPE_CHECKING:
    import torch

MODEL_INFO_FILE = "lsr.json"


@dataclass
class ModelInfo:
    """What `lsr.json` in a model folder holds: the encoder kind and its settings."""

    kind: str
    settings: dict[str, Any] = field(default_factory=dict)
    format_version: int = 1

    def save(self, folder: str | Path) -> None:
        write_text_atomic(Path(folder) / MODEL_INFO_FILE, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, folder: str | Path) -> ModelInfo | None:
        """The folder's model info, or None when it has no `lsr.json`."""
        path = Path(folder) / MODEL_INFO_FILE
        if not path.is_file():
            return None
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(kind=raw["kind"], settings=dict(raw.get("settings", {})),
                       format_version=int(raw.get("format_version", 1)))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise LsrError(f"{path}: not a valid lsr model info file ({e})") from e


def vocab_fingerprint(vocab: Sequence[str]) -> str:
    """A short hash of the vocabulary (tokens in id order): equal iff term ids mean the same."""
    digest = hashlib.sha256("\n".join(vocab).encode("utf-8")).hexdigest()
    return f"{len(vocab)}-{digest[:16]}"


class Encoder(ABC):
    """Turns text into vocabulary-sized sparse vectors; queries and documents may differ.

    `settings` holds the typed settings of the encoder's kind (frozen: replaced, never changed in place).
    For training, `network` is the `torch.nn.Module` holding every weight (what an optimizer updates and a
    checkpoint saves) and `forward(texts, is_query=...)` the differentiable dense term weights; `encode_*`
    run the same computation under `torch.inference_mode`, batched and sparse.
    """

    kind: ClassVar[str]
    settings: Settings

    @property
    @abstractmethod
    def vocab(self) -> list[str]:
        """Token string of every term id."""

    @property
    def fingerprint(self) -> str:
        return vocab_fingerprint(self.vocab)

    def recorded_settings(self) -> dict[str, Any]:
        """The settings as recorded in `lsr.json` and in index metadata (JSON values)."""
        return self.settings.to_dict()

    @property
    @abstractmethod
    def network(self) -> torch.nn.Module:
        """Every trainable weight of the encoder, as one module."""

    @abstractmethod
    def forward(self, texts: Sequence[str], *, is_query: bool) -> torch.Tensor:
        """Dense [len(texts), vocab] float32 term weights, differentiable (texts truncated, not windowed)."""

    @abstractmethod
    def _encode(self, texts: list[str], *, is_query: bool, progress: bool) -> SparseVectors:
        """Encode non-blank texts (rows in input order, ids unset)."""

    @abstractmethod
    def save(self, folder: str | Path) -> None:
        """Write a model folder that `lsr.models.load_encoder` reads back."""

    def encode_queries(self, texts: Sequence[str], ids: Sequence[str] | None = None,
                       *, progress: bool = False) -> SparseVectors:
        """Encode queries; blank texts give empty vectors."""
        return self._encode_keeping_blanks(texts, ids, is_query=True, progress=progress)

    def encode_quantized_queries(self, texts: Sequence[str], ids: Sequence[str] | None = None, *, scale: float,
                                 progress: bool = False) -> SparseVectors:
        """`encode_queries(texts, ids).quantize(scale)`: the vectors an impact index is searched with."""
        return self.encode_queries(texts, ids, progress=progress).quantize(scale)

    def encode_docs(self, texts: Sequence[str], ids: Sequence[str] | None = None,
                    *, progress: bool = False) -> SparseVectors:
        """Encode documents; blank texts give empty vectors (they match nothing)."""
        return self._encode_keeping_blanks(texts, ids, is_query=False, progress=progress)

    def _encode_keeping_blanks(self, texts: Sequence[str], ids: Sequence[str] | None,
                               *, is_query: bool, progress: bool) -> SparseVectors:
        ids = row_ids(ids, len(texts))
        filled = [i for i, t in enumerate(texts) if t.strip()]
        if not filled:
            return _empty_rows(ids, len(self.vocab))
        encoded = self._encode([texts[i] for i in filled], is_query=is_query, progress=progress)
        if len(filled) == len(texts):
            encoded.ids = ids
            return encoded
        nnz = np.zeros(len(texts), dtype=np.int64)
        nnz[filled] = np.diff(encoded.indptr)
        indptr = np.concatenate([[0], np.cumsum(nnz)])
        return SparseVectors(ids, indptr, encoded.indices, encoded.values, encoded.vocab_size)


def row_ids(ids: Sequence[str] | None, count: int) -> list[str]:
    """`ids` as a list (default "0", "1", …), checked to name `count` rows."""
    ids = [str(i) for i in range(count)] if ids is None else list(ids)
    if len(ids) != count:
        raise ValueError(f"{len(ids)} ids for {count} texts")
    return ids


def _empty_rows(ids: list[str], vocab_size: int) -> SparseVectors:
    return SparseVectors(ids, np.zeros(len(ids) + 1, dtype=np.int64), np.zeros(0, dtype=np.int32),
                         np.zeros(0, dtype=np.float32), vocab_size)

"""Typed encoder settings: one dataclass per encoder kind, read from `lsr.json` and overrides.

An unknown or inapplicable setting is refused by name (`lsr: error: unknown setting 'long_docs' for a
decoder-splade encoder; its settings: ...`), never passed on as a stray keyword.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, TypeVar

from lsr.errors import LsrError
from lsr.keyvalue import check_type
from lsr.models.pooling import ACTIVATIONS, POOLINGS

LONG_DOC_MODES = ("windows", "first")
RUNTIMES = ("torch", "onnx", "onnx-int8")   # masked-LM SPLADE's inference engine (lsr.models.onnx_runtime)
PRECISIONS = ("auto", "float32", "bfloat16")  # masked-LM SPLADE's torch arithmetic (lsr.models.device.autocast)
DTYPES = ("float32", "bfloat16", "float16")

S = TypeVar("S", bound="Settings")


@dataclass(frozen=True)
class Settings:
    """Base of the per-kind settings; `kind` names the encoder in messages."""

    kind = "encoder"

    def __post_init__(self) -> None:
        for name, allowed in self._choices().items():
            value = getattr(self, name)
            if value not in allowed:
                raise LsrError(f"{name} must be one of {', '.join(map(str, allowed))}, not {value!r}")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name.endswith(("_length", "batch_size")) and (not isinstance(value, int) or value < 1):
                raise LsrError(f"{f.name} must be a positive integer, not {value!r}")

    def _choices(self) -> dict[str, tuple]:
        return {}

    @classmethod
    def parse(cls: type[S], values: Mapping[str, Any], where: str = "") -> S:
        """Settings from a mapping (None values mean "default"); `LsrError` naming the setting for an
        unknown name, a value of the wrong type or one outside the setting's choices."""
        known = [f.name for f in fields(cls)]
        hints = typing.get_type_hints(cls)
        place = f"{where}: " if where else ""
        checked = {}
        for name, value in values.items():
            if name not in known:
                raise LsrError(f"{place}unknown setting {name!r} for a {cls.kind} encoder; "
                               f"its settings: {', '.join(known)}")
            if value is not None:
                try:
                    checked[name] = check_type(value, hints[name], name)
                except LsrError as e:
                    raise LsrError(f"{place}{e}") from None
        return cls(**checked)

    def replace(self: S, **changes: Any) -> S:
        """A copy with `changes` (validated like `parse`; None keeps a setting); the settings themselves
        are never changed in place."""
        return type(self).parse({**self.to_dict(), **{k: v for k, v in changes.items() if v is not None}})

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class SpladeSettings(Settings):
    """Masked-LM SPLADE: lengths in tokens, long-document handling, pooling and activation."""

    kind = "splade"
    query_max_length: int = 64
    doc_max_length: int = 256
    batch_size: int = 32
    long_docs: str = "windows"      # "windows": overlapping windows max-pooled; "first": truncate
    window_overlap: int = 64
    pooling: str = "max"
    activation: str = "relu"
    runtime: str = "torch"          # "onnx" / "onnx-int8": encode with ONNX Runtime on the CPU (fp32 / int8)
    precision: str = "auto"         # "auto": bf16 autocast on a GPU that has it, else float32; "bfloat16": bf16
                                    # autocast on any device (CPUs with AMX / AVX-512 BF16); "float32": never

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.runtime != "torch" and self.precision == "bfloat16":
            raise LsrError(f"precision 'bfloat16' is torch's: not with runtime {self.runtime!r}")

    def _choices(self) -> dict[str, tuple]:
        return {"long_docs": LONG_DOC_MODES, "pooling": POOLINGS, "activation": ACTIVATIONS, "runtime": RUNTIMES,
                "precision": PRECISIONS}


@dataclass(frozen=True)
class InferenceFreeSettings(SpladeSettings):
    """The document encoder's SPLADE settings, plus the query weight table's file and default weight."""

    kind = "inference-free"
    weights_file: str = "idf.json"
    default_weight: float = 0.0


@dataclass(frozen=True)
class DecoderSettings(Settings):
    """Decoder-LLM SPLADE: echo templates, lengths, precision, LoRA adapters, GGUF source."""

    kind = "decoder-splade"
    echo: bool = True
    query_template: str | None = None
    doc_template: str | None = None
    query_max_length: int = 64
    doc_max_length: int = 256
    batch_size: int = 8
    dtype: str | None = None        # weights' dtype; None: float32 weights, bf16 autocast on a GPU
    lora: dict[str, Any] | None = None
    gguf_file: str | None = None
    pooling: str = "max"
    activation: str = "relu"
    logit_threshold: float = 0.0    # a term's LM-head logit must exceed this to get weight

    def _choices(self) -> dict[str, tuple]:
        return {"dtype": (None, *DTYPES), "pooling": POOLINGS, "activation": ACTIVATIONS}

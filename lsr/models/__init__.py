"""Encoders and the registry that loads a model folder as the right one.

`load_encoder(path)` reads `lsr.json` when the folder has one; a plain Hugging Face
folder is recognised by the architecture named in its `config.json` (with an `idf.json`
beside it: OpenSearch's inference-free layout), a sentence-transformers folder by its
`modules.json`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from lsr.errors import LsrError
from lsr.models.base import Encoder, EncoderConfig, vocab_fingerprint

# Set before torch's first allocation (every encoder module imports torch after this package),
# it makes PyTorch's CPU allocator ask for transparent huge pages for large tensors, so the
# [batch, length, vocabulary] logits page-fault far less. A user's own setting wins.
os.environ.setdefault("THP_MEM_ALLOC_ENABLE", "1")


def _splade(folder: Path, settings: dict[str, Any]) -> Encoder:
    from lsr.models.splade import SpladeEncoder

    return SpladeEncoder.from_folder(folder, **settings)


def _inference_free(folder: Path, settings: dict[str, Any]) -> Encoder:
    from lsr.models.inference_free import InferenceFreeEncoder

    return InferenceFreeEncoder.from_folder(folder, **settings)


def _sentence_transformers(folder: Path, settings: dict[str, Any]) -> Encoder:
    from lsr.models.sentence_transformers import load_sentence_transformers

    return load_sentence_transformers(folder, settings)


def _decoder_splade(folder: Path, settings: dict[str, Any]) -> Encoder:
    from lsr.models.decoder import DecoderSpladeEncoder

    return DecoderSpladeEncoder.from_folder(folder, **settings)


ENCODER_KINDS = {"splade": _splade, "inference-free": _inference_free,
                 "sentence-transformers": _sentence_transformers, "decoder-splade": _decoder_splade}


def load_encoder(model: str | Path, **overrides: Any) -> Encoder:
    """Load the encoder stored in a model folder (or a Hugging Face hub id); `overrides` replace settings."""
    folder = _local_folder(model)
    config = EncoderConfig.read(folder) or EncoderConfig(_infer_kind(folder))
    if config.kind not in ENCODER_KINDS:
        raise LsrError(f"{folder}: unknown encoder kind {config.kind!r} (known: {', '.join(ENCODER_KINDS)})")
    settings = {**config.settings, **{k: v for k, v in overrides.items() if v is not None}}
    return ENCODER_KINDS[config.kind](folder, settings)


def _local_folder(model: str | Path) -> Path:
    path = Path(model)
    if path.is_dir():
        return path
    if path.exists() or str(model).startswith((".", "/", "~")) or str(model).count("/") != 1:
        raise LsrError(f"model not found: {model} (expected a model folder or a hub id such as naver/splade-v3)")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(str(model)))
    except Exception as e:  # the hub raises many kinds; all mean "could not fetch"
        raise LsrError(f"model not found: {model} is not a local folder and could not be fetched from the hub "
                       f"({type(e).__name__})") from e


def _infer_kind(folder: Path) -> str:
    if (folder / "modules.json").is_file():
        return "sentence-transformers"
    config_file = folder / "config.json"
    if not config_file.is_file() and any(folder.glob("*.gguf")):
        return "decoder-splade"
    if not config_file.is_file():
        raise LsrError(f"{folder}: not a model folder (no lsr.json and no config.json)")
    try:
        architectures = json.loads(config_file.read_text(encoding="utf-8")).get("architectures") or []
    except json.JSONDecodeError as e:
        raise LsrError(f"{config_file}: invalid JSON ({e})") from e
    if any(a.endswith("ForMaskedLM") for a in architectures):
        return "inference-free" if (folder / "idf.json").is_file() else "splade"
    if any(a.endswith("ForCausalLM") for a in architectures):
        return "decoder-splade"
    raise LsrError(f"{folder}: unsupported model (architectures {architectures or 'not given'}; "
                   f"lsr reads *ForMaskedLM or *ForCausalLM folders, GGUF folders or folders with lsr.json)")


__all__ = ["Encoder", "EncoderConfig", "ENCODER_KINDS", "load_encoder", "vocab_fingerprint"]

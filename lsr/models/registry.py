"""Which encoder a model folder holds, and loading it with its typed settings.

`load_encoder(path)` reads `lsr.json` when the folder has one; a plain Hugging Face
folder is recognised by the architecture named in its `config.json` (with an `idf.json`
beside it: OpenSearch's inference-free layout), a sentence-transformers folder by its
`modules.json`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lsr.errors import LsrError
from lsr.keyvalue import parse_pair, split_pairs
from lsr.models.base import Encoder, ModelInfo
from lsr.models.hub import local_folder
from lsr.models.settings import DecoderSettings, InferenceFreeSettings, Settings, SpladeSettings

Loader = Callable[[Path, dict[str, Any], "str | None"], Encoder]


def _splade(folder: Path, settings: dict[str, Any], device: str | None) -> Encoder:
    from lsr.models.splade import SpladeEncoder

    return SpladeEncoder.from_folder(folder, SpladeSettings.parse(settings, str(folder)), device=device)


def _inference_free(folder: Path, settings: dict[str, Any], device: str | None) -> Encoder:
    from lsr.models.inference_free import InferenceFreeEncoder

    return InferenceFreeEncoder.from_folder(folder, InferenceFreeSettings.parse(settings, str(folder)), device=device)


def _sentence_transformers(folder: Path, settings: dict[str, Any], device: str | None) -> Encoder:
    from lsr.models.sentence_transformers import load_sentence_transformers

    return load_sentence_transformers(folder, settings, device)


def _decoder_splade(folder: Path, settings: dict[str, Any], device: str | None) -> Encoder:
    from lsr.models.decoder import DecoderSpladeEncoder

    return DecoderSpladeEncoder.from_folder(folder, DecoderSettings.parse(settings, str(folder)), device=device)


ENCODER_KINDS: dict[str, Loader] = {"splade": _splade, "inference-free": _inference_free,
                                    "sentence-transformers": _sentence_transformers,
                                    "decoder-splade": _decoder_splade}


def load_encoder(model: str | Path, *, device: str | None = None, **overrides: Any) -> Encoder:
    """Load the encoder stored in a model folder (or a Hugging Face hub id).

    `overrides` replace recorded settings (None: keep); a setting the encoder kind does not have
    is an `LsrError` naming it. `device` defaults to the first GPU, else the CPU.
    """
    folder = local_folder(model)
    info = ModelInfo.read(folder) or ModelInfo(_infer_kind(folder))
    if info.kind not in ENCODER_KINDS:
        raise LsrError(f"{folder}: unknown encoder kind {info.kind!r} (known: {', '.join(ENCODER_KINDS)})")
    settings = {**info.settings, **{k: v for k, v in overrides.items() if v is not None}}
    return ENCODER_KINDS[info.kind](folder, settings, device)


SETTINGS: dict[str, type[Settings]] = {"splade": SpladeSettings, "inference-free": InferenceFreeSettings,
                                       "decoder-splade": DecoderSettings}


def check_settings(model: str | Path, settings: dict[str, Any]) -> None:
    """Refuse, with the `LsrError` loading would raise, settings the model's encoder kind lacks (no loading)."""
    folder = local_folder(model)
    info = ModelInfo.read(folder) or ModelInfo(_infer_kind(folder))
    if info.kind in SETTINGS:
        SETTINGS[info.kind].parse({**info.settings, **settings}, str(folder))


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


def load_encoder_spec(spec: str, device: str | None = None, **overrides: Any) -> Encoder:
    """`load_encoder` of a `MODEL` or `MODEL:key=value,...` spec (`parse_model_spec`); `overrides` that
    are not None replace the spec's settings."""
    model, settings = parse_model_spec(spec)
    settings.update({key: value for key, value in overrides.items() if value is not None})
    return load_encoder(model, device=device, **settings)


def parse_model_spec(spec: str) -> tuple[str, dict[str, Any]]:
    """`MODEL` or `MODEL:key=value,key=value` (encoder settings) as (model, settings); values are TOML
    (`lsr.keyvalue`): `splade-tiny:long_docs=first,doc_max_length=256,echo=false`."""
    match = re.fullmatch(r"(.+?):([A-Za-z_]\w*=.*)", spec)
    if match is None:
        return spec, {}
    model, settings = match.group(1), {}
    for pair in split_pairs(match.group(2)):
        try:
            key, value = parse_pair(pair)
        except LsrError:
            raise LsrError(f"{spec}: expected MODEL:key=value,key=value, got {pair!r}") from None
        settings[key] = value
    return model, settings

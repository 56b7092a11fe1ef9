"""Sentence-transformers (>= 5) SparseEncoder folders, read without sentence-transformers.

Two published layouts map onto lsr encoders:

- SPLADE: `modules.json` lists an MLM transformer module, then `SpladePooling` -> `SpladeEncoder`.
- Inference-free: `modules.json` lists one `Router`, whose `router_config.json` holds
  `{"types": {id: class path}, "structure": {route: [id, ...]}, "parameters": {...}}`; each id
  is a folder under the router's folder, "" the folder itself (OpenSearch's published models
  keep their MLM in the root). The "query" route is one `SparseStaticEmbedding` (its folder:
  a tokenizer, a `model.safetensors` or `pytorch_model.bin` holding `weight` [vocab] and
  `config.json` `{"frozen": ...}`), the "document" route MLM transformer + SpladePooling
  -> `InferenceFreeEncoder` with those learned query weights.

An MLM transformer module is `MLMTransformer` (5.0-5.3), or `Transformer` whose
`sentence_bert_config.json` says `"transformer_task": "fill-mask"` (5.4+); its folder is a
Hugging Face `*ForMaskedLM` folder. Class paths moved between versions
(`sentence_transformers.sparse_encoder.models.SpladePooling`, then
`sentence_transformers.sparse_encoder.modules.splade_pooling.SpladePooling`), so modules are
matched by class name. SpladePooling's `config.json` (`pooling_strategy` max or sum,
`activation_function` relu or log1p_relu, as OpenSearch's v3 models use) becomes the
`SpladeEncoder`'s `pooling` and `activation` settings. The query weights are mapped to tokens with
the query module's own tokenizer; queries are then tokenized by the document MLM's tokenizer
(the two are copies in the published models).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsr.errors import LsrError
from lsr.models.base import Encoder
from lsr.models.pooling import ACTIVATIONS, POOLINGS
from lsr.models.settings import InferenceFreeSettings, SpladeSettings

if TYPE_CHECKING:
    import numpy as np

_SUPPORTED = ("lsr reads an MLM transformer + SpladePooling, or a Router with a SparseStaticEmbedding "
              "query route and an MLM transformer + SpladePooling document route")


def load_sentence_transformers(folder: Path, settings: dict[str, Any], device: str | None = None) -> Encoder:
    """The lsr encoder for a sentence-transformers SparseEncoder folder; `settings` go to the encoder."""
    modules_file = folder / "modules.json"
    modules = _read_json(modules_file)
    try:
        names = [_class_name(module["type"]) for module in modules]
        folders = [folder / module.get("path", "") for module in modules]
    except (TypeError, KeyError, AttributeError) as e:
        raise LsrError(f"{modules_file}: not a sentence-transformers module list ({e!r})") from e
    if names == ["Router"]:
        return _inference_free(folders[0], settings, device)
    splade = _splade_modules(names, folders)
    if splade is None:
        raise LsrError(f"{modules_file}: unsupported sentence-transformers model "
                       f"(modules: {', '.join(names) or 'none'}); {_SUPPORTED}")
    from lsr.models.splade import SpladeEncoder

    mlm_folder, pooling = splade
    return SpladeEncoder.from_folder(mlm_folder, SpladeSettings.parse({**pooling, **settings}, str(folder)),
                                     device=device)


def _inference_free(router_folder: Path, settings: dict[str, Any], device: str | None) -> Encoder:
    config_file = router_folder / "router_config.json"
    if not config_file.is_file():
        config_file = router_folder / "config.json"  # the name before router_config.json
    config = _read_json(config_file)
    try:
        routes = {route: [(_class_name(config["types"][module_id]), router_folder / module_id) for module_id in ids]
                  for route, ids in config["structure"].items()}
    except (TypeError, KeyError, AttributeError) as e:
        raise LsrError(f"{config_file}: not a sentence-transformers router config ({e!r})") from e
    query, document = routes.get("query", []), routes.get("document", [])
    splade = _splade_modules([name for name, _ in document], [path for _, path in document])
    if [name for name, _ in query] != ["SparseStaticEmbedding"] or splade is None:
        found = "; ".join(f"{route}: {', '.join(name for name, _ in modules) or 'none'}"
                          for route, modules in routes.items())
        raise LsrError(f"{config_file}: unsupported sentence-transformers router (routes {found}); {_SUPPORTED}")
    from lsr.models.inference_free import InferenceFreeEncoder

    mlm_folder, pooling = splade
    parsed = InferenceFreeSettings.parse({**pooling, **settings}, str(router_folder))
    return InferenceFreeEncoder.from_folder(mlm_folder, parsed, table=_static_weights(query[0][1]), device=device)


def _splade_modules(names: list[str], folders: list[Path]) -> tuple[Path, dict[str, str]] | None:
    """(MLM folder, SpladeEncoder pooling settings) when the modules are MLM transformer + SpladePooling."""
    if len(names) != 2 or names[1] != "SpladePooling" or not _is_mlm(names[0], folders[0]):
        return None
    pooling_file = folders[1] / "config.json"
    config = _read_json(pooling_file) if pooling_file.is_file() else {}
    pooling = {"pooling": config.get("pooling_strategy", "max"),
               "activation": config.get("activation_function", "relu")}
    if pooling["pooling"] not in POOLINGS or pooling["activation"] not in ACTIVATIONS:
        raise LsrError(f"{pooling_file}: SpladePooling with pooling_strategy={pooling['pooling']!r}, "
                       f"activation_function={pooling['activation']!r}; lsr computes pooling_strategy "
                       f"{' or '.join(POOLINGS)} with activation_function {' or '.join(ACTIVATIONS)}")
    return folders[0], pooling


def _is_mlm(name: str, folder: Path) -> bool:
    if name == "MLMTransformer":
        return True
    config_file = folder / "sentence_bert_config.json"
    if name != "Transformer" or not config_file.is_file():
        return False
    return _read_json(config_file).get("transformer_task") == "fill-mask"


def _static_weights(folder: Path) -> dict[str, float]:
    """A SparseStaticEmbedding folder's token -> weight table (its `weight` over its tokenizer's ids)."""
    from lsr.models.idf import load_tokenizer

    weight = _read_weight(folder)
    tokens = load_tokenizer(folder).convert_ids_to_tokens(list(range(len(weight))))
    return {token: value for token, value in zip(tokens, weight.tolist()) if token is not None}


def _read_weight(folder: Path) -> np.ndarray:
    """The `weight` vector of a SparseStaticEmbedding folder as a float32 numpy array."""
    if (folder / "model.safetensors").is_file():
        from safetensors.torch import load_file

        path, tensors = folder / "model.safetensors", load_file(folder / "model.safetensors")
    elif (folder / "pytorch_model.bin").is_file():
        import torch

        path, tensors = folder / "pytorch_model.bin", torch.load(folder / "pytorch_model.bin", map_location="cpu",
                                                                 weights_only=True)
    else:
        raise LsrError(f"{folder}: no SparseStaticEmbedding weights (model.safetensors or pytorch_model.bin)")
    weight = tensors.get("weight")
    if weight is None or weight.dim() != 1:
        raise LsrError(f"{path}: expected a 1-D tensor 'weight' (one weight per token), found {sorted(tensors)}")
    return weight.float().numpy()


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise LsrError(f"{path}: missing") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise LsrError(f"{path}: invalid JSON ({e})") from e


def _class_name(class_path: str) -> str:
    """`SpladePooling` for `sentence_transformers.sparse_encoder.modules.splade_pooling.SpladePooling`."""
    return class_path.rsplit(".", 1)[-1]

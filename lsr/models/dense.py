"""Dense bi-encoders: a sentence-transformers folder read without sentence-transformers.

A sentence-transformers folder lists its modules in `modules.json`; lsr reads a `Transformer`
(a Hugging Face `AutoModel` folder, "" being the folder itself), then `Pooling`, then optionally
`Normalize` (modules are matched by the last part of their class path, which moved between
versions). The Pooling folder's `config.json` picks the pooling: `pooling_mode_mean_tokens`
(mean of the token vectors under the attention mask), `pooling_mode_cls_token` (the first
token's vector) or `pooling_mode_max_tokens` (per-dimension max over the tokens); exactly one
must be set. The Transformer folder's `sentence_bert_config.json` gives `max_seq_length` (the
default `max_length`, special tokens included) and `do_lower_case`.

A plain Hugging Face folder (a `config.json`, no `modules.json`) is read with `AutoModel` and
gets mean pooling without normalisation, the usual choice for an un-configured encoder; its
default `max_length` is the tokenizer's `model_max_length` (512 when the tokenizer gives none), at
most the model's `max_position_embeddings`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from tqdm.auto import tqdm

from lsr.errors import LsrError
from lsr.models.device import autocast, pick_device

if TYPE_CHECKING:
    from transformers import PreTrainedModel

POOLINGS = ("mean", "cls", "max")
_POOLING_KEYS = {"pooling_mode_mean_tokens": "mean", "pooling_mode_cls_token": "cls",
                 "pooling_mode_max_tokens": "max"}
FALLBACK_MAX_LENGTH = 512


class DenseEncoder:
    """Texts -> float32 vectors [n, dim] from a transformer encoder, pooled and optionally L2-normalised.

    Texts are tokenized once (truncated to `max_length` tokens, special tokens included), sorted
    by length and encoded in batches of `batch_size`, so padding is small; rows come back in
    input order. An empty text is encoded as the empty input (the special tokens only).
    """

    def __init__(self, model: torch.nn.Module, tokenizer, *, pooling: str = "mean", normalize: bool = False,
                 max_length: int = FALLBACK_MAX_LENGTH, lowercase: bool = False, batch_size: int = 32,
                 device: str | None = None, name: str = ""):
        if pooling not in POOLINGS:
            raise LsrError(f"pooling must be one of {', '.join(POOLINGS)}, not {pooling!r}")
        if max_length < 2 or batch_size < 1:
            raise LsrError(f"max_length must be at least 2 and batch_size at least 1 "
                           f"(got {max_length} and {batch_size})")
        self.device = pick_device(device)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.pooling = pooling
        self._normalize = bool(normalize)
        self.max_length = int(max_length)
        self.lowercase = bool(lowercase)
        self.batch_size = int(batch_size)
        self.name = name
        self._dim = int(cast("PreTrainedModel", model).config.hidden_size)  # a Hugging Face model

    @classmethod
    def from_folder(cls, folder: str | Path, *, max_length: int | None = None, batch_size: int = 32,
                    device: str | None = None) -> DenseEncoder:
        """Load a sentence-transformers folder, a plain Hugging Face `AutoModel` folder or a hub id.

        `max_length` None: the folder's `max_seq_length` (or the tokenizer's limit); either way at most
        what the tokenizer and the model's position embeddings allow.
        """
        from lsr.models.hub import local_folder

        root = local_folder(folder)
        if (root / "modules.json").is_file():
            model_folder, layout = _sentence_transformers_layout(root)
        elif (root / "config.json").is_file():
            model_folder, layout = root, {"pooling": "mean", "normalize": False, "max_length": None,
                                          "lowercase": False}
        else:
            raise LsrError(f"{root}: not a dense model folder (no modules.json and no config.json)")
        model, tokenizer = _load_model(model_folder)
        limit = tokenizer_limit(tokenizer, model.config)
        chosen = min(max_length or layout["max_length"] or limit, limit)
        return cls(model, tokenizer, pooling=layout["pooling"], normalize=layout["normalize"], max_length=chosen,
                   lowercase=layout["lowercase"], batch_size=batch_size, device=device,
                   name=str(root.resolve()))

    @property
    def dim(self) -> int:
        """Length of an embedding."""
        return self._dim

    @property
    def normalize(self) -> bool:
        """Whether embeddings are L2-normalised (inner product = cosine)."""
        return self._normalize

    @property
    def settings(self) -> dict[str, Any]:
        """What determines the embeddings (batch size and device do not): an index records it."""
        return {"model": self.name, "pooling": self.pooling, "normalize": self._normalize,
                "max_length": self.max_length, "lowercase": self.lowercase, "dim": self._dim}

    def encode(self, texts: Sequence[str], *, progress: bool = False) -> np.ndarray:
        """float32 [len(texts), dim], row i the embedding of texts[i]."""
        texts = [t.lower() for t in texts] if self.lowercase else list(texts)
        if not texts:
            return np.zeros((0, self._dim), dtype=np.float32)
        encoded = self.tokenizer(texts, truncation=True, max_length=self.max_length, verbose=False)
        return run_tokenized(self.tokenizer, encoded, self.batch_size, self._pooled, progress=progress,
                             desc="encode")

    @torch.inference_mode()
    def _pooled(self, batch) -> torch.Tensor:
        inputs = {key: value.to(self.device) for key, value in batch.items()}
        with autocast(self.device):
            hidden = self.model(**inputs).last_hidden_state.float()
        mask = inputs["attention_mask"]
        if self.pooling == "mean":
            weights = mask.unsqueeze(-1).to(hidden.dtype)
            vectors = (hidden * weights).sum(dim=1) / weights.sum(dim=1).clamp(min=1e-9)
        elif self.pooling == "cls":
            # The first real token, wherever the tokenizer pads (left or right).
            first = mask.argmax(dim=1)
            vectors = hidden[torch.arange(hidden.shape[0], device=hidden.device), first]
        else:
            vectors = hidden.masked_fill(mask.unsqueeze(-1) == 0, float("-inf")).amax(dim=1)
        if self._normalize:
            vectors = torch.nn.functional.normalize(vectors, p=2, dim=-1)
        return vectors


def run_tokenized(tokenizer, encoded, batch_size: int, compute: Callable[[Any], torch.Tensor], *,
                  progress: bool, desc: str) -> np.ndarray:
    """`compute` over padded batches of a tokenizer's output, longest inputs first; rows in input order."""
    columns = {key: encoded[key] for key in ("input_ids", "token_type_ids") if key in encoded}

    def computed(rows: np.ndarray) -> torch.Tensor:
        return compute(tokenizer.pad({key: [values[i] for i in rows] for key, values in columns.items()},
                                     return_tensors="pt"))

    return run_in_length_order([len(ids) for ids in encoded["input_ids"]], batch_size, computed,
                               progress=progress, desc=desc)


def run_in_length_order(lengths: Sequence[int], batch_size: int, compute: Callable[[np.ndarray], torch.Tensor],
                        *, progress: bool, desc: str) -> np.ndarray:
    """float32 rows of `compute(rows)` over batches of row numbers taken longest first (little padding,
    and a batch too large for memory fails at once), returned in input order."""
    order = np.argsort([-n for n in lengths], kind="stable")
    parts = []
    starts = range(0, len(lengths), batch_size)
    for start in tqdm(starts, desc=desc, unit="batch", disable=not progress, leave=False):
        parts.append(compute(order[start:start + batch_size]).float().cpu().numpy())
    result = np.empty((len(lengths), *parts[0].shape[1:]), dtype=np.float32)
    result[order] = np.concatenate(parts)
    return result


def _sentence_transformers_layout(root: Path) -> tuple[Path, dict[str, Any]]:
    """(transformer folder, pooling / normalize / max_length / lowercase) of a sentence-transformers folder."""
    modules_file = root / "modules.json"
    modules = _read_json(modules_file)
    try:
        names = [str(module["type"]).rsplit(".", 1)[-1] for module in modules]
        folders = [root / module.get("path", "") for module in modules]
    except (TypeError, KeyError, AttributeError) as e:
        raise LsrError(f"{modules_file}: not a sentence-transformers module list ({e!r})") from e
    if names not in (["Transformer", "Pooling"], ["Transformer", "Pooling", "Normalize"]):
        raise LsrError(f"{modules_file}: unsupported sentence-transformers model (modules: "
                       f"{', '.join(names) or 'none'}); lsr reads Transformer, Pooling and an optional Normalize")
    transformer_config = folders[0] / "sentence_bert_config.json"
    settings = _read_json(transformer_config) if transformer_config.is_file() else {}
    task = settings.get("transformer_task", "feature-extraction")
    if task != "feature-extraction":
        raise LsrError(f"{transformer_config}: transformer_task {task!r}; a dense encoder needs feature-extraction")
    max_length = settings.get("max_seq_length")
    if max_length is not None and (not isinstance(max_length, int) or max_length < 2):
        raise LsrError(f"{transformer_config}: max_seq_length must be an integer of at least 2, not {max_length!r}")
    return folders[0], {"pooling": _pooling_mode(folders[1] / "config.json"), "normalize": len(names) == 3,
                        "max_length": max_length, "lowercase": bool(settings.get("do_lower_case", False))}


def _pooling_mode(config_file: Path) -> str:
    if not config_file.is_file():
        raise LsrError(f"{config_file}: missing (the Pooling module's settings)")
    config = _read_json(config_file)
    if not isinstance(config, dict):
        raise LsrError(f"{config_file}: expected a JSON object")
    chosen = sorted(key for key, value in config.items() if key.startswith("pooling_mode") and value)
    if len(chosen) != 1 or chosen[0] not in _POOLING_KEYS:
        raise LsrError(f"{config_file}: unsupported pooling ({', '.join(chosen) or 'no pooling_mode set'}); "
                       f"lsr computes exactly one of {', '.join(_POOLING_KEYS)}")
    return _POOLING_KEYS[chosen[0]]


def _load_model(folder: Path):
    from transformers import AutoModel, AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(folder)
        model = AutoModel.from_pretrained(folder)
    except (OSError, ValueError) as e:
        raise LsrError(f"{folder}: could not load a Hugging Face model and tokenizer ({e})") from e
    return model, tokenizer


def tokenizer_limit(tokenizer, config=None) -> int:
    """The tokenizer's `model_max_length` (512 where it gives the 'no limit' sentinel), at most the
    model's `max_position_embeddings` when `config` gives one."""
    limit = getattr(tokenizer, "model_max_length", None)
    limit = int(limit) if isinstance(limit, int) and 1 < limit < 1_000_000 else FALLBACK_MAX_LENGTH
    positions = getattr(config, "max_position_embeddings", None)
    return min(limit, positions) if isinstance(positions, int) and positions > 1 else limit


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise LsrError(f"{path}: cannot be read ({e.strerror})") from e
    except json.JSONDecodeError as e:
        raise LsrError(f"{path}: invalid JSON ({e})") from e

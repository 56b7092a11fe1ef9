"""Cross-encoders: a Hugging Face `*ForSequenceClassification` model scoring (query, passage) pairs.

The score is the raw logit, with no sigmoid or softmax (monotone maps that change no ranking):
the single logit of a one-label model (e.g. cross-encoder/ms-marco-MiniLM-L-6-v2), and
logit[1] - logit[0] for a two-label model (the log-odds of label 1, "relevant", as in monoBERT
style rerankers). Models with more labels are refused.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, cast

import numpy as np
import torch

from lsr.errors import LsrError
from lsr.models.dense import run_tokenized, tokenizer_limit
from lsr.models.device import autocast, pick_device

if TYPE_CHECKING:
    from transformers import PreTrainedModel


class CrossEncoder:
    """Scores (query, passage) pairs jointly encoded as one input.

    Each pair is tokenized as query then passage and cut to `max_length` tokens (special tokens
    included) by removing tokens from the longer of the two, so a long query never makes a
    pair fail. Pairs are batched by length (little padding) and scores returned in input order.
    """

    def __init__(self, model: torch.nn.Module, tokenizer, *, max_length: int = 512, batch_size: int = 32,
                 device: str | None = None):
        labels = cast("PreTrainedModel", model).config.num_labels  # a Hugging Face model
        assert labels is not None  # a classification model's config always has its labels
        num_labels = int(labels)
        if num_labels not in (1, 2):
            raise LsrError(f"a cross-encoder has 1 or 2 labels; this model has {num_labels}")
        if max_length < 4 or batch_size < 1:
            raise LsrError(f"max_length must be at least 4 and batch_size at least 1 "
                           f"(got {max_length} and {batch_size})")
        self.device = pick_device(device)
        self.model = model.to(self.device).eval()
        self.tokenizer = tokenizer
        self.num_labels = num_labels
        self.max_length = int(max_length)
        self.batch_size = int(batch_size)

    @classmethod
    def from_folder(cls, folder: str | Path, *, max_length: int = 512, batch_size: int = 32,
                    device: str | None = None) -> CrossEncoder:
        """Load a `*ForSequenceClassification` folder (or hub id); `max_length` is capped at the
        tokenizer's `model_max_length` and the model's `max_position_embeddings`."""
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        from lsr.models.hub import local_folder

        folder = local_folder(folder)
        config_file = folder / "config.json"
        try:
            config = json.loads(config_file.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise LsrError(f"{folder}: not a model folder (no config.json)") from None
        except (OSError, json.JSONDecodeError) as e:
            raise LsrError(f"{config_file}: cannot be read as JSON ({e})") from e
        architectures = config.get("architectures") if isinstance(config, dict) else None
        architectures = architectures if isinstance(architectures, list) else []
        if not any(str(a).endswith("ForSequenceClassification") for a in architectures):
            raise LsrError(f"{folder}: not a cross-encoder (architectures {architectures or 'not given'}; "
                           f"lsr reads *ForSequenceClassification folders)")
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder)
            model = AutoModelForSequenceClassification.from_pretrained(folder)
        except (OSError, ValueError) as e:
            raise LsrError(f"{folder}: could not load a Hugging Face model and tokenizer ({e})") from e
        if int(model.config.num_labels) not in (1, 2):
            raise LsrError(f"{config_file}: {model.config.num_labels} labels; a cross-encoder has 1 "
                           f"(the score) or 2 (score = logit[1] - logit[0])")
        return cls(model, tokenizer, max_length=min(max_length, tokenizer_limit(tokenizer, model.config)),
                   batch_size=batch_size, device=device)

    def score(self, pairs: Sequence[tuple[str, str]], *, progress: bool = False) -> np.ndarray:
        """float32 [len(pairs)]: the score of each (query, passage) pair, higher = more relevant."""
        if not pairs:
            return np.zeros(0, dtype=np.float32)
        queries = [query for query, _ in pairs]
        passages = [passage for _, passage in pairs]
        encoded = self.tokenizer(queries, passages, truncation="longest_first", max_length=self.max_length,
                                 verbose=False)
        return run_tokenized(self.tokenizer, encoded, self.batch_size, self._scores, progress=progress,
                             desc="rerank")

    @torch.inference_mode()
    def _scores(self, batch) -> torch.Tensor:
        inputs = {key: value.to(self.device) for key, value in batch.items()}
        with autocast(self.device):
            logits = self.model(**inputs).logits.float()
        return logits[:, 0] if self.num_labels == 1 else logits[:, 1] - logits[:, 0]

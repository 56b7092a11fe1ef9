"""Inference-free sparse encoder: a SPLADE network for documents, a weight table for queries."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lsr.models.base import Encoder, EncoderConfig
from lsr.models.idf import distinct_terms, load_idf, save_idf
from lsr.models.splade import SpladeEncoder
from lsr.sparse import SparseVectors

log = logging.getLogger(__name__)
WEIGHTS_FILE = "idf.json"


class InferenceFreeEncoder(Encoder):
    """Documents go through a `SpladeEncoder`; a query is its tokens, each weighted from a table.

    A query is tokenized without special tokens (truncated at `query_max_length`) and every
    distinct token gets its table weight once, however often it occurs: binary presence times
    weight, as OpenSearch's doc-only models (query vector = 1 per token present, times idf) and
    sentence-transformers' `SparseStaticEmbedding` compute it. Tokens missing from the table get
    `default_weight` (0 by default: left out); special tokens always get 0. Queries run no
    network and no torch: a tokenizer call and a numpy lookup.
    """

    kind = "inference-free"

    def __init__(self, doc_encoder: SpladeEncoder, table: Mapping[str, float], *, default_weight: float = 0.0,
                 weights_file: str = WEIGHTS_FILE):
        self.doc_encoder = doc_encoder
        self.table = dict(table)
        self.default_weight = float(default_weight)
        self.weights_file = weights_file
        self.query_weights = self._weight_vector()

    @classmethod
    def from_folder(cls, folder: str | Path, *, table: Mapping[str, float] | None = None,
                    weights_file: str = WEIGHTS_FILE, default_weight: float = 0.0,
                    **doc_settings: Any) -> InferenceFreeEncoder:
        """The masked LM in `folder` for documents; query weights from `table`, else `folder/weights_file`."""
        if table is None:
            table = load_idf(Path(folder) / weights_file)
        return cls(SpladeEncoder.from_folder(folder, **doc_settings), table, default_weight=default_weight,
                   weights_file=weights_file)

    @property
    def vocab(self) -> list[str]:
        return self.doc_encoder.vocab

    @property
    def tokenizer(self):
        return self.doc_encoder.tokenizer

    @property
    def query_max_length(self) -> int:
        return self.doc_encoder.query_max_length

    @property
    def settings(self) -> dict[str, Any]:
        return {**self.doc_encoder.settings, "weights_file": self.weights_file,
                "default_weight": self.default_weight}

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        self.doc_encoder.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        save_idf(self.table, folder / self.weights_file)
        EncoderConfig(self.kind, self.settings).save(folder)

    def _encode(self, texts: list[str], *, is_query: bool, progress: bool) -> SparseVectors:
        if not is_query:
            return self.doc_encoder.encode_docs(texts, progress=progress)
        encodings = self.tokenizer.backend_tokenizer.encode_batch(texts, add_special_tokens=False)
        token_ids = [e.ids[:self.query_max_length] for e in encodings]
        rows, terms = distinct_terms(token_ids, len(self.vocab))
        weights = self.query_weights[terms]
        keep = weights != 0
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows[keep], minlength=len(texts)))])
        return SparseVectors([str(i) for i in range(len(texts))], indptr, terms[keep], weights[keep],
                             len(self.vocab))

    def _weight_vector(self) -> np.ndarray:
        """Query weight of every term id: the table's, else `default_weight`; 0 for special tokens."""
        term_of = {token: i for i, token in enumerate(self.vocab)}
        known = [(term_of[token], weight) for token, weight in self.table.items() if token in term_of]
        if len(known) < len(self.table):
            log.warning("%d of %d tokens in the query weight table are not in the model's vocabulary (ignored)",
                        len(self.table) - len(known), len(self.table))
        weights = np.full(len(self.vocab), self.default_weight, dtype=np.float32)
        if known:
            terms, values = zip(*known)
            weights[list(terms)] = values
        weights[self.tokenizer.all_special_ids] = 0.0
        return weights

"""Inference-free sparse encoder: a SPLADE network for documents, a weight table for queries."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from lsr.errors import LsrError
from lsr.models.base import Encoder, EncoderConfig
from lsr.models.idf import load_idf, save_idf
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
        self._query_weight_list = self.query_weights.tolist()

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
        return self._encode_queries(texts)

    def _encode_queries(self, texts: list[str]) -> SparseVectors:
        """Each distinct token once, weighted from the table; plain Python, as queries are short."""
        tokenizer = self.tokenizer.backend_tokenizer
        if len(texts) == 1:  # encode() skips encode_batch's thread-pool overhead for the common case
            encodings = [tokenizer.encode(texts[0], add_special_tokens=False)]
        else:
            encodings = tokenizer.encode_batch(texts, add_special_tokens=False)
        weight_of = self._query_weight_list
        indptr, indices, values = [0], [], []
        for encoding in encodings:
            for term in sorted(set(encoding.ids[:self.query_max_length])):
                if weight := weight_of[term]:
                    indices.append(term)
                    values.append(weight)
            indptr.append(len(indices))
        # Valid by construction: sorted distinct ids from the vocabulary, finite table weights.
        return SparseVectors.unchecked([str(i) for i in range(len(texts))], np.array(indptr, dtype=np.int64),
                                       np.array(indices, dtype=np.int32), np.array(values, dtype=np.float32),
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
        if not np.isfinite(weights).all():
            raise LsrError("the query weight table holds NaN or infinite weights")
        return weights

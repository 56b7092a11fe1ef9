"""Inference-free sparse encoder: a SPLADE network for documents, a weight table for queries."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path

import numpy as np
import torch

from lsr.errors import LsrError
from lsr.models.base import Encoder, ModelInfo, row_ids
from lsr.models.idf import load_idf, save_idf
from lsr.models.settings import InferenceFreeSettings, SpladeSettings
from lsr.models.splade import SpladeEncoder
from lsr.models.token_cache import ChunkTokenCache, splits_at_spaces
from lsr.sparse import SparseVectors

log = logging.getLogger(__name__)


class InferenceFreeEncoder(Encoder):
    """Documents go through a `SpladeEncoder`; a query is its tokens, each weighted from a table.

    A query is tokenized without special tokens (truncated at `query_max_length`) and every
    distinct token gets its table weight once, however often it occurs: binary presence times
    weight, as OpenSearch's doc-only models (query vector = 1 per token present, times idf) and
    sentence-transformers' `SparseStaticEmbedding` compute it. Tokens missing from the table get
    `default_weight` (0 by default: left out); special tokens always get 0. Queries run no
    network and no torch: a tokenizer call and a numpy lookup. In training the weights are a
    (frozen by default) `torch.nn.Parameter`, `network.query.weight`. `token_cache` remembers the
    token ids of query words (a `ChunkTokenCache`; None where the tokenizer does not allow one).
    """

    kind = "inference-free"

    @property  # type: ignore[override]
    def settings(self) -> InferenceFreeSettings:
        """The settings, held by the document encoder (whose SPLADE fields they drive)."""
        return self.doc_encoder.settings  # type: ignore[return-value]

    @settings.setter
    def settings(self, settings: InferenceFreeSettings) -> None:
        self.doc_encoder.settings = settings

    def __init__(self, doc_encoder: SpladeEncoder, table: Mapping[str, float], *, default_weight: float = 0.0,
                 weights_file: str = "idf.json"):
        splade = {f.name: getattr(doc_encoder.settings, f.name) for f in fields(SpladeSettings)}
        self.doc_encoder = doc_encoder
        # One settings object: its SPLADE fields drive the document encoder (see `settings`).
        doc_encoder.settings = InferenceFreeSettings(**splade, weights_file=weights_file,
                                                   default_weight=float(default_weight))
        self.table = dict(table)
        self.query_weights = self._weight_vector()
        self._query_weight_list = self.query_weights.tolist()
        self._quantized_tables: dict[float, list[int]] = {}
        self._query = QueryWeights(self.query_weights)  # `network.query`, typed
        self._network = torch.nn.ModuleDict({"doc": doc_encoder.model, "query": self._query})
        self._query.to(doc_encoder.device)
        backend = doc_encoder.tokenizer.backend_tokenizer
        self.token_cache = ChunkTokenCache(backend) if splits_at_spaces(backend) else None

    @classmethod
    def from_folder(cls, folder: str | Path, settings: InferenceFreeSettings | None = None, *,
                    table: Mapping[str, float] | None = None, device: str | None = None) -> InferenceFreeEncoder:
        """The masked LM in `folder` for documents; query weights from `table`, else `folder/<weights_file>`."""
        settings = settings or InferenceFreeSettings()
        if table is None:
            table = load_idf(Path(folder) / settings.weights_file)
        doc_settings = SpladeSettings(**{f.name: getattr(settings, f.name) for f in fields(SpladeSettings)})
        return cls(SpladeEncoder.from_folder(folder, doc_settings, device=device), table,
                   default_weight=settings.default_weight, weights_file=settings.weights_file)

    @property
    def default_weight(self) -> float:
        return self.settings.default_weight

    @property
    def weights_file(self) -> str:
        return self.settings.weights_file

    @property
    def vocab(self) -> list[str]:
        return self.doc_encoder.vocab

    @property
    def tokenizer(self):
        return self.doc_encoder.tokenizer

    @property
    def query_max_length(self) -> int:
        return self.settings.query_max_length

    @property
    def network(self) -> torch.nn.Module:
        """`doc`: the masked LM; `query`: the per-token query weights."""
        return self._network

    def forward(self, texts: Sequence[str], *, is_query: bool) -> torch.Tensor:
        if not is_query:
            return self.doc_encoder.forward(texts, is_query=False)
        return self._query(self.query_token_ids(texts))

    def adopt_trained_query_weights(self) -> None:
        """Make the (trained) `network.query.weight` the query weight table used and saved from now on."""
        weights = np.maximum(self._query.weight.detach().float().cpu().numpy(), 0.0)
        self.table = {token: float(w) for token, w in zip(self.vocab, weights.tolist()) if w != self.default_weight}
        self.query_weights = self._weight_vector()
        self._query_weight_list = self.query_weights.tolist()
        self._quantized_tables = {}

    def save(self, folder: str | Path) -> None:
        folder = Path(folder)
        self.doc_encoder.model.save_pretrained(folder)
        self.tokenizer.save_pretrained(folder)
        save_idf(self.table, folder / self.weights_file)
        ModelInfo(self.kind, self.recorded_settings()).save(folder)

    def _encode(self, texts: list[str], *, is_query: bool, progress: bool) -> SparseVectors:
        if not is_query:
            return self.doc_encoder.encode_docs(texts, progress=progress)
        return self._encode_queries(texts)

    def query_token_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's token ids without special tokens, truncated at `query_max_length`; through a
        cache of space-separated chunks where the tokenizer allows (a tenth of a tokenizer call)."""
        if self.token_cache is not None:
            rows = self.token_cache.ids(texts)
        else:
            tokenizer = self.tokenizer.backend_tokenizer
            rows = [e.ids for e in tokenizer.encode_batch(texts, add_special_tokens=False)]
        return [row[:self.query_max_length] for row in rows]

    def encode_quantized_queries(self, texts: Sequence[str], ids: Sequence[str] | None = None, *, scale: float,
                                 progress: bool = False) -> SparseVectors:
        """`encode_queries(texts, ids).quantize(scale)`, from the weight table quantized once (per scale):
        a search's per-query path. Tables that `quantize` refuses (negative or overflowing weights) take
        the general path, which refuses the queries holding such terms."""
        impacts = self._quantized_tables.get(scale)
        if impacts is None:
            table = self.query_weights.astype(np.float64) * scale
            if not (table.min() >= 0 and table.max() <= np.iinfo(np.int32).max):
                return super().encode_quantized_queries(texts, ids, scale=scale, progress=progress)
            impacts = self._quantized_tables[scale] = np.rint(table).astype(np.int64).tolist()
        return self._table_vectors(texts, row_ids(ids, len(texts)), impacts, np.int32, scale)

    def _encode_queries(self, texts: list[str]) -> SparseVectors:
        return self._table_vectors(texts, [str(i) for i in range(len(texts))], self._query_weight_list, np.float32)

    def _table_vectors(self, texts: Sequence[str], ids: list[str], weight_of: list, dtype: type,
                       scale: float | None = None) -> SparseVectors:
        """Each distinct token once, weighted from `weight_of` (zeros left out); plain Python, as queries
        are short. Valid by construction: sorted distinct ids from the vocabulary, finite weights."""
        indptr, indices, values = [0], [], []
        for tokens in self.query_token_ids(texts):
            for term in sorted(set(tokens)):
                if weight := weight_of[term]:
                    indices.append(term)
                    values.append(weight)
            indptr.append(len(indices))
        return SparseVectors.unchecked(ids, np.array(indptr, dtype=np.int64), np.array(indices, dtype=np.int32),
                                       np.array(values, dtype=dtype), len(self.vocab), scale)

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


class QueryWeights(torch.nn.Module):
    """A weight per vocabulary term (frozen unless `weight.requires_grad_()`); a query is the binary bag
    of its distinct tokens times relu(weight): q_j = 1[j in tokens(q)] · max(weight_j, 0)."""

    def __init__(self, weights: np.ndarray):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.from_numpy(np.asarray(weights, dtype=np.float32).copy()),
                                         requires_grad=False)

    def forward(self, token_ids: list[list[int]]) -> torch.Tensor:
        """[len(token_ids), vocab] query vectors (special tokens have weight 0 in the table)."""
        return idf_query_vectors(token_ids, self.weight)


def idf_query_vectors(token_ids: list[list[int]], idf: torch.Tensor, *,
                      special_ids: Sequence[int] = ()) -> torch.Tensor:
    """Query vectors [B, V]: `q_b(j) = 1[j ∈ token_ids[b], j ∉ special_ids] · max(idf_j, 0)`.

    A token counts once however often it occurs. The result has `idf`'s dtype and device and
    is differentiable in `idf` (which may be a trainable parameter).
    """
    if idf.ndim != 1:
        raise ValueError(f"expected an idf vector [V], got shape {tuple(idf.shape)}")
    vocab_size = idf.shape[0]
    rows = [row for row, ids in enumerate(token_ids) for _ in ids]
    cols = [token for ids in token_ids for token in ids]
    if any(not 0 <= token < vocab_size for token in (*cols, *special_ids)):
        raise ValueError(f"token ids must lie in [0, {vocab_size})")
    presence = torch.zeros(len(token_ids), vocab_size, dtype=idf.dtype, device=idf.device)
    presence[_long(rows, idf.device), _long(cols, idf.device)] = 1
    presence[:, _long(list(special_ids), idf.device)] = 0
    return presence * idf.relu()


def _long(values: list[int], device: torch.device) -> torch.Tensor:
    return torch.tensor(values, dtype=torch.long, device=device)

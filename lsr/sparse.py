"""`SparseVectors`: a batch of sparse term-weight vectors in CSR form, passed between stages.

Rows are documents or queries, columns are vocabulary term ids. Weights are float32, or
int32 impacts after `quantize()`, which also records the scale used: a vector has a scale
exactly when its weights are integers.
"""

from __future__ import annotations

import json
import math
import operator
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from lsr.errors import LsrError
from lsr.fileio import atomic_path

if TYPE_CHECKING:
    import pyarrow as pa
    import scipy.sparse
    import torch

METADATA_KEY = b"lsr"
# Largest offset an Arrow `list` column holds; beyond it `large_list` is written.
_LIST_OFFSET_MAX = 2**31 - 1
_INT32_MAX = 2**31 - 1  # the largest impact (int32)


@dataclass(eq=False, repr=False)
class SparseVectors:
    """Rows of sparse vectors over `vocab_size` terms, stored as CSR arrays.

    Row `i` has term ids `indices[indptr[i]:indptr[i+1]]` (strictly ascending) and the
    matching `values`. `scale` is set by `quantize()`: integer weight = round(w * scale).
    """

    ids: list[str]
    indptr: np.ndarray
    indices: np.ndarray
    values: np.ndarray
    vocab_size: int
    scale: float | None = None

    def __post_init__(self) -> None:
        self.ids = list(self.ids)
        self.vocab_size = operator.index(self.vocab_size)
        self.indptr = _as_1d("indptr", self.indptr, np.int64)
        self.indices = _as_1d("indices", self.indices, np.int32)
        values = np.asarray(self.values)
        # Empty weights take the dtype their scale implies.
        integer = np.issubdtype(values.dtype, np.integer) or (values.size == 0 and self.scale is not None)
        self.values = _as_1d("values", values, np.int32 if integer else np.float32)
        self.scale = None if self.scale is None else float(self.scale)
        self._validate()

    def _validate(self) -> None:
        indptr, indices, nnz = self.indptr, self.indices, len(self.indices)
        if self.vocab_size < 0:
            raise ValueError(f"vocab_size must be >= 0, got {self.vocab_size}")
        if len(indptr) != len(self.ids) + 1:
            raise ValueError(f"indptr has {len(indptr)} entries for {len(self.ids)} ids (needs len(ids) + 1)")
        if indptr[0] != 0 or indptr[-1] != nnz or (indptr[1:] < indptr[:-1]).any():
            raise ValueError(f"indptr must rise from 0 to the number of entries ({nnz}) without falling")
        if len(self.values) != nnz:
            raise ValueError(f"{len(self.values)} values for {nnz} term ids")
        if nnz and (indices.min() < 0 or indices.max() >= self.vocab_size):
            raise ValueError(f"term ids must lie in [0, {self.vocab_size}), "
                             f"found {indices.min()}..{indices.max()}")
        # A term id not above its predecessor is only allowed where a new row starts.
        not_rising = np.flatnonzero(indices[1:] <= indices[:-1]) + 1
        if not_rising.size:
            inside_a_row = not_rising[~np.isin(not_rising, indptr)]
            if inside_a_row.size:
                bad_row = int(np.searchsorted(indptr, inside_a_row[0], side="right")) - 1
                raise ValueError(f"row {self.ids[bad_row]!r}: term ids must be strictly ascending "
                                 "(sorted, no repeats)")
        if self.is_quantized != (self.values.dtype == np.int32):
            raise ValueError(f"{self.values.dtype} weights with scale={self.scale}: "
                             f"integer weights need a scale and float weights none")
        if self.scale is not None:
            if not (np.isfinite(self.scale) and self.scale > 0):
                raise ValueError(f"scale must be a positive number, got {self.scale}")
        elif not np.isfinite(self.values).all():
            raise ValueError("weights must be finite (found NaN or infinity)")

    def __len__(self) -> int:
        return len(self.ids)

    def __repr__(self) -> str:
        return (f"SparseVectors(rows={len(self)}, nnz={len(self.indices)}, "
                f"vocab_size={self.vocab_size}, scale={self.scale})")

    @property
    def is_quantized(self) -> bool:
        """Whether the weights are integer impacts made by `quantize()`."""
        return self.scale is not None

    def row(self, i: int) -> tuple[np.ndarray, np.ndarray]:
        """Term ids and weights of row `i` (views, not copies)."""
        i = range(len(self))[i]
        start, end = self.indptr[i], self.indptr[i + 1]
        return self.indices[start:end], self.values[start:end]

    def nnz_per_row(self) -> np.ndarray:
        """Number of stored terms in each row."""
        return np.diff(self.indptr)

    @classmethod
    def unchecked(cls, ids: list[str], indptr: np.ndarray, indices: np.ndarray, values: np.ndarray,
                  vocab_size: int, scale: float | None = None) -> SparseVectors:
        """Vectors from arrays that are valid by construction, skipping all checks and casts.

        For per-query hot paths only: `indptr` int64, `indices` int32 strictly ascending per row
        and below `vocab_size`, `values` finite float32 (or, with a positive `scale`, int32 impacts).
        Anything else belongs in the constructor.
        """
        vectors = cls.__new__(cls)
        vectors.ids, vectors.indptr, vectors.indices, vectors.values = ids, indptr, indices, values
        vectors.vocab_size, vectors.scale = vocab_size, scale
        return vectors

    @classmethod
    def empty(cls, vocab_size: int) -> SparseVectors:
        """No rows."""
        return cls([], np.zeros(1, np.int64), np.zeros(0, np.int32), np.zeros(0, np.float32), vocab_size)

    @classmethod
    def concat(cls, parts: Sequence[SparseVectors]) -> SparseVectors:
        """Rows of all `parts` in order; they must share `vocab_size` and `scale`."""
        if not parts:
            raise ValueError("concat needs at least one part")
        first = parts[0]
        for part in parts[1:]:
            if (part.vocab_size, part.scale) != (first.vocab_size, first.scale):
                raise ValueError(f"cannot concatenate vectors with vocab_size={part.vocab_size}, "
                                 f"scale={part.scale} to ones with vocab_size={first.vocab_size}, "
                                 f"scale={first.scale}")
        offsets = np.cumsum([0] + [len(p.indices) for p in parts])
        indptr = np.concatenate([[0]] + [p.indptr[1:] + off for p, off in zip(parts, offsets)])
        return cls([i for p in parts for i in p.ids], indptr,
                   np.concatenate([p.indices for p in parts]), np.concatenate([p.values for p in parts]),
                   first.vocab_size, first.scale)

    def group_max(self, groups: Sequence[int] | np.ndarray, ids: Sequence[str]) -> SparseVectors:
        """One row per id: the elementwise max of the rows whose `groups` entry is its position."""
        groups = np.asarray(groups, dtype=np.int64)
        entry_group = np.repeat(groups, self.nnz_per_row())
        order = np.lexsort((self.indices, entry_group))
        key = entry_group[order] * self.vocab_size + self.indices[order]
        starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]]) if key.size else np.zeros(0, dtype=np.int64)
        values = np.maximum.reduceat(self.values[order], starts) if key.size else self.values[:0]
        counts = np.bincount(entry_group[order][starts], minlength=len(ids))
        return SparseVectors(list(ids), np.concatenate([[0], np.cumsum(counts)]), self.indices[order][starts],
                             values, self.vocab_size, self.scale)

    def select(self, rows: Sequence[int] | np.ndarray) -> SparseVectors:
        """The given rows, in the given order (repeats and negative positions allowed)."""
        rows = np.arange(len(self))[np.asarray(rows, dtype=np.int64)]
        starts, counts = self.indptr[rows], self.nnz_per_row()[rows]
        indptr = np.concatenate([[0], np.cumsum(counts)])
        positions = np.repeat(starts - indptr[:-1], counts) + np.arange(indptr[-1])
        return SparseVectors([self.ids[r] for r in rows.tolist()], indptr, self.indices[positions],
                             self.values[positions], self.vocab_size, self.scale)

    def _keep(self, keep: np.ndarray, values: np.ndarray | None = None,
              scale: float | None = None) -> SparseVectors:
        """The entries where `keep` is true, with `values` (default: the current ones; int32 with a
        `scale`, float32 without) and `scale`. Valid by construction: a row's kept terms still ascend."""
        values = self.values if values is None else values
        if keep.all():  # the common case for a query: nothing left out, the layout stays
            return SparseVectors.unchecked(self.ids, self.indptr, self.indices, values, self.vocab_size, scale)
        kept_before = np.concatenate([[0], np.cumsum(keep, dtype=np.int64)])  # kept entries before each position
        return SparseVectors.unchecked(self.ids, kept_before[self.indptr], self.indices[keep], values[keep],
                                       self.vocab_size, scale)

    def prune(self, top_k: int | None = None, threshold: float | None = None,
              mass: float | None = None) -> SparseVectors:
        """Keep per row the `top_k` largest weights (ties: lower term id first), and/or the weights >
        `threshold`, and/or the largest weights that together first reach the fraction `mass` (0 < mass <= 1)
        of the row's L1 mass (the weight that crosses it kept; ties as for `top_k`)."""
        if top_k is None and threshold is None and mass is None:
            raise ValueError("prune needs top_k, threshold and/or mass")
        keep = np.ones(len(self.indices), dtype=bool)
        if threshold is not None:
            keep &= self.values > threshold
        if top_k is not None or mass is not None:
            rows = np.repeat(np.arange(len(self)), self.nnz_per_row())
            # Row, then weight descending; lexsort is stable, so ties keep ascending term ids.
            order = np.lexsort((-self.values.astype(np.float64), rows))
            rank = np.empty(len(order), dtype=np.int64)
            rank[order] = np.arange(len(order)) - self.indptr[rows[order]]
            if top_k is not None:
                if top_k < 0:
                    raise ValueError(f"top_k must be >= 0, got {top_k}")
                keep &= rank < top_k
            if mass is not None:
                keep &= self._within_mass(rows, order, mass)
        return self._keep(keep, scale=self.scale)

    def _within_mass(self, rows: np.ndarray, order: np.ndarray, mass: float) -> np.ndarray:
        """For each entry: whether the larger weights of its row (by `order`) hold less than `mass` of the
        row's L1 mass, so that it is among the weights needed to reach it."""
        if not 0 < mass <= 1:
            raise ValueError(f"mass must lie in (0, 1], got {mass}")
        weights = np.abs(self.values.astype(np.float64))[order]
        running = np.concatenate([[0.0], np.cumsum(weights)])  # mass of every entry before each position
        starts, totals = running[self.indptr[:-1]], np.diff(running[self.indptr])  # per row: before it, its own
        before = running[:-1]  # the mass of the larger weights of the row, plus all earlier rows'
        row_of = rows[order]
        needed = np.empty(len(order), dtype=bool)
        needed[order] = before - starts[row_of] < mass * totals[row_of]
        return needed

    def quantize(self, scale: float = 100.0) -> SparseVectors:
        """Integer impacts round(w * scale) as int32; entries that round to 0 are dropped."""
        if self.is_quantized:
            raise ValueError(f"vectors are already quantized (scale={self.scale})")
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"scale must be a positive number, got {scale}")
        if self.values.size and self.values.min() < 0:
            raise ValueError("cannot quantize negative weights (impact indexes need weights >= 0)")
        impacts = np.rint(self.values.astype(np.float64) * scale)
        if impacts.size and impacts.max() > _INT32_MAX:
            raise ValueError(f"weight {self.values.max()} times scale {scale} overflows int32")
        return self._keep(impacts != 0, impacts.astype(np.int32), scale)

    @classmethod
    def from_dense(cls, matrix: torch.Tensor | np.ndarray, ids: Sequence[str]) -> SparseVectors:
        """Rows of a [n, vocab] tensor (any device or dtype) or array, keeping entries != 0."""
        if isinstance(matrix, np.ndarray):
            dense = matrix.astype(np.float32, copy=False)
            _check_shape(dense.shape, ids)
            rows, indices = np.nonzero(dense)
            values, counts = dense[rows, indices], np.bincount(rows, minlength=len(dense))
            width = dense.shape[1]
        else:
            tensor = matrix.detach().float()
            _check_shape(tuple(tensor.shape), ids)
            tensor_rows, cols = tensor.nonzero(as_tuple=True)
            values = tensor[tensor_rows, cols].cpu().numpy()
            counts = tensor_rows.bincount(minlength=tensor.shape[0]).cpu().numpy()
            indices = cols.cpu().numpy()
            width = tensor.shape[1]
        indptr = np.concatenate([[0], np.cumsum(counts)])
        return cls(list(ids), indptr, indices, values, width)

    def to_torch(self, device: torch.device | str | None = None) -> torch.Tensor:
        """A torch sparse CSR tensor [n, vocab_size] with float32 values."""
        import torch

        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", "Sparse CSR tensor support is in beta")
            return torch.sparse_csr_tensor(
                torch.tensor(self.indptr), torch.tensor(self.indices, dtype=torch.int64),
                torch.tensor(self.values, dtype=torch.float32), size=(len(self), self.vocab_size),
                device=device, check_invariants=False)

    def to_dense_torch(self, device: torch.device | str | None = None) -> torch.Tensor:
        """A dense float32 tensor [n, vocab_size]."""
        return self.to_torch(device).to_dense()

    @classmethod
    def from_torch(cls, tensor: torch.Tensor, ids: Sequence[str]) -> SparseVectors:
        """Rows of a 2-D sparse CSR, sparse COO or dense tensor (float weights, zeros dropped)."""
        import scipy.sparse
        import torch

        if tensor.layout == torch.strided:
            return cls.from_dense(tensor, ids)
        if tensor.dim() != 2:
            raise ValueError(f"expected a 2-D tensor, got shape {tuple(tensor.shape)}")
        tensor = tensor.detach()
        shape = tuple(tensor.shape)
        if tensor.layout == torch.sparse_coo:
            tensor = tensor.coalesce()
            rows, cols = tensor.indices().cpu().numpy()
            matrix = scipy.sparse.csr_matrix((tensor.values().float().cpu().numpy(), (rows, cols)), shape=shape)
        elif tensor.layout == torch.sparse_csr:
            matrix = scipy.sparse.csr_matrix((tensor.values().float().cpu().numpy(),
                                              tensor.col_indices().cpu().numpy(),
                                              tensor.crow_indices().cpu().numpy()), shape=shape)
        else:
            raise ValueError(f"unsupported tensor layout {tensor.layout}")
        return cls.from_scipy(matrix, ids)

    def to_scipy(self) -> scipy.sparse.csr_matrix:
        """A scipy CSR matrix of shape (n, vocab_size) sharing this object's arrays."""
        import scipy.sparse

        return scipy.sparse.csr_matrix((self.values, self.indices, self.indptr), shape=(len(self), self.vocab_size))

    @classmethod
    def from_scipy(cls, matrix: scipy.sparse.spmatrix | scipy.sparse.sparray, ids: Sequence[str],
                   *, scale: float | None = None) -> SparseVectors:
        """Rows of a scipy sparse matrix; duplicates are summed and zeros dropped.

        Weights become float32, or stay integers when `scale` marks them quantized.
        """
        import scipy.sparse

        csr = scipy.sparse.csr_matrix(matrix, copy=True)
        _check_shape(csr.shape, ids)
        csr.sum_duplicates()
        csr.eliminate_zeros()
        values = csr.data if scale is not None else csr.data.astype(np.float32)
        return cls(list(ids), csr.indptr, csr.indices, values, csr.shape[1], scale)

    def to_dicts(self, vocab: Sequence[str]) -> list[dict[str, float | int]]:
        """One {token: weight} dict per row, highest weight first; `vocab[i]` is the token of term id i."""
        if len(vocab) != self.vocab_size:
            raise ValueError(f"vocabulary has {len(vocab)} tokens, vectors have vocab_size={self.vocab_size}")
        tokens = np.asarray(vocab, dtype=object)[self.indices].tolist()
        weights = self.values.tolist()
        bounds = self.indptr.tolist()
        return [dict(sorted(zip(tokens[a:b], weights[a:b]), key=lambda pair: -pair[1]))
                for a, b in zip(bounds, bounds[1:])]

    @classmethod
    def from_dicts(cls, dicts: Sequence[Mapping[str, float | int]], ids: Sequence[str],
                   vocab: Mapping[str, int] | Sequence[str], *, scale: float | None = None) -> SparseVectors:
        """Rows from {token: weight} dicts; `vocab` maps tokens to term ids or lists tokens by id.

        Weights become float32, or stay integers when `scale` marks them quantized.
        """
        if len(dicts) != len(ids):
            raise ValueError(f"{len(ids)} ids for {len(dicts)} dicts")
        term_of = vocab if isinstance(vocab, Mapping) else {token: i for i, token in enumerate(vocab)}
        terms: list[int] = []
        weights: list[float | int] = []
        for row_id, weight_of in zip(ids, dicts):
            for token, weight in weight_of.items():
                if token not in term_of:
                    raise ValueError(f"row {row_id!r}: token {token!r} is not in the vocabulary")
                terms.append(term_of[token])
                weights.append(weight)
        counts = np.array([len(d) for d in dicts], dtype=np.int64)
        rows = np.repeat(np.arange(len(dicts)), counts)
        indices, values = np.array(terms, dtype=np.int64), np.array(weights)
        order = np.lexsort((indices, rows))
        values = values[order] if scale is not None else values[order].astype(np.float32)
        return cls(list(ids), np.concatenate([[0], np.cumsum(counts)]), indices[order], values, len(vocab), scale)

    def dot(self, other: SparseVectors) -> np.ndarray:
        """Dense [len(self), len(other)] float64 matrix of inner products (brute force)."""
        if other.vocab_size != self.vocab_size:
            raise ValueError(f"vocab_size differs: {self.vocab_size} vs {other.vocab_size}")
        left = self.to_scipy().astype(np.float64)
        right = other.to_scipy().astype(np.float64)
        return (left @ right.T).toarray()

    def to_arrow(self) -> pa.Table:
        """Table with columns id, term_ids, weights (one row per vector); vocab_size and
        scale are JSON in the schema metadata under b"lsr"."""
        import pyarrow as pa

        if len(self.indices) > _LIST_OFFSET_MAX:
            offsets, list_array = pa.array(self.indptr), pa.LargeListArray
        else:
            offsets, list_array = pa.array(self.indptr.astype(np.int32)), pa.ListArray
        metadata = {METADATA_KEY: json.dumps({"vocab_size": self.vocab_size, "scale": self.scale}).encode()}
        return pa.table({"id": pa.array(self.ids, type=pa.string()),
                         "term_ids": list_array.from_arrays(offsets, pa.array(self.indices)),
                         "weights": list_array.from_arrays(offsets, pa.array(self.values))},
                        metadata=metadata)

    @classmethod
    def from_arrow(cls, table: pa.Table) -> SparseVectors:
        """Inverse of `to_arrow`; ValueError if the table is not one it wrote."""
        metadata = table.schema.metadata or {}
        if METADATA_KEY not in metadata:
            raise ValueError("not an lsr vector file (no b'lsr' schema metadata)")
        missing = {"id", "term_ids", "weights"} - set(table.column_names)
        if missing:
            raise ValueError(f"not an lsr vector file (missing columns {sorted(missing)})")
        settings = json.loads(metadata[METADATA_KEY])
        if not isinstance(settings, dict) or "vocab_size" not in settings:
            raise ValueError("not an lsr vector file (metadata lacks vocab_size)")
        if table.column("id").null_count:
            raise ValueError("ids hold nulls")
        term_ids, weights = (_list_parts(table.column(name).combine_chunks()) for name in ("term_ids", "weights"))
        if not np.array_equal(term_ids[0], weights[0]):
            raise ValueError("term_ids and weights rows differ in length")
        return cls(table.column("id").to_pylist(), term_ids[0], term_ids[1], weights[1],
                   settings["vocab_size"], settings.get("scale"))

    def to_parquet(self, path: str | os.PathLike) -> None:
        """Write a Parquet file atomically (see `to_arrow` for the layout)."""
        import pyarrow.parquet as pq

        with atomic_path(path) as tmp:
            pq.write_table(self.to_arrow(), tmp)

    @classmethod
    def read_parquet(cls, path: str | os.PathLike) -> SparseVectors:
        """Read a file written by `to_parquet`; LsrError naming `path` if it is not one."""
        import pyarrow.parquet as pq

        try:
            return cls.from_arrow(pq.read_table(path))
        except (OSError, ValueError) as error:
            raise LsrError(f"{path}: {error}") from error


def _as_1d(name: str, array: object, dtype: type[np.number]) -> np.ndarray:
    """`array` as a 1-D array of `dtype`; integer targets accept only integers that fit."""
    array = np.asarray(array)
    if array.ndim != 1:
        raise ValueError(f"{name} must be 1-D, got shape {array.shape}")
    if array.dtype == dtype:
        return array
    if array.size and issubclass(dtype, np.integer):
        if not np.issubdtype(array.dtype, np.integer):
            raise ValueError(f"{name} must hold integers, got {array.dtype}")
        limits = np.iinfo(dtype)
        if array.min() < limits.min or array.max() > limits.max:
            raise ValueError(f"{name} does not fit in {np.dtype(dtype).name}")
    return array.astype(dtype, copy=False)


def _check_shape(shape: tuple[int, ...], ids: Sequence[str]) -> None:
    if len(shape) != 2:
        raise ValueError(f"expected a 2-D [rows, vocab] matrix, got shape {shape}")
    if shape[0] != len(ids):
        raise ValueError(f"{len(ids)} ids for {shape[0]} rows")


def _list_parts(column: pa.ListArray | pa.LargeListArray) -> tuple[np.ndarray, np.ndarray]:
    """(offsets from 0, flat values) of an Arrow list column without nulls."""
    import pyarrow as pa

    if not (pa.types.is_list(column.type) or pa.types.is_large_list(column.type)):
        raise ValueError(f"not an lsr vector file (list column expected, got {column.type})")
    if column.null_count:
        raise ValueError("list columns hold nulls")
    offsets = column.offsets.to_numpy()
    return offsets - offsets[0], column.flatten().to_numpy(zero_copy_only=False)

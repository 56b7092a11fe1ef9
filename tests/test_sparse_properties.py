"""Property-based tests of `SparseVectors` (hypothesis) against numpy on the dense matrix.

Matrices have 0-6 rows (rows of zeros are common), 1-10 columns, and float32 weights that
include ties, signed zeros, subnormals and values near ±3.4e38.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse
import torch
from hypothesis import example, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from lsr.sparse import SparseVectors

MAX_ROWS, MAX_VOCAB = 6, 10
INT32_MAX = 2**31 - 1
TIES = st.sampled_from([0.25, 1.0, 3.0])
WEIGHTS = st.one_of(TIES, st.floats(width=32, allow_nan=False, allow_infinity=False))
NONNEGATIVE = st.one_of(TIES, st.floats(min_value=0.0, width=32, allow_infinity=False))
IDS = st.text(max_size=4)
FAST = settings(max_examples=150, deadline=None)


def matrices(weights: st.SearchStrategy[float] = WEIGHTS, vocab: int | None = None) -> st.SearchStrategy[np.ndarray]:
    """float32 [rows, vocab] arrays, about half zeros (`vocab` drawn when None)."""
    shapes = st.tuples(st.integers(0, MAX_ROWS), st.integers(1, MAX_VOCAB) if vocab is None else st.just(vocab))
    return arrays(np.float32, shapes, elements=st.one_of(st.just(0.0), weights))


def vectors_of(dense: np.ndarray, ids: list[str] | None = None) -> SparseVectors:
    return SparseVectors.from_dense(dense, [f"r{i}" for i in range(len(dense))] if ids is None else ids)


def impacts_of(dense: np.ndarray, scale: float = 100.0, ids: list[str] | None = None) -> SparseVectors:
    """Quantized vectors of |dense| capped at 1e6 (so impacts fit in int32)."""
    return vectors_of(np.minimum(np.abs(dense), 1e6), ids).quantize(scale)


def to_dense(vectors: SparseVectors) -> np.ndarray:
    return vectors.to_scipy().toarray()


def assert_same(a: SparseVectors, b: SparseVectors) -> None:
    """Equal ids, vocab_size, scale, and CSR arrays with their dtypes."""
    assert (a.ids, a.vocab_size, a.scale) == (b.ids, b.vocab_size, b.scale)
    for name in ("indptr", "indices", "values"):
        left, right = getattr(a, name), getattr(b, name)
        assert left.dtype == right.dtype, name
        np.testing.assert_array_equal(left, right, err_msg=name)


def assert_canonical(vectors: SparseVectors, dense: np.ndarray) -> None:
    """`vectors` holds exactly the nonzero entries of `dense`, row-major, term ids ascending, and passes
    the constructor's checks (results made without them, e.g. by `quantize`, included)."""
    vectors._validate()
    assert vectors.indptr.dtype == np.int64 and vectors.indices.dtype == np.int32
    rows, cols = np.nonzero(dense)
    np.testing.assert_array_equal(np.repeat(np.arange(len(vectors)), vectors.nnz_per_row()), rows)
    np.testing.assert_array_equal(vectors.indices, cols)
    np.testing.assert_array_equal(vectors.values, dense[rows, cols])
    assert vectors.vocab_size == dense.shape[1] and len(vectors) == len(dense)


# --- round trips ------------------------------------------------------------------------------------

@FAST
@given(matrices())
@example(np.zeros((0, 1), np.float32))
@example(np.array([[0.0], [1e-45], [-0.0], [3.4028235e38]], np.float32))
def test_dense_numpy_and_torch_round_trips(dense: np.ndarray) -> None:
    """from_dense keeps the nonzeros; torch dense, CSR and COO tensors carry them back unchanged."""
    vectors = vectors_of(dense)
    assert_canonical(vectors, dense)
    assert vectors.values.dtype == np.float32 and vectors.scale is None
    np.testing.assert_array_equal(to_dense(vectors), dense)
    np.testing.assert_array_equal(vectors.to_dense_torch().numpy(), dense)
    assert_same(SparseVectors.from_dense(torch.from_numpy(dense), vectors.ids), vectors)
    for tensor in (vectors.to_torch(), vectors.to_dense_torch(), vectors.to_dense_torch().to_sparse_coo()):
        assert_same(SparseVectors.from_torch(tensor, vectors.ids), vectors)


@FAST
@given(matrices(), st.booleans())
def test_scipy_round_trip(dense: np.ndarray, quantize: bool) -> None:
    vectors = impacts_of(dense, 7.0) if quantize else vectors_of(dense)
    matrix = vectors.to_scipy()
    assert matrix.shape == (len(vectors), vectors.vocab_size)
    assert_same(SparseVectors.from_scipy(matrix, vectors.ids, scale=vectors.scale), vectors)
    assert_same(SparseVectors.from_scipy(matrix.tocoo(), vectors.ids, scale=vectors.scale), vectors)


@FAST
@given(st.data(), st.integers(1, MAX_VOCAB))
def test_from_scipy_sums_duplicates_and_drops_zeros(data: st.DataObject, vocab: int) -> None:
    """Unordered COO triplets with repeats (small integers: exact sums, some cancelling to 0)."""
    rows = data.draw(st.integers(0, MAX_ROWS))
    cell = st.tuples(st.integers(0, max(rows - 1, 0)), st.integers(0, vocab - 1), st.integers(-3, 3))
    triplets = data.draw(st.lists(cell, max_size=20)) if rows else []
    expected = np.zeros((rows, vocab))
    for r, c, w in triplets:
        expected[r, c] += w
    r, c, w = (np.array([t[i] for t in triplets], dtype=int) for i in range(3))
    matrix = scipy.sparse.coo_matrix((w.astype(np.float32), (r, c)), shape=(rows, vocab))
    vectors = SparseVectors.from_scipy(matrix, [str(i) for i in range(rows)])
    assert_canonical(vectors, expected.astype(np.float32))


@FAST
@given(matrices(), st.data())
def test_parquet_and_arrow_round_trips(tmp_path_factory: pytest.TempPathFactory, dense: np.ndarray,
                                       data: st.DataObject) -> None:
    """Any ids (empty, unicode, repeated), float or quantized weights, come back as written."""
    ids = data.draw(st.lists(IDS, min_size=len(dense), max_size=len(dense)))
    vectors = vectors_of(dense, ids)
    if data.draw(st.booleans()):
        vectors = impacts_of(dense, data.draw(st.sampled_from([0.37, 1.0, 100.0])), ids)
    assert_same(SparseVectors.from_arrow(vectors.to_arrow()), vectors)
    path = Path(tmp_path_factory.getbasetemp()) / "property.parquet"
    vectors.to_parquet(path)
    assert_same(SparseVectors.read_parquet(path), vectors)


@FAST
@given(matrices())
@example(np.array([[1.0, 3.0, 1.0, 0.0, 3.0]], np.float32))
def test_dicts_round_trip_highest_weight_first(dense: np.ndarray) -> None:
    vectors = vectors_of(dense)
    vocab = [f"t{i}" for i in range(vectors.vocab_size)]
    dicts = vectors.to_dicts(vocab)
    for row, weights in zip(dense, dicts):
        assert weights == {vocab[t]: float(row[t]) for t in np.flatnonzero(row)}
        listed = list(weights.values())
        assert listed == sorted(listed, reverse=True)
    assert_same(SparseVectors.from_dicts(dicts, vectors.ids, vocab), vectors)
    shuffled = [dict(reversed(d.items())) for d in dicts]
    assert_same(SparseVectors.from_dicts(shuffled, vectors.ids, {t: i for i, t in enumerate(vocab)}), vectors)
    quantized = impacts_of(dense, 10.0)
    back = SparseVectors.from_dicts(quantized.to_dicts(vocab), quantized.ids, vocab, scale=10.0)
    assert_same(back, quantized)


# --- pruning and quantization -----------------------------------------------------------------------

def naive_prune(dense: np.ndarray, top_k: int | None, threshold: float | None) -> np.ndarray:
    """Per row: nonzero weights above `threshold`, then the `top_k` largest (ties: lower term id)."""
    out = np.zeros_like(dense)
    for r, row in enumerate(dense):
        terms = [t for t in np.flatnonzero(row).tolist() if threshold is None or row[t] > threshold]
        for t in sorted(terms, key=lambda t: (-row[t], t))[:top_k]:
            out[r, t] = row[t]
    return out


THRESHOLDS = st.none() | st.integers(0, 2 * MAX_VOCAB) | st.floats(width=32, allow_nan=False, allow_infinity=False)


@settings(max_examples=300, deadline=None)
@given(matrices(), st.none() | st.integers(0, 4) | st.integers(0, MAX_VOCAB + 1), THRESHOLDS)
@example(np.array([[1.0, 3.0, 1.0, 1.0, 3.0], [-5.0, 0.0, 2.0, 1.0, 0.0]], np.float32), 3, None)
def test_prune_keeps_the_k_largest_and_those_above_the_threshold(dense: np.ndarray, top_k: int | None,
                                                                 threshold: float | None) -> None:
    """Ties are common (weights 1 and 3 above: terms 1, 4, 0 kept), signed weights are kept by value,
    not magnitude; an int threshold picks one of the row weights (equal weights are not above it)."""
    values = sorted(set(dense[dense != 0].tolist()))
    if isinstance(threshold, int):
        threshold = values[threshold % len(values)] if values else None
    if top_k is None and threshold is None:
        with pytest.raises(ValueError, match="top_k, threshold and/or mass"):
            vectors_of(dense).prune()
        return
    pruned = vectors_of(dense).prune(top_k=top_k, threshold=threshold)
    assert_canonical(pruned, naive_prune(dense, top_k, threshold))
    assert pruned.ids == [f"r{i}" for i in range(len(dense))]


@settings(max_examples=300, deadline=None)
@given(matrices(), st.floats(min_value=1e-3, max_value=1e4))
@example(np.array([[1.0, 0.5, 0.0]], np.float32), float(INT32_MAX))  # largest impact: accepted
@example(np.array([[1.0, 0.5, 0.0]], np.float32), float(INT32_MAX + 1))  # one more: refused
@example(np.array([[0.5, 1.5, 2.5, 0.25]], np.float32), 1.0)  # halves round to even: 0 2 2 0
def test_quantize_is_round_w_times_scale_without_zeros(dense: np.ndarray, scale: float) -> None:
    vectors = vectors_of(dense)
    if (dense < 0).any():
        with pytest.raises(ValueError, match="negative"):
            vectors.quantize(scale)
        return
    expected = np.array([[round(float(w) * scale) for w in row] for row in dense]).reshape(dense.shape)
    if expected.size and expected.max() > INT32_MAX:
        with pytest.raises(ValueError, match="overflows int32"):
            vectors.quantize(scale)
        return
    quantized = vectors.quantize(scale)
    assert quantized.scale == scale and quantized.values.dtype == np.int32 and quantized.ids == vectors.ids
    assert_canonical(quantized, expected)
    with pytest.raises(ValueError, match="already quantized"):
        quantized.quantize(scale)


# --- concat, select, group_max -----------------------------------------------------------------------

@FAST
@given(st.integers(1, MAX_VOCAB).flatmap(lambda v: st.lists(matrices(vocab=v), min_size=1, max_size=4)))
def test_concat_stacks_the_rows(parts: list[np.ndarray]) -> None:
    vectors = [vectors_of(p, [f"p{i}-{j}" for j in range(len(p))]) for i, p in enumerate(parts)]
    joined = SparseVectors.concat(vectors)
    assert_canonical(joined, np.vstack(parts))
    assert joined.ids == [i for v in vectors for i in v.ids]
    other = SparseVectors.empty(vectors[0].vocab_size + 1)
    with pytest.raises(ValueError, match="cannot concatenate"):
        SparseVectors.concat([*vectors, other])
    with pytest.raises(ValueError, match="at least one part"):
        SparseVectors.concat([])


@FAST
@given(matrices(), st.data())
def test_select_takes_rows_in_order_with_repeats_and_negative_positions(dense: np.ndarray,
                                                                      data: st.DataObject) -> None:
    n = len(dense)
    rows = data.draw(st.lists(st.integers(-n, n - 1), max_size=8)) if n else []
    vectors = vectors_of(dense)
    chosen = vectors.select(rows)
    assert_canonical(chosen, dense[np.array(rows, dtype=int)])
    assert chosen.ids == [vectors.ids[r] for r in rows]
    quantized = impacts_of(dense, 5.0)
    assert_canonical(quantized.select(rows), to_dense(quantized)[np.array(rows, dtype=int)])
    assert quantized.select(rows).scale == 5.0


@FAST
@given(matrices(NONNEGATIVE), st.integers(1, 4), st.data())
def test_group_max_is_the_elementwise_max_of_each_groups_rows(dense: np.ndarray, groups_count: int,
                                                              data: st.DataObject) -> None:
    """Nonnegative weights (as SPLADE's): a group without rows is an empty row."""
    groups = data.draw(st.lists(st.integers(0, groups_count - 1), min_size=len(dense), max_size=len(dense)))
    ids = [f"g{j}" for j in range(groups_count)]
    pooled = vectors_of(dense).group_max(groups, ids)
    assert_canonical(pooled, naive_group_max(dense, groups, groups_count))
    assert pooled.ids == ids
    impacts = impacts_of(dense, 10.0)
    pooled = impacts.group_max(np.array(groups, dtype=int), ids)
    assert pooled.scale == 10.0 and pooled.values.dtype == np.int32
    assert_canonical(pooled, naive_group_max(to_dense(impacts), groups, groups_count))


def naive_group_max(dense: np.ndarray, groups: list[int], count: int) -> np.ndarray:
    """Row j: the elementwise max of the rows in group j (zeros for a group without rows)."""
    out = np.zeros((count, dense.shape[1]), dense.dtype)
    for row, group in zip(dense, groups):
        out[group] = np.maximum(out[group], row)
    return out

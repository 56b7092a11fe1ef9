"""`SparseVectors`: conversions, pruning (and `Pruning` of documents and queries), quantization, Parquet files
and validation."""

from __future__ import annotations

import json

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import scipy.sparse
import torch

import lsr.sparse
from lsr.errors import LsrError
from lsr.sparse import METADATA_KEY, SparseVectors

VOCAB_SIZE = 50
VOCAB = [f"tok{i}" for i in range(VOCAB_SIZE)]


def random_dense(seed: int, rows: int = 7, density: float = 0.2, ties: bool = False) -> np.ndarray:
    """A [rows, VOCAB_SIZE] float32 array, mostly zeros, with an all-zero row; `ties` draws
    weights from a handful of values so equal weights are common."""
    rng = np.random.default_rng(seed)
    weights = rng.choice([0.5, 1.0, 1.5], size=(rows, VOCAB_SIZE)) if ties else rng.gamma(1.0, 1.0, (rows, VOCAB_SIZE))
    dense = np.where(rng.random((rows, VOCAB_SIZE)) < density, weights, 0).astype(np.float32)
    dense[rows // 2] = 0
    return dense


def random_vectors(seed: int = 0, rows: int = 7, **kwargs) -> SparseVectors:
    return SparseVectors.from_dense(random_dense(seed, rows, **kwargs), [f"d{seed}-{i}" for i in range(rows)])


def assert_same(a: SparseVectors, b: SparseVectors) -> None:
    assert a.ids == b.ids
    assert (a.vocab_size, a.scale) == (b.vocab_size, b.scale)
    for name in ("indptr", "indices", "values"):
        left, right = getattr(a, name), getattr(b, name)
        assert left.dtype == right.dtype, name
        np.testing.assert_array_equal(left, right, err_msg=name)


def to_dense(vectors: SparseVectors) -> np.ndarray:
    return vectors.to_scipy().toarray()


def test_from_dense_keeps_nonzero_entries_in_csr_order():
    dense = random_dense(1)
    vectors = SparseVectors.from_dense(dense, list("abcdefg"))
    assert len(vectors) == 7 and vectors.ids == list("abcdefg") and not vectors.is_quantized
    assert vectors.indptr.dtype == np.int64 and vectors.indices.dtype == np.int32
    assert vectors.values.dtype == np.float32
    np.testing.assert_array_equal(vectors.nnz_per_row(), (dense != 0).sum(axis=1))
    assert vectors.nnz_per_row()[3] == 0
    terms, weights = vectors.row(0)
    np.testing.assert_array_equal(terms, np.flatnonzero(dense[0]))
    np.testing.assert_array_equal(weights, dense[0][dense[0] != 0])
    np.testing.assert_array_equal(vectors.row(-1)[0], np.flatnonzero(dense[-1]))
    np.testing.assert_array_equal(to_dense(vectors), dense)


def test_from_dense_torch_matches_numpy():
    dense = random_dense(2)
    assert_same(SparseVectors.from_dense(torch.from_numpy(dense), list("abcdefg")),
                SparseVectors.from_dense(dense, list("abcdefg")))


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs a GPU"))])
def test_from_dense_bf16_tensor(device):
    tensor = torch.from_numpy(random_dense(3)).to(device=device, dtype=torch.bfloat16)
    vectors = SparseVectors.from_dense(tensor, list("abcdefg"))
    assert vectors.values.dtype == np.float32
    np.testing.assert_array_equal(to_dense(vectors), tensor.float().cpu().numpy())


def test_from_dense_rejects_wrong_shapes():
    with pytest.raises(ValueError, match="2 ids for 7 rows"):
        SparseVectors.from_dense(random_dense(4), ["a", "b"])
    with pytest.raises(ValueError, match="2-D"):
        SparseVectors.from_dense(np.zeros(5), ["a"])


def test_torch_round_trips():
    vectors = random_vectors(5)
    csr = vectors.to_torch()
    assert csr.layout == torch.sparse_csr and csr.dtype == torch.float32
    assert tuple(csr.shape) == (7, VOCAB_SIZE)
    dense = vectors.to_dense_torch()
    np.testing.assert_array_equal(dense.numpy(), to_dense(vectors))
    assert_same(SparseVectors.from_torch(csr, vectors.ids), vectors)
    assert_same(SparseVectors.from_torch(dense.to_sparse_coo(), vectors.ids), vectors)
    assert_same(SparseVectors.from_torch(dense, vectors.ids), vectors)


def test_from_torch_coo_sums_duplicates_and_drops_zeros():
    coo = torch.sparse_coo_tensor(torch.tensor([[0, 0, 1, 1], [4, 4, 2, 3]]), torch.tensor([1.0, 2.0, 0.0, 5.0]),
                                  size=(2, VOCAB_SIZE), check_invariants=True)
    vectors = SparseVectors.from_torch(coo, ["a", "b"])
    assert vectors.to_dicts(VOCAB) == [{"tok4": 3.0}, {"tok3": 5.0}]


def test_scipy_round_trips_float_and_quantized():
    for vectors in (random_vectors(6), random_vectors(6).quantize(10.0)):
        matrix = vectors.to_scipy()
        assert matrix.shape == (7, VOCAB_SIZE)
        assert_same(SparseVectors.from_scipy(matrix, vectors.ids, scale=vectors.scale), vectors)


def test_from_scipy_sorts_sums_duplicates_and_drops_zeros():
    matrix = scipy.sparse.csr_matrix((np.array([2.0, 1.0, 1.0, 0.0]), np.array([9, 3, 9, 7]), np.array([0, 4])),
                                     shape=(1, VOCAB_SIZE))
    vectors = SparseVectors.from_scipy(matrix, ["q"])
    np.testing.assert_array_equal(vectors.indices, [3, 9])
    np.testing.assert_array_equal(vectors.values, [1.0, 3.0])
    assert matrix.nnz == 4, "the input matrix is left as it was"


def test_dicts_round_trip():
    vectors = random_vectors(7)
    dicts = vectors.to_dicts(VOCAB)
    assert dicts[3] == {}
    assert dicts[0] == {VOCAB[t]: w for t, w in zip(*map(np.ndarray.tolist, vectors.row(0)))}
    assert_same(SparseVectors.from_dicts(dicts, vectors.ids, VOCAB), vectors)
    term_of = {token: i for i, token in enumerate(VOCAB)}
    assert_same(SparseVectors.from_dicts(dicts, vectors.ids, term_of), vectors)

    quantized = vectors.quantize()
    int_dicts = quantized.to_dicts(VOCAB)
    assert all(type(w) is int for d in int_dicts for w in d.values())
    for row in dicts + int_dicts:  # highest weight first
        assert list(row.values()) == sorted(row.values(), reverse=True)
    assert_same(SparseVectors.from_dicts(int_dicts, quantized.ids, VOCAB, scale=quantized.scale), quantized)


def test_from_dicts_sorts_terms_and_names_unknown_tokens():
    vectors = SparseVectors.from_dicts([{"tok9": 1.0, "tok2": 2}], ["q1"], VOCAB)
    np.testing.assert_array_equal(vectors.indices, [2, 9])
    np.testing.assert_array_equal(vectors.values, np.array([2.0, 1.0], dtype=np.float32))
    with pytest.raises(ValueError, match=r"row 'q2': token 'nope' is not in the vocabulary"):
        SparseVectors.from_dicts([{"tok1": 1.0}, {"nope": 1.0}], ["q1", "q2"], VOCAB)
    with pytest.raises(ValueError, match="1 ids for 2 dicts"):
        SparseVectors.from_dicts([{}, {}], ["q1"], VOCAB)
    with pytest.raises(ValueError, match="vocabulary has 3 tokens"):
        vectors.to_dicts(VOCAB[:3])


@pytest.mark.parametrize("quantize", [False, True])
def test_parquet_round_trip(tmp_path, quantize):
    vectors = random_vectors(8, rows=30)
    vectors = vectors.quantize(7.5) if quantize else vectors
    path = tmp_path / "sub" / "part-00000.parquet"
    vectors.to_parquet(path)
    assert [p.name for p in path.parent.iterdir()] == [path.name], "no temporary left behind"
    schema = pq.read_schema(path)
    assert schema.field("term_ids").type == pa.list_(pa.int32())
    assert schema.field("weights").type == pa.list_(pa.int32() if quantize else pa.float32())
    assert json.loads(schema.metadata[b"lsr"]) == {"vocab_size": VOCAB_SIZE, "scale": vectors.scale}
    assert_same(SparseVectors.read_parquet(path), vectors)


def test_parquet_round_trip_of_empty_vectors(tmp_path):
    for vectors in (SparseVectors.empty(VOCAB_SIZE), random_vectors(9).prune(top_k=0).quantize()):
        vectors.to_parquet(tmp_path / "empty.parquet")
        assert_same(SparseVectors.read_parquet(tmp_path / "empty.parquet"), vectors)


def test_arrow_reads_sliced_chunked_and_large_list_tables(monkeypatch):
    vectors = random_vectors(10, rows=9)
    table = vectors.to_arrow()
    chunked = pa.concat_tables([table.slice(0, 4), table.slice(4)])
    assert_same(SparseVectors.from_arrow(chunked), vectors)
    assert_same(SparseVectors.from_arrow(table.slice(2, 5)), vectors.select(range(2, 7)))
    monkeypatch.setattr(lsr.sparse, "_LIST_OFFSET_MAX", 3)
    large = vectors.to_arrow()
    assert large.schema.field("weights").type == pa.large_list(pa.float32())
    assert_same(SparseVectors.from_arrow(large), vectors)


def test_read_parquet_refuses_other_files(tmp_path):
    plain = tmp_path / "plain.parquet"
    pq.write_table(pa.table({"id": ["a"], "x": [1]}), plain)
    with pytest.raises(LsrError, match=r"plain\.parquet: not an lsr vector file \(no b'lsr'"):
        SparseVectors.read_parquet(plain)
    table = random_vectors(11).to_arrow()
    pq.write_table(table.drop_columns(["weights"]), tmp_path / "partial.parquet")
    with pytest.raises(LsrError, match=r"partial\.parquet: not an lsr vector file \(missing columns \['weights'\]"):
        SparseVectors.read_parquet(tmp_path / "partial.parquet")
    (tmp_path / "junk.parquet").write_text("not parquet")
    with pytest.raises(LsrError, match=r"junk\.parquet: "):
        SparseVectors.read_parquet(tmp_path / "junk.parquet")


def naive_prune(dense: np.ndarray, top_k: int | None, threshold: float | None) -> np.ndarray:
    out = np.zeros_like(dense)
    for r, row in enumerate(dense):
        terms = [t for t in range(len(row)) if row[t] != 0 and (threshold is None or row[t] > threshold)]
        terms.sort(key=lambda t: (-row[t], t))
        for t in terms[:top_k]:
            out[r, t] = row[t]
    return out


@pytest.mark.parametrize("top_k, threshold", [(0, None), (1, None), (3, None), (100, None),
                                              (None, 0.5), (None, 1.0), (4, 0.5), (2, 1.2)])
@pytest.mark.parametrize("ties", [False, True])
def test_prune_matches_naive_reference(top_k, threshold, ties):
    for seed in range(5):
        dense = random_dense(seed, rows=12, density=0.4, ties=ties)
        vectors = SparseVectors.from_dense(dense, [str(i) for i in range(12)])
        pruned = vectors.prune(top_k=top_k, threshold=threshold)
        assert pruned.ids == vectors.ids
        np.testing.assert_array_equal(to_dense(pruned), naive_prune(dense, top_k, threshold))


def test_prune_keeps_scale_and_checks_arguments():
    quantized = random_vectors(12).quantize()
    pruned = quantized.prune(top_k=2)
    assert pruned.scale == quantized.scale and pruned.values.dtype == np.int32
    assert pruned.nnz_per_row().max() == 2
    with pytest.raises(ValueError, match="top_k, threshold and/or mass"):
        quantized.prune()
    with pytest.raises(ValueError, match="top_k must be >= 0"):
        quantized.prune(top_k=-1)


def test_quantize_rounds_drops_zeros_and_records_scale():
    dense = np.array([[0.004, 0.006, 0.015, 0.025, 1.234, 0.0, 2.0]], dtype=np.float32)
    quantized = SparseVectors.from_dense(dense, ["q"]).quantize(100.0)
    assert quantized.is_quantized and quantized.scale == 100.0 and quantized.values.dtype == np.int32
    expected = {t: round(float(w) * 100.0) for t, w in enumerate(dense[0]) if round(float(w) * 100.0)}
    assert dict(zip(*map(np.ndarray.tolist, quantized.row(0)))) == expected
    assert 0 not in expected and 1 in expected

    vectors = random_vectors(13)
    quantized = vectors.quantize(3.0)
    np.testing.assert_array_equal(to_dense(quantized), np.rint(to_dense(vectors).astype(np.float64) * 3.0))


def test_quantize_refuses_bad_input():
    vectors = random_vectors(14)
    with pytest.raises(ValueError, match="already quantized"):
        vectors.quantize().quantize()
    with pytest.raises(ValueError, match="negative"):
        SparseVectors.from_dense(np.array([[1.0, -0.5]]), ["q"]).quantize()
    with pytest.raises(ValueError, match="scale must be a positive"):
        vectors.quantize(0.0)
    with pytest.raises(ValueError, match="overflows int32"):
        vectors.quantize(1e12)


def test_concat_and_select():
    parts = [random_vectors(seed, rows=rows) for seed, rows in [(15, 3), (16, 1), (17, 5)]]
    joined = SparseVectors.concat(parts)
    assert joined.ids == [i for p in parts for i in p.ids]
    np.testing.assert_array_equal(to_dense(joined), np.vstack([to_dense(p) for p in parts]))
    assert_same(SparseVectors.concat([SparseVectors.empty(VOCAB_SIZE), parts[0]]), parts[0])

    rows = [8, 0, 3, 3, -1]
    picked = joined.select(rows)
    assert picked.ids == [joined.ids[r] for r in rows]
    np.testing.assert_array_equal(to_dense(picked), to_dense(joined)[rows])
    assert_same(joined.select(np.argsort(np.arange(9)[::-1])).select(np.arange(9)[::-1]), joined)
    assert len(joined.select([])) == 0
    with pytest.raises(IndexError):
        joined.select([9])


def test_concat_refuses_mismatched_parts():
    vectors = random_vectors(18)
    with pytest.raises(ValueError, match="vocab_size"):
        SparseVectors.concat([vectors, SparseVectors.empty(VOCAB_SIZE + 1)])
    with pytest.raises(ValueError, match="scale"):
        SparseVectors.concat([vectors, vectors.quantize()])
    with pytest.raises(ValueError, match="at least one"):
        SparseVectors.concat([])


def test_dot_matches_dense_product():
    queries, docs = random_vectors(19, rows=4), random_vectors(20, rows=6)
    scores = queries.dot(docs)
    assert scores.shape == (4, 6)
    np.testing.assert_allclose(scores, to_dense(queries).astype(np.float64) @ to_dense(docs).T.astype(np.float64))
    with pytest.raises(ValueError, match="vocab_size differs"):
        queries.dot(SparseVectors.empty(VOCAB_SIZE + 1))


def test_empty_and_repr():
    empty = SparseVectors.empty(VOCAB_SIZE)
    assert len(empty) == 0 and empty.to_scipy().shape == (0, VOCAB_SIZE)
    assert repr(random_vectors(21).quantize(2.0)).startswith("SparseVectors(rows=7, nnz=")


def test_constructor_casts_dtypes():
    vectors = SparseVectors(["a", "b"], [0, 2, 3], [1, 4, 0], [1.5, 2.0, 3.0], VOCAB_SIZE)
    assert (vectors.indptr.dtype, vectors.indices.dtype, vectors.values.dtype) == (np.int64, np.int32, np.float32)
    quantized = SparseVectors(("a",), np.array([0, 2]), np.array([1, 4], dtype=np.int64),
                              np.array([3, 5], dtype=np.int64), VOCAB_SIZE, scale=10)
    assert quantized.values.dtype == np.int32 and quantized.scale == 10.0
    assert SparseVectors(["a"], [0, 0], [], [], VOCAB_SIZE, scale=1.0).values.dtype == np.int32


@pytest.mark.parametrize("args, message", [
    ((["a", "b"], [0, 1], [1], [1.0]), "indptr has 2 entries for 2 ids"),
    ((["a"], [1, 1], [1], [1.0]), "indptr must rise from 0"),
    ((["a", "b"], [0, 2, 1], [1], [1.0]), "indptr must rise from 0"),
    ((["a"], [0, 2], [1], [1.0]), "indptr must rise from 0"),
    ((["a"], [0, 1], [1], [1.0, 2.0]), "2 values for 1 term ids"),
    ((["a"], [0, 1], [VOCAB_SIZE], [1.0]), r"term ids must lie in \[0, 50\)"),
    ((["a"], [0, 1], [-1], [1.0]), r"term ids must lie in \[0, 50\)"),
    ((["a", "b"], [0, 1, 3], [4, 7, 2], [1.0, 1.0, 1.0]), "row 'b': term ids must be strictly ascending"),
    ((["a", "b"], [0, 2, 2], [3, 3], [1.0, 1.0]), "row 'a': term ids must be strictly ascending"),
    ((["a"], [0, 1], [1.5], [1.0]), "indices must hold integers"),
    ((["a"], [0, 1], [2**40], [1.0]), "indices does not fit in int32"),
    ((["a"], [0, 1], [[1]], [1.0]), "indices must be 1-D"),
    ((["a"], [0, 1], [1], [np.nan]), "weights must be finite"),
    ((["a"], [0, 1], [1], [3]), "integer weights need a scale"),
    ((["a"], [0, 1], [1], [3.0], VOCAB_SIZE, 10.0), "integer weights need a scale"),
    ((["a"], [0, 1], [1], [3], VOCAB_SIZE, -1.0), "scale must be a positive number"),
])
def test_constructor_rejects_inconsistent_input(args, message):
    args = args if len(args) > 4 else (*args, VOCAB_SIZE)
    with pytest.raises(ValueError, match=message):
        SparseVectors(*args)


def test_unchecked_wraps_the_same_arrays_as_the_constructor():
    vectors = random_vectors(5)
    same = SparseVectors.unchecked(vectors.ids, vectors.indptr, vectors.indices, vectors.values, VOCAB_SIZE)
    assert_same(same, vectors)
    assert same.scale is None and same.indices is vectors.indices


def test_rows_may_restart_term_ids():
    vectors = SparseVectors(["a", "b", "c"], [0, 2, 2, 4], [5, 9, 1, 2], [1.0, 2.0, 3.0, 4.0], VOCAB_SIZE)
    assert vectors.to_dicts(VOCAB) == [{"tok5": 1.0, "tok9": 2.0}, {}, {"tok1": 3.0, "tok2": 4.0}]


def test_group_max_takes_the_elementwise_max_per_group():
    dense = np.array([[1, 0, 3, 0], [2, 0, 1, 0], [0, 0, 0, 0], [0, 5, 0, 0]], dtype=np.float32)
    vectors = SparseVectors.from_dense(dense, ["a", "b", "c", "d"])
    pooled = vectors.group_max([0, 0, 2, 1], ["x", "y", "z"])
    assert pooled.ids == ["x", "y", "z"]
    assert np.array_equal(pooled.to_scipy().toarray(), [[2, 0, 3, 0], [0, 5, 0, 0], [0, 0, 0, 0]])


# --- four-letter vocabulary: scales, dtypes, devices and metadata --------------------------------------

LETTERS = ["a", "b", "c", "d"]


def letter_vectors() -> SparseVectors:
    """Three vectors over LETTERS, float weights, the middle one empty."""
    return SparseVectors.from_dicts([{"a": 0.5, "c": 1.25}, {}, {"b": 2.0, "d": 0.014}], ["x", "y", "z"], LETTERS)


def test_concat_of_quantized_parts_keeps_their_scale():
    quantized = letter_vectors().quantize(10.0)
    both = SparseVectors.concat([quantized.select([0]), quantized.select([1, 2])])
    assert both.scale == 10.0 and both.values.dtype == np.int32
    assert both.to_dicts(LETTERS) == quantized.to_dicts(LETTERS) == [{"c": 12, "a": 5}, {}, {"b": 20}]


def test_quantize_defaults_to_scale_100():
    quantized = letter_vectors().quantize()
    assert quantized.scale == 100.0
    assert quantized.to_dicts(LETTERS) == [{"c": 125, "a": 50}, {}, {"b": 200, "d": 1}]


def test_quantize_drops_stored_zero_weights():
    """A weight of exactly 0 is not negative: it rounds to 0 and is dropped, like small weights."""
    vectors = SparseVectors.from_dicts([{"a": 0.0, "b": 1.0}, {"c": 0.0}], ["x", "y"], LETTERS)
    assert vectors.nnz_per_row().tolist() == [2, 1]
    assert vectors.quantize(100.0).to_dicts(LETTERS) == [{"b": 100}, {}]


def test_to_torch_gives_float32_on_the_device_asked_for():
    quantized = letter_vectors().quantize(10.0)
    tensor = quantized.to_torch()
    assert tensor.dtype == torch.float32 and tensor.layout == torch.sparse_csr
    assert quantized.to_dense_torch().dtype == torch.float32
    assert quantized.to_dense_torch().tolist() == [[5.0, 0.0, 12.0, 0.0], [0.0] * 4, [0.0, 20.0, 0.0, 0.0]]
    # The meta device stands in for a GPU: the tensor must land where it is asked to.
    assert letter_vectors().to_torch(device="meta").device.type == "meta"
    assert letter_vectors().to_dense_torch(device="meta").device.type == "meta"


def test_from_scipy_makes_integer_counts_float_weights_without_a_scale():
    counts = scipy.sparse.csr_matrix(np.array([[0, 2, 0, 1], [3, 0, 0, 0]], dtype=np.int64))
    vectors = SparseVectors.from_scipy(counts, ["x", "y"])
    assert vectors.scale is None and vectors.values.dtype == np.float32
    assert vectors.to_dicts(LETTERS) == [{"b": 2.0, "d": 1.0}, {"a": 3.0}]


def test_from_dicts_uses_the_ids_a_vocabulary_mapping_gives():
    """The mapping's ids count, not its insertion order."""
    vocab = {"d": 3, "b": 1, "a": 0, "c": 2}
    vectors = SparseVectors.from_dicts([{"d": 1.0, "a": 2.0}], ["x"], vocab)
    assert vectors.indices.tolist() == [0, 3] and vectors.values.tolist() == [2.0, 1.0]
    assert vectors.vocab_size == 4


def test_from_dicts_makes_integer_weights_float_without_a_scale():
    vectors = SparseVectors.from_dicts([{"a": 2, "b": 1}], ["x"], LETTERS)
    assert vectors.scale is None and vectors.values.dtype == np.float32 and vectors.values.tolist() == [2.0, 1.0]


def test_a_vector_file_whose_lsr_metadata_lacks_vocab_size_is_refused(tmp_path):
    table = letter_vectors().to_arrow()
    broken = table.replace_schema_metadata({METADATA_KEY: json.dumps({"scale": None}).encode()})
    with pytest.raises(ValueError, match="metadata lacks vocab_size"):
        SparseVectors.from_arrow(broken)
    pq.write_table(broken, tmp_path / "broken.parquet")
    with pytest.raises(LsrError, match=r"broken\.parquet: not an lsr vector file \(metadata lacks vocab_size\)"):
        SparseVectors.read_parquet(tmp_path / "broken.parquet")


def test_a_zero_scale_is_refused():
    """Integer impacts at scale 0 would make every score's unit (scale²) zero."""
    with pytest.raises(ValueError, match="scale must be a positive number, got 0"):
        SparseVectors(["x"], [0, 1], [0], np.array([3], dtype=np.int32), 4, scale=0.0)


def test_pruning_applies_its_own_top_k_and_threshold_to_documents_and_to_queries():
    """Each side uses both of its own settings: weights strictly above the threshold, then the top k."""
    from lsr.pruning import Pruning

    vectors = SparseVectors.from_dicts([{"a": 0.875, "b": 0.5, "c": 0.125, "d": 0.75}, {"a": 0.0625, "b": 0.25},
                                        {"c": 0.125}], ["x", "y", "z"], LETTERS)
    pruning = Pruning(doc_top_k=2, doc_threshold=0.375, query_top_k=1, query_threshold=0.1875)
    assert pruning.docs(vectors).to_dicts(LETTERS) == [{"a": 0.875, "d": 0.75}, {}, {}]
    assert pruning.queries(vectors).to_dicts(LETTERS) == [{"a": 0.875}, {"b": 0.25}, {}]
    assert Pruning().docs(vectors).to_dicts(LETTERS) == Pruning().queries(vectors).to_dicts(LETTERS) == \
        vectors.to_dicts(LETTERS)

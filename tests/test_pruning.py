"""Sparsity knobs (`lsr.pruning`, `SparseVectors.prune`): mass-based pruning keeps, per row, the fewest largest
weights that reach the fraction of the row's L1 mass asked for; recorded in the index and applied by search."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lsr.indexing.layout import IndexInfo
from lsr.pruning import Pruning
from lsr.sparse import SparseVectors

from helpers import error_of, run_cli, write_beir


def dense_rows(draw_rows: list[list[float]]) -> SparseVectors:
    return SparseVectors.from_dense(np.array(draw_rows, dtype=np.float32), [str(i) for i in range(len(draw_rows))])


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.floats(0, 8, width=32), min_size=6, max_size=6), min_size=1, max_size=5),
       st.floats(0.01, 1.0))
def test_mass_keeps_the_fewest_largest_weights_that_reach_the_fraction(rows, mass):
    vectors = dense_rows(rows)
    pruned = vectors.prune(mass=mass)
    for i in range(len(vectors)):
        terms, weights = vectors.row(i)
        kept_terms, kept = pruned.row(i)
        total = float(weights.astype(np.float64).sum())
        assert set(kept_terms.tolist()) <= set(terms.tolist())
        if not len(weights):
            continue
        assert kept.astype(np.float64).sum() >= mass * total * (1 - 1e-9)  # reaches the fraction
        # ... with the fewest weights: without its smallest kept weight it would not
        assert kept.astype(np.float64).sum() - kept.min() < mass * total
        assert kept.min() >= weights[~np.isin(terms, kept_terms)].max(initial=0)  # the largest ones


def test_mass_with_top_k_and_threshold_and_its_bounds():
    vectors = dense_rows([[4, 3, 2, 1, 0, 0], [1, 1, 1, 0, 0, 0]])
    assert [vectors.prune(mass=0.5).row(i)[0].tolist() for i in range(2)] == [[0, 1], [0, 1]]
    assert [vectors.prune(mass=0.7).row(i)[0].tolist() for i in range(2)] == [[0, 1], [0, 1, 2]]
    assert [vectors.prune(mass=1.0).row(i)[0].tolist() for i in range(2)] == [[0, 1, 2, 3], [0, 1, 2]]
    assert vectors.prune(mass=1.0, top_k=1).row(0)[0].tolist() == [0]
    assert vectors.prune(mass=0.9, threshold=1.5).row(0)[0].tolist() == [0, 1, 2]
    for bad in (0.0, 1.5, -0.1):
        with pytest.raises(ValueError, match="mass must lie in"):
            vectors.prune(mass=bad)
    assert Pruning(doc_mass=0.5).docs(vectors).row(1)[0].tolist() == [0, 1]
    assert Pruning(query_mass=0.5).prunes_queries and not Pruning(doc_mass=0.5).prunes_queries
    # Metadata written before the mass knobs existed reads back the same, and a mass survives the round trip.
    assert Pruning().to_dict() == {"doc_top_k": None, "doc_threshold": None, "query_top_k": None,
                                   "query_threshold": None}
    assert Pruning.from_dict(Pruning(doc_mass=0.8).to_dict()) == Pruning(doc_mass=0.8)


@pytest.fixture()
def data(tmp_path):
    docs = [{"_id": f"d{i}", "title": "", "text": text} for i, text in enumerate(
        ["statins lower cholesterol and the risk of heart disease", "vitamin d supplements and bone density",
         "insulin resistance in type 2 diabetes"])]
    return write_beir(tmp_path / "data", docs, [{"_id": "q", "text": "heart disease"}], [("q", "d0", 1)])


def test_lsr_index_records_and_applies_mass_pruning(tmp_path, splade_tiny, data):
    full, pruned = tmp_path / "full", tmp_path / "pruned"
    assert run_cli("-q", "index", data, "-o", full, "-m", splade_tiny).exit_code == 0
    result = run_cli("-q", "index", data, "-o", pruned, "-m", splade_tiny, "--doc-mass", "0.5", "--query-mass", "0.9")
    assert result.exit_code == 0, result.output
    info = IndexInfo.read(pruned)
    assert info.pruning["doc_mass"] == 0.5 and info.pruning["query_mass"] == 0.9
    assert info.avg_postings_per_doc < IndexInfo.read(full).avg_postings_per_doc
    assert run_cli("-q", "index", data, "-o", tmp_path / "x", "-m", splade_tiny, "--doc-mass", "0").exit_code == 2


def test_an_index_is_pruned_again_from_its_vectors_without_encoding(tmp_path, splade_tiny, data):
    from lsr.indexing.build import build_bm25_index, build_impact_index, prune_index
    from lsr.models import load_encoder
    from lsr.search.lucene import LuceneSearcher

    encoder = load_encoder(splade_tiny)
    full = build_impact_index(str(data), tmp_path / "full", splade_tiny, encoder=encoder, progress=False).info
    direct = build_impact_index(str(data), tmp_path / "direct", splade_tiny, encoder=encoder,
                                pruning=Pruning(doc_top_k=8, query_mass=0.8), progress=False).info
    again = prune_index(tmp_path / "full", tmp_path / "again", Pruning(doc_top_k=8, query_mass=0.8),
                        encoder=encoder).info
    assert (tmp_path / "again" / "vectors").is_symlink() and again.speed.get("encode_docs_per_s") is None
    assert (again.avg_postings_per_doc, again.pruning, again.scale) == (direct.avg_postings_per_doc,
                                                                        direct.pruning, full.scale)
    assert again.avg_postings_per_doc <= 8 < full.avg_postings_per_doc
    assert IndexInfo.read(tmp_path / "again").model_location(tmp_path / "again") is not None
    searched = LuceneSearcher(tmp_path / "again", encoder).search_one("heart disease", 3)
    assert searched == LuceneSearcher(tmp_path / "direct", encoder).search_one("heart disease", 3)
    build_bm25_index(str(data), tmp_path / "bm25")
    assert "only an impact index's vectors" in error_of(lambda: prune_index(tmp_path / "bm25", tmp_path / "x",
                                                                            Pruning(doc_top_k=8)))
    assert "already there" in error_of(lambda: prune_index(tmp_path / "full", tmp_path / "again", Pruning()))

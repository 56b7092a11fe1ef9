"""Seismic backend: exact top-10 with exhaustive parameters against a brute-force dot product of the
same pruned, quantized vectors (numpy/scipy, independent of Seismic and Lucene); high recall with the
defaults; an atomic build that refuses or overwrites; one-line errors for bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("seismic")

from lsr.data import Query  # noqa: E402
from lsr.indexing import seismic as lsr_seismic  # noqa: E402
from lsr.indexing.build import build_impact_index  # noqa: E402
from lsr.indexing.encode_corpus import shard_paths  # noqa: E402
from lsr.indexing.index_info import VECTORS_DIR, IndexInfo  # noqa: E402
from lsr.indexing.pruning import Pruning  # noqa: E402
from lsr.indexing.seismic import (SEISMIC_DIR, SeismicInfo, SeismicParams, SeismicSearcher,  # noqa: E402
                                  build_seismic_index)
from lsr.models import load_encoder  # noqa: E402
from lsr.sparse import SparseVectors  # noqa: E402
from tests.conftest import error_of  # noqa: E402

NUM_DOCS = 150
# Every posting kept, summaries keeping all weight; searched with every query term and a heap factor so
# low that no block is skipped.
EXHAUSTIVE = SeismicParams(n_postings=100_000, summary_energy=1.0)


@pytest.fixture(scope="module")
def encoder(splade_tiny):
    return load_encoder(splade_tiny, doc_max_length=64, long_docs="first")


@pytest.fixture(scope="module")
def index(tmp_path_factory, mini_scifact, splade_tiny, encoder) -> Path:
    """An impact index of NUM_DOCS SciFact documents (and a blank one), documents pruned to 40 terms."""
    docs = [json.loads(line) for line in open(mini_scifact / "corpus.jsonl")][:NUM_DOCS]
    docs.append({"_id": "blank", "title": "", "text": " "})
    corpus = tmp_path_factory.mktemp("seismic-corpus")
    (corpus / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    out = tmp_path_factory.mktemp("seismic-index") / "idx"
    build_impact_index(str(corpus / "corpus.jsonl"), out, splade_tiny, encoder=encoder,
                       pruning=Pruning(doc_top_k=40), progress=False, shard_size=64)
    return out


@pytest.fixture(scope="module")
def queries(mini_scifact) -> list[Query]:
    found = [Query(q["_id"], q["text"]) for q in map(json.loads, open(mini_scifact / "queries.jsonl"))][:40]
    return found + [Query("blank", "  ")]


def exact_scores(index: Path, queries: SparseVectors) -> tuple[np.ndarray, list[str]]:
    """[query, doc] integer dot products of the queries and the documents pruned and quantized as the index
    records, and the document ids."""
    info = IndexInfo.read(index)
    docs = SparseVectors.concat([SparseVectors.read_parquet(p) for p in shard_paths(index / VECTORS_DIR)])
    docs = docs.prune(top_k=info.pruning["doc_top_k"]).quantize(info.scale)
    return (queries.to_scipy().astype(np.float64) @ docs.to_scipy().astype(np.float64).T).toarray(), docs.ids


def top(scores: np.ndarray, doc_ids: list[str], query_ids: list[str], k: int) -> dict[str, list[tuple[str, float]]]:
    """Each query's k best documents with a positive score."""
    return {query_id: [(doc_ids[j], row[j]) for j in np.argsort(-row, kind="stable")[:k] if row[j] > 0]
            for query_id, row in zip(query_ids, scores)}


def test_exhaustive_search_is_exact(index, encoder, queries):
    built = build_seismic_index(index, EXHAUSTIVE, threads=1)
    assert (built.num_docs, built.num_indexed, built.scale) == (NUM_DOCS + 1, NUM_DOCS, 100.0)
    assert json.loads((index / SEISMIC_DIR / "seismic.json").read_text())["params"]["summary_energy"] == 1.0
    searcher = SeismicSearcher(index, encoder, query_cut=1000, heap_factor=1e-6, threads=2)
    vectors = searcher.encode_queries(queries)
    scores, doc_ids = exact_scores(index, vectors)
    run = searcher.search(queries, k=10)
    assert list(run) == [q.id for q in queries] and run["blank"] == []
    unit = searcher.score_unit
    checked = 0
    for i, (query_id, hits) in enumerate(top(scores, doc_ids, vectors.ids, 10).items()):
        found = [(doc, score * unit) for doc, score in run[query_id]]
        # The same scores in the same order (float16 values and float32 sums are exact on these integers);
        # the documents too, but for the order among tied scores: each document's own score must match.
        assert [round(s) for _, s in found] == [s for _, s in hits], query_id
        own = dict(zip(doc_ids, scores[i]))
        assert all(own[doc] == round(s) for doc, s in found), query_id
        checked += len(hits)
    assert checked > 300
    assert searcher.search_one(queries[0].text, k=3) == run[queries[0].id][:3]
    assert searcher.search_vectors(vectors, k=10) == run
    # A larger batch, shuffled: each query keeps its own hits (Seismic answers a batch in its own order).
    order = np.random.default_rng(0).permutation(np.arange(len(vectors)).repeat(8))
    chosen = vectors.select(order)
    batch = SparseVectors([f"{vectors.ids[i]}-{n}" for n, i in enumerate(order.tolist())], chosen.indptr,
                          chosen.indices, chosen.values, chosen.vocab_size, chosen.scale)
    assert searcher.search_vectors(batch, k=10) == {
        f"{vectors.ids[i]}-{n}": run[vectors.ids[i]] for n, i in enumerate(order.tolist())}
    searcher.close()


def test_defaults_have_high_recall(index, encoder, queries):
    build_seismic_index(index, overwrite=True)
    searcher = SeismicSearcher(index, encoder)
    vectors = searcher.encode_queries(queries)
    exact = top(*exact_scores(index, vectors), vectors.ids, 10)
    run = searcher.search_vectors(vectors, k=10)
    recalls = [len({d for d, _ in run[q]} & {d for d, _ in hits}) / len(hits) for q, hits in exact.items() if hits]
    assert np.mean(recalls) >= 0.95
    searcher.close()


def test_build_refuses_overwrites_and_is_atomic(index, monkeypatch):
    build_seismic_index(index, SeismicParams(doc_cut=10), overwrite=True)
    before = SeismicInfo.read(index)
    assert "already there" in error_of(lambda: build_seismic_index(index))
    assert SeismicInfo.read(index) == before

    real = lsr_seismic._import_seismic()

    class FailingIndex:
        @staticmethod
        def build_from_dataset(*args, **kwargs):
            raise RuntimeError("killed mid-build")

    class FailingSeismic:
        SeismicDataset, get_seismic_string, SeismicIndex = real.SeismicDataset, real.get_seismic_string, FailingIndex

    monkeypatch.setattr(lsr_seismic, "_import_seismic", lambda: FailingSeismic)
    with pytest.raises(RuntimeError):
        build_seismic_index(index, overwrite=True)
    assert SeismicInfo.read(index) == before  # the old index untouched, no temporary folder left
    assert sorted(p.name for p in index.iterdir() if "seismic" in p.name) == [SEISMIC_DIR]
    monkeypatch.undo()
    build_seismic_index(index, SeismicParams(doc_cut=12), overwrite=True)
    assert SeismicInfo.read(index).params["doc_cut"] == 12


def test_bad_input_is_one_line(index, encoder, tmp_path):
    if not (index / SEISMIC_DIR).exists():
        build_seismic_index(index)
    bm25 = tmp_path / "bm25"
    bm25.mkdir()
    IndexInfo(kind="bm25", num_docs=1, num_empty=0, corpus="c").save(bm25)
    no_vectors = tmp_path / "no-vectors"
    shutil.copytree(index, no_vectors, ignore=shutil.ignore_patterns(VECTORS_DIR, SEISMIC_DIR))
    messages = [
        error_of(lambda: build_seismic_index(bm25)),
        error_of(lambda: SeismicSearcher(bm25)),
        error_of(lambda: build_seismic_index(no_vectors)),
        error_of(lambda: SeismicSearcher(no_vectors, encoder)),
        error_of(lambda: build_seismic_index(tmp_path / "missing")),
        error_of(lambda: build_seismic_index(index, SeismicParams(summary_energy=0), overwrite=True)),
        error_of(lambda: SeismicSearcher(index, encoder, query_cut=0)),
        error_of(lambda: SeismicSearcher(index, encoder).search([Query("q", "x")], k=0)),
    ]
    assert all(m and "\n" not in m for m in messages), messages
    assert "bm25 index" in messages[0] and "no document vectors" in messages[2] and "no Seismic index" in messages[3]
    quantized = SparseVectors.from_dicts([{"x": 1}], ["q"], ["x"] * 1, scale=10.0)
    assert "scale 10.0" in error_of(lambda: SeismicSearcher(index, encoder).search_vectors(quantized))

"""Seismic backend: exact top-10 with exhaustive parameters against a brute-force dot product of the
same pruned, quantized vectors (numpy/scipy, independent of Seismic and Lucene); high recall with the
defaults; an atomic build that refuses or overwrites; one-line errors for bad input. On the command line:
`lsr seismic` and `lsr index --seismic` build it, `lsr search --backend seismic` finds Lucene's hits with
exhaustive parameters, `lsr serve --backend seismic` answers with them over HTTP (BM25 indexes on Lucene)."""

from __future__ import annotations

import json
import shutil
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("seismic")

from lsr.data import Query  # noqa: E402
from lsr.indexing import seismic as lsr_seismic  # noqa: E402
from lsr.indexing.build import build_bm25_index, build_impact_index  # noqa: E402
from lsr.indexing.layout import (  # noqa: E402
    VECTORS_DIR,
    IndexInfo,
    part_paths,  # noqa: E402
)
from lsr.indexing.seismic import SEISMIC_DIR, SeismicInfo, SeismicParams, build_seismic_index
from lsr.models import load_encoder  # noqa: E402
from lsr.pruning import Pruning  # noqa: E402
from lsr.runs import Run, read_trec_run  # noqa: E402
from lsr.search.seismic import SeismicSearcher
from lsr.sparse import SparseVectors  # noqa: E402

from helpers import as_hits, assert_one_line_error, call, error_of, run_cli, search, serving  # noqa: E402

NUM_DOCS = 150
# Every posting kept, summaries keeping all weight; searched with every query term and a heap factor so
# low that no block is skipped.
EXHAUSTIVE = SeismicParams(n_postings=100_000, summary_energy=1.0)
EXHAUSTIVE_BUILD = ["--n-postings", "100000", "--summary-energy", "1"]
EXHAUSTIVE_SEARCH = ["--backend", "seismic", "--query-cut", "1000", "--heap-factor", "1e-6"]


@pytest.fixture(scope="module")
def encoder(splade_tiny):
    return load_encoder(splade_tiny, doc_max_length=64, long_docs="first")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, mini_scifact) -> Path:
    """NUM_DOCS SciFact documents and a blank one, as a .jsonl file."""
    docs = [json.loads(line) for line in open(mini_scifact / "corpus.jsonl")][:NUM_DOCS]
    docs.append({"_id": "blank", "title": "", "text": " "})
    path = tmp_path_factory.mktemp("seismic-corpus") / "corpus.jsonl"
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return path


@pytest.fixture(scope="module")
def index(tmp_path_factory, corpus, splade_tiny, encoder) -> Path:
    """An impact index of `corpus`, documents pruned to 40 terms."""
    out = tmp_path_factory.mktemp("seismic-index") / "idx"
    build_impact_index(str(corpus), out, splade_tiny, encoder=encoder, pruning=Pruning(doc_top_k=40), progress=False,
                       part_size=64)
    return out


@pytest.fixture(scope="module")
def queries(mini_scifact) -> list[Query]:
    found = [Query(q["_id"], q["text"]) for q in map(json.loads, open(mini_scifact / "queries.jsonl"))][:40]
    return found + [Query("blank", "  ")]


def exact_scores(index: Path, queries: SparseVectors) -> tuple[np.ndarray, list[str]]:
    """[query, doc] integer dot products of the queries and the documents pruned and quantized as the index
    records, and the document ids."""
    info = IndexInfo.read(index)
    docs = SparseVectors.concat([SparseVectors.read_parquet(p) for p in part_paths(index / VECTORS_DIR)])
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
        found = run[query_id]  # scored as LuceneSearcher.search scores: the integer dot product
        # The same scores in the same order (float16 values and float32 sums are exact on these integers);
        # the documents too, but for the order among tied scores: each document's own score must match.
        assert [round(s) for _, s in found] == [s for _, s in hits], query_id
        own = dict(zip(doc_ids, scores[i]))
        assert all(own[doc] == round(s) for doc, s in found), query_id
        checked += len(hits)
    assert checked > 300
    assert searcher.search_one(queries[0].text, k=3) == [(doc, score / unit) for doc, score in run[queries[0].id][:3]]
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

    real = lsr_seismic.import_seismic()

    class FailingIndex:
        @staticmethod
        def build_from_dataset(*args, **kwargs):
            raise RuntimeError("killed mid-build")

    class FailingSeismic:
        SeismicDataset, get_seismic_string, SeismicIndex = real.SeismicDataset, real.get_seismic_string, FailingIndex

    monkeypatch.setattr(lsr_seismic, "import_seismic", lambda: FailingSeismic)
    with pytest.raises(RuntimeError):
        build_seismic_index(index, overwrite=True)
    assert SeismicInfo.read(index) == before  # the old index untouched, no temporary folder left
    assert sorted(p.name for p in index.iterdir() if "seismic" in p.name) == [SEISMIC_DIR]
    monkeypatch.undo()
    build_seismic_index(index, SeismicParams(doc_cut=12), overwrite=True)
    assert SeismicInfo.read(index).params["doc_cut"] == 12


def bad_indexes(index: Path, folder: Path, *left_out: str) -> tuple[Path, Path]:
    """In `folder`, a BM25 index's metadata alone and a copy of `index` without the folders `left_out`;
    `index` gets a Seismic index first when it has none."""
    if not (index / SEISMIC_DIR).exists():
        build_seismic_index(index)
    bm25 = folder / "bm25"
    bm25.mkdir()
    IndexInfo(kind="bm25", num_docs=1, num_empty=0, corpus="c").save(bm25)
    copy = folder / "copy"
    shutil.copytree(index, copy, ignore=shutil.ignore_patterns(*left_out))
    return bm25, copy


def test_bad_input_is_one_line(index, encoder, tmp_path):
    bm25, no_vectors = bad_indexes(index, tmp_path, VECTORS_DIR, SEISMIC_DIR)
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


def assert_ok(result) -> None:
    assert result.exit_code == 0, result.output + repr(result.exception)


def assert_same_top_hits(found: Run, expected: Run) -> int:
    """Each query's scores equal rank for rank, and its documents too but for the order among tied scores
    (and which of those tied at the cut are kept); returns how many hits were compared."""
    assert set(found) == set(expected)
    for query_id, hits in expected.items():
        last = hits[-1][1]
        assert [score for _, score in found[query_id]] == [score for _, score in hits], query_id
        assert {doc for doc, score in found[query_id] if score > last} == {doc for doc, score in hits if score > last}
    return sum(map(len, expected.values()))


def printed_hits(output: str) -> Run:
    """`lsr search -t`'s lines (rank, doc id, score) as a run of one query."""
    return {"q": [(doc, float(score)) for _, doc, score in (line.split() for line in output.splitlines())]}


def test_cli_builds_and_searches_as_lucene(index, queries, tmp_path):
    built = run_cli("seismic", index, *EXHAUSTIVE_BUILD, "--threads", "1", "--overwrite")
    assert_ok(built)
    assert f"built the Seismic index {index / SEISMIC_DIR}: {NUM_DOCS} documents" in built.output
    assert SeismicInfo.read(index).params == asdict(EXHAUSTIVE)
    topics = tmp_path / "queries.jsonl"
    topics.write_text("".join(json.dumps({"_id": q.id, "text": q.text}) + "\n" for q in queries))
    assert_ok(run_cli("search", index, topics, "-o", tmp_path / "lucene.trec", "-k", "10"))
    assert_ok(run_cli("search", index, topics, "-o", tmp_path / "seismic.trec", "-k", "10", *EXHAUSTIVE_SEARCH))
    lucene, seismic = read_trec_run(tmp_path / "lucene.trec"), read_trec_run(tmp_path / "seismic.trec")
    assert assert_same_top_hits(seismic, lucene) > 300
    one = [run_cli("search", index, "-t", queries[0].text, "-k", "5", *backend) for backend in ([], EXHAUSTIVE_SEARCH)]
    assert_same_top_hits(printed_hits(one[1].stdout), printed_hits(one[0].stdout))


def test_cli_index_builds_seismic_too(corpus, splade_tiny, tmp_path):
    out = tmp_path / "idx"
    result = run_cli("index", corpus, "-o", out, "-m", splade_tiny, "--doc-max-length", "64", "--seismic",
                     "--threads", "1")
    assert_ok(result)
    assert f"built the Seismic index {out / SEISMIC_DIR}: {NUM_DOCS} documents" in result.output
    assert SeismicInfo.read(out).params == asdict(SeismicParams())
    hits = run_cli("search", out, "-t", "cancer", "--backend", "seismic")
    assert_ok(hits)
    assert len(printed_hits(hits.stdout)["q"]) == 10


def test_cli_errors_are_one_line(index, corpus, splade_tiny, tmp_path, monkeypatch):
    bm25, plain = bad_indexes(index, tmp_path, SEISMIC_DIR)
    one = ["search", index, "-t", "cells"]
    for args, fragment in [
        (["index", corpus, "-o", tmp_path / "x", "--bm25", "--seismic"], "not with --bm25"),
        ([*one, "--query-cut", "5"], "--query-cut and --heap-factor go with --backend seismic"),
        ([*one, "--backend", "lucene", "--heap-factor", "0.5"], "go with --backend seismic"),
        ([*one, "--backend", "seismic", "--explain"], "--explain"),
        ([*one, "--backend", "seismic", "--query-cut", "0"], "query_cut must be at least 1"),
        (["search", bm25, "-t", "cells", "--backend", "seismic"], "bm25 index"),
        (["search", plain, "-t", "cells", "--backend", "seismic"],
         f"no Seismic index (build it with `lsr seismic {plain}`)"),
        (["serve", index, "--port", "0", "--query-cut", "5"], "go with --backend seismic"),
        (["seismic", index], "already there (pass --overwrite"),
        (["seismic", bm25], "bm25 index"),
        (["seismic", plain, "--summary-energy", "0"], "summary_energy must lie in (0, 1]"),
    ]:
        assert_one_line_error(run_cli(*args), fragment)
    assert not (tmp_path / "x").exists() and not (plain / SEISMIC_DIR).exists()
    monkeypatch.setitem(sys.modules, "seismic", None)  # pyseismic not installed
    for args in (["seismic", plain], [*one, "--backend", "seismic"],
                 ["index", corpus, "-o", tmp_path / "y", "-m", splade_tiny, "--seismic"]):
        assert_one_line_error(run_cli(*args), "Seismic is not installed: pip install 'lsr[seismic]'")
    assert not (tmp_path / "y").exists()  # refused before encoding anything


def test_serve_searches_impact_indexes_on_seismic(index, corpus, encoder, queries, tmp_path):
    build_seismic_index(index, EXHAUSTIVE, overwrite=True)
    build_bm25_index(str(corpus), tmp_path / "bm25")
    texts = [q for q in queries if q.text.strip()]
    searcher = SeismicSearcher(index, encoder, query_cut=1000, heap_factor=1e-6)
    expected = searcher.search(texts, 10)
    searcher.close()
    args = [f"impact={index}", f"bm25={tmp_path / 'bm25'}", *EXHAUSTIVE_SEARCH, "--port", "0", "--threads", "2"]
    with serving(args, tmp_path / "server.log") as (port, _):
        health = call(port, "GET", "/health")[1]["indexes"]
        assert health["impact"]["backend"] == {"name": "seismic", "query_cut": 1000, "heap_factor": 1e-6}
        assert health["bm25"]["backend"] == {"name": "lucene"}
        batch = search(port, {"index": "impact", "queries": [{"id": q.id, "text": q.text} for q in texts]})
        assert {result["id"]: result["hits"] for result in batch["results"]} == {
            query_id: as_hits(hits) for query_id, hits in expected.items()}
        start = threading.Barrier(8)

        def client(number: int) -> bool:  # concurrent searches of the Seismic index, each its own answer
            start.wait()
            query = texts[number * 3 % len(texts)]
            return search(port, {"index": "impact", "text": query.text})["hits"] == as_hits(expected[query.id])

        with ThreadPoolExecutor(8) as pool:
            assert all(pool.map(client, range(8)))
        assert search(port, {"index": "bm25", "text": "cancer cells"})["hits"]

"""Sharded impact indexes (`lsr.indexing.sharded`) and their search (`lsr.search.sharded`; on Ray:
`lsr.distributed`): the shards of
an index's vectors, written here, make a manifest of the whole and resume after an interruption; their merged
top k is the single index's run, score for score and tie for tie, also for ties across shards; BM25 is not
sharded. Shard groups, builds from vectors, deep searches and the encoder or pruning given. On a real local
Ray cluster (slow): the shards written by Ray tasks and the search by one actor per
shard give the same.
"""

from __future__ import annotations

import functools
import json
import logging
import random
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pytest

import lsr.indexing.sharded as shards
from lsr.data import Query, read_queries
from lsr.distributed.search import RayShardedSearcher
from lsr.errors import LsrError
from lsr.indexing.build import build_impact_index
from lsr.indexing.layout import (
    INFO_FILE,
    SHARDED_INFO_FILE,
    VECTORS_DIR,
    IndexInfo,
    ShardedIndexInfo,
    is_sharded_index,
    part_paths,
)
from lsr.indexing.sharded import plan_groups, shard_index
from lsr.lucene import jvm
from lsr.models import load_encoder
from lsr.pruning import Pruning
from lsr.search.lucene import LuceneSearcher
from lsr.search.merge import MAX_MERGED_K, run_scores
from lsr.search.sharded import ShardedSearcher
from lsr.sparse import SparseVectors

from helpers import as_hits, as_integers, assert_one_line_error, call, error_of, run_cli, search, serving, write_beir

NUM_DOCS = 80
PART_SIZE = 12  # 8 Parquet files
NUM_SHARDS = 3
SETTINGS = {"doc_max_length": 64, "long_docs": "first"}


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, mini_scifact) -> Path:
    """SciFact documents with identical short ones spread among them (ties across shards), whose ids order
    one way by code point / UTF-8 (Lucene's tie order) and another by UTF-16 (Java's String order)."""
    docs = [json.loads(line) for line in open(mini_scifact / "corpus.jsonl")][:NUM_DOCS]
    suffixes = ["z", "\u00e9", "\uff01", "\N{GRINNING FACE}", "a", "0", "m", "\u00fc", "b"]
    twins = [{"_id": f"twin-{s}", "title": "", "text": "zebra quagga stripes"} for s in suffixes]
    random.Random(1).shuffle(docs)
    for i, twin in enumerate(twins):
        docs.insert(i * 10 + 3, twin)
    queries = [json.loads(line) for line in open(mini_scifact / "queries.jsonl")][:12]
    queries += [{"_id": "twins", "text": "zebra stripes"}, {"_id": "empty", "text": " "}]
    return write_beir(tmp_path_factory.mktemp("sharded-corpus"), docs, queries,
                      [(q["_id"], docs[0]["_id"], 1) for q in queries])


@pytest.fixture(scope="module")
def encoder(splade_tiny):
    return load_encoder(splade_tiny, **SETTINGS)


@pytest.fixture(scope="module")
def queries(corpus) -> list[Query]:
    return read_queries(str(corpus))


@pytest.fixture(scope="module")
def single(tmp_path_factory, corpus, splade_tiny, encoder) -> Path:
    """The one index of the whole corpus: the reference."""
    out = tmp_path_factory.mktemp("single") / "index"
    build_impact_index(str(corpus), out, splade_tiny, encoder=encoder, part_size=PART_SIZE, progress=False)
    return out


@pytest.fixture(scope="module")
def sharded(tmp_path_factory, single, encoder) -> Path:
    """The single index's vectors written as three shard indexes in this process."""
    out = tmp_path_factory.mktemp("sharded") / "index"
    shard_index(single, out, num_shards=NUM_SHARDS, encoder=encoder, progress=False)
    return out


def without_speed(info: IndexInfo) -> dict:
    return {key: value for key, value in asdict(info).items() if key != "speed"}


def test_the_manifest_lists_contiguous_shards_that_open_alone(single, sharded, encoder):
    whole, manifest = IndexInfo.read(single), ShardedIndexInfo.read(sharded)
    assert is_sharded_index(sharded) and not is_sharded_index(single)
    files = [path.name for path in part_paths(single / "vectors")]
    assert len(files) == 8 and [name for shard in manifest.shards for name in shard.vectors] == files
    assert [shard.num_docs for shard in manifest.shards] == [24, 36, 29]  # 2, 3 and 3 files
    assert [shard.folder for shard in manifest.shards] == ["shard-00000", "shard-00001", "shard-00002"]
    assert Path(manifest.vectors) == (single / "vectors").resolve()
    for key in ("kind", "num_docs", "num_empty", "corpus", "encoder_kind", "encoder_settings", "vocab_fingerprint",
                "scale", "pruning"):
        assert getattr(manifest.index, key) == getattr(whole, key), key
    assert (sharded / manifest.index.model).resolve() == (single / whole.model).resolve()
    assert manifest.index.avg_postings_per_doc == pytest.approx(whole.avg_postings_per_doc, abs=0.01)
    twins = [{doc for doc, _ in LuceneSearcher(folder, encoder).search([Query("q", "zebra stripes")], 100)["q"]
              if doc.startswith("twin-")} for folder in manifest.shard_dirs(sharded)]
    assert [len(found) for found in twins] == [3, 3, 3] and len(set.union(*twins)) == 9  # ties across shards
    for shard, folder in zip(manifest.shards, manifest.shard_dirs(sharded)):
        info = IndexInfo.read(folder)
        assert (info.num_docs, info.num_empty) == (shard.num_docs, shard.num_empty)
        assert (folder / info.model).resolve() == (single / whole.model).resolve()  # the model, from the shard
        assert LuceneSearcher(folder).info.scale == whole.scale
    assert sum(shard.num_docs for shard in manifest.shards) == whole.num_docs


@pytest.mark.parametrize("k", [10, 1000])
def test_the_merged_run_is_the_single_index_run(single, sharded, encoder, queries, k):
    expected = LuceneSearcher(single, encoder).search(queries, k)
    with ShardedSearcher(sharded, encoder) as searcher:
        run = searcher.search(queries, k)
    assert list(run) == list(expected)
    for query_id, hits in expected.items():
        assert run[query_id] == hits, query_id
    assert run["empty"] == []
    twins = [(doc, score) for doc, score in run["twins"] if doc.startswith("twin-")]
    assert len(twins) == min(k, 9) and len({round(score) for _, score in twins}) == 1  # one tied score
    ids = [doc for doc, _ in twins]  # in code point (UTF-8) order, not UTF-16's
    assert ids == sorted(ids) and (k < 9 or ids.index("twin-\uff01") < ids.index("twin-\N{GRINNING FACE}"))
    assert sum(map(len, run.values())) >= (len(queries) - 1) * min(k, 40)  # deep runs: many ties merged


def test_search_vectors_merges_and_refuses_what_it_cannot_serve(single, sharded, encoder, queries):
    with ShardedSearcher(sharded, encoder) as searcher:
        vectors = searcher.encode_queries(queries)
        assert searcher.search_vectors(vectors, 50) == LuceneSearcher(single, encoder).search_vectors(vectors, 50)
        assert f"at most {MAX_MERGED_K}" in error_of(lambda: searcher.search(queries, MAX_MERGED_K + 1))
        assert "at least 1" in error_of(lambda: searcher.search(queries, 0))
        other = vectors.select(np.arange(2))
        other.scale = 10.0
        assert "scale 10.0" in error_of(lambda: searcher.search_vectors(other, 10))


def test_merged_scores_are_the_java_tie_adjustment_and_printing():
    """run_scores (Python, float32) against BulkSearcher.adjustTies then asPrinted, on integer scores with
    runs of ties long and short, small (where 1e-6 steps show) and large (where they vanish or round to a
    6-decimal tie)."""
    java = jvm.bulk_searcher_class()
    rng = np.random.default_rng(0)
    cases = [np.full(n, s, np.float32) for s in (1, 3, 15, 17, 1000, 65537, 99999, 1e6 + 1, 2**24, 3e7)
             for n in (1, 7, 9000)]
    cases += [np.sort(rng.integers(1, high, 3000))[::-1].astype(np.float32) for high in (20, 5000, 300000)]
    for raw in cases:
        adjusted = raw.tolist()
        java.adjustTies(adjusted)  # in place (pyjnius copies the array back)
        assert run_scores(raw).tolist() == list(java.asPrinted(adjusted)), raw[0]
        assert np.array_equal(np.rint(run_scores(raw)), raw)  # the integer read back from a run score


def test_groups_are_contiguous_and_even_in_documents():
    assert plan_groups([5, 5, 5, 5, 5, 5, 5, 1], 3) == [range(0, 2), range(2, 5), range(5, 8)]  # 10, 15, 11
    assert plan_groups([257, 257, 257, 257, 2], 4) == [range(0, 1), range(1, 2), range(2, 3), range(3, 5)]
    assert plan_groups([1, 1], 2) == [range(0, 1), range(1, 2)]
    assert "use fewer shards" in error_of(lambda: plan_groups([4, 4], 3))
    assert "at least 1" in error_of(lambda: plan_groups([4, 4], 0))


def test_a_rerun_writes_only_the_missing_shard(monkeypatch, tmp_path, single, sharded, encoder):
    out = tmp_path / "index"
    shard_index(single, out, num_shards=NUM_SHARDS, encoder=encoder, progress=False)
    first = ShardedIndexInfo.read(out)
    assert "already there" in error_of(lambda: shard_index(single, out, num_shards=NUM_SHARDS, encoder=encoder,
                                                           progress=False))
    (out / SHARDED_INFO_FILE).unlink()  # killed before the manifest ...
    (out / "shard-00001" / INFO_FILE).unlink()  # ... and while the second shard was written
    written = []
    original = shards.write_impact_index
    monkeypatch.setattr(shards, "write_impact_index",
                        lambda files, *args, **kwargs: written.append(files) or original(files, *args, **kwargs))
    again = shard_index(single, out, num_shards=NUM_SHARDS, encoder=encoder, progress=False)
    assert [[path.name for path in files] for files in written] == [first.shards[1].vectors]
    assert again.shards == first.shards
    assert without_speed(again.index) == without_speed(first.index)
    assert [without_speed(IndexInfo.read(d)) for d in again.shard_dirs(out)] == \
        [without_speed(IndexInfo.read(d)) for d in ShardedIndexInfo.read(sharded).shard_dirs(sharded)]
    (out / SHARDED_INFO_FILE).unlink()
    assert "use the same settings and number of shards" in error_of(
        lambda: shard_index(single, out, num_shards=2, encoder=encoder, progress=False))
    assert len(written) == 1


def test_bm25_indexes_are_not_sharded(tmp_path):
    bm25 = tmp_path / "bm25"
    IndexInfo(kind="bm25", num_docs=3, num_empty=0, corpus="c", bm25={"k1": 0.9, "b": 0.4}).save(bm25)
    message = error_of(lambda: shard_index(bm25, tmp_path / "out", num_shards=2, progress=False))
    assert "BM25 index: only impact indexes are sharded" in message
    assert not (tmp_path / "out").exists()


def test_without_ray_the_ray_paths_say_how_to_install_it(monkeypatch, sharded, encoder):
    monkeypatch.setitem(sys.modules, "ray", None)
    assert "pip install 'lsr[ray]'" in error_of(lambda: RayShardedSearcher(sharded, encoder))


def test_importing_lsr_and_its_distributed_modules_imports_no_ray():
    code = ("import sys, lsr, lsr.distributed, lsr.indexing.sharded, lsr.distributed.search; "
            "assert 'ray' not in sys.modules, 'ray imported'")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=Path(__file__).resolve().parents[1])


# --- the command line and the service ---------------------------------------------------------------------

INDEX_OPTIONS = ["-m", "MODEL", "--shard-size", str(PART_SIZE), "--doc-max-length", "64", "--long-docs", "first"]


def index_options(model: Path) -> list[str]:
    return [str(model) if option == "MODEL" else option for option in INDEX_OPTIONS]


@pytest.fixture(scope="module")
def cli_sharded(tmp_path_factory, corpus, splade_tiny) -> Path:
    """`lsr index --shards 3`: the corpus encoded and written as a sharded index here."""
    out = tmp_path_factory.mktemp("cli-sharded") / "index"
    done = run_cli("index", corpus, out, *index_options(splade_tiny), "--shards", NUM_SHARDS)
    assert done.exit_code == 0, done.output
    assert f"indexed {NUM_DOCS + 9} documents into {out} (impact, 3 shards)" in done.output
    return out


def test_lsr_index_shards_and_lsr_search_give_the_single_index_run(tmp_path, cli_sharded, sharded, single, corpus):
    assert [shard.vectors for shard in ShardedIndexInfo.read(cli_sharded).shards] == \
        [shard.vectors for shard in ShardedIndexInfo.read(sharded).shards]
    runs = {}
    for name, folder in (("single", single), ("sharded", cli_sharded)):
        runs[name] = tmp_path / f"{name}.trec"
        done = run_cli("search", folder, corpus, runs[name], "-k", 100)
        assert done.exit_code == 0, done.output
    assert runs["sharded"].read_text() == runs["single"].read_text()
    printed = {name: run_cli("search", folder, "--text", "zebra stripes", "-k", 12).output
               for name, folder in (("single", single), ("sharded", cli_sharded))}
    assert printed["sharded"] == printed["single"] and "twin-" in printed["sharded"]


def test_lsr_info_describes_a_sharded_index(cli_sharded, single):
    facts = json.loads(run_cli("info", cli_sharded, "--json").output)
    whole = json.loads(run_cli("info", single, "--json").output)
    assert facts["shards"] == NUM_SHARDS and facts["kind"] == "impact" and facts["num_docs"] == NUM_DOCS + 9
    for key in ("encoder_settings", "vocab_fingerprint", "scale", "avg_postings_per_doc", "num_empty"):
        assert facts[key] == whole[key], key


@pytest.mark.parametrize("args, fragments", [
    (["index", "C", "O", "--bm25", "--shards", "2"], ["not with --bm25", "do not compare"]),
    (["index", "C", "O", "-m", "M", "--seismic", "--shards", "2"], ["not with --seismic"]),
    (["index", "C", "O", "-m", "M", "--workers", "2"], ["--workers and --gpus-per-worker go with --ray"]),
    (["search", "SINGLE", "C", "O", "--ray", "auto"], ["--ray searches a sharded index", "search it without --ray"]),
    (["search", "SHARDED", "C", "O", "--backend", "seismic"], ["is a sharded index, searched with Lucene"]),
    (["search", "SHARDED", "--text", "cell", "--explain"], ["--explain reads one Lucene index"]),
    (["search", "SHARDED", "C", "O", "--ray", "auto", "--backend", "seismic"], ["--ray searches sharded indexes"]),
])
def test_sharded_options_that_do_not_fit_are_one_line_errors(tmp_path, args, fragments, corpus, single, sharded):
    names = {"C": corpus, "O": tmp_path / "out", "M": tmp_path / "model", "SINGLE": single, "SHARDED": sharded}
    assert_one_line_error(run_cli(*(names.get(arg, arg) for arg in args)), *fragments)
    assert not (tmp_path / "out").exists()


def test_lsr_index_ray_without_ray_says_how_to_install_it(monkeypatch, tmp_path, corpus, splade_tiny):
    monkeypatch.setitem(sys.modules, "ray", None)
    out = tmp_path / "index"
    assert_one_line_error(run_cli("index", corpus, out, *index_options(splade_tiny), "--ray", "auto"),
                          "pip install 'lsr[ray]'")
    assert not out.exists()


def test_lsr_serve_answers_from_a_sharded_index_as_from_one_index(tmp_path, cli_sharded, single, encoder, queries):
    queries = [q for q in queries if q.text.strip()]  # the service refuses blank ones
    expected = LuceneSearcher(single, encoder).search(queries, 20)
    with serving([f"sharded={cli_sharded}", "--port", "0"], tmp_path / "server.log") as (port, _):
        batch = search(port, {"k": 20, "queries": [{"id": q.id, "text": q.text} for q in queries]})
        assert [result["hits"] for result in batch["results"]] == [as_hits(expected[q.id]) for q in queries]
        assert search(port, {"k": 20, "text": queries[0].text})["hits"] == as_hits(expected[queries[0].id])
        status, health = call(port, "GET", "/health")
        served = health["indexes"]["sharded"]
        assert status == 200 and served["kind"] == "impact" and served["num_docs"] == NUM_DOCS + 9


# --- a real Ray cluster: a head and a worker node on loopback, one CPU each ---------------------------------


@pytest.fixture(scope="module")
def ray_sharded(cluster, tmp_path_factory, corpus, splade_tiny) -> Path:
    """The corpus encoded by two Ray actors, its shard indexes written by Ray tasks."""
    out = tmp_path_factory.mktemp("ray-sharded") / "index"
    from lsr.distributed.shards import build_sharded_index_on_ray

    build_sharded_index_on_ray(str(corpus), out, splade_tiny, num_shards=NUM_SHARDS,
                               load=functools.partial(load_encoder, splade_tiny, **SETTINGS),
                               part_size=PART_SIZE, workers=2, cpus_per_shard=0.5, progress=False)
    return out


@pytest.mark.slow
def test_shards_written_on_ray_equal_those_written_here(ray_sharded, sharded):
    on_ray, here = ShardedIndexInfo.read(ray_sharded), ShardedIndexInfo.read(sharded)
    assert on_ray.shards == here.shards and on_ray.vectors == "vectors"
    ignored = {"speed", "model"}  # the model's path is relative to each folder
    assert {k: v for k, v in asdict(on_ray.index).items() if k not in ignored} == \
        {k: v for k, v in asdict(here.index).items() if k not in ignored}
    for a, b in zip(on_ray.shard_dirs(ray_sharded), here.shard_dirs(sharded)):
        found, wanted = IndexInfo.read(a), IndexInfo.read(b)
        assert Path(found.model_location(a)).resolve() == Path(wanted.model_location(b)).resolve()
        assert {k: v for k, v in asdict(found).items() if k not in ignored} == \
            {k: v for k, v in asdict(wanted).items() if k not in ignored}


@pytest.mark.slow
def test_search_by_one_ray_actor_per_shard_is_the_single_index_search(ray_sharded, single, encoder, queries):
    reference = LuceneSearcher(single, encoder)
    searcher = RayShardedSearcher(ray_sharded, encoder, cpus_per_shard=0.5)
    try:
        for k in (10, 1000):
            assert searcher.search(queries, k) == reference.search(queries, k)
    finally:
        searcher.close()


@pytest.mark.slow
def test_lsr_index_and_search_on_ray_give_the_single_index_run(cluster, tmp_path, corpus, splade_tiny, single):
    out = tmp_path / "index"
    done = run_cli("index", corpus, out, *index_options(splade_tiny), "--shards", 2, "--ray", cluster.address,
                   "--workers", 2, "--threads", 1)
    assert done.exit_code == 0, done.output
    assert len(ShardedIndexInfo.read(out).shards) == 2
    runs = {"ray": tmp_path / "ray.trec", "single": tmp_path / "single.trec"}
    for name, args in (("ray", [out, "--ray", cluster.address]), ("single", [single])):
        searched = run_cli("search", args[0], corpus, runs[name], *args[1:])
        assert searched.exit_code == 0, searched.output
    assert runs["ray"].read_text() == runs["single"].read_text()


def test_shard_groups_split_the_files_nearest_the_even_split_points():
    from lsr.indexing.sharded import plan_groups

    assert plan_groups([5], 1) == [range(0, 1)]
    assert plan_groups([1, 1, 1, 10], 2) == [range(0, 3), range(3, 4)]  # split points 6.5 of 13: after 3
    assert plan_groups([10, 1, 1, 1], 3) == [range(0, 1), range(1, 2), range(2, 4)]
    assert plan_groups([1, 1, 1, 1, 10], 3) == [range(0, 3), range(3, 4), range(4, 5)]  # every shard a file


def test_a_sharded_build_from_vectors_records_no_corpus_runs_here_and_refuses_to_overwrite(
        tiny_build, tiny_mlm, tmp_path, monkeypatch):
    import lsr.distributed.shards as ray_shards
    import lsr.indexing.sharded as shards

    def no_ray(*args, **kwargs):
        raise AssertionError("a build not asked to use Ray used it")

    monkeypatch.setattr(ray_shards, "build_on_ray", no_ray)
    vectors, out = tiny_build[0] / VECTORS_DIR, tmp_path / "new" / "idx"
    manifest = shards.build_sharded_index(vectors, out, tiny_mlm, num_shards=2, progress=False)  # model loaded
    assert manifest.index.corpus == "" and shards.ShardedIndexInfo.read(out) == manifest
    assert [shard.num_docs for shard in manifest.shards] == [5, 7]
    (out / "stray.txt").write_text("x")
    encoder = load_encoder(tiny_mlm)
    assert "already there" in error_of(lambda: shards.build_sharded_index(vectors, out, tiny_mlm, num_shards=2,
                                                                          encoder=encoder, progress=False))
    assert (out / "stray.txt").exists() and shards.ShardedIndexInfo.read(out) == manifest
    rebuilt = shards.build_sharded_index(vectors, out, tiny_mlm, num_shards=3, encoder=encoder, overwrite=True,
                                         progress=False)
    assert [shard.num_docs for shard in rebuilt.shards] == [5, 5, 2] and shards.ShardedIndexInfo.read(out) == rebuilt
    (tmp_path / "empty").mkdir()
    assert error_of(lambda: shards.build_sharded_index(tmp_path / "empty", tmp_path / "other", tiny_mlm,
                                                       num_shards=2, encoder=encoder, progress=False)) == (
        f"{tmp_path / 'empty'}: no Parquet vectors (part-*.parquet) to index")


def test_a_sharded_index_is_searched_with_the_encoder_and_pruning_given(cut_impact, cut_sharded, cut_encoder,
                                                                        cut_queries, tmp_path, caplog):
    """With its recorded model gone, a sharded index searched with an encoder given
    loads no model; its runs, single-query hits (default 10, raw or scaled) and the empty-query warning are
    the single index's; a query pruning given is the one used."""
    from lsr.search.sharded import ShardedSearcher

    moved = Path(shutil.copytree(cut_sharded, tmp_path / "moved"))
    for path in [moved / "lsr-sharded-index.json", *moved.glob("*/" + INFO_FILE)]:  # the model is gone
        raw = json.loads(path.read_text())
        (raw["index"] if "index" in raw else raw)["model"] = "/nonexistent/splade-tiny"
        path.write_text(json.dumps(raw))
    assert "model not found" in str(pytest.raises(LsrError, ShardedSearcher, moved).value)
    single = LuceneSearcher(cut_impact, cut_encoder)
    expected = single.search(cut_queries, 30)
    with ShardedSearcher(moved, cut_encoder) as sharded:
        with caplog.at_level(logging.WARNING):
            assert sharded.search(cut_queries, 30) == expected
        warned = [r.getMessage() for r in caplog.records if r.name == "lsr.search.sharded"]
        assert len(warned) == 1 and warned[0].startswith(f"2 of {len(cut_queries)} queries are empty")
        for query in cut_queries[:-2]:
            assert sharded.search_one(query.text, 5, raw=True) == single.search_one(query.text, 5, raw=True)
            hits = sharded.search_one(query.text)
            assert hits == single.search_one(query.text) and len(hits) == min(10, len(expected[query.id]))
        assert max(len(hits) for hits in expected.values()) > 10
    pruning = Pruning(query_top_k=1)
    with ShardedSearcher(moved, cut_encoder, pruning=pruning) as pruned:
        assert pruned.pruning == pruning
        single_pruned = LuceneSearcher(cut_impact, cut_encoder, pruning=pruning)
        assert pruned.search(cut_queries, 30) == single_pruned.search(cut_queries, 30) != expected


def test_a_sharded_index_of_one_shard_is_searched_as_its_single_index(cut_impact, cut_encoder, cut_queries, tmp_path):
    from lsr.indexing.sharded import shard_index
    from lsr.search.sharded import ShardedSearcher

    shard_index(cut_impact, tmp_path / "one", num_shards=1, encoder=cut_encoder, progress=False)
    with ShardedSearcher(tmp_path / "one", cut_encoder) as one:
        assert one.search(cut_queries, 30) == LuceneSearcher(cut_impact, cut_encoder).search(cut_queries, 30)


def test_sharded_searches_deeper_than_a_thousand_hits_and_their_default_depths(tmp_path, cut_encoder, splade_tiny):
    """2500 one-term documents in 2 shards, the first shard's impacts all higher: the top 2000 take 1250
    hits from one shard; `search` returns 1000 hits by default, `search_one` 10."""
    from lsr.indexing.layout import part_path
    from lsr.indexing.sharded import build_sharded_index
    from lsr.indexing.vectors import check_vectors_info
    from lsr.search.sharded import ShardedSearcher

    n, half, term = 2500, 1250, cut_encoder.vocab.index("cell")
    ids = [f"d{i:04d}" for i in range(n)]
    weights = np.where(np.arange(n) < half, 0.5 + np.arange(n) % 5 / 10, 0.1 + np.arange(n) % 3 / 10)
    vectors = tmp_path / "vectors"
    vectors.mkdir()
    for part, rows in enumerate((np.arange(half), np.arange(half, n))):
        SparseVectors([ids[i] for i in rows], np.arange(len(rows) + 1), np.full(len(rows), term), weights[rows],
                      len(cut_encoder.vocab)).to_parquet(part_path(vectors, part))
    check_vectors_info(vectors, cut_encoder, str(splade_tiny))
    build_sharded_index(vectors, tmp_path / "idx", splade_tiny, num_shards=2, encoder=cut_encoder, progress=False)
    impacts = {doc: round(w * 100) for doc, w in zip(ids, weights.tolist())}
    expected = sorted(impacts.items(), key=lambda hit: (-hit[1], hit[0]))[:2000]
    query = SparseVectors(["q"], np.array([0, 1]), np.array([term]), np.array([1]), len(cut_encoder.vocab), scale=100.0)
    with ShardedSearcher(tmp_path / "idx", cut_encoder) as searcher:
        assert as_integers(searcher.search_vectors(query, 2000)["q"]) == expected
        assert sum(doc < ids[half] for doc, _ in expected) == half
        assert len(searcher.search_vectors(query)["q"]) == 1000
        assert len(searcher.search([Query("q", "cell")])["q"]) == 1000
        assert len(searcher.search_one("cell")) == 10
    searcher.close()  # closing again is harmless


def test_merged_shard_runs_rank_and_score_as_one_index():
    """Queries found in one shard only keep that shard's hits and scores; hits from several are ranked by
    score then id and tied scores lowered as Anserini does, in float32 (a step of 1e-6 vanishes at 3e6)."""
    from lsr.search.merge import MAX_MERGED_K, merge_runs

    first = {"first": [("x", 4.0), ("y", 3.999999)], "both": [("a", 9.0), ("c", 5.0)], "big": [("p", 3e6)]}
    second = {"both": [("b", 7.0), ("d", 5.0)], "second": [("z", 2.0)], "none": [], "big": [("o", 3e6)]}
    merged = merge_runs([first, second], ["first", "both", "second", "none", "big"], 4)
    assert merged == {"first": [("x", 4.0), ("y", 3.999999)], "second": [("z", 2.0)], "none": [],
                      "both": [("a", 9.0), ("b", 7.0), ("c", 5.0), ("d", 4.999999)],
                      "big": [("o", 3e6), ("p", 3e6)]}
    assert merge_runs([first, second], ["both", "first"], 1) == {"both": [("a", 9.0)], "first": [("x", 4.0)]}
    assert merge_runs([first, second], ["both"], MAX_MERGED_K)["both"] == merged["both"]
    assert "at most 500000" in error_of(lambda: merge_runs([first], ["both"], MAX_MERGED_K + 1))


def test_merged_scores_of_long_tied_runs_are_printed_as_java_prints_them():
    """Over 19,532 hits tied at a score in [2^16, 2^17) step down to x.9765625 (float32), a 6-decimal
    rounding tie that Java's %f rounds half up (the 6th digit even: round-half-even would differ)."""
    from lsr.lucene import jvm
    from lsr.search.merge import run_scores

    java = jvm.bulk_searcher_class()
    for score in (65537, 99999, 131071):
        raw = np.full(25_000, score, np.float32)
        adjusted = raw.tolist()
        java.adjustTies(adjusted)  # in place (pyjnius copies the array back)
        assert run_scores(raw).tolist() == list(java.asPrinted(adjusted))
    assert run_scores(np.full(25_000, 65537, np.float32))[-1] == 65536.976563

"""Shared fixtures and pytest hooks: paths into ../shared, small corpora cut from SciFact (and indexes of one),
a tiny random masked LM and an index built with it, a local Ray cluster. Helper functions are in helpers.py."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from helpers import (
    CUT_NUM_DOCS,
    CUT_PRUNING,
    CUT_SCALE,
    SCIFACT,
    SPLADE_TINY,
    TINY_PRUNING,
    TINY_SCALE,
    TINY_WORDS,
    cut_beir,
    make_tiny_mlm,
    require,
    tiny_docs,
    write_beir,
)


@pytest.fixture(scope="session")
def scifact() -> Path:
    return require(SCIFACT)


@pytest.fixture(scope="session")
def splade_tiny() -> Path:
    return require(SPLADE_TINY)


@pytest.fixture(scope="session")
def mini_scifact(tmp_path_factory, scifact) -> Path:
    """SciFact cut to 600 documents: every test-qrel document plus the first others, and the
    test queries whose relevant documents are all kept."""
    docs = [json.loads(line) for line in open(scifact / "corpus.jsonl")]
    rows = [line.rstrip("\n").split("\t") for line in open(scifact / "qrels" / "test.tsv")][1:]
    relevant = {d for _, d, _ in rows}
    keep = [d for d in docs if d["_id"] in relevant]
    keep += [d for d in docs if d["_id"] not in relevant][: 600 - len(keep)]
    qids = {q for q, _, _ in rows}
    queries = [q for q in map(json.loads, open(scifact / "queries.jsonl")) if q["_id"] in qids]
    qrels = [(q, d, int(r)) for q, d, r in rows]
    return write_beir(tmp_path_factory.mktemp("mini-scifact"), keep, queries, qrels)


# --- a SciFact cut indexed with splade-tiny: search, index building and sharding tests ------------------


@pytest.fixture(scope="session")
def cut_corpus(tmp_path_factory, scifact) -> Path:
    """SciFact's first documents and queries, plus a blank document and one of control characters only."""
    folder = cut_beir(scifact, tmp_path_factory.mktemp("cut-corpus"), CUT_NUM_DOCS, 8)
    lines = (folder / "corpus.jsonl").read_text().splitlines(keepends=True)
    blank = [json.dumps({"_id": "blank", "title": "", "text": "   "}) + "\n",
             json.dumps({"_id": "control", "title": "\x01", "text": "\x1f\t"}) + "\n"]
    (folder / "corpus.jsonl").write_text("".join(lines[:3] + blank + lines[3:]))  # in the first of 3 shards
    return folder


@pytest.fixture(scope="session")
def cut_queries(cut_corpus) -> list:
    """The cut's queries, then an empty one and a blank one."""
    from lsr.data import Query

    found = [Query(q["_id"], q["text"]) for q in map(json.loads, open(cut_corpus / "queries.jsonl"))]
    return found + [Query("empty", ""), Query("blank", " \t ")]


@pytest.fixture(scope="session")
def cut_encoder(splade_tiny):
    """splade-tiny, documents cut to their first 64 tokens."""
    from lsr.models import load_encoder

    return load_encoder(splade_tiny, doc_max_length=64, long_docs="first")


@pytest.fixture(scope="session")
def cut_impact(tmp_path_factory, cut_corpus, splade_tiny, cut_encoder) -> Path:
    """The cut's impact index (scale CUT_SCALE, pruning CUT_PRUNING, vectors in 3 Parquet files)."""
    from lsr.indexing.build import build_impact_index

    out = tmp_path_factory.mktemp("cut-impact") / "idx"
    build_impact_index(str(cut_corpus), out, splade_tiny, encoder=cut_encoder, scale=CUT_SCALE, pruning=CUT_PRUNING,
                       part_size=16, progress=False)
    return out


@pytest.fixture(scope="session")
def cut_bm25(tmp_path_factory, cut_corpus) -> Path:
    """The cut's BM25 index (Anserini's default k1 and b)."""
    from lsr.indexing.build import build_bm25_index

    out = tmp_path_factory.mktemp("cut-bm25") / "idx"
    build_bm25_index(str(cut_corpus), out)
    return out


@pytest.fixture(scope="session")
def cut_sharded(tmp_path_factory, cut_impact, cut_encoder) -> Path:
    """The impact index's vectors (3 Parquet files) as a sharded index of 2 shards."""
    from lsr.indexing.sharded import shard_index

    out = tmp_path_factory.mktemp("cut-sharded") / "idx"
    shard_index(cut_impact, out, num_shards=2, encoder=cut_encoder, progress=False)
    return out


# --- a tiny random masked LM of TINY_WORDS -------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_mlm(tmp_path_factory) -> Path:
    """A random-weight masked LM whose vocabulary is the special tokens and TINY_WORDS."""
    return make_tiny_mlm(tmp_path_factory.mktemp("tiny-mlm") / "mlm", TINY_WORDS)


@pytest.fixture(scope="session")
def tiny_build(tmp_path_factory, tiny_mlm):
    """12 documents built into an impact index (doc_top_k 3, scale 10, shards of 5): (index folder, build
    report, the build's wall-clock time)."""
    from lsr.indexing.build import build_impact_index

    corpus = write_beir(tmp_path_factory.mktemp("tiny-corpus"),
                        [{"_id": d.id, "title": "", "text": d.text} for d in tiny_docs(12)], [], [])
    out = tmp_path_factory.mktemp("tiny-index") / "idx"
    start = time.perf_counter()
    report = build_impact_index(str(corpus), out, tiny_mlm, scale=TINY_SCALE, pruning=TINY_PRUNING, part_size=5,
                                progress=False)
    return out, report, time.perf_counter() - start


@pytest.fixture()
def copy_of(tmp_path):
    """Copy a file or folder into the test's tmp dir."""

    def copy(path: Path) -> Path:
        target = tmp_path / path.name
        if path.is_dir():
            shutil.copytree(path, target)
        else:
            shutil.copy(path, target)
        return target

    return copy


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark the tests that start a local Ray cluster `ray_cluster`: CI runs and times them as a stage of
    their own."""
    for item in items:
        if "cluster" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.ray_cluster)


@pytest.fixture(scope="module")
def cluster():
    """A Ray cluster of a head and a worker node (separate raylets) on this machine, shut down at the end."""
    ray = pytest.importorskip("ray")
    from ray.cluster_utils import Cluster

    # Worker processes import test modules (e.g. `test_distributed` for `CrashOnce`, as pytest names it) from
    # tests/ (and `helpers`), and lsr from the repository root.
    here = Path(__file__).resolve().parent
    old_path = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(here), str(here.parent), old_path) if p)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    started = None
    try:
        started = Cluster(initialize_head=True, head_node_args={"num_cpus": 1, "include_dashboard": False})
        started.add_node(num_cpus=1)
        ray.init(address=started.address, log_to_driver=False)
        yield started
    finally:
        ray.shutdown()
        if started is not None:
            started.shutdown()
        if old_path is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = old_path

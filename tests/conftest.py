"""Shared fixtures and pytest hooks: paths into ../shared, a small corpus cut from SciFact, a local Ray
cluster. Helper functions are in helpers.py."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from helpers import SCIFACT, SPLADE_TINY, require, write_beir


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

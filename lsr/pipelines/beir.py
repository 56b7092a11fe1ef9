"""`lsr beir`: encode → index → search → evaluate every model and BM25 on BEIR datasets.

Every stage writes its output atomically under OUT/<dataset>/<system>/ and is skipped
when that output is already there, so a rerun after a kill (or with one more model)
does only what is missing; an interrupted encoding resumes after its last shard.

    OUT/<dataset>/<system>/index/        lsr index folder (bm25 is built once per dataset)
    OUT/<dataset>/<system>/run.trec      top-k run
    OUT/<dataset>/<system>/search.json   batch search timing
    OUT/<dataset>/<system>/results.json  metrics (mean and per query), costs, latency
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from lsr.data import read_qrels, read_queries
from lsr.eval.beir_datasets import Dataset
from lsr.eval.latency import measure_latency
from lsr.eval.metrics import DEFAULT_MEASURES, evaluate, evaluate_per_query
from lsr.runs import read_trec_run, write_trec_run
from lsr.fileio import write_text_atomic
from lsr.indexing.build import build_bm25_index, build_impact_index
from lsr.indexing.index_info import INFO_FILE, IndexInfo
from lsr.indexing.search import Searcher
from lsr.indexing.stats import cost_stats, index_mb

log = logging.getLogger(__name__)
BM25 = "bm25"


@dataclass
class System:
    """A row of the report: BM25 (model None) or an impact model."""

    name: str
    model: str | None = None


def systems_for(models: Sequence[str]) -> list[System]:
    """BM25 first, then one system per model, named after its folder (or hub id), made unique."""
    systems, names = [System(BM25)], {BM25}
    for model in models:
        base = Path(model).name if Path(model).exists() else model.replace("/", "__")
        name, n = base, 2
        while name in names:
            name, n = f"{base}-{n}", n + 1
        names.add(name)
        systems.append(System(name, model))
    return systems


def run_beir(systems: Sequence[System], datasets: Sequence[Dataset], out: str | Path, *, k: int = 1000,
             measures: Sequence[str] = DEFAULT_MEASURES, latency_queries: int = 100,
             threads: int | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """Run every missing stage; return the results of every (dataset, system) pair."""
    out = Path(out)
    stages = [(d, s, stage) for d in datasets for s in systems for stage in _STAGES]
    bar = tqdm(total=len(stages), unit="stage", desc="lsr beir", disable=not progress)
    results = []
    for dataset in datasets:
        for system in systems:
            folder = out / dataset.name / system.name
            for name, output, action in _STAGES:
                bar.set_description(f"{dataset.name} · {system.name} · {name}")
                if not _done(folder / output):
                    log.info("[%s] %s: %s", dataset.name, system.name, name)
                    action(dataset, system, folder, k=k, measures=measures, latency_queries=latency_queries,
                           threads=threads, progress=progress)
                bar.update()
            results.append(json.loads((folder / "results.json").read_text(encoding="utf-8")))
    bar.close()
    return results


def _done(path: Path) -> bool:
    return (path / INFO_FILE).is_file() if path.name == "index" else path.is_file()


def _index(dataset: Dataset, system: System, folder: Path, *, threads: int | None, progress: bool,
           **_: Any) -> None:
    if system.model is None:
        build_bm25_index(dataset.corpus, folder / "index", threads=threads or 2)
    else:
        build_impact_index(dataset.corpus, folder / "index", system.model, threads=threads or 2, progress=progress)


def _search(dataset: Dataset, system: System, folder: Path, *, k: int, threads: int | None, progress: bool,
            **_: Any) -> None:
    searcher = Searcher(folder / "index", threads=threads)
    queries = read_queries(dataset.queries, dataset.split)
    start = time.perf_counter()
    run = searcher.search(queries, k, progress=progress)
    seconds = time.perf_counter() - start
    write_trec_run(_without_self_hits(run), folder / "run.trec", tag=system.name)
    write_text_atomic(folder / "search.json", json.dumps(
        {"queries": len(queries), "k": k, "seconds": seconds, "qps": len(queries) / seconds}, indent=2))


def _without_self_hits(run: dict) -> dict:
    """BEIR ignores a hit whose doc id equals the query id (e.g. ArguAna); so do we."""
    return {qid: [(doc, score) for doc, score in hits if doc != qid] for qid, hits in run.items()}


def _evaluate(dataset: Dataset, system: System, folder: Path, *, measures: Sequence[str],
              latency_queries: int, threads: int | None, **_: Any) -> None:
    queries = read_queries(dataset.queries, dataset.split)
    qrels = read_qrels(dataset.queries, dataset.split)
    run = read_trec_run(folder / "run.trec")
    summary = evaluate(run, qrels, measures)
    searcher = Searcher(folder / "index", threads=threads)
    info = IndexInfo.read(folder / "index")
    latency = measure_latency(searcher, queries[:latency_queries])
    search = json.loads((folder / "search.json").read_text(encoding="utf-8"))
    result = {
        "dataset": dataset.name, "group": dataset.group, "system": system.name, "model": system.model,
        "metrics": summary.values, "num_queries": summary.num_queries, "num_missing": summary.num_missing,
        "per_query": evaluate_per_query(run, qrels, measures),
        "costs": {**asdict(cost_stats(searcher, queries)),
                  "index_mb": index_mb(folder / "index"),
                  "encode_docs_per_s": info.speed.get("encode_docs_per_s"),
                  "query_encode_ms": latency.encode_ms,
                  "latency_p50_ms": latency.p50_ms,
                  "latency_p99_ms": latency.p99_ms,
                  "qps": search["qps"]},
    }
    write_text_atomic(folder / "results.json", json.dumps(result, indent=1) + "\n")


_STAGES: list[tuple[str, str, Callable[..., None]]] = [
    ("index", "index", _index),
    ("search", "run.trec", _search),
    ("evaluate", "results.json", _evaluate),
]

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
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm

from lsr.data import read_qrels, read_queries
from lsr.eval.beir_datasets import Dataset
from lsr.eval.cost import cost_stats, index_mb
from lsr.eval.latency import measure_latency
from lsr.eval.metrics import DEFAULT_MEASURES, evaluate, evaluate_per_query
from lsr.fileio import write_text_atomic
from lsr.indexing.build import build_bm25_index, build_impact_index
from lsr.indexing.layout import INFO_FILE, IndexInfo
from lsr.models import Encoder, load_encoder
from lsr.models.registry import check_settings, parse_model_spec
from lsr.runs import read_trec_run, write_trec_run
from lsr.search.lucene import LuceneSearcher

log = logging.getLogger(__name__)
BM25 = "bm25"


@dataclass
class System:
    """A row of the report: BM25 (model None) or an impact model with its encoder settings."""

    name: str
    model: str | None = None
    settings: dict[str, Any] = field(default_factory=dict)


def systems_for(models: Sequence[str]) -> list[System]:
    """BM25 first, then one system per model spec (see `parse_model_spec`), named after its folder
    (or hub id) and settings, made unique."""
    systems, names = [System(BM25)], {BM25}
    for spec in models:
        model, settings = parse_model_spec(spec)
        base = Path(model).name if Path(model).exists() else model.replace("/", "__")
        base += "".join(f"-{key}={value}" for key, value in settings.items())
        name, n = base, 2
        while name in names:
            name, n = f"{base}-{n}", n + 1
        names.add(name)
        systems.append(System(name, model, settings))
    return systems


@dataclass
class _Job:
    """One (dataset, system) pair's stages share this: options, and one encoder loaded at most once."""

    dataset: Dataset
    system: System
    folder: Path
    k: int
    measures: Sequence[str]
    latency_queries: int
    threads: int | None
    progress: bool

    @cached_property
    def encoder(self) -> Encoder | None:
        return None if self.system.model is None else load_encoder(self.system.model, **self.system.settings)

    @cached_property
    def searcher(self) -> LuceneSearcher:
        return LuceneSearcher(self.folder / "index", self.encoder, threads=self.threads)


def run_beir(systems: Sequence[System], datasets: Sequence[Dataset], out: str | Path, *, k: int = 1000,
             measures: Sequence[str] = DEFAULT_MEASURES, latency_queries: int = 100,
             threads: int | None = None, progress: bool = True) -> list[dict[str, Any]]:
    """Run every missing stage; return the results of every (dataset, system) pair."""
    out = Path(out)
    for system in systems:  # a mistyped setting fails now, not after the first dataset's BM25 index
        if system.model is not None:
            check_settings(system.model, system.settings)
    stages = [(d, s, stage) for d in datasets for s in systems for stage in _STAGES]
    bar = tqdm(total=len(stages), unit="stage", desc="lsr beir", disable=not progress)
    results = []
    for dataset in datasets:
        for system in systems:
            job = _Job(dataset, system, out / dataset.name / system.name, k, measures, latency_queries,
                       threads, progress)
            for name, output, action in _STAGES:
                bar.set_description(f"{dataset.name} · {system.name} · {name}")
                if not _done(job.folder / output):
                    log.info("[%s] %s: %s", dataset.name, system.name, name)
                    action(job)
                bar.update()
            results.append(json.loads((job.folder / "results.json").read_text(encoding="utf-8")))
    bar.close()
    return results


def _done(path: Path) -> bool:
    return (path / INFO_FILE).is_file() if path.name == "index" else path.is_file()


def _index(job: _Job) -> None:
    threads = job.threads or 2
    if job.system.model is None:
        build_bm25_index(job.dataset.corpus, job.folder / "index", threads=threads)
    else:
        build_impact_index(job.dataset.corpus, job.folder / "index", job.system.model, encoder=job.encoder,
                           threads=threads, progress=job.progress)


def _search(job: _Job) -> None:
    queries = read_queries(job.dataset.queries, job.dataset.split)
    start = time.perf_counter()
    run = job.searcher.search(queries, job.k, progress=job.progress)
    seconds = time.perf_counter() - start
    write_trec_run(_without_self_hits(run), job.folder / "run.trec", tag=job.system.name)
    write_text_atomic(job.folder / "search.json", json.dumps(
        {"queries": len(queries), "k": job.k, "seconds": seconds, "qps": len(queries) / seconds}, indent=2))


def _without_self_hits(run: dict) -> dict:
    """BEIR ignores a hit whose doc id equals the query id (e.g. ArguAna); so do we."""
    return {qid: [(doc, score) for doc, score in hits if doc != qid] for qid, hits in run.items()}


def _evaluate(job: _Job) -> None:
    dataset, folder, measures = job.dataset, job.folder, job.measures
    queries = read_queries(dataset.queries, dataset.split)
    qrels = read_qrels(dataset.queries, dataset.split)
    run = read_trec_run(folder / "run.trec")
    summary = evaluate(run, qrels, measures)
    searcher = job.searcher
    info = IndexInfo.read(folder / "index")
    latency = measure_latency(searcher, queries[:job.latency_queries])
    search = json.loads((folder / "search.json").read_text(encoding="utf-8"))
    result = {
        "dataset": dataset.name, "group": dataset.group, "system": job.system.name,
        "model": job.system.model, "settings": job.system.settings,
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


_STAGES: list[tuple[str, str, Callable[[_Job], None]]] = [
    ("index", "index", _index),
    ("search", "run.trec", _search),
    ("evaluate", "results.json", _evaluate),
]

"""Foundation benchmark: SPLADE impact vs BM25 on BEIR SciFact (test queries).

Prints one line per figure (`system figure value`) and writes them to WORK/benchmark.json (with
--out FILE.json, also as a result record): encode docs/s, index docs/s, index MB, search QPS
(batch, k=1000, encoding included), P50/P99 single-query latency (k=10, encoding included) and nDCG@10 / R@100 / MRR@10.

    python benchmarks/scifact.py [--data ../shared/data/beir/scifact] [--model ../shared/models/splade-tiny] \\
        [--work runs/benchmark-scifact] [--out benchmarks/results/scifact.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from common import add_out_argument, write_result

from lsr.data import read_qrels, read_queries
from lsr.eval.cost import index_mb
from lsr.eval.latency import measure_latency
from lsr.eval.metrics import evaluate
from lsr.indexing.build import build_bm25_index, build_impact_index
from lsr.search.lucene import LuceneSearcher

ROOT = Path(__file__).resolve().parents[1]


def measure_search(index: Path, queries, qrels) -> dict[str, float]:
    searcher = LuceneSearcher(index)
    searcher.search(queries[:20], k=10)  # warm the JVM and the encoder
    start = time.perf_counter()
    run = searcher.search(queries, k=1000)
    batch_seconds = time.perf_counter() - start
    latency = measure_latency(searcher, queries)
    figures = {"search_qps": len(queries) / batch_seconds, "query_encode_ms": latency.encode_ms,
               "latency_p50_ms": latency.p50_ms, "latency_p99_ms": latency.p99_ms,
               "index_mb": index_mb(index)}
    figures.update(evaluate(run, qrels).values)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared/data/beir/scifact"))
    parser.add_argument("--model", default=str(ROOT.parent / "shared/models/splade-tiny"))
    parser.add_argument("--work", default=str(ROOT / "runs/benchmark-scifact"),
                        help="Folder for the indexes and WORK/benchmark.json.")
    add_out_argument(parser)
    args = parser.parse_args()
    out = Path(args.work)
    queries, qrels = read_queries(args.data, "test"), read_qrels(args.data, "test")
    results: dict[str, dict[str, float]] = {}

    bm25 = build_bm25_index(args.data, out / "bm25", overwrite=True)
    results["bm25"] = {"index_docs_per_s": bm25.lucene_docs_per_second,
                       **measure_search(out / "bm25", queries, qrels)}

    splade = build_impact_index(args.data, out / "splade", args.model, overwrite=True)
    results["splade-impact"] = {"encode_docs_per_s": splade.encode_docs_per_second,
                                "index_docs_per_s": splade.lucene_docs_per_second,
                                "postings_per_doc": splade.info.avg_postings_per_doc,
                                **measure_search(out / "splade", queries, qrels)}

    for system, figures in results.items():
        for name, value in figures.items():
            print(f"{system:14s} {name:18s} {value:.4f}")
    (out / "benchmark.json").write_text(json.dumps(results, indent=2) + "\n")
    write_result(args.out, "scifact",
                 {"systems": [{"system": system, **figures} for system, figures in results.items()]},
                 title="SciFact: BM25 and a SPLADE impact index, end to end")


if __name__ == "__main__":
    main()

"""Query-side cost: masked-LM SPLADE queries vs inference-free (IDF) queries vs BM25, same corpus.

Both sparse systems search the same impact index (documents by the SPLADE encoder, which is
also the inference-free model's document side), so only the query encoder differs.
Prints one line per figure: the encoder alone (median ms per query, batch 1), query preparation
(encoding + quantization + the Java query object), end-to-end P50/P99 ms (preparation + top-10
search), nDCG@10, the masked-LM / inference-free encoder ratio one query at a time, and the same
ratio per query when all queries are encoded in one call (throughput, median of 5 calls).

    python benchmarks/query_encoders.py --impact-index runs/beir/scifact/splade-tiny/index \\
        --bm25-index runs/beir/scifact/bm25/index --inference-free runs/models/splade-tiny-idf
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from common import add_out_argument, write_result

from lsr.data import read_qrels, read_queries
from lsr.eval.latency import measure_latency
from lsr.eval.metrics import evaluate
from lsr.models import load_encoder
from lsr.search.lucene import LuceneSearcher

SHARED = Path(__file__).resolve().parents[2] / "shared"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(SHARED / "data/beir/scifact"))
    parser.add_argument("--impact-index", type=Path, required=True)
    parser.add_argument("--bm25-index", type=Path, required=True)
    parser.add_argument("--inference-free", type=Path, required=True, help="Inference-free model folder.")
    add_out_argument(parser)
    args = parser.parse_args()
    queries, qrels = read_queries(args.data, "test"), read_qrels(args.data, "test")
    searchers = {"bm25": LuceneSearcher(args.bm25_index), "splade-mlm-queries": LuceneSearcher(args.impact_index),
                 "inference-free-queries": LuceneSearcher(args.impact_index, load_encoder(args.inference_free))}
    figures, batched, rows = {}, {}, []
    for name, searcher in searchers.items():
        latency = measure_latency(searcher, queries)
        ndcg = evaluate(searcher.search(queries, 1000), qrels, ["nDCG@10"]).values["nDCG@10"]
        figures[name] = encoder_ms(searcher, queries)
        batched[name] = batched_encoder_ms(searcher, queries)
        for label, value in [("encoder_ms", figures[name]), ("encoder_batched_ms", batched[name]),
                             ("query_prepare_ms", latency.encode_ms),
                             ("latency_p50_ms", latency.p50_ms),
                             ("latency_p99_ms", latency.p99_ms), ("nDCG@10", ndcg)]:
            print(f"{name:24s} {label:16s} {value:.4f}")
        rows.append({"system": name, "encoder ms": round(figures[name], 4),
                     "encoder ms, all queries in one call": round(batched[name], 4),
                     "query prepare ms": round(latency.encode_ms, 4), "P50 ms": round(latency.p50_ms, 4),
                     "P99 ms": round(latency.p99_ms, 4), "nDCG@10": round(ndcg, 4)})
    ratio = figures["splade-mlm-queries"] / figures["inference-free-queries"]
    print(f"{'masked-LM / inference-free query encoder':41s} {ratio:.1f}x")
    ratio_batched = batched["splade-mlm-queries"] / batched["inference-free-queries"]
    print(f"{'same, all queries in one call':41s} {ratio_batched:.1f}x")
    write_result(args.out, "query_encoders", {
        "queries": len(queries), "systems": rows,
        "masked-LM / inference-free query encoder": round(ratio, 1),
        "same, all queries in one call": round(ratio_batched, 1)}, title="Query encoders (SciFact)")


def batched_encoder_ms(searcher: LuceneSearcher, queries, repeats: int = 5) -> float:
    """Median over `repeats` of the ms per query when the encoder gets all queries in one call."""
    if searcher.encoder is None:
        return 0.0
    texts, times = [q.text for q in queries], []
    for _ in range(repeats):
        start = time.perf_counter()
        searcher.encoder.encode_queries(texts)
        times.append((time.perf_counter() - start) * 1000 / len(queries))
    return float(np.median(times))


def encoder_ms(searcher: LuceneSearcher, queries) -> float:
    """Median ms of the query encoder alone, one query at a time (0 for BM25: Lucene analyzes)."""
    if searcher.encoder is None:
        return 0.0
    times = []
    for query in queries:
        start = time.perf_counter()
        searcher.encoder.encode_queries([query.text])
        times.append((time.perf_counter() - start) * 1000)
    return float(np.median(times))


if __name__ == "__main__":
    main()

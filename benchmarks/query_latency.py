"""One query at a time, end to end: BM25 vs inference-free vs masked-LM, each on its own index.

    python benchmarks/query_latency.py --data ../shared/data/beir/scifact \\
        --bm25-index runs/beir/scifact/bm25/index --impact-index runs/beir/scifact/splade-tiny/index \\
        --inference-free-index runs/train/inference-free-idf/eval/index [--queries 300] [--rounds 3]

For each index, every test query is prepared (BM25: whitespace made single spaces, Lucene analyses
in Java; impact: encoded, pruned and quantized) and searched for its top 10 alone, as `search_one`
does; P50/P99 of the whole, and the medians of preparation and search apart. The same queries also go
through Anserini's SimpleSearcher / SimpleImpactSearcher with a Java map per impact query (lsr's
former single-query path) in the same run; the runs take turns, each figure is the median of
--rounds rounds. The inference-free encoder's query token cache (lsr.models.token_cache) is emptied
before each of its rounds and warmed with another split's queries (--warm-split), so that no timed
query is served from what it put there itself. Then the masked-LM query encoder's time is split into
its steps (median over the queries): tokenizer, transformer layers, the vocabulary-sized LM head fused
with max pooling and log(1+ReLU), conversion to a sparse vector, pruning and quantization.

Figures depend on the machine's load (printed before and after): run on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
import torch
from common import add_out_argument, write_result

from lsr.data import read_queries
from lsr.models.pooling import mask_spans
from lsr.search.lucene import LuceneSearcher, _java_int_map
from lsr.sparse import SparseVectors

SHARED = Path(__file__).resolve().parents[2] / "shared"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(SHARED / "data/beir/scifact"))
    parser.add_argument("--bm25-index", type=Path, required=True)
    parser.add_argument("--inference-free-index", type=Path, required=True)
    parser.add_argument("--impact-index", type=Path, help="A masked-LM (SPLADE) impact index.")
    parser.add_argument("--queries", type=int, default=300, help="Test queries timed (the first N).")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("-k", type=int, default=10)
    parser.add_argument("--warm-split", default="train",
                        help="Queries of this split warm the inference-free token cache before each round "
                             "('' for none: a cold cache).")
    add_out_argument(parser)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    torch.set_num_threads(1)  # one query on one core, as a server thread would run it
    texts = [q.text for q in read_queries(args.data, "test")[:args.queries]]
    indexes = {"bm25": args.bm25_index, "inference-free": args.inference_free_index}
    if args.impact_index:
        indexes["masked-LM"] = args.impact_index
    searchers = {name: LuceneSearcher(index) for name, index in indexes.items()}
    warm = [q.text for q in read_queries(args.data, args.warm_split)] if args.warm_split else []
    rounds: dict[tuple[str, str], list[dict[str, list[float]]]] = {}
    found = []
    for _ in range(args.rounds):
        for name, searcher in searchers.items():
            for path in ("lsr", "former"):
                if name == "inference-free":
                    found.append(reset_token_cache(searcher.encoder, warm, texts))
                rounds.setdefault((name, path), []).append(time_queries(searcher, texts, warm[:5] or texts[:5],
                                                                        args.k, path))
    if found[0] is not None:
        print(f"\ninference-free query token cache emptied before each round, then warmed with {len(warm)} "
              f"{args.warm_split or 'no'} queries: {found[0]:.1%} of the timed queries' words found in it")
    print(f"\n{len(texts)} queries one at a time, top {args.k}, ms (median of {args.rounds} rounds)")
    print(f"  {'index':<15} {'path':<7} {'prepare':>8} {'search':>8} {'P50':>8} {'P99':>8}")
    p50, rows, ratios = {}, [], {}
    for (name, path), runs in rounds.items():
        figures = {key: statistics.median(summary(run)[key] for run in runs) for key in summary(runs[0])}
        p50[name, path] = figures["p50"]
        rows.append({"index": name, "path": path, **{f"{key} ms": round(value, 4) for key, value in figures.items()}})
        print(f"  {name:<15} {path:<7} {figures['prepare']:8.3f} {figures['search']:8.3f} {figures['p50']:8.3f} "
              f"{figures['p99']:8.3f}")
    for name in searchers:
        if name != "bm25":
            print(f"  {name} / bm25 P50: {p50[name, 'lsr'] / p50['bm25', 'lsr']:.2f}x "
                  f"(former path: {p50[name, 'former'] / p50['bm25', 'former']:.2f}x)")
            ratios[f"{name} / bm25 P50"] = round(p50[name, "lsr"] / p50["bm25", "lsr"], 2)
            ratios[f"{name} / bm25 P50, former path"] = round(p50[name, "former"] / p50["bm25", "former"], 2)
    steps = encoder_steps(searchers["masked-LM"], texts) if "masked-LM" in searchers else None
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    write_result(args.out, "query_latency", {
        "queries": len(texts), "k": args.k, "rounds": args.rounds,
        "token cache: timed words found after warm-up": None if found[0] is None else round(found[0], 3),
        "latency (median of rounds)": rows, "ratios": ratios,
        **({"masked-LM query encoding steps, ms": steps} if steps else {}),
        "load average after": round(os.getloadavg()[0], 2)}, title="Query latency, one query at a time")


def time_queries(searcher: LuceneSearcher, texts: list[str], warm_up: list[str], k: int,
                 path: str) -> dict[str, list[float]]:
    """Per query: ms to prepare, to search, in all, after searching `warm_up`; `path` "lsr"
    (`search_prepared`) or "former" (Anserini's simple searcher, impact queries as a Java map)."""
    times: dict[str, list[float]] = {"prepare": [], "search": [], "total": []}
    for text in warm_up:
        run_query(searcher, text, k, path)
    for text in texts:
        start = time.perf_counter()
        prepared = prepare(searcher, text, path)
        middle = time.perf_counter()
        search(searcher, prepared, k, path)
        end = time.perf_counter()
        for key, value in (("prepare", middle - start), ("search", end - middle), ("total", end - start)):
            times[key].append(value * 1000)
    return times


def reset_token_cache(encoder, warm: list[str], timed: list[str]) -> float | None:
    """Empty the inference-free encoder's query token cache and warm it with `warm` (another split's
    queries, as a server has seen other queries before): timed queries are not timed from a cache
    they filled themselves. The share of the timed queries' chunks then in the cache; None without one."""
    cache = encoder.token_cache
    if cache is None:
        return None
    cache.clear()
    encoder.query_token_ids(warm)
    chunks = [chunk for text in timed for chunk in text.split(" ")]
    return sum(chunk in cache for chunk in chunks) / max(1, len(chunks))


def run_query(searcher: LuceneSearcher, text: str, k: int, path: str) -> None:
    search(searcher, prepare(searcher, text, path), k, path)


def prepare(searcher: LuceneSearcher, text: str, path: str):
    prepared = searcher.prepare_query(text)
    if path == "former" and isinstance(prepared, SparseVectors):
        return _java_int_map(prepared, searcher.encoder.vocab)
    return prepared


def search(searcher: LuceneSearcher, prepared, k: int, path: str) -> None:
    if prepared is None:
        return
    if path == "lsr":
        searcher.search_prepared(prepared, k)
    else:
        [(hit.docid, hit.score) for hit in searcher._simple_searcher().search(prepared, k)]


def summary(times: dict[str, list[float]]) -> dict[str, float]:
    return {"prepare": statistics.median(times["prepare"]), "search": statistics.median(times["search"]),
            "p50": float(np.percentile(times["total"], 50)), "p99": float(np.percentile(times["total"], 99))}


def encoder_steps(searcher: LuceneSearcher, texts: list[str]) -> dict[str, float]:
    """Median ms per query of each step of the masked-LM query encoder (what `encode_queries` does for
    one query, step by step)."""
    encoder = searcher.encoder
    steps: dict[str, list[float]] = {}

    def mark(name: str, start: float) -> float:
        now = time.perf_counter()
        steps.setdefault(name, []).append((now - start) * 1000)
        return now

    with torch.inference_mode():
        for text in texts:
            start = time.perf_counter()
            batch = encoder.tokenizer([text], truncation=True, max_length=encoder.settings.query_max_length,
                                      return_tensors="pt")
            start = mark("tokenizer", start)
            hidden = encoder.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            start = mark("transformer layers" + ("" if encoder.head is not None else " and LM head"), start)
            weights = encoder.pooling(hidden, mask_spans(batch["attention_mask"]), encoder.head)
            start = mark("LM head + max pooling + log(1+ReLU)" if encoder.head is not None else "pooling", start)
            vector = SparseVectors.from_dense(weights, ["q"])
            start = mark("to a sparse vector", start)
            searcher.pruning.queries(vector).quantize(searcher.info.scale)
            mark("pruning and quantization", start)
    whole = [time.perf_counter()]
    for text in texts:
        searcher.prepare_query(text)
        whole.append(time.perf_counter())
    print(f"\nmasked-LM query encoding, one query at a time, ms (median; {encoder.model.__class__.__name__}, "
          f"{sum(p.numel() for p in encoder.model.parameters()) / 1e6:.1f}M parameters):")
    for name, values in steps.items():
        print(f"  {name:<40} {statistics.median(values):7.3f}")
    print(f"  {'sum of the steps':<40} {sum(statistics.median(v) for v in steps.values()):7.3f}")
    print(f"  {'prepare_query as a whole':<40} {statistics.median(np.diff(whole) * 1000):7.3f}")
    return {**{name: round(statistics.median(values), 3) for name, values in steps.items()},
            "prepare_query as a whole": round(float(statistics.median(np.diff(whole) * 1000)), 3)}


if __name__ == "__main__":
    main()

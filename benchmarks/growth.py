"""How index time, size, memory and search speed grow with the corpus: synthetic impact indexes.

    python benchmarks/growth.py [--sizes 10000 100000 1000000] [--work runs/growth]

Each size runs in a fresh process: synthetic document vectors over splade-tiny's 30,522-term
vocabulary (postings per document ~ Poisson(--postings), term ids drawn from a Zipf-like law over a
shuffled vocabulary so that a few terms have very long posting lists, weights log-normal, as trained
SPLADE vectors look) are written as Parquet shards of 1,024 documents, one shard at a time, then into
a Lucene impact index (`write_impact_index`, the path `lsr index` takes after encoding). Then 300
synthetic queries (~Poisson(--query-postings) terms, the same term law) are searched: batch QPS at
k=1000 (`LuceneSearcher.search_vectors`, median of 3 after a warm-up) and one query at a time at k=10
(P50/P99). Printed per size: index time (docs/s), index MB, the process's peak RSS (Python + JVM),
QPS, latency; then the growth rate between sizes (time ratio / size ratio).

With --seismic, each size's Seismic index is also built (Seismic's default parameters, timed) and the
same queries searched at k=10, in batch, by Lucene and by Seismic at a few (query_cut, heap_factor)
settings: QPS (median of 3) and recall@10 against Lucene's exact top 10. Synthetic documents have no
topical clusters for Seismic's blocks to exploit, and synthetic queries no relation to the documents:
the worst case for an approximate index, not a forecast of its speed on real text.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from common import add_out_argument, write_result

SHARED = Path(__file__).resolve().parents[2] / "shared"
SHARD = 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--postings", type=float, default=120.0, help="Mean postings per document.")
    parser.add_argument("--query-postings", type=float, default=20.0, help="Mean terms per query.")
    parser.add_argument("--model", default=str(SHARED / "models/splade-tiny"), help="Whose vocabulary.")
    parser.add_argument("--work", type=Path, default=Path("runs/growth"))
    parser.add_argument("--seismic", default=None, help="Also measure Seismic at these query_cut:heap_factor "
                                                        "settings, e.g. 10:0.9,20:0.9,20:0.7")
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: measure one size here
    add_out_argument(parser)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(measure(args.one, args)))
        return
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    rows = []
    for size in args.sizes:
        command = [sys.executable, __file__, "--one", str(size), "--postings", str(args.postings),
                   "--query-postings", str(args.query_postings), "--model", args.model, "--work", str(args.work),
                   *(["--seismic", args.seismic] if args.seismic else [])]
        out = subprocess.run(command, check=True, capture_output=True, text=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(f"  done: {size} documents", flush=True)
    print(f"\n{'docs':>10} {'index s':>9} {'docs/s':>8} {'index MB':>9} {'peak RSS MB':>11} {'QPS k=1000':>11} "
          f"{'P50 ms':>7} {'P99 ms':>7}")
    for row in rows:
        print(f"{row['docs']:>10,} {row['index_s']:9.1f} {row['docs'] / row['index_s']:8.0f} {row['index_mb']:9.1f} "
              f"{row['peak_rss_mb']:11.0f} {row['qps']:11.1f} {row['p50_ms']:7.2f} {row['p99_ms']:7.2f}")
    for small, large in zip(rows, rows[1:]):
        factor = large["docs"] / small["docs"]
        print(f"  {small['docs']:,} -> {large['docs']:,} ({factor:g}x documents): index time x"
              f"{large['index_s'] / small['index_s']:.1f}, size x{large['index_mb'] / small['index_mb']:.1f}, "
              f"batch search time x{small['qps'] / large['qps']:.1f}, P50 x{large['p50_ms'] / small['p50_ms']:.1f}")
    if args.seismic:
        print("\nSeismic, k=10, batch of 300 queries: QPS and recall@10 against Lucene's exact top 10")
        print(f"{'docs':>10} {'build s':>8} {'Lucene QPS':>11} {'query_cut:heap':>15} {'QPS':>8} {'x Lucene':>9} "
              f"{'recall@10':>10}")
        for row in rows:
            for setting in row["seismic"]:
                print(f"{row['docs']:>10,} {row['seismic_build_s']:8.1f} {row['qps_k10']:11.1f} "
                      f"{setting['setting']:>15} {setting['qps']:8.1f} {setting['qps'] / row['qps_k10']:9.1f} "
                      f"{setting['recall']:10.3f}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    write_result(args.out, "growth", {"postings per document": args.postings, "terms per query": args.query_postings,
                                      "sizes": rows, "load average after": round(os.getloadavg()[0], 2)},
                 title="Growth with the corpus (synthetic vectors)")


def seismic_figures(index: Path, encoder, queries, settings: str, exact_run: dict, lucene_k10) -> dict:
    """Build `index`'s Seismic index and search `queries` at k=10 at each query_cut:heap_factor of
    `settings`: build time, Lucene's k=10 QPS (`lucene_k10()` timed) and per setting QPS and recall@10."""
    from lsr.indexing.seismic import build_seismic_index
    from lsr.search.seismic import SeismicSearcher

    built = build_seismic_index(index, overwrite=True)
    seismic = SeismicSearcher(index, encoder)
    exact = {q: {doc for doc, _ in hits} for q, hits in exact_run.items() if hits}
    figures = {"seismic_build_s": built.build_seconds, "qps_k10": len(queries) / median_time(lucene_k10),
               "seismic": []}
    for setting in settings.split(","):
        cut, factor = setting.split(":")
        seismic.query_cut, seismic.heap_factor = int(cut), float(factor)
        found = seismic.search_vectors(queries, 10)
        recall = statistics.mean(len(docs & {doc for doc, _ in found[q]}) / len(docs) for q, docs in exact.items())
        qps = len(queries) / median_time(lambda: seismic.search_vectors(queries, 10))
        figures["seismic"].append({"setting": setting, "qps": qps, "recall": recall})
    seismic.close()
    return figures


def median_time(call) -> float:
    """Seconds of `call()`, the median of 3 after a warm-up call."""
    call()
    times = []
    for _ in range(3):
        began = time.perf_counter()
        call()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def term_law(vocab_size: int, rng: np.random.Generator) -> np.ndarray:
    """Cumulative probabilities of the term ids: Zipf-like (rank^-1.1) over a random order of the
    vocabulary."""
    probabilities = 1.0 / np.arange(1, vocab_size + 1) ** 1.1
    return np.cumsum(rng.permutation(probabilities / probabilities.sum()))


def synthetic(count: int, mean_terms: float, law: np.ndarray, rng: np.random.Generator, ids: list[str]):
    """`count` float vectors of ~Poisson(mean_terms) term draws from the cumulative law `law` (repeats
    merged)."""
    from lsr.sparse import SparseVectors

    draws = np.maximum(1, rng.poisson(mean_terms, count))
    terms = np.minimum(np.searchsorted(law, rng.random(int(draws.sum()))), law.size - 1)
    rows = [np.unique(part) for part in np.split(terms, np.cumsum(draws)[:-1])]
    indptr = np.concatenate([[0], np.cumsum([row.size for row in rows])]).astype(np.int64)
    values = rng.lognormal(mean=-0.5, sigma=0.6, size=int(indptr[-1])).astype(np.float32)
    return SparseVectors(ids, indptr, np.concatenate(rows).astype(np.int32), values, law.size)


def measure(size: int, args) -> dict:
    from lsr.indexing.build import model_name_for
    from lsr.indexing.layout import LUCENE_DIR, VECTORS_DIR, IndexInfo, part_paths
    from lsr.lucene.writers import write_impact_index
    from lsr.models import load_encoder
    from lsr.search.lucene import LuceneSearcher

    encoder = load_encoder(args.model)
    rng = np.random.default_rng(size)
    law = term_law(len(encoder.vocab), rng)
    out = args.work / f"{size}"
    shutil.rmtree(out, ignore_errors=True)
    (out / VECTORS_DIR).mkdir(parents=True)
    for start in range(0, size, SHARD):  # one shard in memory at a time
        count = min(SHARD, size - start)
        vectors = synthetic(count, args.postings, law, rng, [f"d{i}" for i in range(start, start + count)])
        vectors.to_parquet(out / VECTORS_DIR / f"part-{start // SHARD:05d}.parquet")
    began = time.perf_counter()
    stats = write_impact_index(part_paths(out / VECTORS_DIR), encoder.vocab, 100.0, out / LUCENE_DIR)
    index_s = time.perf_counter() - began
    IndexInfo(kind="impact", num_docs=stats.num_docs, num_empty=stats.num_empty, corpus="synthetic",
              model=model_name_for(args.model, out), encoder_kind=encoder.kind, encoder_settings=encoder.settings,
              vocab_fingerprint=encoder.fingerprint, scale=100.0,
              avg_postings_per_doc=round(stats.avg_postings_per_doc, 2)).save(out)
    searcher = LuceneSearcher(out, encoder)
    queries = synthetic(300, args.query_postings, law, rng, [f"q{i}" for i in range(300)]).quantize(100.0)
    batch_s = median_time(lambda: searcher.search_vectors(queries, 1000))
    single = []
    for i in range(len(queries)):
        query = queries.select([i])
        began = time.perf_counter()
        searcher.search_prepared(query, 10)
        single.append((time.perf_counter() - began) * 1000)
    index_mb = sum(p.stat().st_size for p in (out / LUCENE_DIR).iterdir()) / 2**20
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    row = {"docs": size, "index_s": index_s, "index_mb": index_mb, "peak_rss_mb": peak,
           "qps": len(queries) / batch_s, "p50_ms": float(np.percentile(single, 50)),
           "p99_ms": float(np.percentile(single, 99))}
    if args.seismic:
        row.update(seismic_figures(out, encoder, queries, args.seismic, searcher.search_vectors(queries, 10),
                                   lambda: searcher.search_vectors(queries, 10)))
    searcher.close()
    shutil.rmtree(out / VECTORS_DIR)  # the shards are the bulk of the disk use at 1M documents
    return row


if __name__ == "__main__":
    main()

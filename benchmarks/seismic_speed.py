"""Seismic against Lucene on one impact index: build time, recall@10 against exact scoring, nDCG@10, QPS.

    python benchmarks/seismic_speed.py [--impact-index DIR] [--settings 10:0.8,20:0.9] [--runs 5]

The impact index (splade-tiny, --long-docs first, on SciFact) is built into --work when not given
(minutes). Its Seismic index is then (re)built into INDEX/seismic/ with the given build parameters and
timed. The 300 test queries are encoded once (`LuceneSearcher.encode_queries`), so only search is timed:
Lucene's `LuceneSearcher.search_vectors` and `SeismicSearcher.search_vectors` on the same vectors and the
same number of threads (--threads, default lsr's), k=10 and k=1000, after a warm-up, the median of
--runs timed calls, the paths taking turns within each round.

Exact = Lucene's top-10, which is exact on the integer impacts Seismic also holds. recall@10 is the
share of those documents Seismic returns in its top 10 (averaged over queries; Seismic breaks score ties
in its own order, so a tie at rank 10 can cost a little recall that is no loss in score). nDCG@10 of
both comes from the k=1000 runs. Figures depend on the machine's load (printed before and after).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

from common import add_out_argument, write_result

SHARED = Path(__file__).resolve().parents[2] / "shared"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(SHARED / "data/beir/scifact"))
    parser.add_argument("--model", default=str(SHARED / "models/splade-tiny"))
    parser.add_argument("--impact-index", type=Path, help="Its seismic/ folder is rebuilt.")
    parser.add_argument("--work", type=Path, default=Path("runs/seismic-speed"), help="Where a missing index goes.")
    parser.add_argument("--settings", default="5:0.7,10:0.8,10:0.9,20:0.9,30:1.0",
                        help="Seismic search settings query_cut:heap_factor, comma-separated.")
    parser.add_argument("--n-postings", type=int, default=3500)
    parser.add_argument("--summary-energy", type=float, default=0.4)
    parser.add_argument("--centroid-fraction", type=float, default=0.1)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--threads", type=int, help="Search threads of both backends (default: lsr's).")
    add_out_argument(parser)
    args = parser.parse_args()

    from lsr.data import read_qrels, read_queries
    from lsr.eval.metrics import evaluate
    from lsr.indexing.seismic import SeismicParams, build_seismic_index
    from lsr.search.lucene import LuceneSearcher
    from lsr.search.seismic import SeismicSearcher

    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    index = args.impact_index or build(args)
    params = SeismicParams(n_postings=args.n_postings, summary_energy=args.summary_energy,
                           centroid_fraction=args.centroid_fraction)
    built = build_seismic_index(index, params, threads=args.threads, overwrite=True)
    print(f"Seismic build: {built.build_seconds:.1f} s for {built.num_indexed} documents "
          f"({built.num_indexed / built.build_seconds:.0f} docs/s), {params}")

    queries, qrels = read_queries(args.data, "test"), read_qrels(args.data, "test")
    lucene = LuceneSearcher(index, threads=args.threads)
    seismic = SeismicSearcher(index, lucene.encoder, threads=lucene.threads)
    start = time.perf_counter()
    vectors = lucene.encode_queries(queries)
    print(f"{len(queries)} queries encoded in {time.perf_counter() - start:.2f} s (not in the figures below); "
          f"{lucene.threads} search threads")

    settings = [(int(cut), float(factor)) for cut, factor in (s.split(":") for s in args.settings.split(","))]
    exact = {q: {doc for doc, _ in hits} for q, hits in lucene.search_vectors(vectors, 10).items()}

    def seismic_call(cut: int, factor: float, k: int):
        def call():
            seismic.query_cut, seismic.heap_factor = cut, factor
            return seismic.search_vectors(vectors, k)
        return call

    paths = {("lucene", k): (lambda k=k: lucene.search_vectors(vectors, k)) for k in (10, 1000)}
    paths.update({(setting, k): seismic_call(*setting, k) for setting in settings for k in (10, 1000)})
    runs = {name: call() for name, call in paths.items()}  # warm-up, and the runs measured below
    times: dict[tuple, list[float]] = {name: [] for name in paths}
    for _ in range(args.runs):
        for name, call in paths.items():
            start = time.perf_counter()
            call()
            times[name].append(time.perf_counter() - start)

    def qps(name: tuple) -> float:
        return len(queries) / statistics.median(times[name])

    judged = [q for q, docs in exact.items() if docs]
    print(f"\n{len(queries)} queries, recall@10 over the {len(judged)} with hits; QPS: median of {args.runs}")
    print("| backend | query_cut | heap_factor | recall@10 | nDCG@10 | QPS k=10 | QPS k=1000 "
          "| x Lucene k=10 | x Lucene k=1000 |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    base10, base1000 = qps(("lucene", 10)), qps(("lucene", 1000))
    ndcg = evaluate(runs["lucene", 1000], qrels, ["nDCG@10"]).values["nDCG@10"]
    print(f"| Lucene (exact) | – | – | 1.000 | {ndcg:.4f} | {base10:,.0f} | {base1000:,.0f} | 1.0 | 1.0 |")
    rows = [{"backend": "Lucene (exact)", "query_cut": None, "heap_factor": None, "recall@10": 1.0,
             "nDCG@10": round(ndcg, 4), "QPS k=10": round(base10), "QPS k=1000": round(base1000),
             "x Lucene k=10": 1.0, "x Lucene k=1000": 1.0}]
    for setting in settings:
        found = runs[setting, 10]
        recall = statistics.mean(len(exact[q] & {doc for doc, _ in found[q]}) / len(exact[q]) for q in judged)
        ndcg = evaluate(runs[setting, 1000], qrels, ["nDCG@10"]).values["nDCG@10"]
        print(f"| Seismic | {setting[0]} | {setting[1]} | {recall:.3f} | {ndcg:.4f} | {qps((setting, 10)):,.0f} | "
              f"{qps((setting, 1000)):,.0f} | {qps((setting, 10)) / base10:.1f} | "
              f"{qps((setting, 1000)) / base1000:.1f} |")
        rows.append({"backend": "Seismic", "query_cut": setting[0], "heap_factor": setting[1],
                     "recall@10": round(recall, 3), "nDCG@10": round(ndcg, 4), "QPS k=10": round(qps((setting, 10))),
                     "QPS k=1000": round(qps((setting, 1000))), "x Lucene k=10": round(qps((setting, 10)) / base10, 1),
                     "x Lucene k=1000": round(qps((setting, 1000)) / base1000, 1)})
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    write_result(args.out, "seismic_speed", {
        "index": index, "queries": len(queries), "search threads": lucene.threads, "runs": args.runs,
        "Seismic build s": round(built.build_seconds, 1), "documents": built.num_indexed,
        "Seismic parameters": str(params), "backends": rows, "load average after": round(os.getloadavg()[0], 2)},
        title="Seismic against Lucene")
    seismic.close()
    lucene.close()


def build(args) -> Path:
    from lsr.indexing.build import build_impact_index
    from lsr.indexing.layout import INFO_FILE
    from lsr.models import load_encoder

    out = args.work / "impact"
    if not (out / INFO_FILE).is_file():
        print(f"building the impact index in {out} ...", flush=True)
        build_impact_index(args.data, out, args.model, encoder=load_encoder(args.model, long_docs="first"),
                           progress=False)
    return out


if __name__ == "__main__":
    main()

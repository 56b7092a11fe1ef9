"""Scale-out on Ray, on a local cluster of a head and one worker node: encoding and search speed against
one process, with the results checked identical.

    python benchmarks/ray_scale.py [--docs 5183] [--shards 2] [-k 1000] [--runs 3] [--max-seconds 1800]

Encoding: the same documents (the first --docs of the corpus) encoded by `encode_corpus` in this process
(torch's own threads) and by `encode_corpus_ray` (--workers actors of one CPU each, one per node by
default); docs/s, and the cost per document in CPU-milliseconds (wall time per document times the CPUs
used). The two shard sets are checked equal (ids and terms, weights to 1e-5).

Search: the SciFact test queries, encoded once, searched for the top -k by a single `LuceneSearcher` on one
index of the vectors, by `ShardedSearcher` (the --shards shard indexes in this process) and by
`RayShardedSearcher` (one actor per shard); queries/s as the median of --runs timed calls after a warm-up
call, the three runs checked identical (score for score, ties included).

The whole run stops after --max-seconds (the cluster shut down). Figures depend on the machine's load:
the load average is printed before and after; run it on a quiet machine for figures worth keeping.
"""

from __future__ import annotations

import argparse
import functools
import os
import signal
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from common import add_out_argument, write_result

SHARED = Path(__file__).resolve().parents[2] / "shared"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, default=SHARED / "data/beir/scifact")
    parser.add_argument("--model", type=Path, default=SHARED / "models/splade-tiny")
    parser.add_argument("--docs", type=int, default=None, help="the corpus's first documents (default: all)")
    parser.add_argument("--queries", type=int, default=None, help="the first test queries (default: all)")
    parser.add_argument("--part-size", "--shard-size", dest="part_size", type=int, default=256,
                        help="documents per Parquet file of vectors")
    parser.add_argument("--shards", type=int, default=2, help="shard indexes")
    parser.add_argument("--workers", type=int, default=2, help="Ray encoding actors (one CPU each)")
    parser.add_argument("--cpus-per-node", type=int, default=1, help="CPUs of the head and of the worker node")
    parser.add_argument("-k", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--max-seconds", type=int, default=1800)
    parser.add_argument("--work", type=Path, help="working folder (default: a temporary one)")
    add_out_argument(parser)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    signal.signal(signal.SIGALRM, _out_of_time)
    signal.alarm(args.max_seconds)
    with tempfile.TemporaryDirectory(prefix="lsr-ray-scale-") as tmp:
        work = args.work or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        cluster = start_cluster(args.cpus_per_node)
        try:
            figures = run(args, work)
        finally:
            import ray

            ray.shutdown()
            cluster.shutdown()
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    figures["load average after"] = round(os.getloadavg()[0], 2)
    write_result(args.out, "ray_scale", figures, title="Scale-out on a local Ray cluster")


def run(args: argparse.Namespace, work: Path) -> dict:
    from lsr.data import read_corpus, read_queries
    from lsr.distributed.encode import encode_corpus_ray
    from lsr.distributed.search import RayShardedSearcher
    from lsr.distributed.shards import build_on_ray
    from lsr.indexing.build import build_impact_index, model_name_for
    from lsr.indexing.sharded import build_sharded_index
    from lsr.indexing.vectors import encode_corpus
    from lsr.models import load_encoder
    from lsr.search.lucene import LuceneSearcher
    from lsr.search.sharded import ShardedSearcher

    corpus = cut_corpus(args.data, work / "corpus", args.docs)
    num_docs = sum(1 for _ in read_corpus(str(corpus)))
    load = functools.partial(load_encoder, args.model, long_docs="first")
    encoder = load()
    print(f"{num_docs} documents of {args.data.name}, {args.model.name} (long_docs=first), shards of "
          f"{args.part_size} documents")

    # Encoding: one process, then Ray.
    single = work / "single"
    start = time.perf_counter()
    encode_corpus(read_corpus(str(corpus)), encoder, single / "vectors", model_name=model_name_for(args.model, single),
                  part_size=args.part_size, progress=False)
    local_seconds = time.perf_counter() - start
    sharded = work / "sharded"
    start = time.perf_counter()
    encode_corpus_ray(str(corpus), sharded / "vectors", load, model_name=model_name_for(args.model, sharded),
                      part_size=args.part_size, workers=args.workers, progress=False)
    ray_seconds = time.perf_counter() - start
    same_vectors(sharded / "vectors", single / "vectors")
    threads = torch.get_num_threads()
    print("\nencoding                 docs/s   CPU-ms/doc   (wall ms/doc x CPUs)")
    figures: dict = {"documents": num_docs, "shards": args.shards, "workers": args.workers, "k": args.k,
                     "encoding": [], "search": []}
    for name, seconds, cpus in (("one process", local_seconds, threads),
                                (f"Ray, {args.workers} actors", ray_seconds, args.workers)):
        print(f"  {name:<20} {num_docs / seconds:9.1f}   {1000 * seconds * cpus / num_docs:10.2f}   "
              f"({1000 * seconds / num_docs:.2f} x {cpus})")
        figures["encoding"].append({"encoder": name, "docs/s": round(num_docs / seconds, 1),
                                    "CPU-ms/doc": round(1000 * seconds * cpus / num_docs, 2)})
    print("  vectors identical (ids, terms; weights to 1e-5); the Ray time includes starting the actors")

    # Indexes: one of the whole, the shards as Ray tasks.
    start = time.perf_counter()
    build_impact_index(str(corpus), single, args.model, encoder=encoder, part_size=args.part_size,
                       progress=False)  # the vectors are there: Lucene only
    single_index_seconds = time.perf_counter() - start
    start = time.perf_counter()
    build_sharded_index(sharded / "vectors", sharded, args.model, num_shards=args.shards, encoder=encoder,
                        corpus=str(corpus), threads=1, progress=False,
                        run_jobs=functools.partial(build_on_ray, address=None, cpus_per_shard=0.5))
    sharded_index_seconds = time.perf_counter() - start
    print(f"\nLucene: one index {single_index_seconds:.1f} s; {args.shards} shard indexes as Ray tasks "
          f"{sharded_index_seconds:.1f} s (Ray start-up included)")
    figures["Lucene: one index, s"] = round(single_index_seconds, 1)
    figures["Lucene: shard indexes as Ray tasks, s"] = round(sharded_index_seconds, 1)

    # Search: the same query vectors on the three searchers.
    queries = read_queries(str(args.data), "test")[:args.queries]
    one = LuceneSearcher(single, encoder)
    vectors = one.encode_queries(queries)
    here = ShardedSearcher(sharded, encoder)
    on_ray = RayShardedSearcher(sharded, encoder, cpus_per_shard=min(1.0, 2 * args.cpus_per_node / args.shards))
    try:
        print(f"\nsearch, {len(queries)} queries, k={args.k}   queries/s   (median of {args.runs}, after a warm-up)")
        reference = None
        for name, search in (("one index", one.search_vectors), (f"{args.shards} shards here", here.search_vectors),
                             (f"{args.shards} shards on Ray", on_ray.search_vectors)):
            result, seconds = timed(lambda search=search: search(vectors, args.k), args.runs)
            print(f"  {name:<24} {len(queries) / seconds:9.1f}")
            figures["search"].append({"searcher": name, "queries/s": round(len(queries) / seconds, 1)})
            if reference is None:
                reference = result
            elif result != reference:
                raise SystemExit(f"{name}: the run differs from the single index's")
        print("  runs identical (every query, score and rank)")
        figures["runs identical"] = True
    finally:
        on_ray.close()
        here.close()
    return figures


def timed(call: Callable[[], object], runs: int) -> tuple[object, float]:
    """The result of `call` after a warm-up call, and the median seconds of `runs` timed calls."""
    result, times = call(), []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return result, statistics.median(times)


def cut_corpus(data: Path, out: Path, docs: int | None) -> Path:
    """A BEIR folder with `data`'s first `docs` documents (all: `data` itself)."""
    if docs is None:
        return data
    out.mkdir(parents=True, exist_ok=True)
    with open(data / "corpus.jsonl") as source, open(out / "corpus.jsonl", "w") as target:
        for _, line in zip(range(docs), source):
            target.write(line)
    return out


def same_vectors(folder: Path, reference: Path) -> None:
    from lsr.indexing.layout import part_paths
    from lsr.sparse import SparseVectors

    for got, want in zip(map(SparseVectors.read_parquet, part_paths(folder)),
                         map(SparseVectors.read_parquet, part_paths(reference)), strict=True):
        if got.ids != want.ids or not np.array_equal(got.indices, want.indices):
            raise SystemExit(f"{folder}: the Ray encoding differs from the single-process one")
        np.testing.assert_allclose(got.values, want.values, rtol=1e-5, atol=1e-6)


def start_cluster(cpus_per_node: int):
    """A local Ray cluster of a head and a worker node, `cpus_per_node` CPUs each, joined by this process."""
    import ray
    from ray.cluster_utils import Cluster

    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": cpus_per_node, "include_dashboard": False})
    cluster.add_node(num_cpus=cpus_per_node)
    ray.init(address=cluster.address, log_to_driver=False)
    return cluster


def _out_of_time(signum, frame) -> None:
    raise SystemExit("out of time (--max-seconds): stopped")


if __name__ == "__main__":
    main()

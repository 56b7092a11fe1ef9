"""Batch search speed: lsr's `LuceneSearcher.search` against Lucene's own loop and lsr's former path.

    python benchmarks/search_speed.py [--bm25-index DIR] [--impact-index DIR] [-k 1000] [--runs 5]

SciFact test queries (300), top k=1000, one process, after a warm-up call of each path; the median of
--runs timed calls, the paths taking turns within each round:

  ceiling       a single-threaded loop of Lucene's IndexSearcher.search(query, k) over the queries
                (Java Query objects built beforehand; the loop is driven from Python, one JNI call
                per query, whose own cost is printed too: Anserini has no such loop of its own, its
                SearchCollection is the "former" path below)
  +id ties      the same loop sorting as a run needs: by score, ties by external doc id (Anserini's
                tie-break), IndexSearcher.search(query, k, sort, false): the floor of `search`
  +rescore      and with the hits' scores recomputed, search(query, k, sort, true), as Anserini does
                (`search` skips that where the recomputed scores are provably the same)
  search        LuceneSearcher.search with --threads Java threads (default: lsr's, min(4, cores)); impact:
                the pre-encoded queries through LuceneSearcher.search_vectors, so that all paths search the
                same thing; encoding is timed on its own
  search 1T     the same with one thread
  former        Anserini's SearchCollection with topic and run files, on the same batch (what
                LuceneSearcher.search_with_anserini does once the queries are encoded: the path `search`
                replaced; --old-runs calls)

Ratios are time / ceiling time (below 1: faster than the single-threaded loop). The runs of `search`
and the former path are checked to be identical. Then `lsr search INDEX QUERIES -o RUN -k K` is split
into its stages in fresh processes (median of --cli-runs): imports, model load, JVM start, query
encoding, opening the index (Java searcher and doc id table) and the search, writing the run file;
and the whole command's wall time, measured from outside.

Indexes are built into --work when not given (BM25; splade-tiny with --long-docs first: minutes).
Figures depend on the machine's load: the load average is printed before and after; run it on a quiet
machine (load below 1) for figures worth keeping.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from common import add_out_argument, write_result

SHARED = Path(__file__).resolve().parents[2] / "shared"

STAGES = r'''
import json, sys, time
t = time.perf_counter(); times = {}
def mark(name):
    global t
    now = time.perf_counter(); times[name] = now - t; t = now
import lsr.cli.main; mark("import CLI")
from lsr.data import read_queries
from lsr.runs import write_trec_run
index, data, k, out = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
queries = read_queries(data, "test"); mark("read queries")
from lsr.search.lucene import LuceneSearcher
searcher = LuceneSearcher(index); mark("load the model (torch, transformers, weights)")
from lsr.lucene.jvm import jnius
jnius(); mark("start the JVM")
vectors = searcher.encode_queries(queries) if searcher.encoder is not None else None; mark("encode queries")
searcher._bulk_searcher(); mark("open the index (Java searcher, doc id table)")
run = searcher.search_vectors(vectors, k) if vectors is not None else searcher.search(queries, k)
mark("search")
write_trec_run(run, out); mark("write the run file")
print(json.dumps(times))
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=str(SHARED / "data/beir/scifact"))
    parser.add_argument("--model", default=str(SHARED / "models/splade-tiny"))
    parser.add_argument("--bm25-index", type=Path)
    parser.add_argument("--impact-index", type=Path)
    parser.add_argument("--work", type=Path, default=Path("runs/search-speed"), help="Where missing indexes go.")
    parser.add_argument("-k", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--old-runs", type=int, default=3)
    parser.add_argument("--cli-runs", type=int, default=3, help="0: no `lsr search` stages.")
    parser.add_argument("--threads", type=int, help="Java threads of LuceneSearcher.search (default: lsr's).")
    add_out_argument(parser)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    indexes = {"bm25": args.bm25_index or build(args, "bm25"), "impact": args.impact_index or build(args, "impact")}
    figures: dict = {"k": args.k, "runs": args.runs}
    for kind, index in indexes.items():
        figures[f"{kind}: batch search"] = in_process(kind, index, args)
    for kind, index in indexes.items():
        if args.cli_runs:
            figures[f"{kind}: `lsr search` stages, ms"] = command_stages(kind, index, args)
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    figures["load average after"] = round(os.getloadavg()[0], 2)
    write_result(args.out, "search_speed", figures, title="Batch search against Lucene's own pace")


def build(args, kind: str) -> Path:
    """The SciFact index of `kind` under --work, built when missing (splade-tiny with --long-docs first)."""
    from lsr.indexing.build import build_bm25_index, build_impact_index
    from lsr.indexing.layout import INFO_FILE
    from lsr.models import load_encoder

    out = args.work / kind
    if not (out / INFO_FILE).is_file():
        print(f"building the {kind} index in {out} ...", flush=True)
        if kind == "bm25":
            build_bm25_index(args.data, out)
        else:
            build_impact_index(args.data, out, args.model, encoder=load_encoder(args.model, long_docs="first"),
                               progress=False)
    return out


def in_process(kind: str, index: Path, args) -> dict:
    from lsr.data import read_queries
    from lsr.lucene.jvm import jclass, jnius
    from lsr.search.lucene import LuceneSearcher

    queries = read_queries(args.data, "test")
    searcher = LuceneSearcher(index, threads=args.threads)
    one_thread = LuceneSearcher(index, searcher.encoder, threads=1)
    k = args.k

    start = time.perf_counter()
    vectors = searcher.encode_queries(queries) if searcher.encoder is not None else None
    encoding = time.perf_counter() - start

    def search(s):
        return (lambda: s.search_vectors(vectors, k)) if vectors is not None else (lambda: s.search(queries, k))

    # The ceiling: Lucene's IndexSearcher on the same index, the queries as Java objects made beforehand.
    lucene_path = jclass("java.io.File")(str(searcher.lucene_dir)).toPath()
    directory = jclass("org.apache.lucene.store.FSDirectory").open(lucene_path)
    reader = jclass("org.apache.lucene.index.DirectoryReader").open(directory)
    # pyjnius needs the reader cast to IndexReader to pick IndexSearcher's constructor.
    index_reader = jnius().cast("org.apache.lucene.index.IndexReader", reader)
    lucene = jclass("org.apache.lucene.search.IndexSearcher")(index_reader)
    generator = jclass("io.anserini.search.query.BagOfWordsQueryGenerator")()
    if vectors is None:
        k1, b = searcher._bm25_strings()
        lucene.setSimilarity(jclass("org.apache.lucene.search.similarities.BM25Similarity")(float(k1), float(b)))
        analyzer = jclass("io.anserini.analysis.DefaultEnglishAnalyzer").fromArguments("porter", False, None)
        java_queries = [generator.buildQuery("contents", analyzer, " ".join(q.text.split())) for q in queries]
    else:
        lucene.setSimilarity(jclass("io.anserini.search.similarity.ImpactSimilarity")())
        boxed, vocab, java_queries = jclass("java.lang.Float"), searcher.encoder.vocab, []
        for i in range(len(vectors)):
            weights = jclass("java.util.HashMap")()
            for term, weight in zip(*(part.tolist() for part in vectors.row(i))):
                weights.put(vocab[term], boxed(float(weight)))
            java_queries.append(generator.buildQuery("contents", weights))
    tie_sort = jclass("io.anserini.search.SearchCollection").BREAK_SCORE_TIES_BY_DOCID

    def ceiling():
        for query in java_queries:
            lucene.search(query, k)

    def ceiling_with_ties():
        for query in java_queries:
            lucene.search(query, k, tie_sort, False)

    def ceiling_rescored():
        for query in java_queries:
            lucene.search(query, k, tie_sort, True)

    def jni_calls():
        for _ in java_queries:
            reader.maxDoc()

    paths = {"ceiling": ceiling, "+id ties": ceiling_with_ties, "+rescore": ceiling_rescored,
             f"search ({searcher.threads}T)": search(searcher), "search 1T": search(one_thread), "JNI calls": jni_calls}
    for run in paths.values():  # warm-up (JIT), and the Java searchers opened
        run()
    times: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(args.runs):
        for name, run in paths.items():
            start = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - start)
    new = search(searcher)()
    # The former path on the same batch (impact: the same encoded queries, as text with repeated terms).
    batch = searcher._batch(queries, progress=False) if vectors is None else \
        vectors.select(np.flatnonzero(vectors.nnz_per_row() > 0))
    old_times, old = [], {}
    for _ in range(args.old_runs):
        start = time.perf_counter()
        old = searcher._search_collection(searcher._topic_lines(batch), k)
        old_times.append(time.perf_counter() - start)
    times["former"] = old_times
    identical = all(new[q] == old.get(q, []) for q in new) and set(old) <= set(new)

    n, base = len(queries), statistics.median(times["ceiling"])
    hits = sum(map(len, new.values()))
    print(f"\n{kind}: {index}, {n} queries, k={k}, {hits} hits"
          + (f", encoding {encoding:.2f} s ({n / encoding:.0f} q/s, not in the figures below)" if vectors else ""))
    print(f"  {'path':<16} {'median s':>9} {'q/s':>8} {'x ceiling':>10}")
    rows = []
    for name, values in times.items():
        if name == "JNI calls":
            continue
        median = statistics.median(values)
        print(f"  {name:<16} {median:9.3f} {n / median:8.0f} {median / base:10.2f}")
        rows.append({"path": name, "median s": round(median, 4), "q/s": round(n / median),
                     "x ceiling": round(median / base, 2)})
    print(f"  (one JNI call per query, as the ceiling loops make: {statistics.median(times['JNI calls']) * 1e3:.1f} ms"
          f" in all)")
    print(f"  runs of search and former identical: {identical}")
    reader.close()
    searcher.close()
    one_thread.close()
    return {"index": index, "queries": n, "hits": hits, "paths": rows,
            "query encoding s": round(encoding, 3) if vectors else None,
            "one JNI call per query, ms in all": round(statistics.median(times["JNI calls"]) * 1e3, 1),
            "runs of search and former identical": identical}


def command_stages(kind: str, index: Path, args) -> dict:
    stages: dict[str, list[float]] = {}
    walls = []
    lsr = str(Path(sys.executable).parent / "lsr")
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.cli_runs):
            out = subprocess.run([sys.executable, "-c", STAGES, str(index), args.data, str(args.k), f"{tmp}/a.trec"],
                                 check=True, capture_output=True, text=True)
            for name, seconds in json.loads(out.stdout.strip().splitlines()[-1]).items():
                stages.setdefault(name, []).append(seconds)
            start = time.perf_counter()
            subprocess.run([lsr, "-q", "search", str(index), args.data, "-o", f"{tmp}/b{i}.trec", "-k", str(args.k)],
                           check=True, capture_output=True)
            walls.append(time.perf_counter() - start)
    print(f"\n`lsr search` on {kind} ({args.cli_runs} fresh processes, median):")
    for name, values in stages.items():
        print(f"  {name:<46} {statistics.median(values) * 1000:8.0f} ms")
    print(f"  {'sum of stages':<46} {sum(statistics.median(v) for v in stages.values()) * 1000:8.0f} ms")
    print(f"  {'`lsr search` wall time (interpreter start incl.)':<46} {statistics.median(walls) * 1000:8.0f} ms")
    return {**{name: round(statistics.median(values) * 1000) for name, values in stages.items()},
            "sum of stages": round(sum(statistics.median(v) for v in stages.values()) * 1000),
            "`lsr search` wall time": round(statistics.median(walls) * 1000)}


if __name__ == "__main__":
    main()

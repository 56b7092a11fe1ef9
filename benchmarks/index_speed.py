"""Lucene impact indexing speed: lsr's ImpactIndexer against Anserini's JsonVectorCollection indexing.

    python benchmarks/index_speed.py INDEX [--runs 3] [--threads 2]

Both write a Lucene index from the Parquet shards of an existing lsr impact index (INDEX/vectors,
e.g. runs/beir/scifact/splade-tiny/index), quantized with its scale and pruned as it records:
"lsr" is `write_impact_index` (the vectors handed to Java as arrays, one term per token carrying its
impact as the term frequency); "Anserini" is `write_impact_index_with_anserini` (JSON files, each term
written `impact` times into a text Anserini tokenizes). Reading the shards is included in both. Median
docs/s of --runs runs each, taking turns, after a warm-up of each; the two indexes are checked to hold
the same postings. Figures depend on the machine's load: run it on a quiet machine.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from common import add_out_argument, write_result

from lsr.indexing.layout import VECTORS_DIR, IndexInfo, part_paths
from lsr.lucene import writers as lucene
from lsr.lucene.jvm import jclass
from lsr.pruning import Pruning
from lsr.search.lucene import LuceneSearcher


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index", type=Path)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    add_out_argument(parser)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores)")
    info = IndexInfo.read(args.index)
    vocab = LuceneSearcher(args.index).encoder.vocab
    shards = part_paths(args.index / VECTORS_DIR)
    pruning = Pruning.from_dict(info.pruning)
    writers = {"lsr": lucene.write_impact_index, "Anserini": lucene.write_impact_index_with_anserini}
    times: dict[str, list[float]] = {name: [] for name in writers}
    postings = {}
    with tempfile.TemporaryDirectory(dir=args.index.parent) as tmp:
        for round_ in range(args.runs + 1):  # round 0: warm-up
            for name, write in writers.items():
                out = Path(tmp) / name
                shutil.rmtree(out, ignore_errors=True)
                start = time.perf_counter()
                stats = write(shards, vocab, info.scale, out, pruning=pruning, threads=args.threads)
                if round_:
                    times[name].append(time.perf_counter() - start)
                postings[name] = sum_total_term_freq(out)
    docs = stats.num_docs - stats.num_empty
    print(f"\n{args.index}: {docs} documents, {stats.postings / max(docs, 1):.1f} postings each, "
          f"impacts summing to {postings['lsr'] / max(docs, 1):.0f} per document; {args.threads} threads")
    base = statistics.median(times["Anserini"])
    rows = []
    for name, values in times.items():
        median = statistics.median(values)
        print(f"  {name:<9} {median:7.2f} s  {docs / median:9.0f} docs/s  {base / median:5.1f}x Anserini's speed")
        rows.append({"writer": name, "median s": round(median, 3), "docs/s": round(docs / median),
                     "x Anserini": round(base / median, 1)})
    print(f"  same postings (sum of term frequencies): {postings['lsr'] == postings['Anserini']}")
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    write_result(args.out, "index_speed", {
        "index": args.index, "documents": docs, "postings per document": round(stats.postings / max(docs, 1), 1),
        "threads": args.threads, "runs": args.runs, "writers": rows,
        "same postings": postings["lsr"] == postings["Anserini"]}, title="Lucene indexing speed")


def sum_total_term_freq(lucene_dir: Path) -> int:
    path = jclass("java.io.File")(str(lucene_dir)).toPath()
    directory = jclass("org.apache.lucene.store.FSDirectory").open(path)
    reader = jclass("org.apache.lucene.index.DirectoryReader").open(directory)
    try:
        return reader.getSumTotalTermFreq("contents")
    finally:
        reader.close()


if __name__ == "__main__":
    main()

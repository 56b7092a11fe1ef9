"""Where a one-query `lsr search INDEX -t TEXT` spends its time, stage by stage, in a fresh process.

    python benchmarks/startup.py INDEX [--runs 5]

Each run is a new Python process timing, in order: importing the CLI, importing torch +
transformers (`lsr.models`), loading the index's encoder, starting the JVM, opening the Lucene
searcher, and the first and a second query. Prints the median of each stage over the runs, and
the whole command's wall time measured from outside.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

from common import add_out_argument, write_result

STAGES = r'''
import json, sys, time
t = time.perf_counter(); times = {}
def mark(name):
    global t
    now = time.perf_counter(); times[name] = now - t; t = now
import lsr.cli.main; mark("import CLI (click, lsr)")
import lsr.models; mark("import torch + transformers")
from lsr.indexing.layout import IndexInfo
from lsr.models import load_encoder
index = sys.argv[1]
info = IndexInfo.read(index)
encoder = load_encoder(info.model_location(index), **info.encoder_settings) if info.kind == "impact" else None
mark("load the encoder")
from lsr.lucene.jvm import jclass
jclass("java.lang.String"); mark("start the JVM")
from lsr.search.lucene import LuceneSearcher
searcher = LuceneSearcher(index, encoder); searcher._bulk_searcher(); mark("open the Lucene searcher")
searcher.search_one("statins and breast cancer survival", 10); mark("first query")
searcher.search_one("vitamin d and bone density", 10); mark("second query")
print(json.dumps(times))
'''


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("index")
    parser.add_argument("--runs", type=int, default=5)
    add_out_argument(parser)
    args = parser.parse_args()
    stages: dict[str, list[float]] = {}
    commands = []
    for _ in range(args.runs):
        out = subprocess.run([sys.executable, "-c", STAGES, args.index], check=True, capture_output=True, text=True)
        for name, seconds in json.loads(out.stdout.strip().splitlines()[-1]).items():
            stages.setdefault(name, []).append(seconds)
        start = time.perf_counter()
        subprocess.run([str(Path(sys.executable).parent / "lsr"), "-q", "search", args.index, "-t", "statins",
                        "-k", "3"], check=True, capture_output=True)
        commands.append(time.perf_counter() - start)
    for name, values in stages.items():
        print(f"{name:<28} {statistics.median(values) * 1000:8.0f} ms")
    print(f"{'sum of stages':<28} {sum(statistics.median(v) for v in stages.values()) * 1000:8.0f} ms")
    print(f"{'`lsr search -t` wall time':<28} {statistics.median(commands) * 1000:8.0f} ms")
    write_result(args.out, "startup", {
        "index": args.index, "runs": args.runs,
        "stages, ms (median)": {name: round(statistics.median(values) * 1000) for name, values in stages.items()},
        "sum of stages, ms": round(sum(statistics.median(v) for v in stages.values()) * 1000),
        "`lsr search -t` wall time, ms": round(statistics.median(commands) * 1000)},
        title="Start-up of a one-query search")


if __name__ == "__main__":
    main()

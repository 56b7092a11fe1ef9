"""The quality/sparsity trade-off of an inference-free model: `lsr train` with several document λ
under the IDF-aware FLOPS, and the plain (score-space) FLOPS for comparison, next to BM25.

    python benchmarks/inference_free_sweep.py --lambdas 3e-4 1e-3 3e-3 --plain 3e-5
        [--work runs/if-sweep] [--out FILE.json]

Every run uses examples/inference-free-idf.toml (any `--set key=value` is passed on) with its own
`train.lambda_d`; mined candidates, teacher scores, indexes and the IDF table of the first run are
reused by the others. Prints a Markdown table and writes WORK/table.json (and a result record to --out).
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

from common import add_out_argument, write_result

from lsr.data import read_qrels, read_queries
from lsr.eval.cost import cost_stats
from lsr.eval.metrics import DEFAULT_MEASURES, evaluate
from lsr.fileio import write_text_atomic
from lsr.pipelines.distill import run_training
from lsr.search.lucene import LuceneSearcher
from lsr.training.config import load_config

CONFIG = Path(__file__).resolve().parents[1] / "examples" / "inference-free-idf.toml"
SHARED = ("candidates", "teachers", "indexes", "idf.json")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lambdas", type=float, nargs="+", default=[3e-4, 1e-3, 3e-3])
    parser.add_argument("--plain", type=float, nargs="*", default=[], help="λ_d for the score-space FLOPS rows")
    parser.add_argument("--untrained", action="store_true", help="also the model before training (0 steps)")
    parser.add_argument("--work", default="runs/if-sweep", help="Folder of the training runs and table.json.")
    parser.add_argument("--set", action="append", default=[], help="extra key=value overrides")
    add_out_argument(parser)
    args = parser.parse_args()
    root = Path(args.work)
    runs = [("untrained", 0.0, "flops")] if args.untrained else []
    runs += [("idf-aware FLOPS", lam, "flops") for lam in args.lambdas]
    runs += [("plain FLOPS (score space)", lam, "score_space_flops") for lam in args.plain]
    rows, first = [], None
    for name, lam, regularizer in runs:
        out = root / (name if name == "untrained" else f"{regularizer}-{lam:g}")
        if first is not None:
            for part in SHARED:
                if (first / part).exists() and not (out / part).exists():
                    out.mkdir(parents=True, exist_ok=True)
                    (shutil.copytree if (first / part).is_dir() else shutil.copy)(first / part, out / part)
        steps = ["train.max_steps=0"] if name == "untrained" else []
        config = load_config(CONFIG, [*args.set, f"train.lambda_d={lam!r}", f'train.reg_d="{regularizer}"', *steps])
        config.out = str(out)
        results = run_training(config)
        first = first or out
        rows.append({"regulariser": name, "lambda_d": lam, **results["metrics"],
                     "postings_per_doc": results["postings_per_doc"], "flops": results["flops"]})
    data = config.data
    queries, qrels = read_queries(data.train, data.eval_split), read_qrels(data.train, data.eval_split)
    bm25 = LuceneSearcher(first / "indexes" / "bm25")
    costs = cost_stats(bm25, queries)
    rows.insert(0, {"regulariser": "BM25", "lambda_d": None, **evaluate(bm25.search(queries), qrels,
                                                                          DEFAULT_MEASURES).values,
                    "postings_per_doc": costs.postings_per_doc, "flops": costs.flops})
    write_text_atomic(root / "table.json", json.dumps(rows, indent=2) + "\n")
    print("| system | λ_d | nDCG@10 | R@100 | MRR@10 | postings/doc | FLOPS |\n|---|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        lam = "–" if r["lambda_d"] is None else f"{r['lambda_d']:g}"
        print(f"| {r['regulariser']} | {lam} | {r['nDCG@10']:.4f} | {r['R@100']:.4f} | {r['MRR@10']:.4f} "
              f"| {r['postings_per_doc']:.1f} | {r['flops']:.2f} |")
    write_result(args.out, "inference_free_sweep", {"overrides": args.set, "rows": rows},
                 title="Inference-free models: quality against sparsity")


if __name__ == "__main__":
    main()

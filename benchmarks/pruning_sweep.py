"""The quality/cost trade-off of one model without retraining: nDCG@10 against postings per document and
query latency, for a list of document pruning settings, one curve per model and knob.

    python benchmarks/pruning_sweep.py -m ../shared/models/splade-tiny:long_docs=first \
        --doc-top-k 16 32 64 128 --doc-mass 0.5 0.7 0.8 0.9 \
        --out benchmarks/results/pruning_sweep.json --plot docs/pruning-sweep.png

Each model encodes the corpus once (`lsr index`'s index under --work, resumable); every setting is that
index's vectors indexed again with the pruning (`lsr.indexing.build.prune_index`, no encoding), searched
with the test queries (k=1000, nDCG@10 and R@100 by ir-measures) and timed one query at a time (encoding
and Lucene, P50 over --latency-queries queries after a warm-up; the plot shows the search alone, as the
query encoder's time does not depend on document pruning). The unpruned index is each curve's end.
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path
from typing import Any

from common import add_out_argument, write_result

DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "beir" / "scifact"


def settings_of(args: argparse.Namespace) -> list[tuple[str, Any]]:
    """(knob, value) pairs: the unpruned index, then each top-k and each mass."""
    return ([("none", None)] + [("doc_top_k", k) for k in args.doc_top_k]
            + [("doc_mass", m) for m in args.doc_mass])


def sweep_model(spec: str, args: argparse.Namespace) -> list[dict[str, Any]]:
    from lsr.data import read_qrels, read_queries
    from lsr.eval.latency import measure_latency
    from lsr.eval.metrics import evaluate
    from lsr.indexing.build import build_impact_index, prune_index
    from lsr.models.registry import load_encoder_spec, parse_model_spec
    from lsr.pruning import Pruning
    from lsr.search.lucene import LuceneSearcher

    model, _ = parse_model_spec(spec)
    encoder = load_encoder_spec(spec)
    queries, qrels = read_queries(str(args.data), "test"), read_qrels(str(args.data), "test")
    work = args.work / spec.replace("/", "_").replace(":", "_").replace("=", "-").replace(",", "_")
    full = work / "full"
    if not (full / "lsr-index.json").is_file():
        build_impact_index(str(args.data), full, model, encoder=encoder, progress=True)
    rows = []
    for knob, value in settings_of(args):
        folder = full if knob == "none" else work / f"{knob}-{value}"
        if knob != "none" and not (folder / "lsr-index.json").is_file():
            prune_index(full, folder, Pruning(**{knob: value}), encoder=encoder, overwrite=True)
        searcher = LuceneSearcher(folder, encoder)
        run = searcher.search(queries, k=1000)
        quality = evaluate(run, qrels, ["nDCG@10", "R@100"]).values
        latency = [measure_latency(searcher, queries[:args.latency_queries]) for _ in range(args.rounds)]
        row = {"model": spec, "knob": knob, "value": value,
               "postings_per_doc": searcher.info.avg_postings_per_doc,
               **{name: round(figure, 4) for name, figure in quality.items()},
               "p50_ms": round(statistics.median(t.p50_ms for t in latency), 3),
               "encode_ms": round(statistics.median(t.encode_ms for t in latency), 3),
               "search_p50_ms": round(statistics.median(t.search_p50_ms for t in latency), 3)}
        searcher.close()
        print(f"{spec}  {knob}={value}: nDCG@10 {row['nDCG@10']:.4f}  R@100 {row['R@100']:.4f}  "
              f"postings/doc {row['postings_per_doc']:.1f}  P50 {row['p50_ms']:.2f} ms "
              f"(Lucene {row['search_p50_ms']:.3f} ms)")
        rows.append(row)
    return rows


def plot(rows: list[dict[str, Any]], path: Path) -> None:
    """nDCG@10 against postings per document (left) and query P50 (right), one curve per model and knob."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    for model in dict.fromkeys(row["model"] for row in rows):
        full = next(row for row in rows if row["model"] == model and row["knob"] == "none")
        for knob, marker in (("doc_top_k", "o"), ("doc_mass", "s")):
            curve = sorted([row for row in rows if row["model"] == model and row["knob"] == knob] + [full],
                           key=lambda row: row["postings_per_doc"])
            label = f"{Path(model.split(':')[0]).name}, {knob}"
            left.plot([r["postings_per_doc"] for r in curve], [r["nDCG@10"] for r in curve], marker=marker,
                      label=label)
            right.plot([r["search_p50_ms"] for r in curve], [r["nDCG@10"] for r in curve], marker=marker,
                       label=label)
    left.set(xlabel="postings per document", ylabel="nDCG@10")
    right.set(xlabel="Lucene search P50 per query (ms; query encoding not included)")
    left.legend(fontsize=8)
    for axes in (left, right):
        axes.grid(alpha=0.3)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=120)
    print(f"plot written to {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-m", "--model", dest="models", action="append", required=True,
                        help="Model folder or MODEL:key=value spec, repeatable: one curve each.")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="BEIR folder (test split searched).")
    parser.add_argument("--doc-top-k", type=int, nargs="*", default=[16, 32, 64, 128])
    parser.add_argument("--doc-mass", type=float, nargs="*", default=[0.5, 0.7, 0.8, 0.9])
    parser.add_argument("--latency-queries", type=int, default=100, help="Queries timed one at a time.")
    parser.add_argument("--rounds", type=int, default=3, help="Latency rounds; the median is reported.")
    parser.add_argument("--work", type=Path, default=Path("runs/pruning-sweep"), help="Index folders (cached).")
    parser.add_argument("--plot", type=Path, default=None, help="PNG to draw the curves into.")
    add_out_argument(parser)
    args = parser.parse_args()
    rows = [row for spec in args.models for row in sweep_model(spec, args)]
    if args.plot:
        plot(rows, args.plot)
    docs = Path(__file__).resolve().parents[1] / "docs"
    notes = (f"![nDCG@10 against postings per document and query latency]"
             f"({os.path.relpath(args.plot.resolve(), docs)})" if args.plot else None)
    write_result(args.out, "pruning_sweep", {"rows": rows}, title="Pruning sweep: quality against postings and "
                 "latency without retraining", notes=notes)


if __name__ == "__main__":
    main()

"""The `lsr beir` report: one table (Markdown, CSV, JSON) and one plot from the results.

Rows are (dataset, system); cqadupstack's sub-forums are averaged into one dataset and an
"average" row per system closes the table, as BEIR reports. Each measure carries its
difference to BM25 and a paired t-test mark († p < 0.05).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from pathlib import Path
from statistics import fmean
from typing import Any

from lsr.eval.references import reference, source
from lsr.eval.significance import paired_t_test
from lsr.fileio import atomic_path, write_text_atomic

BASELINE = "bm25"
ALPHA = 0.05
COSTS = [("postings_per_doc", "postings/doc", 1), ("postings_per_query", "postings/query", 1),
         ("flops", "FLOPS", 2), ("index_mb", "index MB", 1), ("encode_docs_per_s", "encode docs/s", 1),
         ("query_encode_ms", "query enc ms", 2), ("latency_p50_ms", "P50 ms", 2),
         ("latency_p99_ms", "P99 ms", 2), ("qps", "QPS", 1)]


def report_rows(results: Sequence[dict[str, Any]], measures: Sequence[str]) -> list[dict[str, Any]]:
    """Flat rows: dataset, system, each measure with its delta and p-value vs BM25, costs, reference."""
    merged = _merge_groups(results)
    rows = []
    for result in merged:
        baseline = next(r for r in merged if r["dataset"] == result["dataset"] and r["system"] == BASELINE)
        row: dict[str, Any] = {"dataset": result["dataset"], "system": result["system"]}
        for m in measures:
            row[m] = result["metrics"][m]
            if result["system"] != BASELINE:
                row[f"{m} delta"] = result["metrics"][m] - baseline["metrics"][m]
                row[f"{m} p"] = paired_t_test(result["per_query"][m], baseline["per_query"][m])
        row.update({key: result["costs"].get(key) for key, _, _ in COSTS})
        if result["system"] == BASELINE:
            # A group's figure is the mean of its forums' (None unless every forum has one).
            parts = result.get("parts", [result["dataset"]])
            row["published nDCG@10"] = _mean([reference("bm25-flat", d, "nDCG@10") for d in parts])
        rows.append(row)
    return rows + _averages(rows, measures)


def write_report(results: Sequence[dict[str, Any]], out: str | Path, measures: Sequence[str]) -> list[Path]:
    """Write report.md, report.csv, report.json and report.png into `out`; return their paths."""
    out = Path(out)
    rows = report_rows(results, measures)
    write_text_atomic(out / "report.json", json.dumps({"rows": rows, "reference_source": source()}, indent=1))
    write_text_atomic(out / "report.csv", _csv(rows))
    write_text_atomic(out / "report.md", markdown_table(rows, measures))
    plot(rows, out / "report.png", measures[0])
    return [out / f"report.{ext}" for ext in ("md", "csv", "json", "png")]


def markdown_table(rows: Sequence[dict[str, Any]], measures: Sequence[str]) -> str:
    header = ["dataset", "system", *measures, *(label for _, label, _ in COSTS), "published BM25 nDCG@10"]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * 2 + "---:|" * (len(header) - 2)]
    for row in rows:
        cells = [row["dataset"], row["system"], *(_measure_cell(row, m) for m in measures),
                 *(_number(row.get(key), digits) for key, _, digits in COSTS),
                 _number(row.get("published nDCG@10"), 4)]
        lines.append("| " + " | ".join(cells) + " |")
    notes = (f"\nΔ: difference to BM25 on the same dataset; † paired t-test p < {ALPHA}. "
             f"FLOPS: Σ_t p_q(t)·p_d(t). Latency: one query at a time, encoding + top-10 search. "
             f"QPS: batch search of all queries (k as run), encoding included.\nPublished: {source()}\n")
    return "\n".join(lines) + "\n" + notes


def plot(rows: Sequence[dict[str, Any]], path: Path, measure: str) -> None:
    """Quality against query latency and against FLOPS, one point per (system, dataset)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = [r for r in rows if r["dataset"] != "average"]
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.5))
    for ax, key, label in [(axes[0], "latency_p50_ms", "query latency P50 (ms, encoding + search)"),
                           (axes[1], "flops", "FLOPS per query-document pair")]:
        for system in dict.fromkeys(r["system"] for r in points):
            mine = [r for r in points if r["system"] == system and r.get(key)]
            ax.scatter([r[key] for r in mine], [r[measure] for r in mine], label=system, s=40)
            for r in mine:
                ax.annotate(r["dataset"], (r[key], r[measure]), fontsize=7, xytext=(3, 3),
                            textcoords="offset points")
        ax.set_xscale("log")
        ax.set_xlabel(label)
        ax.set_ylabel(measure)
        ax.grid(True, alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120)
    plt.close(fig)


def _merge_groups(results: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Average each group's sub-datasets (cqadupstack's forums) into one result per system."""
    merged: list[dict[str, Any]] = []
    groups: dict[tuple[Any, Any], list[dict[str, Any]]] = {}
    for result in results:
        if result.get("group") is None:
            merged.append(result)
        else:
            groups.setdefault((result["group"], result["system"]), []).append(result)
    for (group, system), parts in groups.items():
        measures = parts[0]["metrics"]
        merged.append({
            "dataset": group, "system": system, "parts": [p["dataset"] for p in parts],
            "metrics": {m: fmean(p["metrics"][m] for p in parts) for m in measures},
            "per_query": {m: {f"{p['dataset']}/{q}": v for p in parts for q, v in p["per_query"][m].items()}
                          for m in measures},
            "costs": {key: _mean([p["costs"].get(key) for p in parts]) for key, _, _ in COSTS},
        })
    return merged


def _averages(rows: list[dict[str, Any]], measures: Sequence[str]) -> list[dict[str, Any]]:
    datasets = list(dict.fromkeys(r["dataset"] for r in rows))
    if len(datasets) < 2:
        return []
    averages = []
    for system in dict.fromkeys(r["system"] for r in rows):
        mine = [r for r in rows if r["system"] == system]
        if len(mine) != len(datasets):
            continue
        row = {"dataset": "average", "system": system}
        keys = [*measures, *(f"{m} delta" for m in measures), *(key for key, _, _ in COSTS)]
        row.update({key: _mean([r.get(key) for r in mine]) for key in keys if key in mine[0]})
        averages.append(row)
    return averages


def _mean(values: list[float | None]) -> float | None:
    present = [v for v in values if v is not None]
    return fmean(present) if len(present) == len(values) and present else None


def _measure_cell(row: dict[str, Any], measure: str) -> str:
    cell = f"{row[measure]:.4f}"
    if f"{measure} delta" in row:
        mark = "†" if row.get(f"{measure} p", 1.0) < ALPHA else ""
        cell += f" ({row[f'{measure} delta']:+.4f}{mark})"
    return cell


def _number(value: float | None, digits: int) -> str:
    return "–" if value is None else f"{value:,.{digits}f}"


def _csv(rows: Sequence[dict[str, Any]]) -> str:
    columns = list(dict.fromkeys(key for row in rows for key in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()

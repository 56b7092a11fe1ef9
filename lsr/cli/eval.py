"""`lsr eval`: a TREC run evaluated against qrels with ir-measures."""

from __future__ import annotations

import json
from pathlib import Path

import click

from lsr.cli.options import split_for


@click.command("eval")
@click.argument("run_file", type=click.Path(dir_okay=False))
@click.argument("qrels")
@click.option("--split", default="test", help="Qrels split for a BEIR folder.")
@click.option("-M", "--measure", "measures", multiple=True, show_default="nDCG@10, R@100, MRR@10",
              help="ir-measures name, repeatable.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), show_default="none",
              help="Also write the figures as JSON to this file.")
def eval_(run_file: str, qrels: str, split: str, measures: tuple[str, ...], json_out: str | None) -> None:
    """Evaluate RUN_FILE against QRELS (BEIR folder, qrels file or irds:ID)."""
    from lsr.data import read_qrels
    from lsr.eval.metrics import DEFAULT_MEASURES, evaluate, format_table
    from lsr.fileio import write_text_atomic
    from lsr.runs import read_trec_run

    result = evaluate(read_trec_run(run_file), read_qrels(qrels, split_for(qrels, split)),
                      measures or DEFAULT_MEASURES)
    click.echo(format_table({Path(run_file).name: result.values}))
    click.echo(f"{result.num_queries} queries, {result.num_missing} without results")
    if json_out:
        write_text_atomic(json_out, json.dumps({"run": run_file, "qrels": qrels, **result.values,
                                                "num_queries": result.num_queries,
                                                "num_missing": result.num_missing}, indent=2) + "\n")

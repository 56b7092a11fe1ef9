"""`lsr beir`: the BEIR benchmark with a quality and cost report."""

from __future__ import annotations

import click

from lsr.cli.options import show_progress
from lsr.eval.metrics import DEFAULT_MEASURES


@click.command()
@click.option("-m", "--model", "models", multiple=True, show_default="BM25 only",
              help="Model folder or hub id, repeatable; MODEL:key=value,... sets encoder settings "
                   "(e.g. MODEL:long_docs=first,doc_max_length=256).")
@click.option("-d", "--datasets", required=True,
              help="Comma-separated BEIR names (scifact,nfcorpus,cqadupstack,…), folders or irds: ids.")
@click.option("--data-dir", type=click.Path(file_okay=False), show_default="names are folders or irds: ids",
              help="Folder holding BEIR folders by name.")
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False), help="Work and report folder.")
@click.option("-k", "--hits", "k", default=1000, help="Documents per query.")
@click.option("-M", "--measure", "measures", multiple=True, show_default="nDCG@10, R@100, MRR@10",
              help="ir-measures name, repeatable.")
@click.option("--latency-queries", default=100, help="Queries timed one at a time.")
@click.option("--threads", type=int, show_default="2 for indexing, up to 4 for search",
              help="Lucene threads for indexing and search.")
def beir(models: tuple[str, ...], datasets: str, data_dir: str | None, out: str, k: int,
         measures: tuple[str, ...], latency_queries: int, threads: int | None) -> None:
    """Encode, index, search and evaluate every model and BM25 on BEIR datasets; write a report.

    Every stage is cached under OUT: rerunning after a kill, or with one more model, does only
    what is missing.
    """
    from lsr.eval.beir_datasets import resolve_datasets
    from lsr.eval.metrics import parse_measures
    from lsr.eval.report import write_report
    from lsr.pipelines.beir import run_beir, systems_for

    measures = measures or DEFAULT_MEASURES
    parse_measures(measures)
    resolved = resolve_datasets([d for d in datasets.split(",") if d.strip()], data_dir)
    results = run_beir(systems_for(models), resolved, out, k=k, measures=measures,
                       latency_queries=latency_queries, threads=threads, progress=show_progress())
    paths = write_report(results, out, measures)
    click.echo(paths[0].read_text(encoding="utf-8"))
    click.echo("wrote " + ", ".join(str(p) for p in paths))

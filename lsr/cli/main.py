"""The `lsr` command line: thin shells over the Python API."""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import click

from lsr.cli.progress import show_progress
from lsr.errors import LsrError


class _Group(click.Group):
    """Prints a user mistake (`LsrError`) as one line and exits 2; bugs keep their traceback."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LsrError as e:
            click.echo(f"lsr: error: {e}", err=True)
            sys.exit(2)


@click.group(cls=_Group)
@click.option("--java-heap", default=None, help="JVM heap for Lucene, e.g. 4g (default: $LSR_JAVA_HEAP or 2g).")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
def cli(java_heap: str | None, quiet: bool) -> None:
    """lsr: learned sparse retrieval with Lucene impact indexes."""
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="lsr: %(message)s", force=True)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no weight-loading bars from transformers...
    if "transformers" in sys.modules:  # ...which reads that variable only when first imported
        sys.modules["transformers"].utils.logging.disable_progress_bar()
    if java_heap:
        os.environ["LSR_JAVA_HEAP"] = java_heap


def _split_for(source: str, split: str | None) -> str | None:
    """A split applies to BEIR folders only (files and irds: ids name their own queries)."""
    return split if Path(source).is_dir() else None


@cli.command()
@click.argument("corpus")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("-m", "--model", help="Model folder or hub id for an impact index.")
@click.option("--bm25", is_flag=True, help="Build a BM25 index instead (no model).")
@click.option("--scale", default=100.0, show_default=True, help="Impact = round(weight * scale).")
@click.option("--batch-size", type=int, help="Encoding batch size.")
@click.option("--doc-max-length", type=int, help="Tokens per document window for the encoder.")
@click.option("--long-docs", type=click.Choice(["windows", "first"]),
              help="Longer documents: max-pool overlapping windows, or keep the first window (SPLADE encoders).")
@click.option("--shard-size", default=1024, show_default=True, help="Documents per Parquet shard (resume unit).")
@click.option("--doc-top-k", type=int, help="Keep each document's k largest weights.")
@click.option("--doc-threshold", type=float, help="Keep document weights above this.")
@click.option("--query-top-k", type=int, help="Keep each query's k largest weights (recorded for search).")
@click.option("--query-threshold", type=float, help="Keep query weights above this (recorded for search).")
@click.option("--k1", default=0.9, show_default=True, help="BM25 k1.")
@click.option("--b", "b", default=0.4, show_default=True, help="BM25 b.")
@click.option("--threads", default=2, show_default=True, help="Lucene indexing threads.")
@click.option("--overwrite", is_flag=True, help="Replace an existing index at OUT.")
def index(corpus: str, out: str, model: str | None, bm25: bool, scale: float, batch_size: int | None,
          doc_max_length: int | None, long_docs: str | None, shard_size: int, doc_top_k: int | None,
          doc_threshold: float | None, query_top_k: int | None, query_threshold: float | None, k1: float,
          b: float, threads: int, overwrite: bool) -> None:
    """Index CORPUS (BEIR folder, .jsonl/.tsv file or irds:ID) into the index folder OUT."""
    from lsr.indexing.build import build_bm25_index, build_impact_index
    from lsr.indexing.pruning import Pruning

    if bm25 == bool(model):
        raise LsrError("give exactly one of --model MODEL or --bm25")
    if bm25:
        report = build_bm25_index(corpus, out, k1=k1, b=b, threads=threads, overwrite=overwrite)
    else:
        from lsr.models import load_encoder

        encoder = load_encoder(model, batch_size=batch_size, doc_max_length=doc_max_length, long_docs=long_docs)
        pruning = Pruning(doc_top_k, doc_threshold, query_top_k, query_threshold)
        report = build_impact_index(corpus, out, model, encoder=encoder, scale=scale, pruning=pruning,
                                    shard_size=shard_size, threads=threads, overwrite=overwrite,
                                    progress=show_progress())
    info = report.info
    click.echo(f"indexed {info.num_docs} documents into {out} ({info.kind})")
    if info.avg_postings_per_doc is not None:
        click.echo(f"average postings per document: {info.avg_postings_per_doc:.1f}")


@cli.command()
@click.argument("index_dir", type=click.Path(file_okay=False))
@click.argument("queries")
@click.argument("out", type=click.Path(dir_okay=False))
@click.option("--split", default="test", show_default=True, help="Queries split for a BEIR folder.")
@click.option("-k", "--hits", "k", default=1000, show_default=True, help="Documents per query.")
@click.option("-m", "--model", help="Query encoder (default: the model the index records).")
@click.option("--batch-size", type=int, help="Query encoding batch size.")
@click.option("--threads", type=int, help="Lucene search threads (default: up to 4).")
@click.option("--tag", default="lsr", show_default=True, help="Run tag in the TREC file.")
def search(index_dir: str, queries: str, out: str, split: str, k: int, model: str | None,
           batch_size: int | None, threads: int | None, tag: str) -> None:
    """Search INDEX_DIR with QUERIES (BEIR folder, file or irds:ID); write a TREC run to OUT."""
    from lsr.data import read_queries
    from lsr.runs import write_trec_run
    from lsr.indexing.search import Searcher
    from lsr.models import load_encoder

    encoder = load_encoder(model, batch_size=batch_size) if model else None
    searcher = Searcher(index_dir, encoder, threads=threads)
    if searcher.encoder is not None and batch_size:
        searcher.encoder.config.batch_size = batch_size
    topics = read_queries(queries, _split_for(queries, split))
    run = searcher.search(topics, k, progress=show_progress())
    write_trec_run(run, out, tag=tag)
    click.echo(f"searched {len(topics)} queries, wrote {out}")


@cli.command("eval")
@click.argument("run_file", type=click.Path(dir_okay=False))
@click.argument("qrels")
@click.option("--split", default="test", show_default=True, help="Qrels split for a BEIR folder.")
@click.option("-M", "--measure", "measures", multiple=True,
              help="ir-measures name, repeatable (default: nDCG@10, R@100, MRR@10).")
@click.option("--json", "json_out", type=click.Path(dir_okay=False), help="Also write the figures as JSON.")
def eval_(run_file: str, qrels: str, split: str, measures: tuple[str, ...], json_out: str | None) -> None:
    """Evaluate RUN_FILE against QRELS (BEIR folder, qrels file or irds:ID)."""
    from lsr.data import read_qrels
    from lsr.eval.metrics import DEFAULT_MEASURES, evaluate, format_table
    from lsr.runs import read_trec_run
    from lsr.fileio import write_text_atomic

    result = evaluate(read_trec_run(run_file), read_qrels(qrels, _split_for(qrels, split)),
                      measures or DEFAULT_MEASURES)
    click.echo(format_table({Path(run_file).name: result.values}))
    click.echo(f"{result.num_queries} queries, {result.num_missing} without results")
    if json_out:
        write_text_atomic(json_out, json.dumps({"run": run_file, "qrels": qrels, **result.values,
                                                "num_queries": result.num_queries,
                                                "num_missing": result.num_missing}, indent=2) + "\n")


from lsr.cli.idf import idf  # noqa: E402  (the command lives in its own module)
cli.add_command(idf)
from lsr.cli.beir import beir  # noqa: E402
cli.add_command(beir)
from lsr.cli.train import train  # noqa: E402
cli.add_command(train)

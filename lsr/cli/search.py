"""`lsr search`: an index searched with a query file (a TREC run written) or one query (its hits printed)."""

from __future__ import annotations

from pathlib import Path

import click

from lsr.cli.options import (
    MODEL_SETTING,
    backend_options,
    output_options,
    output_path,
    search_backend,
    show_progress,
    split_for,
)
from lsr.errors import LsrError
from lsr.search.backends import SearchBackend


@click.command()
@click.argument("index_dir", metavar="INDEX", type=click.Path(file_okay=False))
@click.argument("queries", required=False)
@output_options("TREC run file", dir_okay=False)
@click.option("-t", "--text", show_default="search QUERIES",
              help="Search this one query and print its hits instead.")
@click.option("--explain", is_flag=True, help="With --text: each hit's matching terms and their contributions.")
@click.option("--split", default="test", help="Queries split for a BEIR folder.")
@click.option("-k", "--hits", "k", type=int, show_default="1000; 10 with --text", help="Documents per query.")
@click.option("--query-model", show_default="the model the index records",
              help="Another query encoder (same vocabulary); MODEL:key=value,... sets its settings.")
@click.option("-m", "--model", "old_model", hidden=True)
@click.option("--batch-size", type=click.IntRange(min=1), show_default=MODEL_SETTING, help="Query encoding batch size.")
@click.option("--threads", type=int, show_default="up to 4", help="Search threads.")
@backend_options
@click.option("--tag", default="lsr", help="Run tag in the TREC file.")
@click.option("--overwrite", is_flag=True, help="Replace an existing run file at OUT.")
def search(index_dir: str, queries: str | None, out_arg: str | None, out: str | None, text: str | None,
           explain: bool, split: str, k: int | None, query_model: str | None, old_model: str | None,
           batch_size: int | None, threads: int | None, backend: str, query_cut: int | None,
           heap_factor: float | None, ray_address: str | None, tag: str, overwrite: bool) -> None:
    """Search INDEX with QUERIES (BEIR folder, file or irds:ID); write a TREC run to OUT (-o).

    With --text, search one query and print its hits (--explain: which terms matched, and how much
    each contributed). --backend seismic searches an impact index's Seismic index (`lsr seismic`):
    faster, approximate, scores as Lucene's. A sharded index (`lsr index --shards`) is searched shard by
    shard and merged into one index's ranking, here or, with --ray, by actors on a Ray cluster.
    """
    from lsr.data import read_queries
    from lsr.indexing.layout import is_sharded_index
    from lsr.runs import write_trec_run

    engine = search_backend(backend, query_cut, heap_factor, ray_address)
    if text is not None:
        if queries or out_arg or out:
            raise LsrError("--text searches one query and prints its hits: give no QUERIES or -o")
        if explain and engine.name != "lucene":
            raise LsrError("--explain reads Lucene's index: not with --backend seismic")
        if explain and is_sharded_index(index_dir):
            raise LsrError(f"--explain reads one Lucene index: {index_dir} is a sharded index")
        _print_hits(_searcher(index_dir, query_model or old_model, batch_size, threads, engine), text, k or 10,
                    explain)
        return
    if explain:
        raise LsrError("--explain goes with --text")
    if queries is None:
        raise LsrError("give QUERIES to search (or --text for one query)")
    out = output_path(out_arg, out, "run file")
    if Path(out).exists() and not overwrite:
        raise LsrError(f"{out} exists: pass --overwrite to replace it")
    topics = read_queries(queries, split_for(queries, split))
    searcher = _searcher(index_dir, query_model or old_model, batch_size, threads, engine)
    run = searcher.search(topics, k or 1000, progress=show_progress())
    write_trec_run(run, out, tag=tag)
    click.echo(f"searched {len(topics)} queries, wrote {out}")


def _searcher(index_dir: str, model: str | None, batch_size: int | None, threads: int | None,
              backend: SearchBackend):
    encoder = None
    if model:
        from lsr.models.registry import load_encoder_spec

        encoder = load_encoder_spec(model, batch_size=batch_size)
    if backend.ray is None:
        from lsr.search.open import open_searcher
    else:  # a sharded index searched by actors on the Ray cluster
        from lsr.distributed.search import open_searcher

    searcher = open_searcher(index_dir, backend, encoder, threads=threads)
    if searcher.encoder is not None and batch_size:
        searcher.encoder.settings = searcher.encoder.settings.replace(batch_size=batch_size)
    return searcher


def _print_hits(searcher, text: str, k: int, explain: bool) -> None:
    """Rank, doc id and score (the model's dot product, or BM25) per hit; with `explain`, its terms."""
    from lsr.search.explain import explain as explain_hit

    unit = searcher.score_unit
    side = unit ** 0.5
    for rank, (doc_id, score) in enumerate(searcher.search_one(text, k), start=1):
        click.echo(f"{rank:>4}  {doc_id}  {score:.4f}")
        if explain:
            for c in explain_hit(searcher, text, doc_id):
                click.echo(f"        {c.term:<20} {c.query_weight / side:8.4f} x {c.doc_weight / side:8.4f}"
                           f" = {c.score / unit:.4f}")

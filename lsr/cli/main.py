"""The `lsr` command line: thin shells over the Python API."""

from __future__ import annotations

import functools
import json
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import click

from lsr import __version__
from lsr.cli.progress import show_progress
from lsr.cli.seismic import backend_options, build_seismic, search_backend
from lsr.errors import LsrError
from lsr.indexing.backends import SearchBackend

if TYPE_CHECKING:
    from lsr.indexing.pruning import Pruning
    from lsr.models import Encoder


GLOBAL_FLAGS = ("-q", "--quiet")
GLOBAL_VALUED = ("--java-heap",)


def hoist_global_options(args: list[str]) -> list[str]:
    """Move the root's options (`-q`, `--java-heap X`) found after the verb to the front.

    So `lsr index ... --java-heap 4g -q` works like `lsr --java-heap 4g -q index ...`;
    everything after a `--` is left alone.
    """
    front: list[str] = []
    rest: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--":
            rest += args[i:]
            break
        if arg in GLOBAL_FLAGS or arg.startswith(tuple(f"{name}=" for name in GLOBAL_VALUED)):
            front.append(arg)
        elif arg in GLOBAL_VALUED and i + 1 < len(args):
            front += args[i:i + 2]
            i += 1
        else:
            rest.append(arg)
        i += 1
    return front + rest


class _Group(click.Group):
    """Takes the root's options anywhere on the line; prints a user mistake (`LsrError`) as one
    line and exits 2; bugs keep their traceback."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        return super().parse_args(ctx, hoist_global_options(args))

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LsrError as e:
            click.echo(f"lsr: error: {e}", err=True)
            sys.exit(2)


@click.group(cls=_Group, context_settings={"show_default": True})
@click.version_option(__version__, "-V", "--version", prog_name="lsr")
@click.option("--java-heap", default=None, show_default="$LSR_JAVA_HEAP or 2g",
              help="JVM heap for Lucene, e.g. 4g.")
@click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors.")
def cli(java_heap: str | None, quiet: bool) -> None:
    """lsr: learned sparse retrieval with Lucene impact indexes.

    The options above work before or after the command (`lsr index ... -q`).
    """
    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="lsr: %(message)s", force=True)
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")  # no weight-loading bars from transformers...
    if "transformers" in sys.modules:  # ...which reads that variable only when first imported
        sys.modules["transformers"].utils.logging.disable_progress_bar()
    if java_heap:
        os.environ["LSR_JAVA_HEAP"] = java_heap


def _split_for(source: str, split: str | None) -> str | None:
    """A split applies to BEIR folders only (files and irds: ids name their own queries)."""
    return split if Path(source).is_dir() else None


MODEL_SETTING = "the model's setting"


def output_path(positional: str | None, option: str | None, what: str) -> str:
    """The output named by `-o/--out` or, as before, by a trailing positional argument."""
    if positional and option and positional != option:
        raise LsrError(f"two outputs given ({positional} and -o {option}): name the {what} once, with -o")
    if not (positional or option):
        raise LsrError(f"name the {what} to write with -o/--out")
    return option or positional


def output_options(what: str, **path: bool):
    """A trailing `[OUT]` argument and `-o/--out` naming the same output (`output_path` picks one)."""

    def add(command):
        command = click.option("-o", "--out", type=click.Path(**path), show_default="the OUT argument",
                               help=f"{what} to write.")(command)
        return click.argument("out_arg", metavar="[OUT]", required=False, type=click.Path(**path))(command)

    return add


@cli.command()
@click.argument("corpus")
@output_options("Index folder", file_okay=False)
@click.option("-m", "--model", show_default="none: give --bm25",
              help="Model folder or hub id for an impact index; MODEL:key=value,... sets encoder settings "
                   "(e.g. precision=bfloat16).")
@click.option("--bm25", is_flag=True, help="Build a BM25 index instead (no model).")
@click.option("--scale", default=100.0, help="Impact = round(weight * scale).")
@click.option("--batch-size", type=click.IntRange(min=1), show_default=MODEL_SETTING, help="Encoding batch size.")
@click.option("--doc-max-length", type=click.IntRange(min=1), show_default=MODEL_SETTING,
              help="Tokens per document window for the encoder.")
@click.option("--long-docs", type=click.Choice(["windows", "first"]), show_default=MODEL_SETTING,
              help="Longer documents: max-pool overlapping windows, or keep the first window (SPLADE encoders).")
@click.option("--shard-size", type=click.IntRange(min=1), show_default="1024; with --shards, corpus / N up to 1024",
              help="Documents per Parquet file of vectors (the resume unit).")
@click.option("--doc-top-k", type=int, show_default="no pruning", help="Keep each document's k largest weights.")
@click.option("--doc-threshold", type=float, show_default="no pruning", help="Keep document weights above this.")
@click.option("--query-top-k", type=int, show_default="no pruning",
              help="Keep each query's k largest weights (recorded for search).")
@click.option("--query-threshold", type=float, show_default="no pruning",
              help="Keep query weights above this (recorded for search).")
@click.option("--k1", default=0.9, help="BM25 k1.")
@click.option("--b", "b", default=0.4, help="BM25 b.")
@click.option("--seismic", is_flag=True,
              help="Also build the Seismic index (default parameters; see `lsr seismic`) for --backend seismic.")
@click.option("--shards", type=click.IntRange(min=1), show_default="one index",
              help="Write N impact shard indexes, searched together with one index's results (`lsr search`).")
@click.option("--ray", "ray_address", metavar="ADDRESS", show_default="here",
              help="Encode and write the shards on the Ray cluster at ADDRESS ('auto': the running one; "
                   "'local': start one here). Needs lsr[ray].")
@click.option("--workers", type=click.IntRange(min=1), default=1, help="With --ray: encoding actors.")
@click.option("--gpus-per-worker", type=click.FloatRange(min=0), default=0.0,
              help="With --ray: GPUs each encoding actor holds.")
@click.option("--threads", default=2, help="Lucene (and Seismic) indexing threads; with --ray, the CPUs of each "
                                           "encoding actor and shard task.")
@click.option("--overwrite", is_flag=True, help="Replace an existing index at OUT.")
def index(corpus: str, out_arg: str | None, out: str | None, model: str | None, bm25: bool, scale: float,
          batch_size: int | None, doc_max_length: int | None, long_docs: str | None, shard_size: int | None,
          doc_top_k: int | None, doc_threshold: float | None, query_top_k: int | None,
          query_threshold: float | None, k1: float, b: float, seismic: bool, shards: int | None,
          ray_address: str | None, workers: int, gpus_per_worker: float, threads: int, overwrite: bool) -> None:
    """Index CORPUS (BEIR folder, .jsonl/.tsv file or irds:ID) into the index folder OUT (-o).

    --shards N writes a sharded impact index: N Lucene indexes of contiguous groups of documents, one
    quantization scale, searched by `lsr search` and `lsr serve` with the ranking of one index. --ray
    runs the encoding (a pool of --workers model actors) and the shard writing on a Ray cluster; every
    node must see CORPUS and OUT under the same paths.
    """
    from lsr.indexing.build import build_bm25_index, build_impact_index
    from lsr.indexing.encode_corpus import DEFAULT_SHARD_SIZE
    from lsr.indexing.pruning import Pruning

    out = output_path(out_arg, out, "index folder")
    if bm25 == bool(model):
        raise LsrError("give exactly one of --model MODEL or --bm25")
    sharded = shards is not None or ray_address is not None
    if sharded and (bm25 or seismic):
        raise LsrError(f"--shards and --ray write sharded impact indexes: not with {'--bm25' if bm25 else '--seismic'}"
                       + (" (BM25 scores of shards do not compare)" if bm25 else ""))
    if (workers != 1 or gpus_per_worker) and ray_address is None:
        raise LsrError("--workers and --gpus-per-worker go with --ray ADDRESS")
    if seismic:
        if bm25:
            raise LsrError("--seismic builds from an impact index's vectors: not with --bm25")
        from lsr.indexing.seismic import import_seismic

        import_seismic()  # missing now, not after the Lucene index is built
    if bm25:
        report = build_bm25_index(corpus, out, k1=k1, b=b, threads=threads, overwrite=overwrite)
    else:
        from lsr.models.registry import load_encoder_spec, parse_model_spec

        # A picklable maker of the encoder (Ray actors call it), MODEL's own settings overridden by options.
        load = functools.partial(load_encoder_spec, model, batch_size=batch_size, doc_max_length=doc_max_length,
                                 long_docs=long_docs)
        model = parse_model_spec(model)[0]
        pruning = Pruning(doc_top_k, doc_threshold, query_top_k, query_threshold)
        if sharded:
            _index_sharded(corpus, out, model, load, scale=scale, pruning=pruning, shard_size=shard_size,
                           shards=shards or 1, ray_address=ray_address, workers=workers,
                           gpus_per_worker=gpus_per_worker, threads=threads, overwrite=overwrite)
            return
        report = build_impact_index(corpus, out, model, encoder=load(), scale=scale,
                                    pruning=pruning, shard_size=shard_size or DEFAULT_SHARD_SIZE, threads=threads,
                                    overwrite=overwrite, progress=show_progress())
    info = report.info
    click.echo(f"indexed {info.num_docs} documents into {out} ({info.kind})")
    if info.avg_postings_per_doc is not None:
        click.echo(f"average postings per document: {info.avg_postings_per_doc:.1f}")
    if seismic:
        build_seismic(out, threads=threads)


def _index_sharded(corpus: str, out: str, model: str, load: Callable[[], Encoder], *, scale: float,
                   pruning: Pruning, shard_size: int | None, shards: int, ray_address: str | None, workers: int,
                   gpus_per_worker: float, threads: int, overwrite: bool) -> None:
    """`lsr index --shards/--ray`: a sharded impact index, built here or on the Ray cluster."""
    from lsr.distributed.shards import build_sharded_index_from_corpus

    if ray_address is not None:
        from lsr.distributed.encode import import_ray

        import_ray()  # missing now, with the extra to install, not after loading anything
    manifest = build_sharded_index_from_corpus(
        corpus, out, model, num_shards=shards, load=load, scale=scale, pruning=pruning, shard_size=shard_size,
        use_ray=ray_address is not None, address=ray_address, workers=workers, cpus_per_worker=threads,
        gpus_per_worker=gpus_per_worker, cpus_per_shard=threads, threads=threads, overwrite=overwrite,
        progress=show_progress())
    info = manifest.index
    click.echo(f"indexed {info.num_docs} documents into {out} (impact, {len(manifest.shards)} shards)")
    click.echo(f"average postings per document: {info.avg_postings_per_doc:.1f}")


@cli.command()
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
    from lsr.indexing.index_info import is_sharded_index
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
    topics = read_queries(queries, _split_for(queries, split))
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
    searcher = backend.open(index_dir, encoder, threads=threads)
    if searcher.encoder is not None and batch_size:
        searcher.encoder.config.batch_size = batch_size
    return searcher


def _print_hits(searcher, text: str, k: int, explain: bool) -> None:
    """Rank, doc id and score (the model's dot product, or BM25) per hit; with `explain`, its terms."""
    from lsr.indexing.explain import explain as explain_hit

    unit = searcher.score_unit
    side = unit ** 0.5
    for rank, (doc_id, score) in enumerate(searcher.search_one(text, k), start=1):
        click.echo(f"{rank:>4}  {doc_id}  {score:.4f}")
        if explain:
            for c in explain_hit(searcher, text, doc_id):
                click.echo(f"        {c.term:<20} {c.query_weight / side:8.4f} x {c.doc_weight / side:8.4f}"
                           f" = {c.score / unit:.4f}")


@cli.command("eval")
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
from lsr.cli.encode import encode  # noqa: E402
cli.add_command(encode)
from lsr.cli.info import info  # noqa: E402
cli.add_command(info)
from lsr.cli.export import export  # noqa: E402
cli.add_command(export)
from lsr.cli.serve import serve  # noqa: E402
cli.add_command(serve)
from lsr.cli.seismic import seismic  # noqa: E402
cli.add_command(seismic)

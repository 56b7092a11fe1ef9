"""`lsr index`: a corpus into an impact (or BM25) index folder, single or sharded, here or on Ray."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from lsr.cli.options import MODEL_SETTING, output_options, output_path, show_progress
from lsr.cli.seismic import build_seismic
from lsr.errors import LsrError

if TYPE_CHECKING:
    from lsr.models import Encoder
    from lsr.pruning import Pruning


@click.command()
@click.argument("corpus")
@output_options("Index folder", file_okay=False)
@click.option("-m", "--model", show_default="none: give --bm25",
              help="Model folder or hub id for an impact index; MODEL:key=value,... sets encoder settings "
                   "(e.g. precision=bfloat16).")
@click.option("--bm25", is_flag=True, help="Build a BM25 index instead (no model).")
@click.option("--scale", default=100.0, help="Impact = round(weight * scale).")
@click.option("--batch-size", type=click.IntRange(min=1), show_default=MODEL_SETTING,
              help="Encoding batch size (alias of MODEL:batch_size=N).")
@click.option("--doc-max-length", type=click.IntRange(min=1), show_default=MODEL_SETTING,
              help="Tokens per document window (alias of MODEL:doc_max_length=N).")
@click.option("--long-docs", type=click.Choice(["windows", "first"]), show_default=MODEL_SETTING,
              help="Longer documents: max-pool overlapping windows, or keep the first window (alias of "
                   "MODEL:long_docs=...; SPLADE encoders).")
@click.option("--part-size", "--shard-size", "part_size", type=click.IntRange(min=1),
              show_default="1024; with --shards, corpus / N up to 1024",
              help="Documents per vector part, a Parquet file (the resume unit); --shard-size is its old name.")
@click.option("--doc-top-k", type=int, show_default="no pruning", help="Keep each document's k largest weights.")
@click.option("--doc-threshold", type=float, show_default="no pruning", help="Keep document weights above this.")
@click.option("--query-top-k", type=int, show_default="no pruning",
              help="Keep each query's k largest weights (recorded for search).")
@click.option("--query-threshold", type=float, show_default="no pruning",
              help="Keep query weights above this (recorded for search).")
@click.option("--doc-mass", type=click.FloatRange(0, 1, min_open=True), show_default="no pruning",
              help="Keep each document's largest weights until they hold this fraction of its L1 mass.")
@click.option("--query-mass", type=click.FloatRange(0, 1, min_open=True), show_default="no pruning",
              help="Keep each query's largest weights until they hold this fraction of its L1 mass (recorded "
                   "for search).")
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
          batch_size: int | None, doc_max_length: int | None, long_docs: str | None, part_size: int | None,
          doc_top_k: int | None, doc_threshold: float | None, query_top_k: int | None,
          query_threshold: float | None, doc_mass: float | None, query_mass: float | None, k1: float, b: float,
          seismic: bool, shards: int | None,
          ray_address: str | None, workers: int, gpus_per_worker: float, threads: int, overwrite: bool) -> None:
    """Index CORPUS (BEIR folder, .jsonl/.tsv file or irds:ID) into the index folder OUT (-o).

    --shards N writes a sharded impact index: N Lucene indexes of contiguous groups of documents, one
    quantization scale, searched by `lsr search` and `lsr serve` with the ranking of one index. --ray
    runs the encoding (a pool of --workers model actors) and the shard writing on a Ray cluster; every
    node must see CORPUS and OUT under the same paths.
    """
    from lsr.indexing.build import build_bm25_index, build_impact_index
    from lsr.indexing.vectors import DEFAULT_PART_SIZE
    from lsr.pruning import Pruning

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

        assert model is not None  # exactly one of --model and --bm25

        # A picklable maker of the encoder (Ray actors call it), MODEL's own settings overridden by options.
        load = functools.partial(load_encoder_spec, model, batch_size=batch_size, doc_max_length=doc_max_length,
                                 long_docs=long_docs)
        model = parse_model_spec(model)[0]
        pruning = Pruning(doc_top_k, doc_threshold, query_top_k, query_threshold, doc_mass, query_mass)
        if sharded:
            _index_sharded(corpus, out, model, load, scale=scale, pruning=pruning, part_size=part_size,
                           shards=shards or 1, ray_address=ray_address, workers=workers,
                           gpus_per_worker=gpus_per_worker, threads=threads, overwrite=overwrite)
            return
        report = build_impact_index(corpus, out, model, encoder=load(), scale=scale,
                                    pruning=pruning, part_size=part_size or DEFAULT_PART_SIZE, threads=threads,
                                    overwrite=overwrite, progress=show_progress())
    info = report.info
    click.echo(f"indexed {info.num_docs} documents into {out} ({info.kind})")
    if info.avg_postings_per_doc is not None:
        click.echo(f"average postings per document: {info.avg_postings_per_doc:.1f}")
    if seismic:
        build_seismic(out, threads=threads)


def _index_sharded(corpus: str, out: str, model: str, load: Callable[[], Encoder], *, scale: float,
                   pruning: Pruning, part_size: int | None, shards: int, ray_address: str | None, workers: int,
                   gpus_per_worker: float, threads: int, overwrite: bool) -> None:
    """`lsr index --shards/--ray`: a sharded impact index, built here or on the Ray cluster."""
    if ray_address is None:
        from lsr.indexing.sharded import build_sharded_index_from_corpus

        manifest = build_sharded_index_from_corpus(corpus, out, model, num_shards=shards, load=load, scale=scale,
                                                   pruning=pruning, part_size=part_size, threads=threads,
                                                   overwrite=overwrite, progress=show_progress())
    else:
        from lsr.distributed.session import import_ray
        from lsr.distributed.shards import build_sharded_index_on_ray

        import_ray()  # missing now, with the extra to install, not after loading anything
        manifest = build_sharded_index_on_ray(
            corpus, out, model, num_shards=shards, load=load, scale=scale, pruning=pruning, part_size=part_size,
            address=ray_address, workers=workers, cpus_per_worker=threads, gpus_per_worker=gpus_per_worker,
            cpus_per_shard=threads, overwrite=overwrite, progress=show_progress())
    info = manifest.index
    click.echo(f"indexed {info.num_docs} documents into {out} (impact, {len(manifest.shards)} shards)")
    click.echo(f"average postings per document: {info.avg_postings_per_doc:.1f}")

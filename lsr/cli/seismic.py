"""`lsr seismic`: an impact index's Seismic index, for approximate search; and the `--backend` options
of `lsr search` and `lsr serve`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from lsr.errors import LsrError
from lsr.indexing.backends import BACKENDS, DEFAULT_HEAP_FACTOR, DEFAULT_QUERY_CUT, SearchBackend, SeismicParams

DEFAULTS = SeismicParams()


@click.command()
@click.argument("index_dir", metavar="INDEX", type=click.Path(file_okay=False))
@click.option("--n-postings", default=DEFAULTS.n_postings,
              help="Postings kept per term on average (the largest impacts, by one threshold over all terms).")
@click.option("--max-fraction", default=DEFAULTS.max_fraction,
              help="A term's posting list keeps at most n-postings times this.")
@click.option("--centroid-fraction", default=DEFAULTS.centroid_fraction,
              help="Blocks per posting list, as a fraction of its length.")
@click.option("--min-cluster-size", default=DEFAULTS.min_cluster_size, help="Documents in the smallest block.")
@click.option("--summary-energy", default=DEFAULTS.summary_energy,
              help="Share of a block's weight mass its summary keeps (1: all).")
@click.option("--doc-cut", default=DEFAULTS.doc_cut, help="Terms per document used to cluster the blocks.")
@click.option("--threads", type=click.IntRange(min=1), show_default="every core", help="Build threads.")
@click.option("--overwrite", is_flag=True, help="Replace an existing Seismic index.")
def seismic(index_dir: str, threads: int | None, overwrite: bool, **params: Any) -> None:
    """Build the Seismic index of the impact index INDEX (into INDEX/seismic/), searched by `lsr search`
    and `lsr serve` with --backend seismic. Needs pyseismic-lsr (pip install 'lsr[seismic]').

    Built from the index's document vectors, pruned and quantized as in its Lucene index: with every
    posting kept (--n-postings above the longest list, --summary-energy 1) and searched with a large
    --query-cut and a tiny --heap-factor, Seismic finds Lucene's hits, scored alike.
    """
    build_seismic(index_dir, SeismicParams(**params), threads=threads, overwrite=overwrite)


def build_seismic(index_dir: str, params: SeismicParams = DEFAULTS, *, threads: int | None = None,
                  overwrite: bool = False) -> None:
    """Build INDEX/seismic/ and say what it holds."""
    from lsr.indexing.seismic import SEISMIC_DIR, build_seismic_index

    built = build_seismic_index(index_dir, params, threads=threads, overwrite=overwrite)
    click.echo(f"built the Seismic index {Path(index_dir) / SEISMIC_DIR}: {built.num_indexed} documents with terms, "
               f"{built.postings} postings, in {built.build_seconds:.1f} s")


def backend_options(command: Callable) -> Callable:
    """`--backend`, `--query-cut`, `--heap-factor` and `--ray`, which `search_backend` reads."""
    command = click.option("--ray", "ray_address", metavar="ADDRESS", show_default="here",
                           help="Search sharded indexes with one actor per shard on the Ray cluster at ADDRESS "
                                "('auto': the running one). Needs lsr[ray].")(command)
    command = click.option("--heap-factor", type=float, show_default=str(DEFAULT_HEAP_FACTOR),
                           help="Seismic skips a block whose summary scores below this times the k-th best "
                                "score: lower is slower and closer to exact.")(command)
    command = click.option("--query-cut", type=int, show_default=str(DEFAULT_QUERY_CUT),
                           help="Seismic searches this many of the query's highest-weighted terms.")(command)
    return click.option("--backend", type=click.Choice(BACKENDS), default="lucene",
                         help="Lucene (exact) or the index's Seismic index (approximate; built by `lsr seismic`).")(
        command)


def search_backend(backend: str, query_cut: int | None, heap_factor: float | None,
                   ray_address: str | None = None) -> SearchBackend:
    """The backend the options name; LsrError for Seismic's options without `--backend seismic`, or --ray
    with it."""
    given = {name: value for name, value in (("query_cut", query_cut), ("heap_factor", heap_factor))
             if value is not None}
    if given and backend != "seismic":
        raise LsrError("--query-cut and --heap-factor go with --backend seismic")
    if ray_address is not None and backend != "lucene":
        raise LsrError("--ray searches sharded indexes with Lucene: not with --backend seismic")
    return SearchBackend(backend, **given, ray=ray_address)

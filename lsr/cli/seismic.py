"""`lsr seismic`: an impact index's Seismic index, for approximate search (`--backend seismic`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from lsr.indexing.seismic import SeismicParams

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

"""Options and helpers the commands share: outputs, splits, progress, encoder settings, search backends."""

from __future__ import annotations

from collections.abc import Callable

import click

from lsr.errors import LsrError
from lsr.search.backends import BACKENDS, DEFAULT_HEAP_FACTOR, DEFAULT_QUERY_CUT, SearchBackend

MODEL_SETTING = "the model's setting"



def show_progress() -> bool:
    """False under `lsr -q` (the root command's quiet flag), else True."""
    return not click.get_current_context().find_root().params.get("quiet", False)


def split_for(source: str, split: str) -> str | None:
    """`--split` (default "test") for `source`: any split for a BEIR folder; for a file or an `irds:` id,
    which names its own queries and qrels, only the default (`lsr.data.sources.split_for`)."""
    from lsr.data.sources import split_for as data_split_for

    return data_split_for(source, split, "test")


def output_path(positional: str | None, option: str | None, what: str) -> str:
    """The output named by `-o/--out` or, as before, by a trailing positional argument."""
    if positional and option and positional != option:
        raise LsrError(f"two outputs given ({positional} and -o {option}): name the {what} once, with -o")
    if not (positional or option):
        raise LsrError(f"name the {what} to write with -o/--out")
    return option or positional or ""


def output_options(what: str, **path: bool):
    """A trailing `[OUT]` argument and `-o/--out` naming the same output (`output_path` picks one)."""

    def add(command):
        command = click.option("-o", "--out", type=click.Path(**path), show_default="the OUT argument",
                               help=f"{what} to write.")(command)
        return click.argument("out_arg", metavar="[OUT]", required=False, type=click.Path(**path))(command)

    return add


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
    if (query_cut is not None or heap_factor is not None) and backend != "seismic":
        raise LsrError("--query-cut and --heap-factor go with --backend seismic")
    if ray_address is not None and backend != "lucene":
        raise LsrError("--ray searches sharded indexes with Lucene: not with --backend seismic")
    return SearchBackend(backend, DEFAULT_QUERY_CUT if query_cut is None else query_cut,
                         DEFAULT_HEAP_FACTOR if heap_factor is None else heap_factor, ray=ray_address)

"""The `lsr` command group: its root options, and one command per module of `lsr.cli`."""

from __future__ import annotations

import logging
import sys

import click

from lsr import __version__
from lsr.cli.beir import beir
from lsr.cli.encode import encode
from lsr.cli.eval import eval_
from lsr.cli.export import export
from lsr.cli.idf import idf
from lsr.cli.index import index
from lsr.cli.info import info
from lsr.cli.search import search
from lsr.cli.seismic import seismic
from lsr.cli.serve import serve
from lsr.cli.train import train
from lsr.errors import LsrError

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
    from lsr.environment import prepare_process
    from lsr.lucene.jvm import set_heap

    logging.basicConfig(level=logging.WARNING if quiet else logging.INFO, format="lsr: %(message)s", force=True)
    prepare_process()
    set_heap(java_heap)




for command in (beir, encode, eval_, export, idf, index, info, search, seismic, serve, train):
    cli.add_command(command)

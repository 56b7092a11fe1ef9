"""`lsr idf`: the IDF table of a corpus under a model's tokenizer."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import click

from lsr.cli.options import show_progress

if TYPE_CHECKING:
    from lsr.data import Document


@click.command()
@click.argument("corpus")
@click.option("-o", "--out", "--output", "output", required=True, type=click.Path(dir_okay=False),
              help="JSON file to write: {token: idf}.")
@click.option("-m", "--model", "--tokenizer", "model", required=True,
              help="Model folder (or hub id) whose tokenizer splits the text.")
def idf(corpus: str, output: str, model: str) -> None:
    """Write the IDF of every token in CORPUS (BEIR folder, .jsonl/.tsv file or irds:ID).

    idf = ln(1 + (N - df + 0.5) / (df + 0.5)) over title + text without special tokens;
    tokens that never occur get no entry.
    """
    from lsr.data import read_corpus
    from lsr.models.idf import compute_idf, load_tokenizer, save_idf

    counter = _Counted(read_corpus(corpus))
    table = compute_idf(counter, load_tokenizer(model), progress=show_progress())
    save_idf(table, output)
    click.echo(f"{counter.count} documents, {len(table)} distinct tokens: wrote {output}")


class _Counted:
    """Passes documents through, counting them."""

    def __init__(self, docs: Iterable[Document]):
        self.docs = docs
        self.count = 0

    def __iter__(self) -> Iterator[Document]:
        for doc in self.docs:
            self.count += 1
            yield doc

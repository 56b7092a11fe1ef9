"""`lsr encode`: the sparse vectors a model makes of texts, printed or written to a file."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import click

from lsr.cli.options import show_progress
from lsr.errors import LsrError

if TYPE_CHECKING:
    from tqdm import tqdm

    from lsr.models import Encoder
    from lsr.sparse import SparseVectors

CHUNK = 1024  # texts encoded (and written) at a time with --input
SUFFIXES = (".jsonl", ".parquet")


@click.command()
@click.argument("texts", nargs=-1)
@click.option("-m", "--model", required=True,
              help="Model folder or hub id; MODEL:key=value,... sets encoder settings (e.g. precision=bfloat16).")
@click.option("--query/--doc", "is_query", default=True, help="Encode as queries (default) or as documents.")
@click.option("-n", "--top", default=20, show_default=True, type=click.IntRange(min=1),
              help="Terms printed per text.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object per text instead of a table.")
@click.option("--input", "source", show_default="encode TEXTS",
              help="Encode a whole query file (--query) or corpus (--doc) instead of TEXTS: BEIR folder, "
                   ".jsonl/.tsv file or irds:ID.")
@click.option("-o", "--out", "--output", "output", type=click.Path(dir_okay=False), show_default="print",
              help="With --input: the .jsonl or .parquet file to write (every term, by weight).")
@click.option("--batch-size", type=int, show_default="the model's setting", help="Encoding batch size.")
@click.option("--overwrite", is_flag=True, help="Replace an existing output file.")
def encode(texts: tuple[str, ...], model: str, is_query: bool, top: int, as_json: bool, source: str | None,
           output: str | None, batch_size: int | None, overwrite: bool) -> None:
    """Print the top terms MODEL gives each of TEXTS, highest weight first; or encode --input into -o."""
    if source is not None:
        _check_output(texts, output, overwrite)
    elif output is not None:
        raise LsrError("-o/--out needs --input FILE (TEXTS are printed)")
    elif not texts:
        raise LsrError("give TEXTS to encode, or --input FILE with -o OUT")

    from lsr.models.registry import load_encoder_spec

    encoder = load_encoder_spec(model, batch_size=batch_size)
    if source is not None:
        assert output is not None  # _check_output refused a missing -o
        count = _encode_file(encoder, source, Path(output), is_query)
        click.echo(f"encoded {count} {'queries' if is_query else 'documents'} into {output}")
        return
    vectors = (encoder.encode_queries if is_query else encoder.encode_docs)(texts)
    for i, (text, weights) in enumerate(zip(texts, vectors.to_dicts(encoder.vocab))):
        ranked = list(weights.items())  # highest weight first
        if as_json:
            click.echo(json.dumps({"text": text, "terms": dict(ranked[:top]), "postings": len(ranked)},
                                  ensure_ascii=False))
        else:
            click.echo(("\n" if i else "") + format_terms(text, ranked[:top], len(ranked)))


def format_terms(text: str, ranked: Sequence[tuple[str, float]], postings: int) -> str:
    """A heading with the text and its number of terms, then one aligned `term  weight` row per term."""
    shown = f", top {len(ranked)}" if len(ranked) < postings else ""
    lines = [f"{json.dumps(text, ensure_ascii=False)}  ({postings} terms{shown})"]
    width = max((len(term) for term, _ in ranked), default=0)
    lines += [f"  {term:<{width}}  {weight:8.4f}" for term, weight in ranked]
    return "\n".join(lines)


def _check_output(texts: tuple[str, ...], output: str | None, overwrite: bool) -> None:
    if texts:
        raise LsrError("give TEXTS or --input FILE, not both")
    if output is None:
        raise LsrError(f"--input needs -o/--out FILE ({' or '.join(SUFFIXES)})")
    if not output.endswith(SUFFIXES):
        raise LsrError(f"{output}: the output must end in {' or '.join(SUFFIXES)}")
    if Path(output).exists() and not overwrite:
        raise LsrError(f"{output}: already exists (pass --overwrite to replace it)")


def _encode_file(encoder: Encoder, source: str, out: Path, is_query: bool) -> int:
    """Encode every query (or document) of `source` into `out`; return how many."""
    from tqdm.auto import tqdm

    from lsr.data import read_corpus, read_queries

    records: Iterable[tuple[str, str]] = (((q.id, q.text) for q in read_queries(source)) if is_query
                                          else ((d.id, d.full_text()) for d in read_corpus(source)))
    with tqdm(desc=f"encode {'queries' if is_query else 'docs'}", unit="text", disable=not show_progress()) as bar:
        chunks = _chunks(encoder, iter(records), is_query, bar)
        if out.suffix == ".parquet":
            return _write_parquet(chunks, len(encoder.vocab), out)
        return _write_jsonl(chunks, encoder.vocab, out)


def _chunks(encoder: Encoder, records: Iterator[tuple[str, str]], is_query: bool,
            bar: tqdm) -> Iterator[SparseVectors]:
    encode = encoder.encode_queries if is_query else encoder.encode_docs
    while batch := list(itertools.islice(records, CHUNK)):
        ids, texts = zip(*batch)
        yield encode(texts, ids)
        bar.update(len(batch))


def _write_jsonl(chunks: Iterable[SparseVectors], vocab: Sequence[str], out: Path) -> int:
    """One line per text: {"id": ..., "vector": {term: weight}}, terms by weight."""
    from lsr.fileio import atomic_path

    count = 0
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for vectors in chunks:
            for row_id, weights in zip(vectors.ids, vectors.to_dicts(vocab)):
                f.write(json.dumps({"id": row_id, "vector": weights}, ensure_ascii=False) + "\n")
            count += len(vectors)
    return count


def _write_parquet(chunks: Iterable[SparseVectors], vocab_size: int, out: Path) -> int:
    """The layout of `SparseVectors.to_parquet` (read back by `SparseVectors.read_parquet`), chunk by chunk."""
    import pyarrow.parquet as pq

    from lsr.fileio import atomic_path
    from lsr.sparse import SparseVectors

    count = 0
    schema = SparseVectors.empty(vocab_size).to_arrow().schema
    with atomic_path(out) as tmp, pq.ParquetWriter(tmp, schema) as writer:
        for vectors in chunks:
            writer.write_table(vectors.to_arrow())
            count += len(vectors)
    return count

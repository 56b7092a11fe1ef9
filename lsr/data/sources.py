"""Which reader a source string names: a small registry of source forms, and the public readers.

Each form is one resolver function registered with `@source_form(description)`; it returns
a `Source` for strings it recognises and None otherwise. The first match wins.
"""

from __future__ import annotations

import gzip
import logging
import os
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from ir_measures import Qrel

from lsr.data.beir_folder import CORPUS_FILE, is_beir_folder, read_folder_corpus, read_folder_qrels, read_folder_queries
from lsr.data.irds import PREFIX, read_irds_corpus, read_irds_qrels, read_irds_queries
from lsr.data.jsonl import read_jsonl_corpus, read_jsonl_queries
from lsr.data.qrels import read_qrels_json, read_qrels_lines
from lsr.data.records import Document, Query
from lsr.data.tsv import read_tsv_corpus, read_tsv_queries
from lsr.errors import LsrError

T = TypeVar("T")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Source:
    """The readers one source offers; None where its form cannot hold that kind of data."""

    name: str
    form: str
    corpus: Callable[[], Iterator[Document]] | None = None
    queries: Callable[[str | None], list[Query]] | None = None
    qrels: Callable[[str | None], list[Qrel]] | None = None
    count: Callable[[], int | None] | None = None


Resolver = Callable[[str], Source | None]
_FORMS: list[tuple[str, Resolver]] = []


def source_form(description: str) -> Callable[[Resolver], Resolver]:
    """Register a resolver for one source form; `description` appears in error messages."""

    def register(resolver: Resolver) -> Resolver:
        _FORMS.append((description, resolver))
        return resolver

    return register


def resolve(source: str | os.PathLike) -> Source:
    """The `Source` for `source`, or an `LsrError` naming it and the accepted forms."""
    text = os.fspath(source)
    for _, resolver in _FORMS:
        found = resolver(text)
        if found is not None:
            return found
    problem = "unrecognised source" if Path(text).exists() else "no such file or folder"
    accepted = "; ".join(description for description, _ in _FORMS)
    raise LsrError(f"{text}: {problem}; accepted forms: {accepted}")


def read_corpus(source: str | os.PathLike) -> Iterator[Document]:
    """Stream the documents of `source` (BEIR folder, .jsonl/.tsv file or `irds:<id>`)."""
    found = resolve(source)
    if found.corpus is None:
        raise LsrError(f"{found.name}: {found.form} holds no documents")
    return found.corpus()


def count_documents(source: str | os.PathLike) -> int | None:
    """About how many documents `source` holds, found cheaply (lines of a file, ir_datasets' count);
    None when unknown. Blank lines count too, so a file's figure can be a little high."""
    found = resolve(source)
    return found.count() if found.count is not None else None


def read_queries(source: str | os.PathLike, split: str | None = None) -> list[Query]:
    """The queries of `source`; for a BEIR folder, `split` keeps those judged in `qrels/<split>.tsv`."""
    found = resolve(source)
    if found.queries is None:
        raise LsrError(f"{found.name}: {found.form} holds no queries")
    queries = found.queries(split)
    _warn_if_corpus_like(found.name, queries)
    return queries


CORPUS_LIKE_COUNT = 1000   # this many queries...
CORPUS_LIKE_WORDS = 40     # ...of this many words on average look like a corpus


def _warn_if_corpus_like(name: str, queries: list[Query]) -> None:
    if len(queries) < CORPUS_LIKE_COUNT:
        return
    words = sum(len(q.text.split()) for q in queries) / len(queries)
    if words >= CORPUS_LIKE_WORDS:
        log.warning("%s: %d queries of %.0f words on average look like a corpus, not queries",
                    name, len(queries), words)


def read_qrels(source: str | os.PathLike, split: str | None = None) -> list[Qrel]:
    """The relevance judgements of `source`; a BEIR folder needs `split`."""
    found = resolve(source)
    if found.qrels is None:
        raise LsrError(f"{found.name}: {found.form} holds no qrels")
    return found.qrels(split)


def split_for(source: str | os.PathLike, split: str | None, default: str | None) -> str | None:
    """The split to read `source` with: a BEIR folder takes `split`; a source that names its own queries and
    qrels (a file, an `irds:` id) takes only the caller's `default` (as None), and another split is an
    LsrError: the one rule of `lsr search/eval/export --split` (default "test") and training (default "train")."""
    if is_beir_folder(Path(os.fspath(source))):
        return split
    if split is None or split == default:
        return None
    raise LsrError(f"{os.fspath(source)}: a split ({split!r}) applies to BEIR folders only; "
                   "this source already names its queries/qrels")


def _without_split(name: str, read: Callable[[], T]) -> Callable[[str | None], T]:
    """Adapt a reader of a source that names its own queries/qrels: a split is a mistake there."""

    def read_unsplit(split: str | None) -> T:
        if split is not None:
            raise LsrError(f"{name}: a split ({split!r}) applies to BEIR folders only; "
                           "this source already names its queries/qrels")
        return read()

    return read_unsplit


def _file(text: str, *suffixes: str) -> Path | None:
    """`text` as an existing file whose name ends with one of `suffixes` (optionally plus `.gz`)."""
    path = Path(text)
    return path if path.is_file() and path.name.removesuffix(".gz").endswith(suffixes) else None


def _count_lines(path: Path) -> int | None:
    """Lines in a (gzipped) text file, a last line without its newline included, read in blocks;
    None if it cannot be read to the end (reading the corpus reports why)."""
    lines, last = 0, b"\n"
    try:
        with (gzip.open if path.suffix == ".gz" else open)(path, "rb") as f:
            while block := f.read(1 << 20):
                lines += block.count(b"\n")
                last = block[-1:]
    except (OSError, EOFError, zlib.error):
        return None
    return lines + (last != b"\n")


def _irds_docs_count(dataset_id: str) -> int | None:
    """The dataset's recorded document count, None when it has none (or the id is unknown)."""
    import ir_datasets

    try:
        count = ir_datasets.load(dataset_id).docs_count()
    except Exception:  # an unknown id or a dataset without counts: reading the corpus reports real errors
        return None
    return int(count) if count is not None else None


@source_form("irds:<ir_datasets id>")
def _irds(text: str) -> Source | None:
    if not text.startswith(PREFIX):
        return None
    dataset_id = text.removeprefix(PREFIX)
    return Source(text, "an ir_datasets dataset", corpus=lambda: read_irds_corpus(dataset_id),
                  queries=_without_split(text, lambda: read_irds_queries(dataset_id)),
                  qrels=_without_split(text, lambda: read_irds_qrels(dataset_id)),
                  count=lambda: _irds_docs_count(dataset_id))


@source_form("a BEIR folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv)")
def _beir_folder(text: str) -> Source | None:
    folder = Path(text)
    if not is_beir_folder(folder):
        return None
    return Source(text, "a BEIR folder", corpus=lambda: read_folder_corpus(folder),
                  queries=lambda split: read_folder_queries(folder, split),
                  qrels=lambda split: read_folder_qrels(folder, split),
                  count=lambda: _count_lines(folder / CORPUS_FILE) if (folder / CORPUS_FILE).is_file() else None)


@source_form("a .jsonl[.gz] file of documents or queries")
def _jsonl(text: str) -> Source | None:
    path = _file(text, ".jsonl")
    if path is None:
        return None
    return Source(text, "a .jsonl file", corpus=lambda: read_jsonl_corpus(path),
                  queries=_without_split(text, lambda: read_jsonl_queries(path)), count=lambda: _count_lines(path))


@source_form("a .tsv[.gz] file of documents (id, [title,] text), queries (id, text) or qrels")
def _tsv(text: str) -> Source | None:
    path = _file(text, ".tsv")
    if path is None:
        return None
    return Source(text, "a .tsv file", corpus=lambda: read_tsv_corpus(path),
                  queries=_without_split(text, lambda: read_tsv_queries(path)),
                  qrels=_without_split(text, lambda: read_qrels_lines(path)), count=lambda: _count_lines(path))


@source_form("a TREC qrels file (.txt, .qrels: qid 0 docid rel)")
def _trec_qrels(text: str) -> Source | None:
    path = _file(text, ".txt", ".qrels")
    if path is None:
        return None
    return Source(text, "a TREC qrels file", qrels=_without_split(text, lambda: read_qrels_lines(path)))


@source_form("a .json qrels file ({query_id: {doc_id: relevance}})")
def _json_qrels(text: str) -> Source | None:
    path = _file(text, ".json")
    if path is None:
        return None
    return Source(text, "a .json qrels file", qrels=_without_split(text, lambda: read_qrels_json(path)))

"""BEIR dataset folders: `corpus.jsonl`, `queries.jsonl` and `qrels/<split>.tsv`."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from ir_measures import Qrel

from lsr.data.jsonl import read_jsonl_corpus, read_jsonl_queries
from lsr.data.qrels import read_qrels_lines
from lsr.data.records import Document, Query
from lsr.errors import LsrError

CORPUS_FILE = "corpus.jsonl"
QUERIES_FILE = "queries.jsonl"
QRELS_DIR = "qrels"


def is_beir_folder(path: Path) -> bool:
    """A folder counts as BEIR when it holds any of the BEIR files."""
    return path.is_dir() and any((path / name).exists() for name in (CORPUS_FILE, QUERIES_FILE, QRELS_DIR))


def read_folder_corpus(folder: Path) -> Iterator[Document]:
    """Stream the documents of `folder/corpus.jsonl`."""
    return read_jsonl_corpus(_member(folder, CORPUS_FILE))


def read_folder_queries(folder: Path, split: str | None) -> list[Query]:
    """All queries, or with a split only those judged in `qrels/<split>.tsv`, in file order."""
    qrels_path = None if split is None else _qrels_file(folder, split, "queries")
    queries = read_jsonl_queries(_member(folder, QUERIES_FILE))
    if qrels_path is None:
        return queries
    judged = {qrel.query_id for qrel in read_qrels_lines(qrels_path)}
    return [query for query in queries if query.id in judged]


def read_folder_qrels(folder: Path, split: str | None) -> list[Qrel]:
    """The judgements of `qrels/<split>.tsv`; a folder needs the split named."""
    if split is None:
        raise LsrError(f"{folder}: name a qrels split for a BEIR folder (available: {_available(folder)})")
    return read_qrels_lines(_qrels_file(folder, split, "qrels"))


def _member(folder: Path, name: str) -> Path:
    path = folder / name
    if not path.is_file():
        raise LsrError(f"{folder}: BEIR folder has no {name}")
    return path


def _qrels_file(folder: Path, split: str, wanted: str) -> Path:
    """`qrels/<split>.tsv`, which names a split's judgements and so its queries."""
    path = folder / QRELS_DIR / f"{split}.tsv"
    if not path.is_file():
        raise LsrError(f"{folder}: no {wanted} for split {split!r}: {QRELS_DIR}/{split}.tsv is missing "
                       f"(splits: {_available(folder)})")
    return path


def _available(folder: Path) -> str:
    splits = sorted(path.stem for path in (folder / QRELS_DIR).glob("*.tsv"))
    return ", ".join(splits) or f"none, {folder / QRELS_DIR} has no .tsv files"

"""Datasets from the ir_datasets catalogue, named `irds:<id>` (ir_datasets is imported on first use)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from ir_measures import Qrel

from lsr.data.lines import UniqueIds, record_id
from lsr.data.records import Document, Query
from lsr.errors import LsrError

PREFIX = "irds:"


def read_irds_corpus(dataset_id: str) -> Iterator[Document]:
    """Stream the documents of an ir_datasets dataset (its `title`/`text`, else `default_text()`)."""
    dataset = load_dataset(dataset_id, "has_docs", "documents")
    return _documents(dataset_id, dataset)


def read_irds_queries(dataset_id: str) -> list[Query]:
    """Read the queries of an ir_datasets dataset (its `text`, else `default_text()`)."""
    dataset = load_dataset(dataset_id, "has_queries", "queries")
    seen = UniqueIds("query", PREFIX + dataset_id, unit="query")
    queries = []
    with download_failures(dataset_id):
        for position, raw in enumerate(dataset.queries_iter(), 1):
            text = raw.text if hasattr(raw, "text") else raw.default_text()
            query = Query(record_id(raw.query_id, f"{PREFIX}{dataset_id}:{position}"), text)
            seen.add(query.id, position)
            queries.append(query)
    return queries


def read_irds_qrels(dataset_id: str) -> list[Qrel]:
    """Read the relevance judgements of an ir_datasets dataset."""
    dataset = load_dataset(dataset_id, "has_qrels", "qrels")
    with download_failures(dataset_id):
        return [Qrel(qrel.query_id, qrel.doc_id, int(qrel.relevance)) for qrel in dataset.qrels_iter()]


def _documents(dataset_id: str, dataset: Any) -> Iterator[Document]:
    seen = UniqueIds("document", PREFIX + dataset_id, unit="document")
    with download_failures(dataset_id):
        for position, raw in enumerate(dataset.docs_iter(), 1):
            if hasattr(raw, "text"):
                text, title = raw.text, getattr(raw, "title", "") or ""
            else:
                text, title = raw.default_text(), ""
            doc = Document(record_id(raw.doc_id, f"{PREFIX}{dataset_id}:{position}"), text, title)
            seen.add(doc.id, position)
            yield doc


def load_dataset(dataset_id: str, has: str, what: str) -> Any:
    import ir_datasets

    try:
        dataset = ir_datasets.load(dataset_id)
    except KeyError:
        raise LsrError(f"{PREFIX}{dataset_id}: unknown ir_datasets id {dataset_id!r}") from None
    if not getattr(dataset, has)():
        raise LsrError(f"{PREFIX}{dataset_id}: this ir_datasets dataset has no {what}")
    return dataset


@contextmanager
def download_failures(dataset_id: str) -> Iterator[None]:
    """Turn ir_datasets' failure to fetch missing files into a one-line `LsrError`; other errors pass."""
    try:
        yield
    except Exception as e:
        if not _is_download_failure(e):
            raise
        raise LsrError(f"{PREFIX}{dataset_id}: the dataset files are not available locally and the download "
                       f"failed ({type(e).__name__}: {_first_line(e)})") from None


def _is_download_failure(error: Exception) -> bool:
    import requests
    from ir_datasets.util import HashVerificationError, home_path

    if isinstance(error, (requests.RequestException, HashVerificationError)):
        return True
    if isinstance(error, RuntimeError):  # ir_datasets' "every mirror failed"
        return error.args[:1] == ("All download sources failed",)
    if isinstance(error, FileNotFoundError) and error.args:  # a file ir_datasets wants placed by hand
        missing = Path(str(error.filename or error.args[0]))
        return missing.is_relative_to(home_path())
    return False


def _first_line(error: Exception) -> str:
    lines = str(error).strip().splitlines()
    return lines[0] if lines else ""

"""JSON-lines corpora and queries (BEIR, Pyserini and similar field names)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lsr.data.lines import UniqueIds, json_problem, located, numbered_lines, record_id
from lsr.data.records import Document, Query
from lsr.errors import LsrError

log = logging.getLogger(__name__)

DOC_ID_KEYS = ("_id", "id", "doc_id", "docid")
DOC_TEXT_KEYS = ("text", "contents")
QUERY_ID_KEYS = ("_id", "id", "query_id", "qid")
QUERY_TEXT_KEYS = ("text", "query")


def read_jsonl_corpus(path: Path) -> Iterator[Document]:
    """Stream the documents of a `.jsonl` file: an id, a text and an optional `title` per line."""
    seen = UniqueIds("document", path)
    for line_no, obj in json_objects(path):
        where = f"{path}:{line_no}"
        doc = Document(_id(obj, DOC_ID_KEYS, where), _text(obj, DOC_TEXT_KEYS, where), _title(obj, where))
        seen.add(doc.id, line_no)
        yield doc


def read_jsonl_queries(path: Path) -> list[Query]:
    """Read the queries of a `.jsonl` file: an id and a text per line."""
    seen = UniqueIds("query", path)
    queries, titled = [], 0
    for line_no, obj in json_objects(path):
        where = f"{path}:{line_no}"
        query = Query(_id(obj, QUERY_ID_KEYS, where), _text(obj, QUERY_TEXT_KEYS, where))
        seen.add(query.id, line_no)
        queries.append(query)
        titled += bool(obj.get("title"))
    if titled:
        log.warning("%s: %d of %d queries have a title, as corpus documents do: is this the corpus?",
                    path, titled, len(queries))
    return queries


def json_objects(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    for line_no, line in numbered_lines(path):
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as e:
            raise located(path, line_no, json_problem(e)) from None
        if not isinstance(obj, dict):
            raise located(path, line_no, f"expected a JSON object, got {type(obj).__name__}")
        yield line_no, obj


def _first(obj: dict[str, Any], keys: tuple[str, ...]) -> tuple[bool, Any]:
    for key in keys:
        if key in obj:
            return True, obj[key]
    return False, None


def _id(obj: dict[str, Any], keys: tuple[str, ...], where: str) -> str:
    found, value = _first(obj, keys)
    if not found:
        raise LsrError(f"{where}: missing id (expected one of {', '.join(keys)})")
    return record_id(value, where)


def _text(obj: dict[str, Any], keys: tuple[str, ...], where: str) -> str:
    found, value = _first(obj, keys)
    if not found:
        raise LsrError(f"{where}: missing text (expected one of {', '.join(keys)})")
    if not isinstance(value, str):
        raise LsrError(f"{where}: text must be a string, got {type(value).__name__}")
    return value


def _title(obj: dict[str, Any], where: str) -> str:
    title = obj.get("title")
    if title is None:
        return ""
    if not isinstance(title, str):
        raise LsrError(f"{where}: title must be a string, got {type(title).__name__}")
    return title

"""Relevance judgements: BEIR TSV (`query-id corpus-id score`), TREC (`qid 0 docid rel`) and JSON."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ir_measures import Qrel

from lsr.data.lines import located, numbered_lines, record_id
from lsr.errors import LsrError

BEIR_HEADER = "query-id"


def read_qrels_lines(path: Path) -> list[Qrel]:
    """Read a whitespace-separated qrels file of BEIR (3 columns) or TREC (4 columns) lines.

    A first line starting with `query-id` is BEIR's header and is skipped.
    """
    qrels = []
    for index, (line_no, line) in enumerate(numbered_lines(path)):
        if index == 0 and line.startswith(BEIR_HEADER):
            continue
        cols = line.split()
        if len(cols) == 3:
            query_id, doc_id, relevance = cols
        elif len(cols) == 4:
            query_id, _, doc_id, relevance = cols
        else:
            raise located(path, line_no, "expected 3 columns (query-id corpus-id score) "
                                         f"or 4 TREC columns (qid 0 docid rel), got {len(cols)}")
        where = f"{path}:{line_no}"
        qrels.append(Qrel(record_id(query_id, where), record_id(doc_id, where), _relevance(relevance, where)))
    return qrels


def read_qrels_json(path: Path) -> list[Qrel]:
    """Read qrels from a JSON object `{query_id: {doc_id: relevance}}`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise LsrError(f"{path}: not a JSON qrels file ({e})") from None
    if not isinstance(data, dict) or not all(isinstance(docs, dict) for docs in data.values()):
        raise LsrError(f"{path}: expected a JSON object {{query_id: {{doc_id: relevance}}}}")
    return [Qrel(record_id(query_id, str(path)), record_id(doc_id, f"{path}: query {query_id}"),
                 _relevance(relevance, f"{path}: query {query_id}, document {doc_id}"))
            for query_id, docs in data.items() for doc_id, relevance in docs.items()]


def _relevance(value: Any, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        try:
            return int(value)
        except ValueError:
            pass
    raise LsrError(f"{where}: relevance must be an integer, got {value!r}")

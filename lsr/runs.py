"""TREC run files: one line per hit, `qid Q0 docid rank score tag`."""

from __future__ import annotations

import math
import os

from lsr.errors import LsrError
from lsr.fileio import atomic_path

Run = dict[str, list[tuple[str, float]]]
"""Query id -> hits ranked best first, each `(doc id, score)`."""


def write_trec_run(run: Run, path: str | os.PathLike, tag: str = "lsr") -> None:
    """Write `run` atomically as a TREC run, queries in the dict's order, ranks from 1."""
    _check_token(tag, "run tag")
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for qid, hits in run.items():
            _check_token(qid, "query id")
            for rank, (doc, score) in enumerate(hits, start=1):
                _check_token(doc, f"doc id (query {qid!r})")
                f.write(f"{qid} Q0 {doc} {rank} {float(score)!r} {tag}\n")


def read_trec_run(path: str | os.PathLike) -> Run:
    """Read a TREC run; each query's hits sorted by score, best first (ties keep file rank).

    Blank lines are skipped. Raises `LsrError` naming `path:line` for a line without six
    fields, a rank that is not an integer, a score that is not a finite number, or a
    (query, doc) pair seen before.
    """
    hits: dict[str, list[tuple[float, int, str]]] = {}
    seen: dict[tuple[str, str], int] = {}
    try:
        f = open(path, encoding="utf-8")
    except FileNotFoundError:
        raise LsrError(f"{path}: no such run file") from None
    with f:
        for lineno, line in enumerate(f, start=1):
            fields = line.split()
            if not fields:
                continue
            where = f"{path}:{lineno}"
            if len(fields) != 6:
                raise LsrError(f"{where}: expected 6 fields 'qid Q0 docid rank score tag', got {len(fields)}")
            qid, _, doc, rank, score, _ = fields
            try:
                rank_num = int(rank)
            except ValueError:
                raise LsrError(f"{where}: rank {rank!r} is not an integer") from None
            try:
                score_num = float(score)
            except ValueError:
                score_num = math.nan
            if not math.isfinite(score_num):
                raise LsrError(f"{where}: score {score!r} is not a finite number")
            if (qid, doc) in seen:
                raise LsrError(f"{where}: doc {doc!r} repeats for query {qid!r} (first on line {seen[qid, doc]})")
            seen[qid, doc] = lineno
            hits.setdefault(qid, []).append((score_num, rank_num, doc))
    return {qid: [(doc, score) for score, _, doc in sorted(rows, key=lambda r: (-r[0], r[1]))]
            for qid, rows in hits.items()}


def _check_token(value: str, what: str) -> None:
    """Refuse a field that would break the whitespace-separated format."""
    if not value or any(c.isspace() for c in value):
        raise LsrError(f"{what} {value!r} is empty or contains whitespace; it cannot go in a TREC run")

"""Line-oriented reading shared by the file formats: gzip, BOM, CRLF, blank lines, located errors."""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from lsr.errors import LsrError


def located(path: Path | str, line_no: int, message: str) -> LsrError:
    """An `LsrError` that points at `path:line_no`."""
    return LsrError(f"{path}:{line_no}: {message}")


def json_problem(error: json.JSONDecodeError) -> str:
    """`malformed JSON (<what> at column N)` for a decoding error, read as a sentence."""
    return f"malformed JSON ({error.msg.removesuffix(' at')} at column {error.colno})"


def numbered_lines(path: Path) -> Iterator[tuple[int, str]]:
    """Yield (1-based line number, line without its ending) for every non-blank line.

    Reads UTF-8 (a leading BOM is dropped), gunzips `*.gz`, and splits on `\\n` only,
    so a stray `\\r` inside a field survives while `\\r\\n` endings do not.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as f:
            for line_no, raw in enumerate(f, 1):
                try:
                    line = raw.decode("utf-8-sig" if line_no == 1 else "utf-8")
                except UnicodeDecodeError as e:
                    raise located(path, line_no, f"not valid UTF-8 ({e.reason})") from None
                line = line.removesuffix("\n").removesuffix("\r")
                if line.strip():
                    yield line_no, line
    except (gzip.BadGzipFile, EOFError) as e:
        raise LsrError(f"{path}: not a readable gzip file ({e})") from None


def record_id(value: Any, where: str) -> str:
    """Validate an id read at `where` (`path:line`): a non-empty string or an integer, stripped."""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise LsrError(f"{where}: id must be a string, got {value!r}")
    text = str(value).strip()
    if not text:
        raise LsrError(f"{where}: empty id")
    return text


class UniqueIds:
    """Remembers where each id was first seen, so a duplicate names both places."""

    def __init__(self, kind: str, source: Path | str, unit: str = "line") -> None:
        self._kind, self._source, self._unit = kind, source, unit
        self._first: dict[str, int] = {}

    def add(self, item_id: str, position: int) -> None:
        """Record `item_id` at `position`; raise `LsrError` if it was seen before."""
        first = self._first.setdefault(item_id, position)
        if first != position:
            raise located(self._source, position,
                          f"duplicate {self._kind} id {item_id!r} (first at {self._unit} {first})")

"""Atomic output: a file or folder appears under its final name only when complete; metadata files."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

from lsr.errors import LsrError


@contextmanager
def atomic_path(path: str | os.PathLike, *, is_dir: bool = False) -> Iterator[Path]:
    """Yield a temporary path beside `path`; move it onto `path` only if the block succeeds.

    A crash inside the block leaves `path` untouched (old content or absent) and
    removes the temporary. A folder replaces any folder already at `path`.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.", suffix=".tmp", dir=final.parent))
    target = tmp if is_dir else tmp / final.name
    try:
        yield target
        if is_dir:
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        else:
            os.replace(target, final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    """Write `text` to `path` atomically (UTF-8)."""
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


class MetadataFile:
    """Base of the dataclasses saved as one JSON file in a folder (`FILE`), written atomically and last, so
    that the file's presence marks the folder complete."""

    FILE: ClassVar[str]
    __dataclass_fields__: ClassVar[dict[str, dataclasses.Field[Any]]]  # set by each subclass's @dataclass

    def save(self, folder: str | os.PathLike) -> None:
        """Write `FOLDER/FILE` atomically."""
        write_text_atomic(Path(folder) / self.FILE, json.dumps(dataclasses.asdict(self), indent=2) + "\n")

    @classmethod
    def read_json(cls, folder: str | os.PathLike, what: str) -> Any:
        """The JSON value of `FOLDER/FILE`; LsrError naming the file when it cannot be read as JSON."""
        path = Path(folder) / cls.FILE
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as e:
            raise LsrError(f"{path}: unreadable {what} ({e!r})") from e

    @classmethod
    def known_fields(cls, raw: Any) -> dict[str, Any]:
        """The keys of a JSON object that are fields of this class (others ignored); TypeError for another value."""
        if not isinstance(raw, dict):
            raise TypeError(f"a JSON {type(raw).__name__}, not an object")
        known = {f.name for f in dataclasses.fields(cls)}
        return {k: v for k, v in raw.items() if k in known}

"""Published reference figures (Pyserini's BEIR reproductions), shown beside measured ones."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

_FILE = Path(__file__).with_name("references.json")


@cache
def _table() -> dict:
    return json.loads(_FILE.read_text(encoding="utf-8"))


def reference(condition: str, dataset: str, measure: str) -> float | None:
    """e.g. reference("bm25-flat", "scifact", "nDCG@10") -> 0.6789; None when not published."""
    name = dataset.replace("/", "-")
    return _table()["figures"].get(condition, {}).get(name, {}).get(measure)


def source() -> str:
    return _table()["source"]

"""The records that readers return: documents and queries (qrels are `ir_measures.Qrel`)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Document:
    """One corpus document; `title` is empty when the source has none."""

    id: str
    text: str
    title: str = ""

    def full_text(self) -> str:
        """Title and text joined by one space, with no stray space when either is empty."""
        return " ".join(part for part in (self.title.strip(), self.text.strip()) if part)


@dataclass(frozen=True)
class Query:
    """One query (topic)."""

    id: str
    text: str

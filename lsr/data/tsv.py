"""Tab-separated corpora (`id, text` or `id, title, text`) and queries (`id, text`)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from lsr.data.lines import UniqueIds, located, numbered_lines, record_id
from lsr.data.records import Document, Query


def read_tsv_corpus(path: Path) -> Iterator[Document]:
    """Stream the documents of a TSV file with 2 (id, text) or 3 (id, title, text) columns."""
    seen = UniqueIds("document", path)
    for line_no, line in numbered_lines(path):
        cells = line.split("\t")
        if len(cells) == 2:
            doc_id, text = cells
            title = ""
        elif len(cells) == 3:
            doc_id, title, text = cells
        else:
            raise located(path, line_no, f"expected 2 columns (id, text) or 3 (id, title, text), got {len(cells)}")
        doc = Document(record_id(doc_id, f"{path}:{line_no}"), text, title)
        seen.add(doc.id, line_no)
        yield doc


def read_tsv_queries(path: Path) -> list[Query]:
    """Read the queries of a TSV file with 2 columns (id, text)."""
    seen = UniqueIds("query", path)
    queries = []
    for line_no, line in numbered_lines(path):
        cells = line.split("\t")
        if len(cells) != 2:
            raise located(path, line_no, f"expected 2 columns (id, text), got {len(cells)}")
        query = Query(record_id(cells[0], f"{path}:{line_no}"), cells[1])
        seen.add(query.id, line_no)
        queries.append(query)
    return queries

"""A corpus cut into ranges that workers read by byte offset, without the driver holding documents.

The driver reads the corpus once with lsr's own reader (so every check and error of `lsr index` applies:
malformed lines, duplicate ids) and notes where each range of `part_size` documents starts and ends in
the file. A worker then reads only its range's bytes and parses them with the same reader, so its
documents are exactly those the sequential `encode_corpus` puts in the same part.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from lsr.data import Document, read_corpus
from lsr.data.beir_folder import CORPUS_FILE, is_beir_folder
from lsr.errors import LsrError

LINE_FORMATS = (".jsonl", ".tsv")


@dataclass(frozen=True)
class CorpusRange:
    """Documents `start` to `stop` (0-based, stop excluded, in corpus order) of range `index` (it makes vector
    part `index`): the file's bytes `offset` to `end`, from the document `first_id` to `last_id`."""

    index: int
    start: int
    stop: int
    offset: int
    end: int
    first_id: str
    last_id: str


def corpus_file(corpus: str) -> Path:
    """The one-document-per-line file behind `corpus`; LsrError for forms read only from the start."""
    path = Path(corpus)
    if is_beir_folder(path):
        path = path / CORPUS_FILE
    if not path.is_file() or path.suffix not in LINE_FORMATS:
        raise LsrError(f"{corpus}: distributed encoding reads an uncompressed .jsonl or .tsv corpus or a BEIR "
                       f"folder (workers seek to their ranges); decompress or convert it first")
    return path


def plan_ranges(corpus: str, part_size: int) -> list[CorpusRange]:
    """The ranges of `corpus`, read once; LsrError for an invalid or empty corpus."""
    if part_size < 1:
        raise LsrError(f"part size must be at least 1, got {part_size}")
    path = corpus_file(corpus)
    ranges: list[CorpusRange] = []
    start = None
    with open(path, "rb") as f:
        spans = _document_lines(f)
        for number, doc in enumerate(read_corpus(corpus)):
            # The reader has accepted this document's line, so the next non-blank line is it.
            offset, end = next(spans)
            if start is None:
                start, begin, first_id = number, offset, doc.id
            if number + 1 - start == part_size:
                ranges.append(CorpusRange(len(ranges), start, number + 1, begin, end, first_id, doc.id))
                start = None
    if start is not None:
        ranges.append(CorpusRange(len(ranges), start, number + 1, begin, end, first_id, doc.id))
    if not ranges:
        raise LsrError(f"{corpus}: the corpus has no documents")
    return ranges


def read_range(corpus: str, corpus_range: CorpusRange) -> list[Document]:
    """The documents of `corpus_range`, read from its bytes; LsrError if the file changed since it was planned."""
    path = corpus_file(corpus)
    with open(path, "rb") as f:
        f.seek(corpus_range.offset)
        data = f.read(corpus_range.end - corpus_range.offset)
    with tempfile.TemporaryDirectory(prefix="lsr-range-") as tmp:
        piece = Path(tmp) / f"range{path.suffix}"
        # A leading blank line keeps a range's first line from being read as the file's first (whose BOM is dropped).
        piece.write_bytes(data if corpus_range.offset == 0 else b"\n" + data)
        docs = list(read_corpus(str(piece)))
    if (len(docs) != corpus_range.stop - corpus_range.start or docs[0].id != corpus_range.first_id
            or docs[-1].id != corpus_range.last_id):
        raise LsrError(f"{corpus}: the corpus changed while it was being encoded (documents "
                       f"{corpus_range.start + 1} to {corpus_range.stop} differ); rerun the command")
    return docs


def _document_lines(f: BinaryIO) -> Iterator[tuple[int, int]]:
    """(start, end) byte offsets of each line the corpus readers do not skip as blank."""
    offset = 0
    for line_no, raw in enumerate(f, 1):
        end = offset + len(raw)
        if raw.decode("utf-8-sig" if line_no == 1 else "utf-8", errors="replace").strip():
            yield offset, end
        offset = end

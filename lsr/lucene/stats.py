"""Statistics read off a Lucene index: postings in its field and the document frequencies of terms."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from lsr.lucene.jvm import jclass

FIELD = "contents"  # Anserini's one text/impact field


def postings(lucene_dir: str | Path) -> int:
    """Postings (document-term pairs) in the index's field."""
    reader = jclass("io.anserini.index.IndexReaderUtils").getReader(str(lucene_dir))
    try:
        return int(reader.getSumDocFreq(FIELD))
    finally:
        reader.close()


def doc_freqs(lucene_dir: str | Path, terms: Iterable[str]) -> dict[str, int]:
    """The number of documents holding each of `terms` (0 for a term the index lacks)."""
    reader = jclass("io.anserini.index.IndexReaderUtils").getReader(str(lucene_dir))
    try:
        term = jclass("org.apache.lucene.index.Term")
        return {t: int(reader.docFreq(term(FIELD, t))) for t in set(terms)}
    finally:
        reader.close()

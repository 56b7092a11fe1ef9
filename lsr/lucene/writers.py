"""Lucene index writers (through Anserini's IndexCollection, run in-process).

Impact indexes store each document term with an integer impact, scored at
search time as the dot product with the integer query weights. BM25 indexes
hold the same documents as text (title and text as one field).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from lsr.data import Document
from lsr.errors import LsrError
from lsr.fileio import atomic_path
from lsr.lucene.jvm import impact_indexer_class, java_errors, jclass, utf8_strings
from lsr.pruning import Pruning
from lsr.sparse import SparseVectors

log = logging.getLogger(__name__)
# What Java's String.trim() removes (every char up to U+0020): Anserini skips a document whose
# contents trim to nothing, control characters included.
JAVA_TRIMMED = "".join(map(chr, range(33)))
RAM_BUFFER_MB = 256.0  # lsr's impact indexer: documents buffered before Lucene writes a segment


@dataclass
class ImpactStats:
    """Counts over the vectors written into an impact index."""

    num_docs: int
    num_empty: int
    postings: int

    @property
    def avg_postings_per_doc(self) -> float:
        return self.postings / self.num_docs if self.num_docs else 0.0


def write_impact_index(shards: Sequence[Path], vocab: Sequence[str], scale: float, out: Path,
                       *, pruning: Pruning = Pruning(), threads: int = 2) -> ImpactStats:
    """Prune and quantize (with `scale`) the vectors in `shards`; write a Lucene impact index at `out`.

    lsr's Java `ImpactIndexer` takes the vectors as arrays, a shard at a time (an LsrError when lsr's jar
    is missing or does not link against the Anserini on the class path). It writes the index
    `write_impact_index_with_anserini` does: the same documents, postings, norms and search results."""
    check_vocab_terms(vocab)
    indexer = impact_indexer_class()
    return _write_impacts_from_arrays(indexer, shards, vocab, scale, out, pruning, threads)


def write_impact_index_with_anserini(shards: Sequence[Path], vocab: Sequence[str], scale: float, out: Path,
                                     *, pruning: Pruning = Pruning(), threads: int = 2) -> ImpactStats:
    """`write_impact_index` through Anserini's IndexCollection: the vectors as JSON files (each term
    written `impact` times into a text Anserini tokenizes). lsr's former path, kept as the reference
    `write_impact_index` is checked against."""
    check_vocab_terms(vocab)
    stats = ImpactStats(0, 0, 0)
    with _work_folder(out) as tmp:
        for vectors, path in _quantized_shards(shards, scale, pruning, stats):
            _write_vector_jsonl(vectors, vocab, Path(tmp) / f"{path.stem}.jsonl")
        _index_collection(Path(tmp), out, stats.num_docs - stats.num_empty, threads,
                          ["-collection", "JsonVectorCollection", "-impact", "-pretokenized", "-optimize"])
    return stats


def _write_impacts_from_arrays(indexer, shards: Sequence[Path], vocab: Sequence[str], scale: float, out: Path,
                               pruning: Pruning, threads: int) -> ImpactStats:
    stats = ImpactStats(0, 0, 0)
    _remove_stale_temporaries(out)
    with atomic_path(out, is_dir=True) as tmp:
        log.info("writing Lucene index %s", out)
        with java_errors("Lucene indexing"):
            writer = indexer.create(str(tmp).encode("utf-8"), threads, RAM_BUFFER_MB, *utf8_strings(vocab))
        try:
            for vectors, _ in _quantized_shards(shards, scale, pruning, stats):
                with java_errors("Lucene indexing"):
                    writer.add(*utf8_strings(vectors.ids), vectors.indptr.astype("<i4").tobytes(),
                               vectors.indices.astype("<i4").tobytes(), vectors.values.astype("<i4").tobytes())
        finally:
            with java_errors("Lucene indexing"):
                writer.close()
        _check_count(tmp, out, stats.num_docs - stats.num_empty)
    return stats


def _quantized_shards(shards: Sequence[Path], scale: float, pruning: Pruning,
                      stats: ImpactStats) -> Iterator[tuple[SparseVectors, Path]]:
    """Each shard's vectors pruned and quantized, one shard in memory at a time; counted into `stats`."""
    for path in shards:
        vectors = pruning.docs(SparseVectors.read_parquet(path)).quantize(scale)
        nnz = vectors.nnz_per_row()
        stats.num_docs += len(vectors)
        stats.num_empty += int((nnz == 0).sum())
        stats.postings += int(nnz.sum())
        yield vectors, path


def write_bm25_index(docs: Iterable[Document], out: Path, *, threads: int = 2) -> tuple[int, int]:
    """Write a BM25 index of `docs` (title and text as one field); return (documents, blank ones)."""
    num_docs = num_blank = 0
    with _work_folder(out) as tmp:
        with open(Path(tmp) / "docs.jsonl", "w", encoding="utf-8") as f:
            for doc in docs:
                text = doc.full_text()
                num_docs += 1
                num_blank += not text.strip(JAVA_TRIMMED)
                f.write(json.dumps({"id": doc.id, "contents": text}) + "\n")
        _index_collection(Path(tmp), out, num_docs - num_blank, threads, ["-collection", "JsonCollection",
                          "-generator", "DefaultLuceneDocumentGenerator", "-optimize"])
    return num_docs, num_blank


def check_vocab_terms(vocab: Sequence[str]) -> None:
    """Lucene terms are whitespace-separated tokens: refuse a vocabulary that breaks that."""
    for term_id, token in enumerate(vocab):
        if not token or any(c.isspace() for c in token):
            raise LsrError(f"vocabulary token {term_id} ({token!r}) is empty or holds whitespace; "
                           f"it cannot be a Lucene term")


def count_docs(lucene_dir: Path) -> int:
    """Number of documents in a Lucene index."""
    path = jclass("java.io.File")(str(lucene_dir)).toPath()
    directory = jclass("org.apache.lucene.store.FSDirectory").open(path)
    reader = jclass("org.apache.lucene.index.DirectoryReader").open(directory)
    try:
        return reader.numDocs()
    finally:
        reader.close()


def _write_vector_jsonl(vectors: SparseVectors, vocab: Sequence[str], path: Path) -> None:
    with open(path, "w", encoding="utf-8") as f:
        for i, doc_id in enumerate(vectors.ids):
            terms, weights = vectors.row(i)
            vector = dict(zip(map(vocab.__getitem__, terms.tolist()), weights.tolist()))
            f.write(json.dumps({"id": doc_id, "contents": "", "vector": vector}) + "\n")


def _index_collection(input_dir: Path, out: Path, expected_docs: int, threads: int, args: list[str]) -> None:
    """Run Anserini's IndexCollection into a temporary folder; move it to `out` once checked."""
    with atomic_path(out, is_dir=True) as tmp:
        log.info("writing Lucene index %s", out)
        jclass("io.anserini.index.IndexCollection").main(
            ["-input", str(input_dir), "-index", str(tmp), "-threads", str(threads), "-quiet", *args])
        _check_count(tmp, out, expected_docs)


def _check_count(lucene_dir: Path, out: Path, expected_docs: int) -> None:
    found = count_docs(lucene_dir) if expected_docs else 0
    if found != expected_docs:
        raise LsrError(f"{out}: Lucene indexed {found} documents, expected {expected_docs}")


def _work_folder(out: Path) -> tempfile.TemporaryDirectory:
    """A temporary folder for Anserini's input beside `out` (`.NAME-input.*.tmp`), after removing what
    killed builds left there, so that a build killed now is cleaned up by the next."""
    out.parent.mkdir(parents=True, exist_ok=True)
    _remove_stale_temporaries(out)
    return tempfile.TemporaryDirectory(prefix=f".{out.name}-input.", suffix=".tmp", dir=out.parent)


def _remove_stale_temporaries(out: Path) -> None:
    """Remove the temporary folders that earlier writes of `out` left when killed: `.NAME.*.tmp`
    (a partial Lucene index) and `.NAME-input.*.tmp` (Anserini's input)."""
    for stale in [*out.parent.glob(f".{out.name}.*.tmp"), *out.parent.glob(f".{out.name}-input.*.tmp")]:
        log.info("removing %s, left by an interrupted build", stale)
        shutil.rmtree(stale, ignore_errors=True)

"""Build an lsr index folder from a corpus: impact (via an encoder) or BM25."""

from __future__ import annotations

import itertools
import logging
import os
import shutil
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lsr.data import Document, read_corpus
from lsr.data.sources import count_documents
from lsr.errors import LsrError
from lsr.indexing.layout import INFO_FILE, LUCENE_DIR, VECTORS_DIR, IndexInfo, part_paths
from lsr.indexing.vectors import DEFAULT_PART_SIZE, encode_corpus
from lsr.lucene.writers import ImpactStats, write_bm25_index, write_impact_index
from lsr.models import Encoder, load_encoder
from lsr.pruning import Pruning

log = logging.getLogger(__name__)
DEFAULT_SCALE = 100.0


@dataclass
class BuildReport:
    """What `build_*_index` did, with its timings."""

    info: IndexInfo
    encode_seconds: float = 0.0
    encoded_docs: int = 0
    lucene_seconds: float = 0.0

    @property
    def encode_docs_per_second(self) -> float | None:
        return self.encoded_docs / self.encode_seconds if self.encoded_docs else None

    @property
    def lucene_docs_per_second(self) -> float | None:
        return self.info.num_docs / self.lucene_seconds if self.lucene_seconds else None


def build_impact_index(corpus: str, out: str | Path, model: str | Path, *, encoder: Encoder | None = None,
                       scale: float = DEFAULT_SCALE, pruning: Pruning = Pruning(), part_size: int = DEFAULT_PART_SIZE,
                       threads: int = 2, overwrite: bool = False, progress: bool = True) -> BuildReport:
    """Encode `corpus` with `model` into vector parts, then write a (pruned) Lucene impact index.

    Rerunning after an interruption resumes the encoding where it stopped.
    """
    out = Path(out)
    check_not_built(out, overwrite)
    docs = readable_corpus(corpus)
    encoder = encoder or load_encoder(model)
    with _output_folder(out, overwrite):
        model_name = model_name_for(model, out)
        stats = encode_corpus(docs, encoder, out / VECTORS_DIR, model_name=model_name, part_size=part_size,
                              progress=progress, total=count_documents(corpus))
    start = time.perf_counter()
    impact = write_impact_index(part_paths(out / VECTORS_DIR), encoder.vocab, scale, out / LUCENE_DIR,
                                pruning=pruning, threads=threads)
    lucene_seconds = time.perf_counter() - start
    info = impact_index_info(impact, corpus=str(corpus), model_name=model_name, encoder=encoder, scale=scale,
                             pruning=pruning)
    report = BuildReport(info, stats.seconds, stats.encoded_now, lucene_seconds)
    info.speed = {"encode_docs_per_s": report.encode_docs_per_second,
                  "index_docs_per_s": report.lucene_docs_per_second}
    warn_empty(info)
    info.save(out)
    return report


def prune_index(index_dir: str | Path, out: str | Path, pruning: Pruning, *, encoder: Encoder | None = None,
                threads: int = 2, overwrite: bool = False) -> BuildReport:
    """The impact index `index_dir`'s vectors indexed again at `out` with other `pruning`, without encoding:
    `out/vectors` is a link to `index_dir`'s vector parts, and `out` records the same model, settings and
    scale (`encoder`, default the recorded model loaded, gives the vocabulary)."""
    source, out = Path(index_dir), Path(out)
    info = IndexInfo.read(source)
    if info.kind != "impact" or info.scale is None:
        raise LsrError(f"{source} is a {info.kind} index: only an impact index's vectors can be pruned again")
    check_not_built(out, overwrite)
    model = info.model_location(source)
    encoder = recorded_encoder(source, info, encoder)
    with _output_folder(out, overwrite):
        vectors = out / VECTORS_DIR
        if vectors.is_symlink() or vectors.exists():
            vectors.unlink()
        vectors.symlink_to(os.path.relpath((source / VECTORS_DIR).resolve(), out.resolve()), target_is_directory=True)
    start = time.perf_counter()
    impact = write_impact_index(part_paths(vectors), encoder.vocab, info.scale, out / LUCENE_DIR, pruning=pruning,
                                threads=threads)
    pruned = impact_index_info(impact, corpus=info.corpus, model_name=model_name_for(model or "", out),
                               encoder=encoder, scale=info.scale, pruning=pruning)
    report = BuildReport(pruned, lucene_seconds=time.perf_counter() - start)
    pruned.speed = {"index_docs_per_s": report.lucene_docs_per_second}
    pruned.save(out)
    return report


def recorded_encoder(index_dir: Path, info: IndexInfo, encoder: Encoder | None = None) -> Encoder:
    """The encoder the impact index `index_dir` records (its model with its settings), or `encoder`; LsrError
    when its vocabulary is not the index's."""
    encoder = encoder or load_encoder(info.model_location(index_dir) or "", **info.encoder_settings)
    if encoder.fingerprint != info.vocab_fingerprint:
        raise LsrError(f"{index_dir}: built with vocabulary {info.vocab_fingerprint} (model {info.model}), "
                       f"but the encoder has {encoder.fingerprint}")
    return encoder


def impact_index_info(impact: ImpactStats, *, corpus: str, model_name: str, encoder: Encoder, scale: float,
                      pruning: Pruning) -> IndexInfo:
    """The metadata of an impact index of `impact`'s vectors, encoded by `encoder` (its model named
    `model_name` as seen from the index folder), quantized with `scale` and pruned by `pruning`."""
    return IndexInfo(kind="impact", num_docs=impact.num_docs, num_empty=impact.num_empty, corpus=corpus,
                     model=model_name, encoder_kind=encoder.kind, encoder_settings=encoder.recorded_settings(),
                     vocab_fingerprint=encoder.fingerprint, scale=scale,
                     avg_postings_per_doc=round(impact.avg_postings_per_doc, 2), pruning=pruning.to_dict())


def build_bm25_index(corpus: str, out: str | Path, *, k1: float = 0.9, b: float = 0.4, threads: int = 2,
                     overwrite: bool = False) -> BuildReport:
    """Write a BM25 index of `corpus` (title and text as one field) searched with `k1`, `b`."""
    out = Path(out)
    check_not_built(out, overwrite)
    docs = readable_corpus(corpus)
    start = time.perf_counter()
    with _output_folder(out, overwrite):
        num_docs, num_blank = write_bm25_index(docs, out / LUCENE_DIR, threads=threads)
    info = IndexInfo(kind="bm25", num_docs=num_docs, num_empty=num_blank, corpus=str(corpus),
                     bm25={"k1": k1, "b": b})
    report = BuildReport(info, lucene_seconds=time.perf_counter() - start)
    info.speed = {"index_docs_per_s": report.lucene_docs_per_second}
    warn_empty(info)
    info.save(out)
    return report


def check_not_built(out: Path, overwrite: bool, info_file: str = INFO_FILE) -> None:
    """LsrError when `out` holds a finished index (its `info_file`), unless `overwrite`."""
    if (out / info_file).exists() and not overwrite:
        raise LsrError(f"{out}: an index is already there (pass --overwrite to rebuild it)")


def readable_corpus(corpus: str) -> Iterator[Document]:
    """The documents of `corpus`, the first read already: a missing, unreadable or empty corpus fails
    before the output folder is touched."""
    docs = read_corpus(corpus)
    first = next(docs, None)
    if first is None:
        raise LsrError(f"{corpus}: the corpus has no documents")
    return itertools.chain([first], docs)


@contextmanager
def _output_folder(out: Path, overwrite: bool) -> Iterator[Path]:
    """`out` created (emptied first under `overwrite`) for a build; if the build fails, the folders this
    call created are removed again, unless they hold encoded parts a rerun resumes from."""
    created = next((p for p in reversed([out, *out.parents]) if not p.exists()), None)
    if overwrite and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    try:
        yield out
    except BaseException:
        if created is not None and not part_paths(out / VECTORS_DIR):
            shutil.rmtree(created, ignore_errors=True)
        raise


def model_name_for(model: str | Path, out: Path) -> str:
    """A local model folder as a path relative to the index folder (the two move together, e.g. a
    model copied into or beside the index), else the hub id."""
    path = Path(model)
    return os.path.relpath(path.resolve(), out.resolve()) if path.exists() else str(model)


def warn_empty(info: IndexInfo) -> None:
    """Log a warning when some of the index's documents are blank."""
    if info.num_empty:
        log.warning("%d of %d documents have no terms (blank text): kept, but they match no query",
                    info.num_empty, info.num_docs)

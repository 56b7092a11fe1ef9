"""Build an lsr index folder from a corpus: impact (via an encoder) or BM25."""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from lsr.data import read_corpus
from lsr.errors import LsrError
from lsr.indexing.encode_corpus import DEFAULT_SHARD_SIZE, encode_corpus, shard_paths
from lsr.indexing.index_info import INFO_FILE, LUCENE_DIR, VECTORS_DIR, IndexInfo
from lsr.indexing.lucene import write_bm25_index, write_impact_index
from lsr.indexing.pruning import Pruning
from lsr.models import Encoder, load_encoder

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
                       scale: float = DEFAULT_SCALE, pruning: Pruning = Pruning(), shard_size: int = DEFAULT_SHARD_SIZE,
                       threads: int = 2, overwrite: bool = False, progress: bool = True) -> BuildReport:
    """Encode `corpus` with `model` into Parquet shards, then write a (pruned) Lucene impact index.

    Rerunning after an interruption resumes the encoding where it stopped.
    """
    out = _prepare(Path(out), overwrite)
    model_name = _model_name(model, out)
    encoder = encoder or load_encoder(model)
    stats = encode_corpus(read_corpus(corpus), encoder, out / VECTORS_DIR, model_name=model_name,
                          shard_size=shard_size, progress=progress)
    start = time.perf_counter()
    impact = write_impact_index(shard_paths(out / VECTORS_DIR), encoder.vocab, scale, out / LUCENE_DIR,
                                pruning=pruning, threads=threads)
    lucene_seconds = time.perf_counter() - start
    info = IndexInfo(kind="impact", num_docs=impact.num_docs, num_empty=impact.num_empty, corpus=str(corpus),
                     model=model_name, encoder_kind=encoder.kind, encoder_settings=encoder.settings,
                     vocab_fingerprint=encoder.fingerprint, scale=scale,
                     avg_postings_per_doc=round(impact.avg_postings_per_doc, 2), pruning=pruning.to_dict())
    report = BuildReport(info, stats.seconds, stats.encoded_now, lucene_seconds)
    info.speed = {"encode_docs_per_s": report.encode_docs_per_second,
                  "index_docs_per_s": report.lucene_docs_per_second}
    _warn_empty(info)
    info.save(out)
    return report


def build_bm25_index(corpus: str, out: str | Path, *, k1: float = 0.9, b: float = 0.4, threads: int = 2,
                     overwrite: bool = False) -> BuildReport:
    """Write a BM25 index of `corpus` (title and text as one field) searched with `k1`, `b`."""
    out = _prepare(Path(out), overwrite)
    start = time.perf_counter()
    num_docs, num_blank = write_bm25_index(read_corpus(corpus), out / LUCENE_DIR, threads=threads)
    info = IndexInfo(kind="bm25", num_docs=num_docs, num_empty=num_blank, corpus=str(corpus),
                     bm25={"k1": k1, "b": b})
    report = BuildReport(info, lucene_seconds=time.perf_counter() - start)
    info.speed = {"index_docs_per_s": report.lucene_docs_per_second}
    _warn_empty(info)
    info.save(out)
    return report


def _prepare(out: Path, overwrite: bool) -> Path:
    if (out / INFO_FILE).exists():
        if not overwrite:
            raise LsrError(f"{out}: an index is already there (pass --overwrite to rebuild it)")
        shutil.rmtree(out)
    elif overwrite and out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True, exist_ok=True)
    return out


def _model_name(model: str | Path, out: Path) -> str:
    """A local model folder as a path relative to the index folder (the two move together, e.g. a
    model copied into or beside the index), else the hub id."""
    path = Path(model)
    return os.path.relpath(path.resolve(), out.resolve()) if path.exists() else str(model)


def _warn_empty(info: IndexInfo) -> None:
    if info.num_empty:
        log.warning("%d of %d documents have no terms (blank text): kept, but they match no query",
                    info.num_empty, info.num_docs)

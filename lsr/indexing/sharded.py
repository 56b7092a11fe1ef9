"""Sharded impact indexes: one Lucene impact index (an index shard) per contiguous group of vector parts.

The folder layout is in `lsr.indexing.layout` (`ShardedIndexInfo`); each shard is an ordinary index folder
that `LuceneSearcher` opens alone.

Every shard is quantized with the same scale and pruned the same way from vectors of one encoder, so an
impact score means the same in every shard and a merged top k equals one index's (`lsr.search.merge`,
`lsr.search.sharded`). BM25 is not sharded: its scores depend on each index's own statistics.

Each shard is written by `build_shard`, one after another here, or by another `JobRunner` (Ray tasks:
`lsr.distributed.shards`). A rerun after an interruption keeps the shards whose `lsr-index.json` is there
and writes only the others.
"""

from __future__ import annotations

import itertools
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from tqdm.auto import tqdm

from lsr.data.sources import count_documents
from lsr.errors import LsrError
from lsr.indexing.build import (
    DEFAULT_SCALE,
    check_not_built,
    impact_index_info,
    model_name_for,
    readable_corpus,
    recorded_encoder,
    warn_empty,
)
from lsr.indexing.layout import (
    INFO_FILE,
    LUCENE_DIR,
    SHARDED_INFO_FILE,
    VECTORS_DIR,
    IndexInfo,
    ShardedIndexInfo,
    ShardEntry,
    part_paths,
)
from lsr.indexing.vectors import DEFAULT_PART_SIZE, VECTORS_INFO, check_vectors_info, encode_corpus
from lsr.lucene.writers import ImpactStats, check_vocab_terms, write_impact_index
from lsr.models import Encoder, load_encoder
from lsr.pruning import Pruning

log = logging.getLogger(__name__)
# Index metadata a finished shard must share with the plan of a rerun to be kept.
_SHARD_IDENTITY = ("kind", "num_docs", "corpus", "model", "encoder_kind", "encoder_settings", "vocab_fingerprint",
                   "scale", "pruning")


@dataclass
class ShardJob:
    """One index shard to write: the vector parts `files` into the index folder `folder`, with the metadata
    `info` (its counts filled in once written)."""

    folder: str
    files: list[str]
    info: IndexInfo
    threads: int


JobRunner = Callable[[list[ShardJob], Sequence[str]], Iterator[IndexInfo]]
"""Writes shard jobs (with the vocabulary) and yields each shard's metadata as it is written."""


def plan_groups(rows: Sequence[int], num_shards: int) -> list[range]:
    """`num_shards` contiguous groups of the vector parts holding `rows` documents each, as even in
    documents as part boundaries allow; LsrError when there are fewer parts than shards."""
    if num_shards < 1:
        raise LsrError(f"the number of shards must be at least 1, got {num_shards}")
    if num_shards > len(rows):
        raise LsrError(f"{num_shards} shards asked for vectors in {len(rows)} Parquet files: use fewer shards "
                       f"or encode with a smaller part size (an index shard is a group of whole files)")
    ends = list(itertools.accumulate(rows))
    bounds = [0]
    for i in range(1, num_shards):
        target = ends[-1] * i / num_shards
        candidates = range(bounds[-1] + 1, len(rows) - (num_shards - i) + 1)
        bounds.append(min(candidates, key=lambda j: (abs(ends[j - 1] - target), j)))
    bounds.append(len(rows))
    return [range(start, stop) for start, stop in zip(bounds, bounds[1:])]


def build_sharded_index(vectors: str | Path, out: str | Path, model: str | Path, *, num_shards: int,
                        encoder: Encoder | None = None, scale: float = DEFAULT_SCALE, pruning: Pruning = Pruning(),
                        corpus: str = "", threads: int = 2, run_jobs: JobRunner | None = None,
                        overwrite: bool = False, progress: bool = True) -> ShardedIndexInfo:
    """Write the vector parts in `vectors` (a folder of `encode_corpus`, encoded by `model`) as `num_shards`
    impact indexes under `out`, then `lsr-sharded-index.json`; resumes after the shards already written.

    `encoder` (default: `model` loaded) gives the vocabulary and the identity recorded; its vocabulary must
    be the one the vectors were encoded with. The shards are written by `run_jobs` (default: here, one after
    another, with `threads` Lucene threads each). `overwrite` removes the shards and the metadata there first.
    """
    out, vectors = Path(out), Path(vectors)
    check_not_built(out, overwrite, SHARDED_INFO_FILE)
    files = part_paths(vectors)
    if not files:
        raise LsrError(f"{vectors}: no Parquet vectors (part-*.parquet) to index")
    encoder = encoder or load_encoder(model)
    check_vocab_terms(encoder.vocab)
    _check_vectors(vectors, encoder)
    rows = [pq.ParquetFile(path).metadata.num_rows for path in files]
    groups = plan_groups(rows, num_shards)
    if overwrite:
        _remove_shards(out)
    out.mkdir(parents=True, exist_ok=True)
    whole = impact_index_info(ImpactStats(sum(rows), 0, 0), corpus=corpus, model_name=model_name_for(model, out),
                              encoder=encoder, scale=scale, pruning=pruning)
    jobs = []
    for number, group in enumerate(groups):
        folder = out / f"shard-{number:05d}"
        info = replace(whole, model=model_name_for(model, folder), num_docs=sum(rows[i] for i in group))
        if not _finished(folder, info):
            jobs.append(ShardJob(str(folder.resolve()), [str(files[i].resolve()) for i in group], info, threads))
    if len(jobs) < len(groups):
        log.info("resuming: %d of %d shard indexes are already written", len(groups) - len(jobs), len(groups))
    start = time.perf_counter()
    with tqdm(desc="shard indexes", unit="shard", total=len(groups), initial=len(groups) - len(jobs),
              disable=not progress, dynamic_ncols=True) as bar:
        for _ in (run_jobs or build_here)(jobs, encoder.vocab):
            bar.update(1)
    shards = [IndexInfo.read(out / f"shard-{number:05d}") for number in range(len(groups))]
    postings = sum((info.avg_postings_per_doc or 0.0) * info.num_docs for info in shards)
    whole.num_empty = sum(info.num_empty for info in shards)
    whole.avg_postings_per_doc = round(postings / whole.num_docs, 2) if whole.num_docs else 0.0
    if jobs:
        whole.speed = {"index_docs_per_s": sum(job.info.num_docs for job in jobs) / (time.perf_counter() - start)}
    manifest = ShardedIndexInfo(whole, _relative(vectors, out), [
        ShardEntry(f"shard-{number:05d}", info.num_docs, info.num_empty, [files[i].name for i in group])
        for number, (info, group) in enumerate(zip(shards, groups))])
    warn_empty(whole)
    manifest.save(out)
    return manifest


def shard_index(index_dir: str | Path, out: str | Path, *, num_shards: int, encoder: Encoder | None = None,
                threads: int = 2, run_jobs: JobRunner | None = None, overwrite: bool = False,
                progress: bool = True) -> ShardedIndexInfo:
    """An impact index folder's vectors (its `vectors/`) written again as a sharded index under `out`, with
    the index's model, encoder settings, scale and pruning (see `build_sharded_index`); LsrError for BM25."""
    index_dir = Path(index_dir)
    info = IndexInfo.read(index_dir)
    if info.kind != "impact":
        raise LsrError(f"{index_dir} is a {info.kind.upper()} index: only impact indexes are sharded (BM25 "
                       f"scores depend on each index's own statistics, so those of shards do not compare)")
    model = info.model_location(index_dir)
    assert model is not None  # an impact index records its model
    encoder = recorded_encoder(index_dir, info, encoder)
    return build_sharded_index(index_dir / VECTORS_DIR, out, model, num_shards=num_shards, encoder=encoder,
                               scale=info.scale or DEFAULT_SCALE, pruning=Pruning.from_dict(info.pruning),
                               corpus=info.corpus, threads=threads, run_jobs=run_jobs, overwrite=overwrite,
                               progress=progress)


def prepare_sharded_output(corpus: str, out: str | Path, model: str | Path, *, num_shards: int,
                           part_size: int | None, overwrite: bool) -> tuple[Path, str, int]:
    """Before a sharded index is built from `corpus` into `out`: refuse a finished one (unless `overwrite`,
    which empties `out`); return the vectors folder, the model's name as seen from `out` and the part size
    (default: the corpus size over `num_shards`, at most DEFAULT_PART_SIZE)."""
    out = Path(out)
    check_not_built(out, overwrite, SHARDED_INFO_FILE)
    if overwrite and out.exists():
        shutil.rmtree(out)
    return out / VECTORS_DIR, model_name_for(model, out), part_size or _part_size(corpus, num_shards)


def build_sharded_index_from_corpus(corpus: str, out: str | Path, model: str | Path, *, num_shards: int,
                                    load: Callable[[], Encoder] | None = None, scale: float = DEFAULT_SCALE,
                                    pruning: Pruning = Pruning(), part_size: int | None = None, threads: int = 2,
                                    overwrite: bool = False, progress: bool = True) -> ShardedIndexInfo:
    """Encode `corpus` into `out/vectors` here and write it as `num_shards` impact indexes
    (`build_sharded_index`); on a Ray cluster: `lsr.distributed.shards.build_sharded_index_on_ray`.

    `load` (default: `load_encoder(model)`) makes the encoder. `part_size` (documents per Parquet file)
    defaults to the corpus size over `num_shards`, at most DEFAULT_PART_SIZE. Rerunning after an
    interruption resumes the encoding, then the shards.
    """
    vectors, model_name, part_size = prepare_sharded_output(corpus, out, model, num_shards=num_shards,
                                                            part_size=part_size, overwrite=overwrite)
    encoder = load() if load is not None else load_encoder(model)
    encode_corpus(readable_corpus(corpus), encoder, vectors, model_name=model_name, part_size=part_size,
                  progress=progress, total=count_documents(corpus))
    return build_sharded_index(vectors, out, model, num_shards=num_shards, encoder=encoder, scale=scale,
                               pruning=pruning, corpus=corpus, threads=threads, progress=progress)


def build_shard(job: ShardJob, vocab: Sequence[str]) -> IndexInfo:
    """Write one index shard (its Lucene index, then its metadata, last): in this process or a Ray task."""
    folder = Path(job.folder)
    start = time.perf_counter()
    impact = write_impact_index([Path(path) for path in job.files], vocab, job.info.scale or DEFAULT_SCALE,
                                folder / LUCENE_DIR, pruning=Pruning.from_dict(job.info.pruning), threads=job.threads)
    if impact.num_docs != job.info.num_docs:
        raise LsrError(f"{folder}: its vectors hold {impact.num_docs} documents, {job.info.num_docs} when "
                       f"planned (were they rewritten meanwhile?)")
    info = replace(job.info, num_empty=impact.num_empty, avg_postings_per_doc=round(impact.avg_postings_per_doc, 2),
                   speed={"index_docs_per_s": impact.num_docs / (time.perf_counter() - start)})
    info.save(folder)
    return info


def build_here(jobs: list[ShardJob], vocab: Sequence[str]) -> Iterator[IndexInfo]:
    """The default `JobRunner`: the shards written in this process, one after another."""
    for job in jobs:
        yield build_shard(job, vocab)


def _finished(folder: Path, planned: IndexInfo) -> bool:
    """Whether the shard index at `folder` is written (its metadata there); LsrError when it was written
    from other vectors or with other settings than `planned`."""
    if not (folder / INFO_FILE).is_file():
        return False
    found, wanted = _identity(IndexInfo.read(folder)), _identity(planned)
    if found != wanted:
        differences = "; ".join(f"{key}: {found[key]!r} there, {wanted[key]!r} now" for key in _SHARD_IDENTITY
                                if found[key] != wanted[key])
        raise LsrError(f"{folder}: a shard index of other vectors or settings ({differences}); use the same "
                       f"settings and number of shards, a new output folder or --overwrite")
    return True


def _identity(info: IndexInfo) -> dict[str, Any]:
    """The fields of `_SHARD_IDENTITY`, as JSON reads them back."""
    return json.loads(json.dumps({key: getattr(info, key) for key in _SHARD_IDENTITY}))


def _check_vectors(vectors: Path, encoder: Encoder) -> None:
    """LsrError unless `vectors` was encoded with `encoder`'s kind, settings and vocabulary (by its
    `encoding.json`; the model's name there is relative to the folder it was encoded for)."""
    path = vectors / VECTORS_INFO
    if not path.is_file():
        raise LsrError(f"{vectors}: no {VECTORS_INFO}: not a folder of encoded vectors")
    check_vectors_info(vectors, encoder, json.loads(path.read_text(encoding="utf-8")).get("model"))


def _remove_shards(out: Path) -> None:
    (out / SHARDED_INFO_FILE).unlink(missing_ok=True)
    for folder in out.glob("shard-*"):
        shutil.rmtree(folder)


def _relative(path: Path, start: Path) -> str:
    """`path` relative to `start` when inside it, else absolute."""
    path, start = path.resolve(), start.resolve()
    return os.path.relpath(path, start) if path.is_relative_to(start) else str(path)


def _part_size(corpus: str, num_shards: int) -> int:
    """Documents per vector part: the corpus size (as counted cheaply) over `num_shards`, at most
    DEFAULT_PART_SIZE."""
    count = count_documents(corpus)
    return DEFAULT_PART_SIZE if not count else max(1, min(DEFAULT_PART_SIZE, math.ceil(count / num_shards)))

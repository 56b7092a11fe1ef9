"""Sharded impact indexes: one Lucene impact index per contiguous group of Parquet vector shards.

Layout of a sharded index folder:
    lsr-sharded-index.json   the manifest (`ShardedIndexInfo`), written last: its presence means "complete"
    vectors/                 the Parquet shards, when the sharded index was built from a corpus
    shard-00000/ ...         one ordinary lsr index folder per group (lsr-index.json, lucene/): `Searcher`
                             opens each alone

Every shard is quantized with the same scale and pruned the same way from vectors of one encoder, so an
impact score means the same in every shard and a merged top k equals one index's (`lsr.distributed.merge`,
`lsr.distributed.search`). BM25 is not sharded: its scores depend on each index's own statistics.

Each shard is written by `write_impact_index`, in this process or as a Ray task (then the vectors and the
output folder must be reachable under the same paths from every node, and lsr installed on each). A rerun
after an interruption keeps the shards whose `lsr-index.json` is there and writes only the others.
"""

from __future__ import annotations

import functools
import itertools
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from tqdm.auto import tqdm

from lsr.data.sources import count_documents
from lsr.distributed.encode import encode_corpus_ray, ray_session, worker_errors
from lsr.errors import LsrError
from lsr.fileio import write_text_atomic
from lsr.indexing.build import (DEFAULT_SCALE, _check_not_built, _documents, _model_name, _warn_empty,
                                impact_index_info)
from lsr.indexing.encode_corpus import DEFAULT_SHARD_SIZE, MANIFEST, check_manifest, encode_corpus, shard_paths
from lsr.indexing.index_info import INFO_FILE, LUCENE_DIR, SHARDED_INFO_FILE, VECTORS_DIR, IndexInfo
from lsr.indexing.lucene import ImpactStats, check_vocab_terms, write_impact_index
from lsr.indexing.pruning import Pruning
from lsr.models import Encoder, load_encoder

log = logging.getLogger(__name__)
# Retries of one shard's Lucene write after its worker died (an error raised by lsr itself is not retried).
TASK_RETRIES = 3
# Index metadata a finished shard must share with the plan of a rerun to be kept.
_SHARD_IDENTITY = ("kind", "num_docs", "corpus", "model", "encoder_kind", "encoder_settings", "vocab_fingerprint",
                   "scale", "pruning")


@dataclass
class ShardEntry:
    """One shard index: its folder (relative to the sharded index folder), its documents (`num_empty` of
    them without terms) and the Parquet files of the vectors folder it was written from, in order."""

    folder: str
    num_docs: int
    num_empty: int
    vectors: list[str]


@dataclass
class ShardedIndexInfo:
    """What `lsr-sharded-index.json` holds: the metadata of the whole (`index`: the model relative to the
    sharded index folder, encoder kind and settings, vocabulary fingerprint, scale, pruning, document
    counts), the vectors folder the shards were written from (relative to the sharded index folder when
    inside it) and the shards in document order."""

    index: IndexInfo
    vectors: str
    shards: list[ShardEntry] = field(default_factory=list)
    format_version: int = 1

    def shard_dirs(self, folder: str | Path) -> list[Path]:
        return [Path(folder) / shard.folder for shard in self.shards]

    def save(self, folder: str | Path) -> None:
        write_text_atomic(Path(folder) / SHARDED_INFO_FILE, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, folder: str | Path) -> ShardedIndexInfo:
        path = Path(folder) / SHARDED_INFO_FILE
        if not path.is_file():
            raise LsrError(f"{folder}: not a complete sharded lsr index (no {SHARDED_INFO_FILE}; an "
                           f"interrupted sharded build resumes when run again)")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            return cls(index=IndexInfo.from_dict(raw["index"]), vectors=str(raw["vectors"]),
                       shards=[ShardEntry(**shard) for shard in raw["shards"]],
                       format_version=int(raw.get("format_version", 1)))
        except (json.JSONDecodeError, UnicodeDecodeError, TypeError, KeyError, ValueError) as e:
            raise LsrError(f"{path}: unreadable sharded index metadata ({e!r})") from e


@dataclass
class ShardJob:
    """One shard to write: `files` (Parquet vectors) into the index folder `folder`, with the metadata
    `info` (its counts filled in once written)."""

    folder: str
    files: list[str]
    info: IndexInfo
    threads: int


def plan_groups(rows: Sequence[int], num_shards: int) -> list[range]:
    """`num_shards` contiguous groups of the Parquet files holding `rows` documents each, as even in
    documents as file boundaries allow; LsrError when there are fewer files than shards."""
    if num_shards < 1:
        raise LsrError(f"the number of shards must be at least 1, got {num_shards}")
    if num_shards > len(rows):
        raise LsrError(f"{num_shards} shards asked for vectors in {len(rows)} Parquet files: use fewer shards "
                       f"or encode with a smaller shard size (a shard index is a group of whole files)")
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
                        corpus: str = "", threads: int = 2, use_ray: bool = False, address: str | None = None,
                        cpus_per_shard: float = 1.0, overwrite: bool = False,
                        progress: bool = True) -> ShardedIndexInfo:
    """Write the Parquet `vectors` (a folder of `encode_corpus`, encoded by `model`) as `num_shards` impact
    indexes under `out`, then the manifest; resumes after the shards already written.

    `encoder` (default: `model` loaded) gives the vocabulary and the identity recorded; its vocabulary must
    be the one the vectors were encoded with. With `use_ray`, each shard is a Ray task of `cpus_per_shard`
    CPUs (its Lucene writer using as many threads) on the cluster at `address`; else they are written here
    one after another with `threads` threads each. `overwrite` removes the shards and manifest there first.
    """
    out, vectors = Path(out), Path(vectors)
    _check_not_built(out, overwrite, SHARDED_INFO_FILE)
    files = shard_paths(vectors)
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
    whole = impact_index_info(ImpactStats(sum(rows), 0, 0), corpus=corpus, model_name=_model_name(model, out),
                              encoder=encoder, scale=scale, pruning=pruning)
    threads = max(1, int(cpus_per_shard)) if use_ray else threads
    jobs = []
    for number, group in enumerate(groups):
        folder = out / f"shard-{number:05d}"
        info = replace(whole, model=_model_name(model, folder), num_docs=sum(rows[i] for i in group))
        if not _finished(folder, info):
            jobs.append(ShardJob(str(folder.resolve()), [str(files[i].resolve()) for i in group], info, threads))
    if len(jobs) < len(groups):
        log.info("resuming: %d of %d shard indexes are already written", len(groups) - len(jobs), len(groups))
    start = time.perf_counter()
    run = functools.partial(_build_on_ray, address=address, cpus_per_shard=cpus_per_shard) if use_ray else \
        _build_here
    with tqdm(desc="shard indexes", unit="shard", total=len(groups), initial=len(groups) - len(jobs),
              disable=not progress, dynamic_ncols=True) as bar:
        for _ in run(jobs, encoder.vocab):
            bar.update(1)
    shards = [IndexInfo.read(out / f"shard-{number:05d}") for number in range(len(groups))]
    postings = sum(info.avg_postings_per_doc * info.num_docs for info in shards)
    whole.num_empty = sum(info.num_empty for info in shards)
    whole.avg_postings_per_doc = round(postings / whole.num_docs, 2) if whole.num_docs else 0.0
    if jobs:
        whole.speed = {"index_docs_per_s": sum(job.info.num_docs for job in jobs) / (time.perf_counter() - start)}
    manifest = ShardedIndexInfo(whole, _relative(vectors, out), [
        ShardEntry(f"shard-{number:05d}", info.num_docs, info.num_empty, [files[i].name for i in group])
        for number, (info, group) in enumerate(zip(shards, groups))])
    _warn_empty(whole)
    manifest.save(out)
    return manifest


def shard_index(index_dir: str | Path, out: str | Path, *, num_shards: int, encoder: Encoder | None = None,
                threads: int = 2, use_ray: bool = False, address: str | None = None, cpus_per_shard: float = 1.0,
                overwrite: bool = False, progress: bool = True) -> ShardedIndexInfo:
    """An impact index folder's vectors (its `vectors/`) written again as a sharded index under `out`, with
    the index's model, encoder settings, scale and pruning (see `build_sharded_index`); LsrError for BM25."""
    index_dir = Path(index_dir)
    info = IndexInfo.read(index_dir)
    if info.kind != "impact":
        raise LsrError(f"{index_dir} is a {info.kind.upper()} index: only impact indexes are sharded (BM25 "
                       f"scores depend on each index's own statistics, so those of shards do not compare)")
    model = info.model_location(index_dir)
    encoder = encoder or load_encoder(model, **info.encoder_settings)
    if encoder.fingerprint != info.vocab_fingerprint:
        raise LsrError(f"{index_dir}: built with vocabulary {info.vocab_fingerprint} (model {info.model}), "
                       f"but the encoder has {encoder.fingerprint}")
    return build_sharded_index(index_dir / VECTORS_DIR, out, model, num_shards=num_shards, encoder=encoder,
                               scale=info.scale, pruning=Pruning.from_dict(info.pruning), corpus=info.corpus,
                               threads=threads, use_ray=use_ray, address=address, cpus_per_shard=cpus_per_shard,
                               overwrite=overwrite, progress=progress)


def build_sharded_index_from_corpus(corpus: str, out: str | Path, model: str | Path, *, num_shards: int,
                                    load: Callable[[], Encoder] | None = None, scale: float = DEFAULT_SCALE,
                                    pruning: Pruning = Pruning(), shard_size: int | None = None,
                                    use_ray: bool = False, address: str | None = None, workers: int = 1,
                                    cpus_per_worker: float = 1.0, gpus_per_worker: float = 0.0,
                                    cpus_per_shard: float = 1.0, threads: int = 2, overwrite: bool = False,
                                    progress: bool = True) -> ShardedIndexInfo:
    """Encode `corpus` into `out/vectors` and write it as `num_shards` impact indexes (`build_sharded_index`).

    `load` (picklable, default `functools.partial(load_encoder, model)`) makes the encoder. With `use_ray`,
    the encoding is `encode_corpus_ray` (`workers` actors) and the shards are Ray tasks; else both run here.
    `shard_size` (documents per Parquet file) defaults to the corpus size over `num_shards`, at most
    DEFAULT_SHARD_SIZE. Rerunning after an interruption resumes the encoding, then the shards.
    """
    out = Path(out)
    _check_not_built(out, overwrite, SHARDED_INFO_FILE)
    if overwrite and out.exists():
        shutil.rmtree(out)
    load = load or functools.partial(load_encoder, model)
    shard_size = shard_size or _shard_size(corpus, num_shards)
    vectors, model_name = out / VECTORS_DIR, _model_name(model, out)
    if use_ray:
        encode_corpus_ray(corpus, vectors, load, model_name=model_name, shard_size=shard_size, workers=workers,
                          cpus_per_worker=cpus_per_worker, gpus_per_worker=gpus_per_worker, address=address,
                          progress=progress)
        encoder = load()
    else:
        encoder = load()
        encode_corpus(_documents(corpus), encoder, vectors, model_name=model_name, shard_size=shard_size,
                      progress=progress, total=count_documents(corpus))
    return build_sharded_index(vectors, out, model, num_shards=num_shards, encoder=encoder, scale=scale,
                               pruning=pruning, corpus=corpus, threads=threads, use_ray=use_ray, address=address,
                               cpus_per_shard=cpus_per_shard, progress=progress)


def build_shard(job: ShardJob, vocab: Sequence[str]) -> IndexInfo:
    """Write one shard index (its Lucene index, then its metadata, last): in this process or a Ray task."""
    folder = Path(job.folder)
    start = time.perf_counter()
    impact = write_impact_index([Path(path) for path in job.files], vocab, job.info.scale, folder / LUCENE_DIR,
                                pruning=Pruning.from_dict(job.info.pruning), threads=job.threads)
    if impact.num_docs != job.info.num_docs:
        raise LsrError(f"{folder}: its vectors hold {impact.num_docs} documents, {job.info.num_docs} when "
                       f"planned (were they rewritten meanwhile?)")
    info = replace(job.info, num_empty=impact.num_empty, avg_postings_per_doc=round(impact.avg_postings_per_doc, 2),
                   speed={"index_docs_per_s": impact.num_docs / (time.perf_counter() - start)})
    info.save(folder)
    return info


def _build_here(jobs: list[ShardJob], vocab: Sequence[str]) -> Iterator[IndexInfo]:
    for job in jobs:
        yield build_shard(job, vocab)


def _build_on_ray(jobs: list[ShardJob], vocab: Sequence[str], *, address: str | None,
                  cpus_per_shard: float) -> Iterator[IndexInfo]:
    """Each shard written by a Ray task of `cpus_per_shard` CPUs, yielded as it finishes."""
    if not jobs:
        return
    ray = ray_session(address)
    task = ray.remote(build_shard).options(num_cpus=cpus_per_shard, max_retries=TASK_RETRIES)
    shared = ray.put(list(vocab))
    pending = [task.remote(job, shared) for job in jobs]
    with worker_errors():
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])


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
    path = vectors / MANIFEST
    if not path.is_file():
        raise LsrError(f"{vectors}: no {MANIFEST}: not a folder of encoded vectors")
    check_manifest(vectors, encoder, json.loads(path.read_text(encoding="utf-8")).get("model"))


def _remove_shards(out: Path) -> None:
    (out / SHARDED_INFO_FILE).unlink(missing_ok=True)
    for folder in out.glob("shard-*"):
        shutil.rmtree(folder)


def _relative(path: Path, start: Path) -> str:
    """`path` relative to `start` when inside it, else absolute."""
    path, start = path.resolve(), start.resolve()
    return os.path.relpath(path, start) if path.is_relative_to(start) else str(path)


def _shard_size(corpus: str, num_shards: int) -> int:
    """Documents per Parquet file: the corpus size (as counted cheaply) over `num_shards`, at most
    DEFAULT_SHARD_SIZE."""
    count = count_documents(corpus)
    return DEFAULT_SHARD_SIZE if not count else max(1, min(DEFAULT_SHARD_SIZE, math.ceil(count / num_shards)))

"""Corpus encoding on a Ray cluster, into the same Parquet shards as `lsr.indexing.encode_corpus`.

Design: a Ray Data dataset whose rows are shard ranges (a few numbers each, never documents) is mapped,
one row per call, by a fixed pool of actors that each load the encoder once; a call reads its range's
bytes from the corpus file (`lsr.distributed.ranges`), encodes the documents and writes
`part-NNNNN.parquet` atomically under its final name. Exactly-once output follows from the names: a
shard's file name and content are fixed by its range, so a retried or repeated shard replaces its file
with the same vectors and never adds a copy, and a half-written file never appears under a final name.
Ray Data supplies the rest without lsr code: streaming with back-pressure (the driver holds only the
plan), and a restarted actor with the call retried when a worker process or node dies. The driver
records each finished range in `encoding-ranges.json` as results come back; a rerun (after a driver
crash or a cluster restart) checks those shards' files and encodes only the other ranges.

The corpus and the output folder must be reachable under the same paths from every node (a shared
filesystem), and lsr installed on every node.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq
from tqdm.auto import tqdm

from lsr.distributed.ranges import ShardRange, plan_ranges, read_range
from lsr.errors import LsrError
from lsr.fileio import write_text_atomic
from lsr.indexing.encode_corpus import (DEFAULT_SHARD_SIZE, EncodeStats, check_manifest, shard_path, shard_paths,
                                        warn_if_near_dense)
from lsr.models import Encoder

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)
RANGES_MANIFEST = "encoding-ranges.json"


def encode_corpus_ray(corpus: str, folder: str | Path, load: Callable[[], Encoder], *, model_name: str,
                      shard_size: int = DEFAULT_SHARD_SIZE, workers: int = 1, cpus_per_worker: float = 1.0,
                      gpus_per_worker: float = 0.0, address: str | None = None,
                      progress: bool = True) -> EncodeStats:
    """Encode `corpus` into shards under `folder` on Ray, resuming after the ranges recorded as done.

    `load` (picklable, e.g. `functools.partial(load_encoder, model)`) makes the encoder, once on the
    driver for the manifest and once in each of the `workers` actors. Ray is joined at `address`
    unless already initialised (None: `ray.init`'s default, a local Ray or `RAY_ADDRESS`).
    """
    if workers < 1:
        raise LsrError(f"the number of Ray workers must be at least 1, got {workers}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab_size = _check_identity(folder, load, model_name)
    plan = plan_ranges(corpus, shard_size)
    done = _finished(folder, plan, shard_size)
    todo = [shard for shard in plan if shard.index not in done]
    already = sum(plan[i].stop - plan[i].start for i in done)
    if done:
        log.info("resuming after %d documents already encoded in %d shards", already, len(done))
    _remove_partial_writes(folder)
    encoded_now, start = 0, time.perf_counter()
    with tqdm(desc="encode docs", unit="doc", total=plan[-1].stop, disable=not progress, dynamic_ncols=True,
              initial=already) as bar:
        for index, docs, terms in _encode_on_ray(corpus, folder, load, todo, workers=workers, address=address,
                                                 cpus_per_worker=cpus_per_worker, gpus_per_worker=gpus_per_worker):
            if encoded_now == 0:
                warn_if_near_dense(terms / docs, vocab_size, folder)
            done.add(index)
            _record(folder, plan, done, shard_size)
            encoded_now += docs
            bar.update(docs)
    _remove_partial_writes(folder)
    return EncodeStats(plan[-1].stop, encoded_now, time.perf_counter() - start)


class ShardEncoder:
    """A Ray Data actor: loads the encoder once, then encodes one shard range per row it is given."""

    def __init__(self, corpus: str, folder: str, load: Callable[[], Encoder]) -> None:
        self.corpus, self.folder, self.encoder = corpus, Path(folder), load()

    def __call__(self, batch: pa.Table) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {"index": [], "docs": [], "terms": []}
        for row in batch.to_pylist():
            shard = ShardRange(**row)
            docs = read_range(self.corpus, shard)
            vectors = self.encoder.encode_docs([d.full_text() for d in docs], [d.id for d in docs])
            vectors.to_parquet(shard_path(self.folder, shard.index))
            out["index"].append(shard.index)
            out["docs"].append(len(docs))
            out["terms"].append(int(vectors.nnz_per_row().sum()))
        return out


def _encode_on_ray(corpus: str, folder: Path, load: Callable[[], Encoder], todo: list[ShardRange], *,
                   workers: int, address: str | None, cpus_per_worker: float,
                   gpus_per_worker: float) -> Iterator[tuple[int, int, int]]:
    """(shard index, documents, terms) of each shard of `todo` as its file is written."""
    if not todo:
        return
    ray = ray_session(address)
    ray.data.DataContext.get_current().enable_progress_bars = False  # the driver's bar counts documents
    dataset = ray.data.from_items([asdict(shard) for shard in todo], override_num_blocks=len(todo))
    results = dataset.map_batches(ShardEncoder, batch_size=1, batch_format="pyarrow",
                                  compute=ray.data.ActorPoolStrategy(size=workers),
                                  fn_constructor_kwargs={"corpus": corpus, "folder": str(folder), "load": load},
                                  num_cpus=cpus_per_worker, num_gpus=gpus_per_worker)
    with worker_errors():
        for row in results.iter_rows():
            yield int(row["index"]), int(row["docs"]), int(row["terms"])


def import_ray() -> Any:
    """The `ray` module; LsrError when the optional extra is not installed."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError:
        raise LsrError("running on Ray needs the ray extra: pip install 'lsr[ray]'") from None
    return ray


def ray_session(address: str | None) -> Any:
    """The `ray` module, joined to the cluster at `address` unless Ray is already initialised (None:
    `ray.init`'s default, a local Ray or `RAY_ADDRESS`); LsrError without the ray extra."""
    ray = import_ray()
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False)
    return ray


@contextmanager
def worker_errors() -> Iterator[None]:
    """An LsrError raised in a Ray worker, raised again here as itself (not wrapped in Ray's errors)."""
    try:
        yield
    except Exception as error:
        cause = _lsr_error(error)
        if cause is None:
            raise
        raise cause from None


def _lsr_error(error: BaseException) -> LsrError | None:
    """The LsrError a worker raised, found in the chain of errors Ray wraps it in (a wrapper keeps the
    original as `cause`)."""
    seen: BaseException | None = error
    while seen is not None:
        cause = getattr(seen, "cause", None)
        if isinstance(cause, LsrError):
            return LsrError(*cause.args)
        if isinstance(seen, LsrError) and cause is None:
            return seen
        seen = seen.__cause__ or (cause if isinstance(cause, BaseException) else None)
    return None


def _check_identity(folder: Path, load: Callable[[], Encoder], model_name: str) -> int:
    """Check or write the folder's manifest with the encoder `load` makes; its vocabulary size."""
    encoder = load()
    check_manifest(folder, encoder, model_name)
    return len(encoder.vocab)


def _finished(folder: Path, plan: list[ShardRange], shard_size: int) -> set[int]:
    """Shards recorded as done whose files are there and hold the planned documents; LsrError for
    shards of another corpus or shard size."""
    path = folder / RANGES_MANIFEST
    recorded = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"shard_size": shard_size,
                                                                                   "done": []}
    if recorded["shard_size"] != shard_size:
        raise LsrError(f"{folder}: its shards hold {recorded['shard_size']} documents each, not {shard_size}; "
                       f"use the same shard size, a new output folder or --overwrite")
    for shard_file in shard_paths(folder):
        if int(shard_file.stem.removeprefix("part-")) >= len(plan):
            raise LsrError(f"{shard_file}: the corpus changed since this shard was written (it has only "
                           f"{len(plan)} shards now); use a new output folder or --overwrite")
    done = set()
    for shard in plan:
        if any(start <= shard.start and shard.stop <= stop for start, stop in recorded["done"]):
            shard_file = shard_path(folder, shard.index)
            if not shard_file.exists():
                log.warning("%s: recorded as done but missing: encoding it again", shard_file)
                continue
            ids = pq.read_table(shard_file, columns=["id"]).column("id").to_pylist()
            if len(ids) != shard.stop - shard.start or ids[0] != shard.first_id or ids[-1] != shard.last_id:
                raise LsrError(f"{shard_file}: the corpus changed since this shard was written (ids differ near "
                               f"document {shard.start + 1}); use a new output folder or --overwrite")
            done.add(shard.index)
    return done


def _record(folder: Path, plan: list[ShardRange], done: set[int], shard_size: int) -> None:
    """Write the done document ranges, merged, to the ranges manifest."""
    ranges: list[list[int]] = []
    for shard in plan:
        if shard.index not in done:
            continue
        if ranges and ranges[-1][1] == shard.start:
            ranges[-1][1] = shard.stop
        else:
            ranges.append([shard.start, shard.stop])
    manifest = {"shard_size": shard_size, "num_docs": plan[-1].stop, "done": ranges}
    write_text_atomic(folder / RANGES_MANIFEST, json.dumps(manifest) + "\n")


def _remove_partial_writes(folder: Path) -> None:
    """Remove the temporary folders of shard writes whose worker was killed."""
    for tmp in folder.glob(".part-*.tmp"):
        shutil.rmtree(tmp, ignore_errors=True)

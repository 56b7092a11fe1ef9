"""Corpus encoding on a Ray cluster, into the same vector parts as `lsr.indexing.vectors`.

Design: a Ray Data dataset whose rows are corpus ranges (a few numbers each, never documents) is mapped,
one row per call, by a fixed pool of actors that each load the encoder once; a call reads its range's
bytes from the corpus file (`lsr.distributed.ranges`), encodes the documents and writes
`part-NNNNN.parquet` atomically under its final name. Exactly-once output follows from the names: a
range's part file name and content are fixed by its range, so a retried or repeated range replaces its file
with the same vectors and never adds a copy, and a half-written file never appears under a final name.
Ray Data supplies the rest without lsr code: streaming with back-pressure (the driver holds only the
plan), and a restarted actor with the call retried when a worker process or node dies. The driver
records each finished range in `encoding-ranges.json` as results come back; a rerun (after a driver
crash or a cluster restart) checks those parts' files and encodes only the other ranges.

The corpus and the output folder must be reachable under the same paths from every node (a shared
filesystem), and lsr installed on every node.
"""

from __future__ import annotations

import json
import logging
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow.parquet as pq
from tqdm.auto import tqdm

from lsr.distributed.ranges import CorpusRange, plan_ranges, read_range
from lsr.distributed.session import ray_session, worker_errors
from lsr.errors import LsrError
from lsr.fileio import write_text_atomic
from lsr.indexing.layout import part_path, part_paths
from lsr.indexing.vectors import DEFAULT_PART_SIZE, EncodeStats, check_vectors_info, warn_if_near_dense
from lsr.models import Encoder

if TYPE_CHECKING:
    import pyarrow as pa

log = logging.getLogger(__name__)
RANGES_FILE = "encoding-ranges.json"


def encode_corpus_ray(corpus: str, folder: str | Path, load: Callable[[], Encoder], *, model_name: str,
                      part_size: int = DEFAULT_PART_SIZE, workers: int = 1, cpus_per_worker: float = 1.0,
                      gpus_per_worker: float = 0.0, address: str | None = None,
                      progress: bool = True) -> EncodeStats:
    """Encode `corpus` into vector parts under `folder` on Ray, resuming after the ranges recorded as done.

    `load` (picklable, e.g. `functools.partial(load_encoder, model)`) makes the encoder, once on the
    driver for the manifest and once in each of the `workers` actors. Ray is joined at `address`
    unless already initialised (None: `ray.init`'s default, a local Ray or `RAY_ADDRESS`).
    """
    if workers < 1:
        raise LsrError(f"the number of Ray workers must be at least 1, got {workers}")
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    vocab_size = _check_identity(folder, load, model_name)
    plan = plan_ranges(corpus, part_size)
    done = _finished(folder, plan, part_size)
    todo = [corpus_range for corpus_range in plan if corpus_range.index not in done]
    already = sum(plan[i].stop - plan[i].start for i in done)
    if done:
        log.info("resuming after %d documents already encoded in %d parts", already, len(done))
    _remove_partial_writes(folder)
    encoded_now, start = 0, time.perf_counter()
    with tqdm(desc="encode docs", unit="doc", total=plan[-1].stop, disable=not progress, dynamic_ncols=True,
              initial=already) as bar:
        for index, docs, terms in _encode_on_ray(corpus, folder, load, todo, workers=workers, address=address,
                                                 cpus_per_worker=cpus_per_worker, gpus_per_worker=gpus_per_worker):
            if encoded_now == 0:
                warn_if_near_dense(terms / docs, vocab_size, folder)
            done.add(index)
            _record(folder, plan, done, part_size)
            encoded_now += docs
            bar.update(docs)
    _remove_partial_writes(folder)
    return EncodeStats(plan[-1].stop, encoded_now, time.perf_counter() - start)


class ShardEncoder:
    """A Ray Data actor: loads the encoder once, then encodes one corpus range per row it is given."""

    def __init__(self, corpus: str, folder: str, load: Callable[[], Encoder]) -> None:
        self.corpus, self.folder, self.encoder = corpus, Path(folder), load()

    def __call__(self, batch: pa.Table) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {"index": [], "docs": [], "terms": []}
        for row in batch.to_pylist():
            corpus_range = CorpusRange(**row)
            docs = read_range(self.corpus, corpus_range)
            vectors = self.encoder.encode_docs([d.full_text() for d in docs], [d.id for d in docs])
            vectors.to_parquet(part_path(self.folder, corpus_range.index))
            out["index"].append(corpus_range.index)
            out["docs"].append(len(docs))
            out["terms"].append(int(vectors.nnz_per_row().sum()))
        return out


def _encode_on_ray(corpus: str, folder: Path, load: Callable[[], Encoder], todo: list[CorpusRange], *,
                   workers: int, address: str | None, cpus_per_worker: float,
                   gpus_per_worker: float) -> Iterator[tuple[int, int, int]]:
    """(range index, documents, terms) of each range of `todo` as its file is written."""
    if not todo:
        return
    ray = ray_session(address)
    ray.data.DataContext.get_current().enable_progress_bars = False  # the driver's bar counts documents
    dataset = ray.data.from_items([asdict(corpus_range) for corpus_range in todo], override_num_blocks=len(todo))
    results = dataset.map_batches(ShardEncoder, batch_size=1, batch_format="pyarrow",
                                  compute=ray.data.ActorPoolStrategy(size=workers),
                                  fn_constructor_kwargs={"corpus": corpus, "folder": str(folder), "load": load},
                                  num_cpus=cpus_per_worker, num_gpus=gpus_per_worker)
    with worker_errors():
        for row in results.iter_rows():
            yield int(row["index"]), int(row["docs"]), int(row["terms"])


def _check_identity(folder: Path, load: Callable[[], Encoder], model_name: str) -> int:
    """Check or write the folder's manifest with the encoder `load` makes; its vocabulary size."""
    encoder = load()
    check_vectors_info(folder, encoder, model_name)
    return len(encoder.vocab)


def _finished(folder: Path, plan: list[CorpusRange], part_size: int) -> set[int]:
    """Shards recorded as done whose files are there and hold the planned documents; LsrError for
    parts of another corpus or part size."""
    path = folder / RANGES_FILE
    recorded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {
        "part_size": part_size, "done": []}
    recorded.setdefault("part_size", recorded.get("shard_size"))  # the key's name before lsr 0.2
    if recorded["part_size"] != part_size:
        raise LsrError(f"{folder}: its parts hold {recorded['part_size']} documents each, not {part_size}; "
                       f"use the same part size, a new output folder or --overwrite")
    for part_file in part_paths(folder):
        if int(part_file.stem.removeprefix("part-")) >= len(plan):
            raise LsrError(f"{part_file}: the corpus changed since this part was written (it has only "
                           f"{len(plan)} parts now); use a new output folder or --overwrite")
    done = set()
    for corpus_range in plan:
        if any(start <= corpus_range.start and corpus_range.stop <= stop for start, stop in recorded["done"]):
            part_file = part_path(folder, corpus_range.index)
            if not part_file.exists():
                log.warning("%s: recorded as done but missing: encoding it again", part_file)
                continue
            ids = pq.read_table(part_file, columns=["id"]).column("id").to_pylist()
            if (len(ids) != corpus_range.stop - corpus_range.start or ids[0] != corpus_range.first_id
                    or ids[-1] != corpus_range.last_id):
                raise LsrError(f"{part_file}: the corpus changed since this part was written (ids differ near "
                               f"document {corpus_range.start + 1}); use a new output folder or --overwrite")
            done.add(corpus_range.index)
    return done


def _record(folder: Path, plan: list[CorpusRange], done: set[int], part_size: int) -> None:
    """Write the done document ranges, merged, to the ranges file."""
    ranges: list[list[int]] = []
    for corpus_range in plan:
        if corpus_range.index not in done:
            continue
        if ranges and ranges[-1][1] == corpus_range.start:
            ranges[-1][1] = corpus_range.stop
        else:
            ranges.append([corpus_range.start, corpus_range.stop])
    manifest = {"part_size": part_size, "num_docs": plan[-1].stop, "done": ranges}
    write_text_atomic(folder / RANGES_FILE, json.dumps(manifest) + "\n")


def _remove_partial_writes(folder: Path) -> None:
    """Remove the temporary folders of part writes whose worker was killed."""
    for tmp in folder.glob(".part-*.tmp"):
        shutil.rmtree(tmp, ignore_errors=True)

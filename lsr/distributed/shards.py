"""Sharded impact indexes built on a Ray cluster: the corpus encoded by Ray actors, each index shard a Ray task.

The vectors and the output folder must be reachable under the same paths from every node, and lsr installed
on each. Everything else (planning, resuming, the metadata) is `lsr.indexing.sharded`'s.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

from lsr.distributed.encode import encode_corpus_ray
from lsr.distributed.session import ray_session, worker_errors
from lsr.indexing.build import DEFAULT_SCALE
from lsr.indexing.layout import IndexInfo, ShardedIndexInfo
from lsr.indexing.sharded import ShardJob, build_shard, build_sharded_index, prepare_sharded_output
from lsr.models import Encoder
from lsr.pruning import Pruning

# Retries of one shard's Lucene write after its worker died (an error raised by lsr itself is not retried).
TASK_RETRIES = 3


def build_on_ray(jobs: list[ShardJob], vocab: Sequence[str], *, address: str | None,
                 cpus_per_shard: float) -> Iterator[IndexInfo]:
    """A `JobRunner`: each shard written by a Ray task of `cpus_per_shard` CPUs, yielded as it finishes."""
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


def build_sharded_index_on_ray(corpus: str, out: str | Path, model: str | Path, *, num_shards: int,
                               load: Callable[[], Encoder], scale: float = DEFAULT_SCALE,
                               pruning: Pruning = Pruning(), part_size: int | None = None,
                               address: str | None = None, workers: int = 1, cpus_per_worker: float = 1.0,
                               gpus_per_worker: float = 0.0, cpus_per_shard: float = 1.0,
                               overwrite: bool = False, progress: bool = True) -> ShardedIndexInfo:
    """`lsr.indexing.sharded.build_sharded_index_from_corpus` on the Ray cluster at `address`: the corpus
    encoded by `workers` actors (`encode_corpus_ray`, each calling the picklable `load`), the shards written
    by Ray tasks of `cpus_per_shard` CPUs (their Lucene writers using as many threads)."""
    vectors, model_name, part_size = prepare_sharded_output(corpus, out, model, num_shards=num_shards,
                                                            part_size=part_size, overwrite=overwrite)
    encode_corpus_ray(corpus, vectors, load, model_name=model_name, part_size=part_size, workers=workers,
                      cpus_per_worker=cpus_per_worker, gpus_per_worker=gpus_per_worker, address=address,
                      progress=progress)
    return build_sharded_index(vectors, out, model, num_shards=num_shards, encoder=load(), scale=scale,
                               pruning=pruning, corpus=corpus, threads=max(1, int(cpus_per_shard)),
                               run_jobs=functools.partial(build_on_ray, address=address,
                                                          cpus_per_shard=cpus_per_shard),
                               progress=progress)

"""Distributed encoding (`lsr.distributed`): shard ranges read back the corpus exactly; the actor code run
in this process writes the same shards as `encode_corpus` and resumes from its ranges manifest; on a real
local Ray cluster (a head and a worker node, slow) the output equals the single-process output, also when
a worker process dies mid-job.
"""

from __future__ import annotations

import functools
import json
import os
import sys
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

import lsr.distributed.encode as ray_encode
from lsr.data import read_corpus
from lsr.distributed.encode import RANGES_FILE, encode_corpus_ray
from lsr.distributed.ranges import plan_ranges, read_range
from lsr.errors import LsrError
from lsr.indexing.layout import part_paths
from lsr.indexing.vectors import VECTORS_INFO, encode_corpus
from lsr.models import load_encoder
from lsr.sparse import SparseVectors

from helpers import cut_beir, error_of, write_exact

NUM_DOCS = 100
PART_SIZE = 20  # five shards


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, mini_scifact) -> Path:
    return cut_beir(mini_scifact, tmp_path_factory.mktemp("corpus"), NUM_DOCS, 5)


@pytest.fixture(scope="module")
def encoder(splade_tiny):
    return load_encoder(splade_tiny)


@pytest.fixture(scope="module")
def local(tmp_path_factory, corpus, encoder) -> Path:
    """The single-process encoding of `corpus`: the reference."""
    folder = tmp_path_factory.mktemp("local")
    encode_corpus(read_corpus(str(corpus)), encoder, folder, model_name="splade-tiny", part_size=PART_SIZE,
                  progress=False)
    return folder


def files_of(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.iterdir()) if path.name != RANGES_FILE}


def test_ranges_read_back_every_document_once(tmp_path):
    lines = ['{"_id": "a", "text": "first"}', "", '{"_id": "b", "text": "x", "title": "t"}', "   ",
             '{"_id": "c", "text": "third"}\r', '{"_id": "d", "text": "fourth"}', '{"_id": "e", "text": "last"}']
    path = write_exact(tmp_path / "docs.jsonl", "\ufeff" + "\n".join(lines))  # a BOM, no final newline
    tsv = write_exact(tmp_path / "docs.tsv", "x\tone\n\n\ufeffy\ttwo\nz\tt\tthree\n")  # a BOM-led id mid-file
    for source in (path, tsv):
        expected = list(read_corpus(str(source)))
        for size in (1, 2, 3, 10):
            plan = plan_ranges(str(source), size)
            assert [d for shard in plan for d in read_range(str(source), shard)] == expected
            assert [(s.start, s.stop) for s in plan] == [(i, min(i + size, len(expected)))
                                                        for i in range(0, len(expected), size)]


def test_ranges_refuse_what_they_cannot_seek_and_report_bad_lines_where_they_are(tmp_path):
    gz = write_exact(tmp_path / "docs.jsonl.gz", '{"_id": "a", "text": "x"}\n')
    assert "decompress" in error_of(lambda: plan_ranges(str(gz), 2))
    bad = write_exact(tmp_path / "bad.jsonl", '{"_id": "a", "text": "x"}\n{"_id": "a", "text": "y"}\n')
    assert error_of(lambda: plan_ranges(str(bad), 1)).startswith(f"{bad}:2: duplicate document id 'a'")
    empty = write_exact(tmp_path / "empty.jsonl", "\n")
    assert "no documents" in error_of(lambda: plan_ranges(str(empty), 1))
    assert "at least 1" in error_of(lambda: plan_ranges(str(bad), 0))


def in_process(order: str = "reversed", stop_after: int | None = None):
    """A stand-in for `_encode_on_ray` that runs the actor code here, shards out of order; with
    `stop_after`, the job dies after that many shards."""

    def run(corpus, folder, load, todo, **_):
        actor = ray_encode.ShardEncoder(corpus, str(folder), load)
        for count, shard in enumerate(reversed(todo) if order == "reversed" else todo):
            if count == stop_after:
                raise KeyboardInterrupt
            row = actor(pa.Table.from_pylist([asdict(shard)]))
            yield row["index"][0], row["docs"][0], row["terms"][0]

    return run


def test_the_actor_code_writes_the_single_process_shards_and_resumes(monkeypatch, tmp_path, corpus, local,
                                                                      encoder):
    def load():  # in this process: load once
        return encoder

    out = tmp_path / "vectors"
    monkeypatch.setattr(ray_encode, "_encode_on_ray", in_process(stop_after=3))
    with pytest.raises(KeyboardInterrupt):
        encode_corpus_ray(str(corpus), out, load, model_name="splade-tiny", part_size=PART_SIZE, progress=False)
    recorded = json.loads((out / RANGES_FILE).read_text())
    assert recorded == {"part_size": PART_SIZE, "num_docs": NUM_DOCS, "done": [[40, 100]]}
    # as lsr wrote it before the vector parts had their name: the same record under the key "shard_size"
    (out / RANGES_FILE).write_text(json.dumps({"shard_size": PART_SIZE, "num_docs": NUM_DOCS, "done": [[40, 100]]}))
    (out / "part-00000.parquet").write_bytes((local / "part-00000.parquet").read_bytes())  # unrecorded: redone
    monkeypatch.setattr(ray_encode, "_encode_on_ray", in_process("in order"))
    stats = encode_corpus_ray(str(corpus), out, load, model_name="splade-tiny", part_size=PART_SIZE,
                              progress=False)
    assert (stats.num_docs, stats.encoded_now) == (NUM_DOCS, 40)
    assert files_of(out) == files_of(local)  # byte for byte, encoding.json included
    assert json.loads((out / RANGES_FILE).read_text())["done"] == [[0, NUM_DOCS]]
    again = encode_corpus_ray(str(corpus), out, load, model_name="splade-tiny", part_size=PART_SIZE,
                              progress=False)
    assert again.encoded_now == 0


def test_a_rerun_of_another_corpus_or_shard_size_is_refused(monkeypatch, tmp_path, corpus, encoder):
    def load():  # in this process: load once
        return encoder

    out = tmp_path / "vectors"
    monkeypatch.setattr(ray_encode, "_encode_on_ray", in_process(stop_after=2))  # the last two shards done
    with pytest.raises(KeyboardInterrupt):
        encode_corpus_ray(str(corpus), out, load, model_name="splade-tiny", part_size=PART_SIZE, progress=False)
    assert "parts hold 20 documents each, not 50" in error_of(
        lambda: encode_corpus_ray(str(corpus), out, load, model_name="splade-tiny", part_size=50, progress=False))
    lines = (corpus / "corpus.jsonl").read_text().splitlines()
    edited = write_exact(tmp_path / "edited.jsonl", "\n".join(lines[:30] + lines[31:]) + "\n")
    assert "the corpus changed" in error_of(
        lambda: encode_corpus_ray(str(edited), out, load, model_name="splade-tiny", part_size=PART_SIZE,
                                  progress=False))
    assert "another model" in error_of(
        lambda: encode_corpus_ray(str(corpus), out, load, model_name="other", part_size=PART_SIZE, progress=False))


def test_an_lsr_error_from_a_worker_is_found_in_the_errors_ray_wraps_it_in():
    class TaskError(Exception):  # as Ray's RayTaskError: a long message, the original as `cause`
        def __init__(self, cause: BaseException) -> None:
            super().__init__(f"ray::ShardEncoder() Traceback ... {cause}")
            self.cause = cause

    wrapped = RuntimeError("dataset execution failed")
    wrapped.__cause__ = TaskError(LsrError("corpus.jsonl: the corpus changed"))
    from lsr.distributed.session import worker_errors

    with pytest.raises(LsrError) as caught, worker_errors():
        raise wrapped
    assert str(caught.value) == "corpus.jsonl: the corpus changed" and caught.value.__cause__ is None
    with pytest.raises(RuntimeError, match="a bug"), worker_errors():  # not an lsr error: raised as it is
        raise RuntimeError("a bug")


# --- a real Ray cluster: a head and a worker node on loopback, one CPU each ---------------------------------


class CrashOnce:
    """Loads the encoder; the first time any worker encodes document `doc_id`, its process dies
    (`os._exit`), leaving `marker` behind so the retried call succeeds."""

    def __init__(self, model: Path, doc_id: str, marker: Path) -> None:
        self.model, self.doc_id, self.marker = model, doc_id, marker

    def __call__(self):
        encoder = load_encoder(self.model)
        encode_docs = encoder.encode_docs

        def encode_or_die(texts, ids, **kwargs):
            if self.doc_id in ids and not self.marker.exists():
                self.marker.touch()
                os._exit(1)
            return encode_docs(texts, ids, **kwargs)

        encoder.encode_docs = encode_or_die
        return encoder


def same_vectors(folder: Path, reference: Path) -> None:
    assert [p.name for p in part_paths(folder)] == [p.name for p in part_paths(reference)]
    assert (folder / VECTORS_INFO).read_bytes() == (reference / VECTORS_INFO).read_bytes()
    for got, want in zip(map(SparseVectors.read_parquet, part_paths(folder)),
                         map(SparseVectors.read_parquet, part_paths(reference))):
        assert got.ids == want.ids
        assert np.array_equal(got.indptr, want.indptr) and np.array_equal(got.indices, want.indices)
        np.testing.assert_allclose(got.values, want.values, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_ray_encoding_equals_the_single_process_encoding(cluster, tmp_path, corpus, local, splade_tiny):
    start = time.perf_counter()
    stats = encode_corpus_ray(str(corpus), tmp_path / "vectors", functools.partial(load_encoder, splade_tiny),
                              model_name="splade-tiny", part_size=PART_SIZE, workers=2, progress=False)
    print(f"ray: {NUM_DOCS / (time.perf_counter() - start):.1f} docs/s over 2 one-CPU actors, "
          f"{stats.docs_per_second:.1f} docs/s while encoding", file=sys.stderr)
    assert (stats.num_docs, stats.encoded_now) == (NUM_DOCS, NUM_DOCS)
    same_vectors(tmp_path / "vectors", local)


@pytest.mark.slow
def test_a_worker_killed_mid_job_still_gives_every_document_once(cluster, tmp_path, corpus, local, splade_tiny):
    ids = [d.id for d in read_corpus(str(corpus))]
    marker = tmp_path / "crashed"
    stats = encode_corpus_ray(str(corpus), tmp_path / "vectors", CrashOnce(splade_tiny, ids[50], marker),
                              model_name="splade-tiny", part_size=PART_SIZE, workers=2, progress=False)
    assert marker.exists()  # a worker did die, in shard 2
    assert stats.num_docs == NUM_DOCS
    written = [i for v in map(SparseVectors.read_parquet, part_paths(tmp_path / "vectors")) for i in v.ids]
    assert written == ids
    assert not list((tmp_path / "vectors").glob(".part-*"))  # no half-written shard left
    same_vectors(tmp_path / "vectors", local)

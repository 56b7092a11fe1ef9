"""`lsr index` killed for real (SIGKILL) mid-encoding and mid-Lucene, then rerun: the same index as an
uninterrupted build; reruns with another model, other settings or an edited corpus are refused.

Builds that get killed run as processes of their own (the `lsr` console script); searches and refused
reruns, which need no kill, run in this process to keep the file quick.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from lsr.cli.main import cli
from lsr.indexing.layout import INFO_FILE, LUCENE_DIR, VECTORS_DIR, part_paths
from lsr.indexing.vectors import VECTORS_INFO

from helpers import cut_beir, make_tiny_mlm

LSR = str(Path(sys.executable).parent / "lsr")
NUM_DOCS = 150
PART_SIZE = 25  # six shards: the first lands after ~1 s, the last several seconds later
NUM_QUERIES = 40
DEADLINE_S = 300


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, mini_scifact) -> Path:
    """The first NUM_DOCS documents and NUM_QUERIES test queries of mini_scifact."""
    return cut_beir(mini_scifact, tmp_path_factory.mktemp("corpus"), NUM_DOCS, NUM_QUERIES)


def index_args(corpus: Path, out: Path, model: Path, doc_max_length: int = 64) -> list[str]:
    """The `lsr index` arguments every build here runs with (only what a test varies is a parameter)."""
    return ["index", str(corpus), "-o", str(out), "-m", str(model), "--shard-size", str(PART_SIZE),
            "--long-docs", "first", "--doc-max-length", str(doc_max_length)]


def run_ok(args: list[str]) -> subprocess.CompletedProcess:
    """`lsr ARGS` run to its end in a process of its own."""
    done = subprocess.run([LSR, *args], capture_output=True, text=True, timeout=DEADLINE_S)
    assert done.returncode == 0, done.stderr
    return done


def kill_when(args: list[str], ready: Callable[[], bool]) -> int:
    """Start `lsr ARGS`; SIGKILL the process as soon as `ready()` holds. Its exit status: -SIGKILL when
    the kill landed, 0 when it ended first."""
    process = subprocess.Popen([LSR, *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + DEADLINE_S
    try:
        while process.poll() is None and not ready():
            assert time.monotonic() < deadline, "the condition to kill at never came"
            time.sleep(0.005)
    finally:
        process.send_signal(signal.SIGKILL)  # nothing happens if it already ended
    return process.wait()


def search(out: Path, corpus: Path) -> bytes:
    """The TREC run file `lsr search` writes for the corpus's queries (run in this process: no
    interruption to test, and the JVM starts once)."""
    run_file = out.parent / f"{out.name}.trec"
    result = CliRunner().invoke(cli, ["-q", "search", str(out), str(corpus), "-o", str(run_file)])
    assert result.exit_code == 0, result.output
    return run_file.read_bytes()


def shard_digests(out: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in part_paths(out / VECTORS_DIR)}


def folder_digest(folder: Path) -> dict[str, str]:
    """Every file under `folder` (relative path -> sha256)."""
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_same_index(out: Path, reference: Path, reference_run: bytes, corpus: Path) -> None:
    """Same shards (bytes), same metadata (build speed aside) and the same run file as `reference`."""
    assert shard_digests(out) == shard_digests(reference)
    assert (out / VECTORS_DIR / VECTORS_INFO).read_bytes() == (reference / VECTORS_DIR / VECTORS_INFO).read_bytes()
    info, expected = (json.loads((f / INFO_FILE).read_text()) for f in (out, reference))
    assert {**info, "speed": None} == {**expected, "speed": None}
    assert search(out, corpus) == reference_run


@pytest.fixture(scope="module")
def reference(tmp_path_factory, corpus, splade_tiny) -> Path:
    """An uninterrupted build. Every index folder here is <tmp dir>/out, at one depth, because the
    index records its model as a path relative to itself."""
    out = tmp_path_factory.mktemp("reference") / "out"
    run_ok(index_args(corpus, out, splade_tiny))
    assert len(shard_digests(out)) == NUM_DOCS // PART_SIZE
    return out


@pytest.fixture(scope="module")
def reference_run(reference, corpus) -> bytes:
    run = search(reference, corpus)
    assert len(run.splitlines()) > 10 * NUM_QUERIES
    return run


@pytest.fixture(scope="module")
def killed(tmp_path_factory, corpus, splade_tiny) -> Path:
    """A build SIGKILLed as soon as its first shard exists (tests work on copies of it)."""
    out = tmp_path_factory.mktemp("killed") / "out"
    status = kill_when(index_args(corpus, out, splade_tiny), lambda: bool(part_paths(out / VECTORS_DIR)))
    assert status == -signal.SIGKILL, "the build ended before it could be killed"
    assert 1 <= len(part_paths(out / VECTORS_DIR)) < NUM_DOCS // PART_SIZE
    assert not (out / INFO_FILE).exists() and not (out / LUCENE_DIR).exists()
    return out


@pytest.fixture()
def partial(tmp_path, killed) -> Path:
    """A copy of the killed build's folder."""
    return Path(shutil.copytree(killed, tmp_path / "out"))


def test_kill_9_mid_encoding_then_rerun_builds_the_same_index(partial, reference, reference_run, corpus,
                                                              splade_tiny):
    finished = len(part_paths(partial / VECTORS_DIR))
    rerun = run_ok(index_args(corpus, partial, splade_tiny))
    assert f"resuming after {finished * PART_SIZE} documents already encoded in {finished} parts" in rerun.stderr
    assert_same_index(partial, reference, reference_run, corpus)


def test_kill_9_while_writing_lucene_then_rerun_builds_the_same_index(tmp_path, reference, reference_run, corpus,
                                                                     splade_tiny):
    """Killed once Lucene has begun writing (every shard there, no lsr-index.json yet)."""
    out = tmp_path / "out"
    shutil.copytree(reference / VECTORS_DIR, out / VECTORS_DIR)  # what a kill right after the last shard leaves

    def lucene_writing() -> bool:
        return any(tmp.is_dir() and any(tmp.iterdir()) for tmp in out.glob(f".{LUCENE_DIR}.*.tmp"))

    for _ in range(3):  # Lucene writes 150 documents quickly: if the build ends first, undo it and try again
        status = kill_when(index_args(corpus, out, splade_tiny), lucene_writing)
        if status == -signal.SIGKILL:
            break
        (out / INFO_FILE).unlink()
        shutil.rmtree(out / LUCENE_DIR)
    assert status == -signal.SIGKILL, "the build ended before it could be killed"
    assert not (out / INFO_FILE).exists() and not (out / LUCENE_DIR).exists()
    assert shard_digests(out) == shard_digests(reference)
    rerun = run_ok(index_args(corpus, out, splade_tiny))
    assert f"resuming after {NUM_DOCS} documents" in rerun.stderr
    assert_same_index(out, reference, reference_run, corpus)
    assert not list(out.glob(".*.tmp")), "the killed build's temporary Lucene folder is left behind"


def edited_corpus(folder: Path, corpus: Path) -> Path:
    """`corpus` with its third document deleted (inside the first shard)."""
    lines = (corpus / "corpus.jsonl").read_text().splitlines(keepends=True)
    shutil.copytree(corpus, folder)
    (folder / "corpus.jsonl").write_text("".join(lines[:2] + lines[3:]))
    return folder


@pytest.mark.parametrize("change", ["another model", "other settings", "edited corpus"])
def test_a_rerun_that_would_mix_vectors_is_refused(change, partial, tmp_path, corpus, splade_tiny):
    args = {"another model": lambda: index_args(corpus, partial, make_tiny_mlm(tmp_path / "mlm", ["cell", "gene"])),
            "other settings": lambda: index_args(corpus, partial, splade_tiny, doc_max_length=32),
            "edited corpus": lambda: index_args(edited_corpus(tmp_path / "edited", corpus), partial, splade_tiny),
            }[change]()
    before = folder_digest(partial)
    refused = CliRunner().invoke(cli, args)
    assert refused.exit_code == 2, refused.output
    lines = refused.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lsr: error:"), refused.output
    assert ("the corpus changed" if change == "edited corpus" else "another model or settings") in lines[0]
    assert folder_digest(partial) == before

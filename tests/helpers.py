"""Helpers shared by the tests (not fixtures: those are in conftest.py): paths into ../shared, small BEIR
folders and tiny models written here, the CLI run in process, `lsr serve` run and asked over HTTP.

tests/ is on sys.path under pytest (and on PYTHONPATH for Ray's workers): import as `from helpers import ...`."""

from __future__ import annotations

import gzip
import http.client
import json
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from lsr.pruning import Pruning
from lsr.sparse import SparseVectors

SHARED = Path(__file__).resolve().parents[2] / "shared"  # data and models beside the repository
SCIFACT = SHARED / "data" / "beir" / "scifact"
SPLADE_TINY = SHARED / "models" / "splade-tiny"
START_TIMEOUT = 300  # seconds for a server to load the model, start the JVM and listen (busy machines)


def require(path: Path) -> Path:
    """`path`, or skip the test when it does not exist (the shared data folder is optional)."""
    if not path.exists():
        pytest.skip(f"needs {path} (the shared data folder beside the repository)")
    return path


def write_beir(folder: Path, docs: list[dict], queries: list[dict], qrels: list[tuple[str, str, int]],
               split: str = "test") -> Path:
    """Write a BEIR folder (corpus.jsonl, queries.jsonl, qrels/<split>.tsv)."""
    (folder / "qrels").mkdir(parents=True, exist_ok=True)
    with open(folder / "corpus.jsonl", "w") as f:
        f.writelines(json.dumps(d) + "\n" for d in docs)
    with open(folder / "queries.jsonl", "w") as f:
        f.writelines(json.dumps(q) + "\n" for q in queries)
    with open(folder / "qrels" / f"{split}.tsv", "w") as f:
        f.write("query-id\tcorpus-id\tscore\n")
        f.writelines(f"{q}\t{d}\t{r}\n" for q, d, r in qrels)
    return folder


def make_tiny_mlm(folder: Path, words: list[str], model_class: str = "BertForMaskedLM") -> Path:
    """Save a random-weight BERT (`model_class`, a masked LM by default) whose vocabulary is the special
    tokens plus `words`."""
    import transformers

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words]
    transformers.BertTokenizer(vocab={token: i for i, token in enumerate(vocab)}).save_pretrained(folder)
    config = transformers.BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1,
                                     num_attention_heads=2, intermediate_size=32, max_position_embeddings=64)
    getattr(transformers, model_class)(config).save_pretrained(folder)
    return folder


def write_exact(path: Path, text: str) -> Path:
    """Write `text` byte for byte (no newline translation); gzip it when the name ends in .gz."""
    data = text.encode("utf-8")
    path.write_bytes(gzip.compress(data) if path.suffix == ".gz" else data)
    return path


def error_of(call) -> str:
    """The message of the `LsrError` that `call()` raises, or raises while its result is iterated."""
    from lsr.errors import LsrError

    with pytest.raises(LsrError) as caught:
        result = call()
        if result is not None and not isinstance(result, (list, dict)):
            list(result)
    return str(caught.value)


def run_cli(*args: object):
    """`lsr ARGS` through click's test runner (each argument as a string)."""
    from click.testing import CliRunner

    from lsr.cli.main import cli

    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_one_line_error(result, *fragments: str) -> None:
    """The command ended with status 2 and printed one line, `lsr: error: ...` holding every fragment."""
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lsr: error:"), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def model_logits(encoder, **inputs):
    """The encoder's model's own logits, bypassing `defer_head` (an independent reference for pooling tests)."""
    head = encoder.model.get_output_embeddings()
    deferred = head.__dict__.pop("forward", None)
    try:
        return encoder.model(**inputs).logits
    finally:
        if deferred is not None:
            head.forward = deferred


def cut_beir(source: Path, folder: Path, num_docs: int, num_queries: int) -> Path:
    """A BEIR folder of `source`'s first documents and queries, query i judged to match document i."""
    docs = [json.loads(line) for line in open(source / "corpus.jsonl")][:num_docs]
    queries = [json.loads(line) for line in open(source / "queries.jsonl")][:num_queries]
    return write_beir(folder, docs, queries, [(q["_id"], docs[i]["_id"], 1) for i, q in enumerate(queries)])


@contextmanager
def serving(args: list[str], log_file: Path) -> Iterator[tuple[int, subprocess.Popen]]:
    """`lsr serve ARGS` in a subprocess logging to `log_file`: (port, process) once /health answers;
    SIGTERM (then, if need be, SIGKILL) when the block ends and it still runs."""
    command = [sys.executable, "-c", "from lsr.cli.main import cli; cli(prog_name='lsr')", "serve", *args]
    with open(log_file, "w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    try:
        yield wait_until_ready(process, log_file), process
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(60)
            except subprocess.TimeoutExpired:
                process.kill()


def wait_until_ready(process: subprocess.Popen, log_file: Path) -> int:
    """The port the server announces, once /health answers there."""
    deadline, port = time.monotonic() + START_TIMEOUT, None
    while time.monotonic() < deadline:
        assert process.poll() is None, f"lsr serve ended: {log_file.read_text()}"
        found = re.search(r"serving on http://127\.0\.0\.1:(\d+)", log_file.read_text())
        port = port or (found and int(found[1]))
        if port:
            try:
                if call(port, "GET", "/health")[0] == 200:
                    return port
            except OSError:  # bound, not yet listening
                pass
        time.sleep(0.2)
    raise AssertionError(f"lsr serve not ready after {START_TIMEOUT} s: {log_file.read_text()}")


def call(port: int, method: str, path: str, body: object = None) -> tuple[int, dict]:
    """One HTTP request on a new connection: (status, decoded JSON answer). `body`: bytes as they are,
    anything else as JSON."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        connection.request(method, path, body=data, headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        assert response.getheader("Content-Type") == "application/json"
        return response.status, json.loads(response.read())
    finally:
        connection.close()


def search(port: int, body: dict) -> dict:
    """POST /search with `body`: the answer, which must come with status 200."""
    status, answer = call(port, "POST", "/search", body)
    assert status == 200, answer
    return answer


def as_hits(run_hits: list[tuple[str, float]]) -> list[dict]:
    """A run's (id, score) hits as `lsr serve` answers them: [{"id": ..., "score": ...}]."""
    return [{"id": doc, "score": score} for doc, score in run_hits]


# --- a SciFact cut indexed with splade-tiny (conftest's cut_* fixtures) -----------------------------------

CUT_NUM_DOCS = 40  # SciFact's first documents in the cut, before a blank one and one of control characters
CUT_SCALE = 37.0  # the cut's impact index quantizes weights at this scale
CUT_PRUNING = Pruning(doc_top_k=40, query_top_k=8)  # and prunes documents and queries so


def impacts_of(vectors: SparseVectors) -> list[dict[int, int]]:
    """Each row of `vectors` as {term id: weight}."""
    return [dict(zip(*(part.tolist() for part in vectors.row(i)))) for i in range(len(vectors))]


def pruned_impacts(index: Path, top_k: int | None, scale: float) -> dict[str, dict[int, int]]:
    """Each document's top_k largest weights (ties: lower term id) of the shards, round(weight * scale),
    zeros dropped."""
    from lsr.indexing.layout import VECTORS_DIR, part_paths

    found = {}
    for path in part_paths(index / VECTORS_DIR):
        vectors = SparseVectors.read_parquet(path)
        for i, doc_id in enumerate(vectors.ids):
            terms, weights = vectors.row(i)
            entries = sorted(zip(terms.tolist(), weights.tolist()), key=lambda e: (-e[1], e[0]))[:top_k]
            found[doc_id] = {t: round(w * scale) for t, w in entries if round(w * scale)}
    return found


def doc_impacts(index: Path) -> dict[str, dict[int, int]]:
    """The document impacts as the cut's impact index must hold them: the full vectors of the shards, each
    row's doc_top_k largest weights (ties: lower term id), round(weight * scale), zeros dropped."""
    return pruned_impacts(index, CUT_PRUNING.doc_top_k, CUT_SCALE)


def query_impacts(encoder, text: str) -> dict[int, int]:
    """`text`'s query vector as the cut's impact index searches it: pruned, quantized, zeros dropped."""
    terms, weights = encoder.encode_queries([text]).row(0)
    entries = sorted(zip(terms.tolist(), weights.tolist()), key=lambda e: (-e[1], e[0]))[:CUT_PRUNING.query_top_k]
    return {t: round(w * CUT_SCALE) for t, w in entries if round(w * CUT_SCALE)}


def brute_force(query: dict[int, int], docs: dict[str, dict[int, int]]) -> list[tuple[str, int]]:
    """Every matching document's integer dot product with `query`, ranked by score then id."""
    scores = {d: sum(query.get(t, 0) * w for t, w in impacts.items()) for d, impacts in docs.items()}
    return sorted(((d, s) for d, s in scores.items() if s > 0), key=lambda hit: (-hit[1], hit[0]))


def as_integers(hits):
    """Hits whose scores are integers (within 1e-3) with the scores rounded to them."""
    assert all(abs(score - round(score)) < 1e-3 for _, score in hits)
    return [(doc, round(score)) for doc, score in hits]


# --- a tiny random masked LM (fast to encode; conftest's tiny_mlm and tiny_build) ------------------------

TINY_WORDS = ["heart", "disease", "liver", "glucose", "cell", "protein", "gene", "blood"]
TINY_SCALE = 10.0  # tiny_build's scale
TINY_PRUNING = Pruning(doc_top_k=3)  # and pruning


def tiny_docs(count: int) -> list:
    """`count` documents t00, t01, ... of TINY_WORDS in rotating orders."""
    from lsr.data import Document

    return [Document(f"t{i:02d}", " ".join(TINY_WORDS[i % 8:] + TINY_WORDS[:i % 8][:i % 3])) for i in range(count)]


def every_term_query(vocab_size: int, scale: float) -> SparseVectors:
    """One query vector "all" of weight 1 on every term of the vocabulary."""
    import numpy as np

    return SparseVectors(["all"], np.array([0, vocab_size]), np.arange(vocab_size), np.ones(vocab_size, np.int64),
                         vocab_size, scale=scale)

"""Shared fixtures: paths into ../shared and small corpora cut from SciFact."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[2] / "shared"
SCIFACT = SHARED / "data" / "beir" / "scifact"
SPLADE_TINY = SHARED / "models" / "splade-tiny"


def _require(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"needs {path} (the shared data folder beside the repository)")
    return path


@pytest.fixture(scope="session")
def scifact() -> Path:
    return _require(SCIFACT)


@pytest.fixture(scope="session")
def splade_tiny() -> Path:
    return _require(SPLADE_TINY)


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


@pytest.fixture(scope="session")
def mini_scifact(tmp_path_factory, scifact) -> Path:
    """SciFact cut to 600 documents: every test-qrel document plus the first others, and the
    test queries whose relevant documents are all kept."""
    docs = [json.loads(line) for line in open(scifact / "corpus.jsonl")]
    rows = [line.rstrip("\n").split("\t") for line in open(scifact / "qrels" / "test.tsv")][1:]
    relevant = {d for _, d, _ in rows}
    keep = [d for d in docs if d["_id"] in relevant]
    keep += [d for d in docs if d["_id"] not in relevant][: 600 - len(keep)]
    qids = {q for q, _, _ in rows}
    queries = [q for q in map(json.loads, open(scifact / "queries.jsonl")) if q["_id"] in qids]
    qrels = [(q, d, int(r)) for q, d, r in rows]
    return write_beir(tmp_path_factory.mktemp("mini-scifact"), keep, queries, qrels)


@pytest.fixture()
def copy_of(tmp_path):
    """Copy a file or folder into the test's tmp dir."""

    def copy(path: Path) -> Path:
        target = tmp_path / path.name
        if path.is_dir():
            shutil.copytree(path, target)
        else:
            shutil.copy(path, target)
        return target

    return copy


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

"""`lsr index`: the encoding bar (total, per-batch steps, resume), errors on their own line, empty corpora,
and no output folder left behind by a build that fails early."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from tqdm.auto import tqdm

import lsr.indexing.vectors as encode_corpus_module
from lsr.cli.main import cli
from lsr.data.sources import count_documents
from lsr.indexing.build import build_bm25_index, build_impact_index
from lsr.indexing.layout import INFO_FILE, VECTORS_DIR, part_paths
from lsr.models import load_encoder

from helpers import error_of, make_tiny_mlm, write_beir

WORDS = ["heart", "disease", "liver", "glucose", "cell", "protein"]


class RecordingBar(tqdm):
    """A tqdm that keeps every bar made and the steps each was moved by."""

    made: list[RecordingBar] = []

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.steps: list[float] = []
        RecordingBar.made.append(self)

    def update(self, n: float | None = 1) -> bool | None:
        self.steps.append(n)
        return super().update(n)


@pytest.fixture()
def bars(monkeypatch) -> list[RecordingBar]:
    RecordingBar.made = []
    monkeypatch.setattr(encode_corpus_module, "tqdm", RecordingBar)
    return RecordingBar.made


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return make_tiny_mlm(tmp_path_factory.mktemp("model") / "mlm", WORDS)


def doc_lines(count: int) -> list[str]:
    return [json.dumps({"_id": f"d{i}", "text": " ".join(WORDS[i % 6:] + WORDS[:i % 6])}) for i in range(count)]


def write_corpus(path: Path, lines: list[str]) -> Path:
    path.write_text("".join(line + "\n" for line in lines))
    return path


def run_cli(*args: object):
    return CliRunner().invoke(cli, [str(a) for a in args])


def starts_a_line(output: str, at: int) -> bool:
    """Whether `output[at:]` begins a line as a terminal shows it (after a newline, or a bar cleared by `\\r`)."""
    return output[:at].split("\n")[-1].split("\r")[-1].strip() == ""


def test_documents_are_counted_cheaply_per_source_form(tmp_path):
    docs = [json.loads(line) for line in doc_lines(5)]
    assert count_documents(write_corpus(tmp_path / "c.jsonl", doc_lines(5))) == 5
    assert count_documents(str(write_beir(tmp_path / "beir", docs, [], []))) == 5
    (tmp_path / "c.tsv").write_text("a\tx\nb\ty")  # no final newline
    assert count_documents(tmp_path / "c.tsv") == 2
    (tmp_path / "empty.jsonl").write_text("")
    assert count_documents(tmp_path / "empty.jsonl") == 0


def test_encoding_bar_counts_documents_of_the_total_per_batch(tmp_path, tiny_model, bars):
    corpus = write_corpus(tmp_path / "c.jsonl", doc_lines(10))
    encoder = load_encoder(tiny_model, batch_size=2)
    build_impact_index(str(corpus), tmp_path / "idx", tiny_model, encoder=encoder, part_size=8)
    [bar] = bars
    assert (bar.total, bar.n, bar.unit) == (10, 10, "doc")
    moves = [step for step in bar.steps if step]
    assert len(moves) > 2, bar.steps  # 2 shards, 5 batches of 2: the bar moves within a shard
    assert moves[:4] == [2, 2, 2, 2]


def test_resumed_encoding_bar_starts_at_the_documents_done(tmp_path, tiny_model, bars):
    corpus = write_corpus(tmp_path / "c.jsonl", doc_lines(10))
    encoder = load_encoder(tiny_model, batch_size=2)
    original, calls = encoder.encode_docs, {"n": 0}

    def crash_on_second_shard(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    encoder.encode_docs = crash_on_second_shard
    with pytest.raises(KeyboardInterrupt):
        build_impact_index(str(corpus), tmp_path / "idx", tiny_model, encoder=encoder, part_size=4)
    del encoder.encode_docs
    assert len(part_paths(tmp_path / "idx" / VECTORS_DIR)) == 1  # kept: a rerun resumes from it
    build_impact_index(str(corpus), tmp_path / "idx", tiny_model, encoder=encoder, part_size=4)
    assert (bars[-1].initial, bars[-1].total, bars[-1].n) == (4, 10, 10)


def bad_line_after_a_shard(tmp_path: Path, tiny_model: Path):
    """`lsr index` on 8 documents with a malformed line 6: the first shard (4) is encoded, then it fails."""
    lines = doc_lines(8)
    lines.insert(5, '{"_id": "bad", "text": ')
    corpus = write_corpus(tmp_path / "c.jsonl", lines)
    result = run_cli("index", corpus, tmp_path / "idx", "-m", tiny_model, "--batch-size", "2", "--shard-size", "4")
    assert result.exit_code == 2, result.output
    assert "encode docs" in result.output and "c.jsonl:6" in result.output
    assert len(part_paths(tmp_path / "idx" / VECTORS_DIR)) == 1  # the shard before the bad line is kept
    return result.output


def test_an_error_during_encoding_is_printed_on_its_own_line(tmp_path, tiny_model, monkeypatch):
    monkeypatch.setattr(encode_corpus_module, "NEAR_DENSE_FRACTION", 1.0)  # no warning before the error
    output = bad_line_after_a_shard(tmp_path, tiny_model)
    error_at = output.index("lsr: error:")
    assert starts_a_line(output, error_at), repr(output)
    assert "encode docs" not in output[error_at:], repr(output)  # the bar is not drawn again


def test_a_warning_during_encoding_is_printed_on_its_own_line(tmp_path, tiny_model):
    output = bad_line_after_a_shard(tmp_path, tiny_model)
    warning_at = output.index("lsr: ")
    assert "near-dense" in output[warning_at:].split("\n")[0], repr(output)
    assert starts_a_line(output, warning_at), repr(output)


@pytest.mark.parametrize("kind", ["impact", "bm25"])
def test_an_empty_corpus_is_an_error_and_leaves_no_folder(tmp_path, tiny_model, kind):
    corpus = tmp_path / "empty.jsonl"
    corpus.write_text("\n\n")
    options = ["-m", tiny_model] if kind == "impact" else ["--bm25"]
    result = run_cli("index", corpus, tmp_path / "idx", *options)
    assert result.exit_code == 2, result.output
    assert result.output.startswith("lsr: error:") and "empty.jsonl" in result.output
    assert "has no documents" in result.output
    assert not (tmp_path / "idx").exists()


def test_the_api_refuses_an_empty_corpus(tmp_path, tiny_model):
    folder = write_beir(tmp_path / "beir", [], [], [])
    assert "has no documents" in error_of(lambda: build_bm25_index(str(folder), tmp_path / "a"))
    assert "has no documents" in error_of(lambda: build_impact_index(str(folder), tmp_path / "b", tiny_model,
                                                                     progress=False))
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


@pytest.mark.parametrize("kind", ["impact", "bm25"])
def test_a_failed_build_leaves_no_folder_it_created(tmp_path, tiny_model, kind):
    options = ["-m", tiny_model] if kind == "impact" else ["--bm25"]
    result = run_cli("index", tmp_path / "missing.jsonl", tmp_path / "new" / "idx", *options)
    assert result.exit_code == 2 and "missing.jsonl" in result.output
    assert not (tmp_path / "new").exists()
    duplicate = write_corpus(tmp_path / "dup.jsonl", doc_lines(3) + doc_lines(1))  # fails after the first document
    result = run_cli("index", duplicate, tmp_path / "idx", *options)
    assert result.exit_code == 2 and "duplicate" in result.output
    assert not (tmp_path / "idx").exists()


def test_a_failed_build_keeps_a_folder_that_was_there(tmp_path, tiny_model):
    (tmp_path / "idx").mkdir()
    (tmp_path / "idx" / "note.txt").write_text("mine")
    result = run_cli("index", tmp_path / "missing.jsonl", tmp_path / "idx", "--bm25")
    assert result.exit_code == 2
    assert (tmp_path / "idx" / "note.txt").read_text() == "mine"
    assert not (tmp_path / "idx" / INFO_FILE).exists()

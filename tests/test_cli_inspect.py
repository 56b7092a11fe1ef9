"""`lsr encode` (what a model makes of a text or a file) and `lsr info` (what an index records)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from lsr.cli.main import cli
from lsr.models import load_encoder
from lsr.sparse import SparseVectors

from helpers import write_beir

TEXTS = ["heart attack risk factors", "liver glucose metabolism"]
DOCS = [{"_id": "d1", "title": "Heart", "text": "heart disease and blood pressure"},
        {"_id": "d2", "title": "", "text": "liver glucose metabolism"},
        {"_id": "d3", "title": "Cells", "text": "protein folding in cells"},
        {"_id": "d4", "title": "", "text": ""}]
QUERIES = [{"_id": "q1", "text": "heart risk"}, {"_id": "q2", "text": "glucose in the liver"}]


def run_cli(*args: object):
    return CliRunner().invoke(cli, ["-q", *map(str, args)])


def assert_one_line_error(result, *fragments: str) -> None:
    assert result.exit_code == 2, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lsr: error:"), result.output
    for fragment in fragments:
        assert fragment in lines[0]


def ranked(weights: dict[str, float]) -> list[tuple[str, float]]:
    return sorted(weights.items(), key=lambda item: -item[1])


@pytest.fixture(scope="module")
def encoder(splade_tiny):
    return load_encoder(splade_tiny)


@pytest.fixture(scope="module")
def beir(tmp_path_factory) -> Path:
    return write_beir(tmp_path_factory.mktemp("beir"), DOCS, QUERIES, [("q1", "d1", 1), ("q2", "d2", 1)])


def test_encode_prints_the_top_terms_by_weight(splade_tiny, encoder):
    result = run_cli("encode", "-m", splade_tiny, "-n", "5", *TEXTS)
    assert result.exit_code == 0, result.output
    blocks = result.stdout.strip().split("\n\n")
    expected = encoder.encode_queries(TEXTS).to_dicts(encoder.vocab)
    assert len(blocks) == len(TEXTS)
    for block, text, weights in zip(blocks, TEXTS, expected):
        heading, *rows = block.splitlines()
        assert heading == f'"{text}"  ({len(weights)} terms, top 5)'
        printed = [(row.split()[0], float(row.split()[1])) for row in rows]
        top = ranked(weights)[:5]
        assert [term for term, _ in printed] == [term for term, _ in top]
        assert [weight for _, weight in printed] == pytest.approx([weight for _, weight in top], abs=1e-4)
        assert len({row.rindex(" ") for row in rows}) == 1  # weights aligned


@pytest.mark.parametrize("side", ["--query", "--doc"])
def test_encode_json_equals_the_python_api(splade_tiny, encoder, side):
    result = run_cli("encode", "-m", splade_tiny, side, "--json", "-n", "1000", *TEXTS, "")
    assert result.exit_code == 0, result.output
    encode = encoder.encode_queries if side == "--query" else encoder.encode_docs
    expected = encode([*TEXTS, ""]).to_dicts(encoder.vocab)
    objects = [json.loads(line) for line in result.stdout.splitlines()]
    assert [o["text"] for o in objects] == [*TEXTS, ""]
    for found, weights in zip(objects, expected):
        assert list(found["terms"].items()) == ranked(weights)
        assert found["postings"] == len(weights)
    assert objects[-1]["terms"] == {} and objects[-1]["postings"] == 0


def test_encode_a_corpus_to_jsonl_and_parquet(tmp_path, splade_tiny, encoder, beir):
    docs = encoder.encode_docs([" ".join(filter(None, (d["title"], d["text"]))) for d in DOCS],
                               [d["_id"] for d in DOCS])
    result = run_cli("encode", "-m", splade_tiny, "--doc", "--input", beir, "-o", tmp_path / "docs.jsonl")
    assert result.exit_code == 0, result.output
    assert f"encoded 4 documents into {tmp_path / 'docs.jsonl'}" in result.stdout
    lines = [json.loads(line) for line in (tmp_path / "docs.jsonl").read_text().splitlines()]
    assert [line["id"] for line in lines] == docs.ids
    for line, weights in zip(lines, docs.to_dicts(encoder.vocab)):
        assert list(line["vector"].items()) == ranked(weights)

    assert run_cli("encode", "-m", splade_tiny, "--doc", "--input", beir / "corpus.jsonl",
                   "-o", tmp_path / "docs.parquet").exit_code == 0
    assert_same_vectors(SparseVectors.read_parquet(tmp_path / "docs.parquet"), docs)


def test_encode_queries_to_parquet(tmp_path, splade_tiny, encoder, beir):
    result = run_cli("encode", "-m", splade_tiny, "--input", beir / "queries.jsonl", "-o", tmp_path / "q.parquet")
    assert result.exit_code == 0, result.output
    expected = encoder.encode_queries([q["text"] for q in QUERIES], [q["_id"] for q in QUERIES])
    assert_same_vectors(SparseVectors.read_parquet(tmp_path / "q.parquet"), expected)
    assert [p.name for p in tmp_path.iterdir()] == ["q.parquet"]  # no temporary left behind


def assert_same_vectors(found: SparseVectors, expected: SparseVectors) -> None:
    assert found.ids == expected.ids and found.vocab_size == expected.vocab_size and found.scale is None
    np.testing.assert_array_equal(found.indptr, expected.indptr)
    np.testing.assert_array_equal(found.indices, expected.indices)
    np.testing.assert_allclose(found.values, expected.values, rtol=1e-6)


def test_encode_refuses_to_overwrite(tmp_path, splade_tiny, beir):
    out = tmp_path / "q.jsonl"
    out.write_text("keep me\n")
    assert_one_line_error(run_cli("encode", "-m", splade_tiny, "--input", beir, "-o", out), str(out), "--overwrite")
    assert out.read_text() == "keep me\n"
    assert run_cli("encode", "-m", splade_tiny, "--input", beir, "-o", out, "--overwrite").exit_code == 0
    assert [json.loads(line)["id"] for line in out.read_text().splitlines()] == ["q1", "q2"]


def test_encode_usage_mistakes(tmp_path, splade_tiny, beir):
    model = ("encode", "-m", splade_tiny)
    assert_one_line_error(run_cli(*model), "TEXTS")
    assert_one_line_error(run_cli(*model, "heart", "--input", beir, "-o", tmp_path / "x.jsonl"), "not both")
    assert_one_line_error(run_cli(*model, "--input", beir), "-o")
    assert_one_line_error(run_cli(*model, "--input", beir, "-o", tmp_path / "x.csv"), "x.csv", ".parquet")
    assert_one_line_error(run_cli(*model, "heart", "-o", tmp_path / "x.jsonl"), "--input")
    assert_one_line_error(run_cli("encode", "-m", tmp_path / "nope", "heart"), "nope")
    assert not list(tmp_path.iterdir())


def info_of(index: Path) -> dict:
    result = run_cli("info", index, "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def lines_of(index: Path) -> dict[str, str]:
    result = run_cli("info", index)
    assert result.exit_code == 0, result.output
    return dict(line.split(": ", 1) for line in result.stdout.splitlines())


def folder_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def test_info_of_a_bm25_index(tmp_path):
    # Words the English analyzer keeps as they are: 2, 1 and 3 distinct terms, and a blank document.
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text("".join(json.dumps({"_id": i, "text": t}) + "\n" for i, t in
                              [("a", "cat dog cat"), ("b", "fish"), ("c", "bird tree lamp"), ("d", " ")]))
    assert run_cli("index", corpus, tmp_path / "idx", "--bm25", "--k1", "1.2", "--b", "0.75").exit_code == 0
    info = info_of(tmp_path / "idx")
    assert (info["kind"], info["num_docs"], info["num_empty"]) == ("bm25", 4, 1)
    assert (info["k1"], info["b"]) == (1.2, 0.75)
    assert info["avg_postings_per_doc"] == pytest.approx(6 / 4)
    assert info["size_mb"] == pytest.approx(folder_mb(tmp_path / "idx"), abs=0.01)
    assert "model" not in info
    lines = lines_of(tmp_path / "idx")
    assert lines["kind"] == "bm25" and lines["documents"] == "4" and lines["BM25 k1"] == "1.2"
    assert lines["average postings per document"] == "1.5"


def test_info_of_an_impact_index(tmp_path, splade_tiny, encoder, beir):
    result = run_cli("index", beir, tmp_path / "idx", "--model", splade_tiny, "--doc-top-k", "8")
    assert result.exit_code == 0, result.output
    docs = encoder.encode_docs([" ".join(filter(None, (d["title"], d["text"]))) for d in DOCS])
    postings = docs.prune(top_k=8).quantize(100.0).nnz_per_row()
    info = info_of(tmp_path / "idx")
    assert (info["kind"], info["num_docs"], info["num_empty"], info["scale"]) == ("impact", 4, 1, 100.0)
    assert info["avg_postings_per_doc"] == pytest.approx(postings.mean(), abs=0.01)
    assert Path(info["model_location"]) == splade_tiny.resolve()
    assert info["encoder_kind"] == "splade" and info["encoder_settings"] == encoder.recorded_settings()
    assert info["pruning"] == {"doc_top_k": 8}
    assert info["size_mb"] == pytest.approx(folder_mb(tmp_path / "idx"), abs=0.01)
    lines = lines_of(tmp_path / "idx")
    assert lines["kind"] == "impact" and lines["documents"] == "4" and lines["pruning"] == "doc_top_k=8"
    assert lines["model resolves to"] == str(splade_tiny.resolve())


def test_info_of_a_folder_that_is_no_index(tmp_path):
    (tmp_path / "plain").mkdir()
    assert_one_line_error(run_cli("info", tmp_path / "plain"), str(tmp_path / "plain"))
    assert_one_line_error(run_cli("info", tmp_path / "absent"), str(tmp_path / "absent"))

"""Whole-SciFact acceptance checks through the CLI (BM25 is fast; SPLADE is marked slow)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lsr.cli.main import cli

PYSERINI_BM25_FLAT_SCIFACT_NDCG10 = 0.6789  # Pyserini BEIR 2CR, bm25-flat (k1 0.9, b 0.4)


def run_cli(*args) -> None:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    assert result.exit_code == 0, result.output


def figures(tmp_path, scifact, name: str) -> dict:
    run_cli("search", tmp_path / name, scifact, tmp_path / f"{name}.trec")
    run_cli("eval", tmp_path / f"{name}.trec", scifact, "--json", tmp_path / f"{name}.json")
    return json.loads((tmp_path / f"{name}.json").read_text())


def test_bm25_reproduces_pyserini_on_scifact(tmp_path, scifact):
    run_cli("index", scifact, tmp_path / "bm25", "--bm25")
    found = figures(tmp_path, scifact, "bm25")
    assert found["num_queries"] == 300 and found["num_missing"] == 0
    assert found["nDCG@10"] == pytest.approx(PYSERINI_BM25_FLAT_SCIFACT_NDCG10, abs=0.002)


@pytest.mark.slow
@pytest.mark.parametrize("long_docs, expected", [("windows", 0.6255), ("first", 0.6436)])
def test_splade_tiny_on_scifact_gives_the_readme_figures(tmp_path, scifact, splade_tiny, long_docs, expected):
    run_cli("index", scifact, tmp_path / "splade", "--model", splade_tiny, "--long-docs", long_docs)
    found = figures(tmp_path, scifact, "splade")
    assert found["num_missing"] == 0
    assert found["nDCG@10"] == pytest.approx(expected, abs=0.002)  # the figures in README.md and docs/results.md

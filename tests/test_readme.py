"""The README's commands and Python snippet, and the commands of docs/ marked `readme-test`, run as written
(SciFact swapped for a small cut of it); docs/cli.md is the commands' current help."""

from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner

from lsr.cli.main import cli
from lsr.cli.reference import page

from helpers import write_beir

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CLI_PAGE = ROOT / "docs" / "cli.md"


def block(kind: str, path: Path = README) -> str:
    """The fenced block right after `<!-- readme-test: kind -->` in `path`."""
    match = re.search(rf"<!-- readme-test: {kind} -->\n```\w+\n(.*?)```", path.read_text(encoding="utf-8"), re.S)
    assert match, f"{path.name} has no block marked readme-test: {kind}"
    return match.group(1)


@pytest.fixture(scope="module")
def small_scifact(tmp_path_factory, scifact):
    """SciFact's first 10 test queries, their relevant documents and 30 others."""
    rows = [line.rstrip("\n").split("\t") for line in open(scifact / "qrels" / "test.tsv")][1:]
    qids = list(dict.fromkeys(q for q, _, _ in rows))[:10]
    rows = [r for r in rows if r[0] in qids]
    relevant = {d for _, d, _ in rows}
    docs = [json.loads(line) for line in open(scifact / "corpus.jsonl")]
    keep = [d for d in docs if d["_id"] in relevant] + [d for d in docs if d["_id"] not in relevant][:30]
    queries = [q for q in map(json.loads, open(scifact / "queries.jsonl")) if q["_id"] in qids]
    return write_beir(tmp_path_factory.mktemp("small-scifact"), keep, queries, [(q, d, int(r)) for q, d, r in rows])


def localised(text: str, small_scifact: Path, splade_tiny: Path, runs: Path) -> str:
    return (text.replace("../shared/data/beir/scifact", str(small_scifact))
            .replace("../shared/models/splade-tiny", str(splade_tiny)).replace("runs/", f"{runs}/"))


def test_cli_page_is_the_current_help():
    assert CLI_PAGE.read_text(encoding="utf-8") == page(), \
        "docs/cli.md is stale: run `python -m lsr.cli.reference docs/cli.md`"


def test_readme_names_what_exists_and_stays_short():
    text = README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 200
    for script in ("scripts/example.sh", "scripts/test.sh", "scripts/setup.sh", ".ci/run"):
        assert script in text and (ROOT / script).is_file(), script
    for marker in ('-m "slow and not ray_cluster"', '-m "slow and ray_cluster"'):
        assert marker in text
    assert "(docs/results.md)" in text and "(docs/cli.md)" in text


def run_block(text: str, small_scifact: Path, splade_tiny: Path, runs: Path) -> None:
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines and all(line.startswith("lsr ") for line in lines)
    for line in lines:
        args = shlex.split(localised(line, small_scifact, splade_tiny, runs))[1:]
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0, f"{line}\n{result.output}"


def test_readme_cli_tour_runs_as_written(tmp_path, small_scifact, splade_tiny):
    run_block(block("cli"), small_scifact, splade_tiny, tmp_path / "runs")
    figures = json.loads((tmp_path / "runs" / "tour" / "splade.json").read_text())
    assert 0 < figures["nDCG@10"] <= 1
    rows = json.loads((tmp_path / "runs" / "tour" / "beir" / "report.json").read_text())
    systems = {row["system"] for row in (rows["rows"] if isinstance(rows, dict) else rows)}
    assert {"bm25", "splade-tiny", "splade-tiny-long_docs=first"} <= systems


def test_encoders_page_idf_command_runs_as_written(tmp_path, small_scifact, splade_tiny):
    run_block(block("idf", ROOT / "docs" / "encoders.md"), small_scifact, splade_tiny, tmp_path / "runs")
    assert json.loads((tmp_path / "runs" / "tour" / "idf.json").read_text())


def test_scale_out_page_sharded_index_commands_run_as_written(tmp_path, small_scifact, splade_tiny):
    run_block(block("sharded", ROOT / "docs" / "scale-out.md"), small_scifact, splade_tiny, tmp_path / "runs")
    run = (tmp_path / "runs" / "tour" / "sharded.trec").read_text().splitlines()
    assert len({line.split()[0] for line in run}) == 10 and len(run) > 10 * 10  # each query, many documents


def test_readme_python_snippet_runs_as_written(tmp_path, small_scifact, splade_tiny, capsys):
    code = localised(block("python"), small_scifact, splade_tiny, tmp_path / "runs")
    exec(compile(code, str(README), "exec"), {})
    printed = capsys.readouterr().out.splitlines()
    weights = eval(printed[0])  # noqa: S307 - our own printed dict
    assert list(weights.values()) == sorted(weights.values(), reverse=True) and "heart" in weights
    assert 0 < eval(printed[1])["nDCG@10"] <= 1  # noqa: S307
    hits = eval(printed[2])  # noqa: S307
    assert len(hits) == 5 and all(0 < score < 1000 for _, score in hits)

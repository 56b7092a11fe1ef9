"""`lsr beir` on tiny BEIR folders: report files, caching, resume after a kill."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

import lsr.pipelines.beir as beir_module
from lsr.cli.main import cli
from lsr.errors import LsrError
from lsr.eval.beir_datasets import resolve_datasets
from lsr.eval.report import report_rows
from lsr.pipelines.beir import run_beir, systems_for

from helpers import write_beir

MEASURES = ("nDCG@10", "R@100", "MRR@10")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("beir-data")
    texts = ["heart disease and blood pressure", "liver glucose metabolism", "protein folding in cells",
             "heart attack risk factors", "insulin and glucose in the blood", "cell membranes and proteins"]
    docs = [{"_id": f"d{i}", "title": "", "text": t} for i, t in enumerate(texts)]
    queries = [{"_id": "q1", "text": "heart risk"}, {"_id": "q2", "text": "glucose liver"},
               {"_id": "q3", "text": "protein cells"}, {"_id": "d4", "text": "insulin glucose"}]
    qrels = [("q1", "d3", 1), ("q2", "d1", 1), ("q3", "d2", 1), ("d4", "d1", 1)]
    write_beir(root / "alpha", docs, queries, qrels)
    write_beir(root / "beta", docs[::-1], queries[:3], qrels[:3])
    for forum in ("one", "two"):
        write_beir(root / "cqa" / forum, docs, queries[:2], qrels[:2])
    return root


def counting(monkeypatch):
    """Wrap every stage so each call is counted by (dataset, system, stage)."""
    calls = []
    stages = []
    for name, output, action in beir_module._STAGES:
        def wrapped(job, _action=action, _name=name):
            calls.append((job.dataset.name, job.system.name, _name))
            return _action(job)
        stages.append((name, output, wrapped))
    monkeypatch.setattr(beir_module, "_STAGES", stages)
    return calls


def test_resolves_folders_groups_and_errors(data_dir):
    names = [d.name for d in resolve_datasets(["alpha", "cqa"], data_dir)]
    assert names == ["alpha", "cqa/one", "cqa/two"]
    assert {d.group for d in resolve_datasets(["cqa"], data_dir)} == {"cqa"}
    with pytest.raises(LsrError, match="unknown dataset"):
        resolve_datasets(["no-such-dataset"], data_dir)


def test_report_runs_and_resumes_after_a_kill(tmp_path, data_dir, splade_tiny, monkeypatch):
    systems = systems_for([str(splade_tiny)])
    datasets = resolve_datasets(["alpha", "beta", "cqa"], data_dir)
    original_stages = list(beir_module._STAGES)
    calls = counting(monkeypatch)
    original_search = beir_module._STAGES[1][2]

    def killed_on_beta(job):
        if job.dataset.name == "beta" and job.system.name == "splade-tiny":
            raise KeyboardInterrupt
        return original_search(job)

    stages = list(beir_module._STAGES)
    stages[1] = (stages[1][0], stages[1][1], killed_on_beta)
    monkeypatch.setattr(beir_module, "_STAGES", stages)
    with pytest.raises(KeyboardInterrupt):
        run_beir(systems, datasets, tmp_path, latency_queries=3)
    done_before = list(calls)
    assert ("beta", "splade-tiny", "index") in done_before

    monkeypatch.setattr(beir_module, "_STAGES", original_stages)
    calls = counting(monkeypatch)  # fresh counters over the original stages
    results = run_beir(systems, datasets, tmp_path, latency_queries=3)
    assert ("alpha", "bm25", "index") not in calls and ("beta", "splade-tiny", "index") not in calls
    assert ("beta", "splade-tiny", "search") in calls and ("beta", "bm25", "evaluate") not in calls
    assert len(results) == 2 * 4

    monkeypatch.setattr(beir_module, "_STAGES", original_stages)
    again = counting(monkeypatch)
    run_beir(systems, datasets, tmp_path, latency_queries=3)
    assert again == []

    rows = report_rows(results, MEASURES)
    assert [(r["dataset"], r["system"]) for r in rows] == [
        ("alpha", "bm25"), ("alpha", "splade-tiny"), ("beta", "bm25"), ("beta", "splade-tiny"),
        ("cqa", "bm25"), ("cqa", "splade-tiny"), ("average", "bm25"), ("average", "splade-tiny")]
    alpha = {r["system"]: r for r in rows if r["dataset"] == "alpha"}
    assert alpha["splade-tiny"]["nDCG@10 delta"] == pytest.approx(
        alpha["splade-tiny"]["nDCG@10"] - alpha["bm25"]["nDCG@10"])
    assert alpha["bm25"]["postings_per_query"] > 0 and alpha["splade-tiny"]["flops"] > 0


def test_model_settings_in_the_model_spec(tmp_path, data_dir, splade_tiny, monkeypatch):
    from lsr.models.registry import parse_model_spec

    assert parse_model_spec("org/model") == ("org/model", {})
    assert parse_model_spec("runs/m:long_docs=first,doc_max_length=64,scale=1.5") == (
        "runs/m", {"long_docs": "first", "doc_max_length": 64, "scale": 1.5})
    with pytest.raises(LsrError, match="key=value"):
        parse_model_spec("m:long_docs=first,oops")
    systems = systems_for([f"{splade_tiny}:long_docs=first,doc_max_length=16", str(splade_tiny)])
    assert [s.name for s in systems] == ["bm25", "splade-tiny-long_docs=first-doc_max_length=16", "splade-tiny"]
    loads = []
    original = beir_module.load_encoder
    monkeypatch.setattr(beir_module, "load_encoder", lambda *a, **k: loads.append(a) or original(*a, **k))
    results = run_beir(systems[:2], resolve_datasets(["alpha"], data_dir), tmp_path, latency_queries=2)
    assert len(loads) == 1  # index, search and evaluate share one encoder
    info = json.loads((tmp_path / "alpha" / systems[1].name / "index" / "lsr-index.json").read_text())
    assert info["encoder_settings"]["long_docs"] == "first" and info["encoder_settings"]["doc_max_length"] == 16
    assert results[1]["settings"] == {"long_docs": "first", "doc_max_length": 16}
    result = CliRunner().invoke(cli, ["beir", "-m", f"{splade_tiny}:no_such_setting=1", "-d", "alpha",
                                      "--data-dir", str(data_dir), "-o", str(tmp_path / "bad")])
    assert result.exit_code == 2 and "no_such_setting" in result.output
    assert not (tmp_path / "bad" / "alpha").exists()  # refused before any work


def test_query_equal_to_a_document_id_is_not_its_own_hit(tmp_path, data_dir):
    run_beir(systems_for([]), resolve_datasets(["alpha"], data_dir), tmp_path, latency_queries=2)
    hits = [line.split() for line in open(tmp_path / "alpha" / "bm25" / "run.trec")]
    assert not [h for h in hits if h[0] == h[2]]


def test_cli_writes_table_and_plot(tmp_path, data_dir, splade_tiny):
    result = CliRunner().invoke(cli, ["beir", "-m", str(splade_tiny), "-d", "alpha,beta", "--data-dir",
                                      str(data_dir), "-o", str(tmp_path), "--latency-queries", "2"])
    assert result.exit_code == 0, result.output
    for ext in ("md", "csv", "json", "png"):
        assert (tmp_path / f"report.{ext}").stat().st_size > 0
    table = (tmp_path / "report.md").read_text()
    assert "| alpha | splade-tiny |" in table and "| average | bm25 |" in table
    rows = json.loads((tmp_path / "report.json").read_text())["rows"]
    assert {r["system"] for r in rows} == {"bm25", "splade-tiny"}

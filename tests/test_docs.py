"""docs/results.md is what benchmarks/report.py makes of benchmarks/results/*.json, every record has the
fields the report needs, and the README and docs/ pages name files and anchors that exist."""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
PAGES = [ROOT / "README.md", *(ROOT / "docs" / name for name in
                               ("cli.md", "encoders.md", "training.md", "serving.md", "scale-out.md"))]


@pytest.fixture(scope="module")
def report():
    spec = importlib.util.spec_from_file_location("lsr_benchmarks_report", ROOT / "benchmarks" / "report.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_results_page_is_current():
    done = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "report.py"), "--check"], cwd=ROOT,
                          capture_output=True, text=True)
    assert done.returncode == 0, f"{done.stderr}: run `python benchmarks/report.py`"


def test_every_record_has_the_fields_the_report_needs(report):
    paths = sorted(RESULTS.glob("*.json"))
    assert paths
    for path in paths:
        record = json.loads(path.read_text(encoding="utf-8"))
        assert report.problems(record) == [], path.name
        assert record["provenance"] == report.MEASURED or record["provenance"].startswith("transcribed from"), path.name


def test_a_transcribed_record_says_so_and_a_stale_page_fails_the_check(report, tmp_path):
    record = json.loads(next(RESULTS.glob("*.json")).read_text(encoding="utf-8"))
    record["figures"] = {"answer": 42, "rows": [{"a": 1, "b": None}]}
    (tmp_path / "one.json").write_text(json.dumps(record))
    page = tmp_path / "results.md"
    assert report.main(["--results", str(tmp_path), "--output", str(page)]) == 0
    text = page.read_text(encoding="utf-8")
    assert "transcribed" in text and "| answer | 42 |" in text and "| 1 | – |" in text
    assert report.main(["--results", str(tmp_path), "--output", str(page), "--check"]) == 0
    page.write_text(text + "edited\n", encoding="utf-8")
    assert report.main(["--results", str(tmp_path), "--output", str(page), "--check"]) == 1
    del record["machine"]["cores"], record["command"]
    assert report.problems(record) == ["no field 'command'", "no field 'machine.cores'"]


def headings(path: Path, report) -> set[str]:
    return {report.anchor(line.lstrip("#").strip()) for line in path.read_text(encoding="utf-8").splitlines()
            if line.startswith("#") and not line.startswith("#!")}


def test_links_and_anchors_resolve(report):
    for page in PAGES:
        text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
        for target in re.findall(r"\]\(([^)\s]+)\)", text):
            if target.startswith(("http://", "https://")):
                continue
            file, _, fragment = target.partition("#")
            resolved = (page.parent / file).resolve() if file else page
            assert resolved.exists(), f"{page.name}: {target}"
            if fragment and resolved.suffix == ".md":
                assert fragment in headings(resolved, report), f"{page.name}: {target}"


def test_named_scripts_and_configs_exist():
    for page in PAGES:
        text = page.read_text(encoding="utf-8")
        for path in re.findall(r"(?<![\w/.])((?:benchmarks|scripts|examples)/[\w./-]+\.(?:py|sh|toml))", text):
            assert (ROOT / path).is_file(), f"{page.name} names {path}, which does not exist"

"""`lsr beir` report figures checked against independent computations on tiny indexes, and the report
itself: its table, the files it is written to and the look of report.png.

Costs (postings, FLOPS, index MB) are recomputed from the documents' and queries' term sets and
from the files on disk; significance from scipy; published figures from references.json; group
rows (cqadupstack's forums) and the average row by hand from result dicts shaped as `run_beir`'s.
"""

from __future__ import annotations

import json
import os
import types
from collections.abc import Callable, Iterable
from pathlib import Path
from statistics import fmean
from typing import Any

import numpy as np
import pytest
from scipy.stats import ttest_ind, ttest_rel

import lsr.eval.latency as latency_module
from lsr.data import Query, read_corpus
from lsr.eval.cost import cost_stats, index_mb
from lsr.eval.latency import measure_latency
from lsr.eval.report import COSTS, markdown_table, report_rows
from lsr.eval.significance import paired_t_test
from lsr.indexing.build import build_bm25_index, build_impact_index
from lsr.indexing.layout import LUCENE_DIR
from lsr.lucene.jvm import jclass
from lsr.models import Encoder, load_encoder
from lsr.search.lucene import LuceneSearcher

from helpers import write_beir

# Every word is kept by Anserini's English analyzer as one term of its own (checked below), so
# the BM25 index's terms are these words up to renaming. Repeats count once; d4 is blank (in the
# corpus, not in Lucene); "zebra" is in no document, "kidney" in no query.
DOCS = {"d0": "heart disease heart pressure", "d1": "liver glucose metabolism",
        "d2": "protein folding membrane", "d3": "heart glucose insulin", "d4": "",
        "d5": "kidney transplant rejection"}
QUERIES = [Query("q1", "heart glucose"), Query("q2", "liver liver protein"), Query("q3", "zebra heart"),
           Query("q4", "membrane"), Query("q5", "   ")]
MEASURE = "nDCG@10"
REFERENCES = json.loads((Path(__file__).parents[1] / "lsr" / "eval" / "references.json").read_text("utf-8"))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    docs = [{"_id": doc_id, "title": "", "text": text} for doc_id, text in DOCS.items()]
    queries = [{"_id": q.id, "text": q.text} for q in QUERIES]
    return write_beir(tmp_path_factory.mktemp("figures"), docs, queries, [("q1", "d3", 1)])


@pytest.fixture(scope="module")
def bm25(corpus: Path) -> LuceneSearcher:
    out = corpus.parent / "bm25-index"
    build_bm25_index(str(corpus), out)
    return LuceneSearcher(out)


@pytest.fixture(scope="module")
def encoder(splade_tiny: Path) -> Encoder:
    return load_encoder(splade_tiny)


@pytest.fixture(scope="module")
def impact(corpus: Path, splade_tiny: Path, encoder: Encoder) -> LuceneSearcher:
    out = corpus.parent / "impact-index"
    build_impact_index(str(corpus), out, splade_tiny, encoder=encoder, progress=False)
    return LuceneSearcher(out, encoder)


def hand_costs(doc_terms: list[set[Any]], query_terms: list[set[Any]]) -> dict[str, float]:
    """Postings per doc / query and FLOPS = Σ_t p_q(t)·p_d(t), straight from the term sets."""
    vocabulary = set().union(*doc_terms, *query_terms)
    flops = sum((sum(t in q for q in query_terms) / len(query_terms))
                * (sum(t in d for d in doc_terms) / len(doc_terms)) for t in vocabulary)
    return {"postings_per_doc": fmean(map(len, doc_terms)), "postings_per_query": fmean(map(len, query_terms)),
            "flops": flops}


def test_bm25_costs_equal_a_hand_computation(bm25: LuceneSearcher) -> None:
    analyze = jclass("io.anserini.analysis.AnalyzerUtils").analyze
    words = {w for text in [*DOCS.values(), *(q.text for q in QUERIES)] for w in text.split()}
    stems = {w: list(analyze(w).toArray()) for w in words}
    assert all(len(s) == 1 for s in stems.values()) and len({s[0] for s in stems.values()}) == len(words)

    expected = hand_costs([set(text.split()) for text in DOCS.values()], [set(q.text.split()) for q in QUERIES])
    # 3 + 3 + 3 + 3 + 0 + 3 terms over 6 documents; 2 + 2 + 2 + 1 + 0 over 5 queries;
    # heart 2/5·2/6, glucose 1/5·2/6, liver 1/5·1/6, protein 1/5·1/6, membrane 1/5·1/6, zebra 1/5·0.
    assert expected == pytest.approx({"postings_per_doc": 15 / 6, "postings_per_query": 7 / 5,
                                      "flops": (4 + 2 + 1 + 1 + 1) / 30})
    assert vars(cost_stats(bm25, QUERIES)) == pytest.approx(expected)


def test_impact_costs_equal_the_encoders_quantized_term_sets(impact: LuceneSearcher, encoder: Encoder) -> None:
    scale = impact.info.scale
    texts = [doc.full_text() for doc in read_corpus(str(impact.info.corpus))]

    def term_sets(dense: np.ndarray) -> list[set[int]]:
        return [set(np.flatnonzero(np.rint(row.astype(np.float64) * scale)).tolist()) for row in dense]

    docs = term_sets(encoder.encode_docs(texts).to_scipy().toarray())
    queries = term_sets(encoder.encode_queries([q.text for q in QUERIES]).to_scipy().toarray())
    assert docs[4] == set() == queries[4] and all(docs[:4] + docs[5:]) and all(queries[:4])
    assert vars(cost_stats(impact, QUERIES)) == pytest.approx(hand_costs(docs, queries))


def folder_bytes(folder: Path) -> int:
    """Bytes of every file under `folder`, walked with os.walk."""
    return sum(os.path.getsize(Path(root) / name) for root, _, names in os.walk(folder) for name in names)


def test_index_mb_is_the_lucene_folders_bytes_in_mib(bm25: LuceneSearcher, impact: LuceneSearcher,
                                                     tmp_path: Path) -> None:
    for searcher in (bm25, impact):
        assert index_mb(searcher.index_dir) == folder_bytes(searcher.index_dir / LUCENE_DIR) / 2**20 > 0
    lucene = tmp_path / "index" / LUCENE_DIR
    (lucene / "nested").mkdir(parents=True)
    (lucene / "a").write_bytes(b"x" * 2**20)
    (lucene / "nested" / "b").write_bytes(b"x" * 2**19)
    (tmp_path / "index" / "vectors.parquet").write_bytes(b"x" * 2**20)  # beside lucene/: not counted
    assert index_mb(tmp_path / "index") == 1.5


# --- significance ---------------------------------------------------------------------------------

BASE = [0.2, 0.4, 0.6, 0.8, 0.3, 0.5]
NOISE = [0.1, -0.1, 0.05, -0.05, 0.02, -0.02]


def per_query(values: Iterable[float], prefix: str = "q") -> dict[str, float]:
    return {f"{prefix}{i}": float(v) for i, v in enumerate(values)}


def shifted(delta: float) -> list[float]:
    """BASE plus `delta` plus small per-query noise: a consistent gain against large between-query spread."""
    return [b + delta + n for b, n in zip(BASE, NOISE)]


def test_paired_t_test_is_scipys_ttest_rel_over_the_common_queries() -> None:
    system, baseline = per_query(shifted(0.078)), per_query(BASE)
    expected = ttest_rel(shifted(0.078), BASE).pvalue
    assert expected < 0.05 < ttest_ind(shifted(0.078), BASE).pvalue  # pairing is what makes it significant
    reordered = dict(reversed(system.items())) | {"only-in-system": 9.0}
    assert paired_t_test(reordered, baseline | {"only-in-baseline": -9.0}) == pytest.approx(expected, rel=1e-12)
    assert paired_t_test(per_query(BASE), baseline) == 1.0
    assert paired_t_test({"q0": 1.0}, {"q0": 0.0}) == 1.0


def result(dataset: str, system: str, values: dict[str, float], costs: dict[str, float] | None = None,
           group: str | None = None) -> dict[str, Any]:
    """A result dict as `run_beir` returns one (metrics are the mean of the per-query values)."""
    return {"dataset": dataset, "group": group, "system": system, "model": None, "settings": {},
            "metrics": {MEASURE: fmean(values.values())}, "num_queries": len(values), "num_missing": 0,
            "per_query": {MEASURE: values}, "costs": costs or {key: None for key, _, _ in COSTS}}


def table_line(table: str, dataset: str, system: str) -> str:
    (line,) = [line for line in table.splitlines() if line.startswith(f"| {dataset} | {system} |")]
    return line


def test_dagger_marks_exactly_the_differences_with_p_below_005() -> None:
    """p = 0.045 gets †, p = 0.053 does not (nor does the baseline's own row)."""
    results = [result("scifact", "bm25", per_query(BASE)), result("scifact", "m", per_query(shifted(0.078))),
               result("other", "bm25", per_query(BASE)), result("other", "m", per_query(shifted(0.074)))]
    rows = report_rows(results, [MEASURE])
    p = {r["dataset"]: r[f"{MEASURE} p"] for r in rows if r["system"] == "m" and r["dataset"] != "average"}
    assert p == pytest.approx({"scifact": ttest_rel(shifted(0.078), BASE).pvalue,
                               "other": ttest_rel(shifted(0.074), BASE).pvalue}, rel=1e-12)
    assert 0.04 < p["scifact"] < 0.05 < p["other"] < 0.06
    table = markdown_table(rows, [MEASURE])
    assert "†" in table_line(table, "scifact", "m") and "(+0.0780†)" in table_line(table, "scifact", "m")
    assert "†" not in table_line(table, "other", "m") and "(+0.0740)" in table_line(table, "other", "m")
    assert table.count("†") == 2  # the scifact cell and the legend


def test_published_bm25_column_shows_the_reference_for_known_datasets_only() -> None:
    figures = REFERENCES["figures"]["bm25-flat"]
    results = [result(name, system, per_query(BASE)) for name in ("scifact", "nfcorpus", "my-own-data")
               for system in ("bm25", "m")]
    table = markdown_table(report_rows(results, [MEASURE]), [MEASURE])
    for name in ("scifact", "nfcorpus"):
        assert table_line(table, name, "bm25").endswith(f"| {figures[name]['nDCG@10']:.4f} |")
    for dataset, system in [("my-own-data", "bm25"), ("scifact", "m"), ("average", "bm25"), ("average", "m")]:
        assert table_line(table, dataset, system).endswith("| – |")
    assert REFERENCES["source"] in table


# --- groups and the average row ---------------------------------------------------------------------

def costs(base: float) -> dict[str, float]:
    return {key: base * (i + 1) for i, (key, _, _) in enumerate(COSTS)}


def test_groups_average_their_forums_first_then_datasets() -> None:
    """Two forums of different sizes and results (query ids repeat across them), beside one dataset."""
    forums = {"cqadupstack/android": ([0.1, 0.3, 0.2, 0.6], [0.5, 0.7, 0.6, 0.9]),
              "cqadupstack/english": ([0.9, 0.4], [0.8, 0.2])}
    results = [result("scifact", "bm25", per_query([0.5, 0.6]), costs(1.0)),
               result("scifact", "m", per_query([0.7, 0.9]), costs(10.0))]
    for i, (name, (bm25, model)) in enumerate(forums.items()):
        results += [result(name, "bm25", per_query(bm25), costs(2.0 + i), group="cqadupstack"),
                    result(name, "m", per_query(model), costs(20.0 + 10 * i), group="cqadupstack")]
    rows = {(r["dataset"], r["system"]): r for r in report_rows(results, [MEASURE])}
    assert list(rows) == [("scifact", "bm25"), ("scifact", "m"), ("cqadupstack", "bm25"), ("cqadupstack", "m"),
                          ("average", "bm25"), ("average", "m")]

    forum_mean = {s: fmean(fmean(pair[k]) for pair in forums.values()) for k, s in enumerate(("bm25", "m"))}
    assert forum_mean == pytest.approx({"bm25": (0.3 + 0.65) / 2, "m": (0.675 + 0.5) / 2})
    cqa = rows["cqadupstack", "m"]
    assert cqa[MEASURE] == pytest.approx(forum_mean["m"])
    assert rows["cqadupstack", "bm25"][MEASURE] == pytest.approx(forum_mean["bm25"])
    assert cqa[f"{MEASURE} delta"] == pytest.approx(forum_mean["m"] - forum_mean["bm25"])
    pooled = [v for pair in forums.values() for v in pair[1]], [v for pair in forums.values() for v in pair[0]]
    assert cqa[f"{MEASURE} p"] == pytest.approx(ttest_rel(*pooled).pvalue, rel=1e-12)  # all 6 forum queries
    assert {key: cqa[key] for key, _, _ in COSTS} == pytest.approx(costs(25.0))  # (20 + 30) / 2

    average = rows["average", "m"]
    assert average[MEASURE] == pytest.approx((0.8 + forum_mean["m"]) / 2)
    assert average[f"{MEASURE} delta"] == pytest.approx((0.8 - 0.55 + forum_mean["m"] - forum_mean["bm25"]) / 2)
    assert {key: average[key] for key, _, _ in COSTS} == pytest.approx(costs(17.5))  # (10 + 25) / 2
    assert rows["average", "bm25"][MEASURE] == pytest.approx((0.55 + forum_mean["bm25"]) / 2)


def test_a_groups_published_figure_is_the_mean_of_its_forums() -> None:
    figures = REFERENCES["figures"]["bm25-flat"]
    forums = ["cqadupstack/android", "cqadupstack/english"]
    results = [result(name, "bm25", per_query(BASE), group="cqadupstack") for name in forums]
    (row,) = [r for r in report_rows(results, [MEASURE]) if r["dataset"] == "cqadupstack"]
    expected = fmean(figures[name.replace("/", "-")]["nDCG@10"] for name in forums)
    assert row["published nDCG@10"] == pytest.approx(expected)
    local = [result(f"cqa/{forum}", "bm25", per_query(BASE), group="cqa") for forum in ("one", "two")]
    assert report_rows(local, [MEASURE])[0]["published nDCG@10"] is None


# --- latency ----------------------------------------------------------------------------------------

class ClockedSearcher:
    """Advances a fake clock by a known encoding and search time (ms) per query text."""

    def __init__(self, encode_ms: dict[str, float], search_ms: dict[str, float]):
        self.now, self.encode_ms, self.search_ms, self.searches = 0.0, encode_ms, search_ms, 0

    def clock(self) -> float:
        return self.now

    def prepare_query(self, text: str) -> str:
        self.now += self.encode_ms[text] / 1000
        return text

    def search_prepared(self, prepared: str, k: int = 10) -> list[tuple[str, float]]:
        self.now += self.search_ms[prepared] / 1000
        self.searches += 1
        return []

    def search_one(self, text: str, k: int = 10) -> list[tuple[str, float]]:
        return self.search_prepared(self.prepare_query(text), k)


def test_latency_figures_from_a_fake_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    encode = {"a": 3.0, "b": 1.0, "c": 4.0, "d": 1.0, "e": 5.0, "f": 9.0, "g": 2.0}
    search = {"a": 10.0, "b": 50.0, "c": 20.0, "d": 70.0, "e": 30.0, "f": 40.0, "g": 200.0}
    searcher = ClockedSearcher(encode, search)
    monkeypatch.setattr(latency_module, "time", types.SimpleNamespace(perf_counter=searcher.clock))
    measured = measure_latency(searcher, [Query(t, t) for t in encode], warmup=3)  # type: ignore[arg-type]
    # Totals sorted: 13 51 24 71 35 49 202 -> 13 24 35 49 51 71 202; P99 at rank 0.99·6 = 5.94.
    assert measured.encode_ms == pytest.approx(3.0)
    assert measured.p50_ms == pytest.approx(49.0)
    assert measured.p99_ms == pytest.approx(71 + 0.94 * (202 - 71))
    assert searcher.searches == 3 + 7  # the warm-up queries, then each query timed once


def test_latency_on_a_real_index(impact: LuceneSearcher, bm25: LuceneSearcher, monkeypatch: pytest.MonkeyPatch) -> None:
    for searcher in (impact, bm25):
        timed: list[Any] = []
        original: Callable[..., Any] = searcher.prepare_query
        monkeypatch.setattr(searcher, "prepare_query", lambda text, _o=original, _t=timed: _t.append(text) or _o(text))
        measured = measure_latency(searcher, QUERIES, warmup=0)
        assert timed == [q.text for q in QUERIES]
        assert 0 <= measured.encode_ms <= measured.p50_ms <= measured.p99_ms


# --- index MB: files in sub-folders of lucene/ count, the rest of the index folder does not -----------


def test_index_mb_counts_every_file_under_the_lucene_folder_in_mib(tmp_path):
    """Files in sub-folders count; files of the index folder outside lucene/ (vectors, metadata) do not."""
    from lsr.eval.cost import index_mb
    from lsr.indexing.layout import LUCENE_DIR

    (tmp_path / LUCENE_DIR / "sub").mkdir(parents=True)
    (tmp_path / LUCENE_DIR / "_0.cfs").write_bytes(b"\0" * 2**20)
    (tmp_path / LUCENE_DIR / "sub" / "_1.cfs").write_bytes(b"\0" * 2**19)
    (tmp_path / "vectors.parquet").write_bytes(b"\0" * 12345)
    assert index_mb(tmp_path) == 1.5
    assert index_mb(str(tmp_path)) == 1.5


# --- the report's table, its files (md, csv, json, png) and its figure -----------------------------------

COST_LABELS = ["postings/doc", "postings/query", "FLOPS", "index MB", "encode docs/s", "query enc ms", "P50 ms",
               "P99 ms", "QPS"]


def beir_result(dataset: str, system: str, values: list[float], costs: dict | None = None,
                group: str | None = None) -> dict:
    """A result dict shaped as `run_beir` returns one."""
    from statistics import fmean

    from lsr.eval.report import COSTS

    per_query = {f"q{i}": v for i, v in enumerate(values)}
    return {"dataset": dataset, "group": group, "system": system, "model": None, "settings": {},
            "metrics": {MEASURE: fmean(values)}, "num_queries": len(values), "num_missing": 0,
            "per_query": {MEASURE: per_query}, "costs": {key: None for key, _, _ in COSTS} | (costs or {})}


def some_costs(scale: float) -> dict:
    return {"postings_per_doc": 123.456 * scale, "postings_per_query": 7.25 * scale, "flops": 0.123 * scale,
            "index_mb": 1.5 * scale, "encode_docs_per_s": 20.0 * scale,
            "query_encode_ms": 3.14159 * scale, "latency_p50_ms": 1.234 * scale, "latency_p99_ms": 9.876 * scale,
            "qps": 1234.56 * scale}


def test_markdown_table_header_separator_and_cells():
    from lsr.eval.report import markdown_table, report_rows

    results = [beir_result("scifact", "bm25", [0.5, 0.6], some_costs(1.0)),
               beir_result("scifact", "m", [0.7, 0.9], some_costs(10.0))]
    table = markdown_table(report_rows(results, [MEASURE]), [MEASURE]).splitlines()
    columns = ["dataset", "system", MEASURE, *COST_LABELS, "published BM25 nDCG@10"]
    assert table[0] == "| " + " | ".join(columns) + " |"
    assert table[1] == "|---|---|" + "---:|" * (len(columns) - 2)
    bm25, model = table[2], table[3]
    assert bm25 == ("| scifact | bm25 | 0.5500 | 123.5 | 7.2 | 0.12 | 1.5 | 20.0 | 3.14 | 1.23 | 9.88 | 1,234.6 "
                    "| 0.6789 |")
    assert model == ("| scifact | m | 0.8000 (+0.2500) | 1,234.6 | 72.5 | 1.23 | 15.0 | 200.0 | 31.42 | 12.34 "
                     "| 98.76 | 12,345.6 | – |")


def test_the_dagger_needs_p_strictly_below_005():
    from lsr.eval.report import markdown_table

    rows = [{"dataset": "d", "system": system, MEASURE: 0.5, f"{MEASURE} delta": 0.1, f"{MEASURE} p": p}
            for system, p in [("at", 0.05), ("below", 0.0499)]]
    at, below = markdown_table(rows, [MEASURE]).splitlines()[2:4]
    assert "| 0.5000 (+0.1000) |" in at and "| 0.5000 (+0.1000†) |" in below


def test_a_group_of_one_forum_is_that_forum():
    from lsr.eval.report import report_rows

    results = [beir_result("cqa/one", "bm25", [0.2, 0.4], group="cqa"),
               beir_result("cqa/one", "m", [0.6, 0.4], group="cqa")]
    rows = {(r["dataset"], r["system"]): r for r in report_rows(results, [MEASURE])}
    assert list(rows) == [("cqa", "bm25"), ("cqa", "m")]
    assert rows["cqa", "m"][MEASURE] == pytest.approx(0.5)
    assert rows["cqa", "m"][f"{MEASURE} delta"] == pytest.approx(0.2)


def test_every_system_with_all_datasets_gets_an_average_row():
    """A system missing a dataset gets no average row; the systems after it still do."""
    from lsr.eval.report import report_rows

    results = [beir_result("d1", "bm25", [0.5, 0.55]), beir_result("d1", "partial", [0.9, 0.8]),
               beir_result("d1", "full", [0.7, 0.6]), beir_result("d2", "bm25", [0.3, 0.35]),
               beir_result("d2", "full", [0.1, 0.2])]
    averages = {r["system"]: r for r in report_rows(results, [MEASURE]) if r["dataset"] == "average"}
    assert set(averages) == {"bm25", "full"}
    assert averages["full"][MEASURE] == pytest.approx((0.65 + 0.15) / 2)
    assert averages["full"][f"{MEASURE} delta"] == pytest.approx((0.65 - 0.525 + 0.15 - 0.325) / 2)


def test_an_average_over_datasets_missing_a_figure_is_none():
    """encode docs/s measured on one dataset only: the average row shows no figure, not that one's."""
    from lsr.eval.report import markdown_table, report_rows

    results = [beir_result("d1", "bm25", [0.5, 0.4]), beir_result("d1", "m", [0.6, 0.2], {"encode_docs_per_s": 10.0}),
               beir_result("d2", "bm25", [0.5, 0.1]), beir_result("d2", "m", [0.6, 0.3], {"encode_docs_per_s": None})]
    rows = report_rows(results, [MEASURE])
    (average,) = [r for r in rows if r["dataset"] == "average" and r["system"] == "m"]
    assert average["encode_docs_per_s"] is None
    line = [line for line in markdown_table(rows, [MEASURE]).splitlines() if line.startswith("| average | m |")]
    assert line[0].split(" | ")[7] == "–"


def test_paired_t_test_on_two_queries():
    from scipy.stats import ttest_rel

    from lsr.eval.significance import paired_t_test

    system, baseline = {"a": 0.9, "b": 0.4}, {"a": 0.5, "b": 0.3}
    assert paired_t_test(system, baseline) == pytest.approx(ttest_rel([0.9, 0.4], [0.5, 0.3]).pvalue, rel=1e-12)
    assert paired_t_test(system, baseline) < 1.0


def test_write_report_writes_the_table_in_four_forms(tmp_path):
    import csv

    from lsr.eval.references import source
    from lsr.eval.report import markdown_table, report_rows, write_report

    results = [beir_result("scifact", "bm25", [0.5, 0.6], some_costs(1.0)),
               beir_result("scifact", "m", [0.7, 0.9], some_costs(10.0)),
               beir_result("other", "bm25", [0.2, 0.4], some_costs(2.0)),
               beir_result("other", "m", [0.4, 0.4], some_costs(3.0))]
    rows = report_rows(results, [MEASURE])
    paths = write_report(results, tmp_path / "out", [MEASURE])
    assert paths == [tmp_path / "out" / f"report.{ext}" for ext in ("md", "csv", "json", "png")]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(p.name for p in paths)
    assert paths[0].read_text(encoding="utf-8") == markdown_table(rows, [MEASURE])
    written = json.loads(paths[2].read_text(encoding="utf-8"))
    assert written == {"rows": json.loads(json.dumps(rows)), "reference_source": source()}
    with open(paths[1], newline="", encoding="utf-8") as f:
        table = list(csv.DictReader(f))
    assert [(r["dataset"], r["system"]) for r in table] == [(r["dataset"], r["system"]) for r in rows]
    assert list(table[0]) == list(dict.fromkeys(key for row in rows for key in row))
    assert float(table[1][MEASURE]) == pytest.approx(0.8) and float(table[1]["qps"]) == pytest.approx(12345.6)
    assert table[0][f"{MEASURE} delta"] == "" and float(table[1][f"{MEASURE} delta"]) == pytest.approx(0.25)
    assert paths[3].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_report_plot_shows_each_systems_points_on_both_panels(tmp_path, monkeypatch):
    """The figure saved as report.png: quality against P50 latency (left) and FLOPS (right), one scatter
    per system, average rows and missing figures left out (the figure is read as it is saved)."""
    import matplotlib.figure

    from lsr.eval.report import plot, report_rows

    saved = []
    original = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig",
                        lambda fig, *args, **kwargs: (saved.append(fig), original(fig, *args, **kwargs))[1])
    figures = {("d1", "bm25"): (1.5, 0.5), ("d1", "m"): (20.0, 4.0), ("d2", "bm25"): (2.5, 0.25),
               ("d2", "m"): (None, 8.0)}
    results = [beir_result(d, s, [0.3 + 0.1 * i, 0.5 - 0.05 * i], {"latency_p50_ms": lat, "flops": fl})
               for i, ((d, s), (lat, fl)) in enumerate(figures.items())]
    rows = report_rows(results, [MEASURE])
    plot(rows, tmp_path / "report.png", MEASURE)
    assert (tmp_path / "report.png").read_bytes()[:4] == b"\x89PNG"
    (fig,) = saved
    assert len(fig.axes) == 2
    quality = {(r["dataset"], r["system"]): r[MEASURE] for r in rows}
    for ax, key, label in [(fig.axes[0], 0, "query latency P50 (ms, encoding + search)"),
                           (fig.axes[1], 1, "FLOPS per query-document pair")]:
        assert (ax.get_xlabel(), ax.get_ylabel(), ax.get_xscale()) == (label, MEASURE, "log")
        points = {c.get_label(): sorted(map(tuple, c.get_offsets().tolist())) for c in ax.collections}
        expected = {system: sorted((figures[d, s][key], quality[d, s]) for (d, s) in figures
                                   if s == system and figures[d, s][key] is not None) for system in ("bm25", "m")}
        assert points == expected
        assert sorted(t.get_text() for t in ax.texts) == sorted(d for (d, s) in figures if figures[d, s][key])
    assert [t.get_text() for t in fig.axes[0].get_legend().get_texts()] == ["bm25", "m"]


def test_report_png_is_two_panels_side_by_side_at_1320_by_540_pixels(tmp_path, monkeypatch):
    """report.png as drawn: 11 x 4.5 inches at 120 dpi, the panels side by side, points of size 40,
    dataset labels at 7 pt offset 3 points up and right, a light grid and an 8 pt legend."""
    import struct

    import matplotlib.figure

    from lsr.eval.report import plot, report_rows

    saved = []
    original = matplotlib.figure.Figure.savefig
    monkeypatch.setattr(matplotlib.figure.Figure, "savefig",
                        lambda fig, *args, **kwargs: (saved.append(fig), original(fig, *args, **kwargs))[1])
    results = [beir_result(d, s, [0.3 + 0.1 * i, 0.5], {"latency_p50_ms": 1.0 + i, "flops": 0.5 + i})
               for i, (d, s) in enumerate([("d1", "bm25"), ("d1", "m"), ("d2", "bm25"), ("d2", "m")])]
    plot(report_rows(results, [MEASURE]), tmp_path / "report.png", MEASURE)
    png = (tmp_path / "report.png").read_bytes()
    assert png[12:16] == b"IHDR" and struct.unpack(">II", png[16:24]) == (1320, 540)
    (fig,) = saved
    left, right = (ax.get_position() for ax in fig.axes)
    assert left.x1 <= right.x0 and (left.y0, left.y1) == pytest.approx((right.y0, right.y1))
    for ax in fig.axes:
        assert all(c.get_sizes().tolist() == [40.0] for c in ax.collections)
        assert {(t.get_fontsize(), tuple(t.xyann), t.anncoords) for t in ax.texts} == {(7.0, (3, 3), "offset points")}
        assert all(line.get_visible() and line.get_alpha() == 0.3
                   for line in ax.xaxis.get_gridlines() + ax.yaxis.get_gridlines())
    assert {t.get_fontsize() for t in fig.axes[0].get_legend().get_texts()} == {8.0}

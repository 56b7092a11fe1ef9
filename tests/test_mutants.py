"""Tests written to kill mutants that survived mutation testing (issue #13): each pins a behaviour a
user of the Python API sees, which no other test checked."""

from __future__ import annotations

import json

import numpy as np
import pyarrow.parquet as pq
import pytest
import scipy.sparse
import torch

from lsr.errors import LsrError
from lsr.sparse import METADATA_KEY, SparseVectors

VOCAB = ["a", "b", "c", "d"]


def floats() -> SparseVectors:
    return SparseVectors.from_dicts([{"a": 0.5, "c": 1.25}, {}, {"b": 2.0, "d": 0.014}], ["x", "y", "z"], VOCAB)


# --- lsr/sparse.py -----------------------------------------------------------------------------------


def test_concat_of_quantized_parts_keeps_their_scale():
    quantized = floats().quantize(10.0)
    both = SparseVectors.concat([quantized.select([0]), quantized.select([1, 2])])
    assert both.scale == 10.0 and both.values.dtype == np.int32
    assert both.to_dicts(VOCAB) == quantized.to_dicts(VOCAB) == [{"c": 12, "a": 5}, {}, {"b": 20}]


def test_quantize_defaults_to_scale_100():
    quantized = floats().quantize()
    assert quantized.scale == 100.0
    assert quantized.to_dicts(VOCAB) == [{"c": 125, "a": 50}, {}, {"b": 200, "d": 1}]


def test_quantize_drops_stored_zero_weights():
    """A weight of exactly 0 is not negative: it rounds to 0 and is dropped, like small weights."""
    vectors = SparseVectors.from_dicts([{"a": 0.0, "b": 1.0}, {"c": 0.0}], ["x", "y"], VOCAB)
    assert vectors.nnz_per_row().tolist() == [2, 1]
    assert vectors.quantize(100.0).to_dicts(VOCAB) == [{"b": 100}, {}]


def test_to_torch_gives_float32_on_the_device_asked_for():
    quantized = floats().quantize(10.0)
    tensor = quantized.to_torch()
    assert tensor.dtype == torch.float32 and tensor.layout == torch.sparse_csr
    assert quantized.to_dense_torch().dtype == torch.float32
    assert quantized.to_dense_torch().tolist() == [[5.0, 0.0, 12.0, 0.0], [0.0] * 4, [0.0, 20.0, 0.0, 0.0]]
    # The meta device stands in for a GPU: the tensor must land where it is asked to.
    assert floats().to_torch(device="meta").device.type == "meta"
    assert floats().to_dense_torch(device="meta").device.type == "meta"


def test_from_scipy_makes_integer_counts_float_weights_without_a_scale():
    counts = scipy.sparse.csr_matrix(np.array([[0, 2, 0, 1], [3, 0, 0, 0]], dtype=np.int64))
    vectors = SparseVectors.from_scipy(counts, ["x", "y"])
    assert vectors.scale is None and vectors.values.dtype == np.float32
    assert vectors.to_dicts(VOCAB) == [{"b": 2.0, "d": 1.0}, {"a": 3.0}]


def test_from_dicts_uses_the_ids_a_vocabulary_mapping_gives():
    """The mapping's ids count, not its insertion order."""
    vocab = {"d": 3, "b": 1, "a": 0, "c": 2}
    vectors = SparseVectors.from_dicts([{"d": 1.0, "a": 2.0}], ["x"], vocab)
    assert vectors.indices.tolist() == [0, 3] and vectors.values.tolist() == [2.0, 1.0]
    assert vectors.vocab_size == 4


def test_from_dicts_makes_integer_weights_float_without_a_scale():
    vectors = SparseVectors.from_dicts([{"a": 2, "b": 1}], ["x"], VOCAB)
    assert vectors.scale is None and vectors.values.dtype == np.float32 and vectors.values.tolist() == [2.0, 1.0]


def test_a_vector_file_whose_lsr_metadata_lacks_vocab_size_is_refused(tmp_path):
    table = floats().to_arrow()
    broken = table.replace_schema_metadata({METADATA_KEY: json.dumps({"scale": None}).encode()})
    with pytest.raises(ValueError, match="metadata lacks vocab_size"):
        SparseVectors.from_arrow(broken)
    pq.write_table(broken, tmp_path / "broken.parquet")
    with pytest.raises(LsrError, match=r"broken\.parquet: not an lsr vector file \(metadata lacks vocab_size\)"):
        SparseVectors.read_parquet(tmp_path / "broken.parquet")


def test_a_zero_scale_is_refused():
    """Integer impacts at scale 0 would make every score's unit (scale²) zero."""
    with pytest.raises(ValueError, match="scale must be a positive number, got 0"):
        SparseVectors(["x"], [0, 1], [0], np.array([3], dtype=np.int32), 4, scale=0.0)


# --- lsr/eval/report.py and lsr/eval/significance.py ---------------------------------------------------

MEASURE = "nDCG@10"
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


# --- lsr/indexing/encode_corpus.py ---------------------------------------------------------------------


def test_the_near_dense_warning_gives_the_average_and_the_share_of_the_vocabulary(tmp_path, caplog):
    import logging

    from lsr.indexing.vectors import _warn_if_near_dense

    vocab = [f"t{i}" for i in range(20)]
    dense = SparseVectors.from_dicts([{f"t{i}": 1.0 for i in range(14)}, {f"t{i}": 1.0 for i in range(4, 20)}],
                                     ["x", "y"], vocab)
    with caplog.at_level(logging.WARNING):
        _warn_if_near_dense(dense, tmp_path)
    assert f"{tmp_path}: documents average 15 terms each, 75 % of the 20-term vocabulary: near-dense" in caplog.text
    caplog.clear()
    at_the_limit = SparseVectors.from_dicts([{"t0": 1.0, "t1": 1.0}, {"t2": 1.0, "t3": 1.0}], ["x", "y"], vocab)
    with caplog.at_level(logging.WARNING):
        _warn_if_near_dense(at_the_limit, tmp_path)  # 2 of 20 terms: exactly 10 %, not above it
    assert caplog.text == ""


def test_encode_corpus_makes_its_folder_and_records_the_manifest(tmp_path):
    from lsr.data import Document
    from lsr.indexing.layout import part_paths
    from lsr.indexing.vectors import VECTORS_INFO, encode_corpus
    from lsr.models import load_encoder

    from helpers import make_tiny_mlm

    encoder = load_encoder(make_tiny_mlm(tmp_path / "mlm", ["heart", "liver"]))
    folder = tmp_path / "not" / "yet" / "vectors"
    docs = [Document("a", "heart"), Document("b", "liver"), Document("c", "heart liver")]
    stats = encode_corpus(docs, encoder, folder, model_name="mlm", part_size=2, progress=False)
    assert (stats.num_docs, stats.encoded_now) == (3, 3)
    assert [SparseVectors.read_parquet(p).ids for p in part_paths(folder)] == [["a", "b"], ["c"]]
    assert json.loads((folder / VECTORS_INFO).read_text()) == {
        "model": "mlm", "encoder_kind": encoder.kind, "settings": json.loads(json.dumps(encoder.settings)),
        "vocab_fingerprint": encoder.fingerprint}


# --- lsr/indexing/pruning.py ---------------------------------------------------------------------------


def test_pruning_applies_its_own_top_k_and_threshold_to_documents_and_to_queries():
    """Each side uses both of its own settings: weights strictly above the threshold, then the top k."""
    from lsr.pruning import Pruning

    vectors = SparseVectors.from_dicts([{"a": 0.875, "b": 0.5, "c": 0.125, "d": 0.75}, {"a": 0.0625, "b": 0.25},
                                        {"c": 0.125}], ["x", "y", "z"], VOCAB)
    pruning = Pruning(doc_top_k=2, doc_threshold=0.375, query_top_k=1, query_threshold=0.1875)
    assert pruning.docs(vectors).to_dicts(VOCAB) == [{"a": 0.875, "d": 0.75}, {}, {}]
    assert pruning.queries(vectors).to_dicts(VOCAB) == [{"a": 0.875}, {"b": 0.25}, {}]
    assert Pruning().docs(vectors).to_dicts(VOCAB) == Pruning().queries(vectors).to_dicts(VOCAB) == \
        vectors.to_dicts(VOCAB)


# --- lsr/indexing/stats.py -----------------------------------------------------------------------------


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


# --- lsr/eval/report.py: the look of report.png ----------------------------------------------------------


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

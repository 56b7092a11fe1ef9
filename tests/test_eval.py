"""TREC run files and metrics (lsr.eval)."""

from __future__ import annotations

import csv
import math

import pytest
from ir_measures import Qrel

from lsr.errors import LsrError
from lsr.eval import EvalResult, evaluate, evaluate_per_query, format_table, parse_measures
from lsr.runs import read_trec_run, write_trec_run

# q1: relevant a (2) and b (1); the run ranks x, a, y, b.
# q2: relevant c (1); the run ranks c first.
# q3: relevant d (1); missing from the run.
# q4: only a non-relevant judgement: not evaluated. q9: unjudged run query: ignored.
QRELS = [Qrel("q1", "a", 2), Qrel("q1", "b", 1), Qrel("q1", "y", 0), Qrel("q2", "c", 1),
         Qrel("q3", "d", 1), Qrel("q4", "e", 0)]
RUN = {"q1": [("x", 4.0), ("a", 3.0), ("y", 2.0), ("b", 1.0)],
       "q2": [("c", 9.0), ("z", 1.0)],
       "q9": [("c", 1.0)]}


def test_run_round_trip(tmp_path):
    path = tmp_path / "out" / "run.trec"
    run = {"q2": [("d7", 2.5), ("d1", 0.1 + 0.2)], "q1": [("d1", -1.0)]}
    write_trec_run(run, path, tag="splade")
    assert path.read_text().splitlines()[:2] == ["q2 Q0 d7 1 2.5 splade", "q2 Q0 d1 2 0.30000000000000004 splade"]
    back = read_trec_run(path)
    assert back == run and list(back) == ["q2", "q1"]


def test_read_sorts_by_score_then_file_rank(tmp_path):
    path = tmp_path / "run.trec"
    path.write_text("q Q0 a 3 1.0 t\nq Q0 b 1 2.0 t\n\nq Q0 c 2 1.0 t\n")
    assert read_trec_run(path) == {"q": [("b", 2.0), ("c", 1.0), ("a", 1.0)]}


@pytest.mark.parametrize("bad, message", [
    ("q Q0 b 2 1.0", "expected 6 fields"),
    ("q Q0 b 2 high t", "score 'high' is not a finite number"),
    ("q Q0 b 2 nan t", "not a finite number"),
    ("q Q0 b two 1.0 t", "rank 'two' is not an integer"),
    ("q Q0 a 2 1.0 t", "doc 'a' repeats for query 'q' (first on line 1)"),
])
def test_read_malformed_line(tmp_path, bad, message):
    path = tmp_path / "run.trec"
    path.write_text(f"q Q0 a 1 2.0 t\n{bad}\n")
    with pytest.raises(LsrError, match=r"run\.trec:2: ") as err:
        read_trec_run(path)
    assert message in str(err.value)


def test_read_missing_file(tmp_path):
    with pytest.raises(LsrError, match="no such run file"):
        read_trec_run(tmp_path / "absent.trec")


def test_write_refuses_whitespace_ids(tmp_path):
    with pytest.raises(LsrError, match="doc id"):
        write_trec_run({"q": [("a b", 1.0)]}, tmp_path / "run.trec")
    assert not (tmp_path / "run.trec").exists()


def test_metrics_by_hand():
    per_query = evaluate_per_query(RUN, QRELS, ["nDCG@10", "RR@10", "R@100", "R@2"])
    # q1: DCG = 2/log2(3) + 1/log2(5); ideal = 2/log2(2) + 1/log2(3).
    ndcg_q1 = (2 / math.log2(3) + 1 / math.log2(5)) / (2 + 1 / math.log2(3))
    assert per_query["nDCG@10"] == pytest.approx({"q1": ndcg_q1, "q2": 1.0, "q3": 0.0})
    assert per_query["RR@10"] == pytest.approx({"q1": 0.5, "q2": 1.0, "q3": 0.0})
    assert per_query["R@100"] == pytest.approx({"q1": 1.0, "q2": 1.0, "q3": 0.0})
    assert per_query["R@2"] == pytest.approx({"q1": 0.5, "q2": 1.0, "q3": 0.0})


def test_missing_query_counts_as_zero():
    result = evaluate(RUN, QRELS, ["RR@10", "R@100"])
    assert result == EvalResult(values=pytest.approx({"RR@10": 1.5 / 3, "R@100": 2 / 3}),
                                num_queries=3, num_missing=1)
    assert evaluate({}, QRELS, ["RR@10"]).values == {"RR@10": 0.0}


def test_hits_are_scored_in_list_order():
    # Equal scores: the list order decides, not the doc ids.
    run = {"q2": [("z", 1.0), ("c", 1.0)]}
    assert evaluate_per_query(run, QRELS, ["RR@10"])["RR@10"]["q2"] == 0.5


def test_default_measures_and_mrr_alias():
    result = evaluate(RUN, QRELS)
    assert list(result.values) == ["nDCG@10", "R@100", "MRR@10"]
    assert result.values["MRR@10"] == pytest.approx(0.5)
    assert parse_measures(["MRR@10"]) == parse_measures(["RR@10"])


@pytest.mark.parametrize("name", ["ndcg@10", "nDCG@", "Bogus"])
def test_unknown_measure(name):
    with pytest.raises(LsrError, match=f"unknown measure '{name}'"):
        evaluate(RUN, QRELS, ["nDCG@10", name])


def test_no_relevant_judgements():
    with pytest.raises(LsrError, match="nothing to evaluate"):
        evaluate(RUN, [Qrel("q1", "a", 0)])


def test_format_table():
    table = format_table({"bm25": {"nDCG@10": 0.5, "R@100": 0.123456}, "splade-v3": {"nDCG@10": 1.0}})
    assert table == (
        "| run       | nDCG@10 |  R@100 |\n"
        "| --------- | ------: | -----: |\n"
        "| bm25      |  0.5000 | 0.1235 |\n"
        "| splade-v3 |  1.0000 |      - |"
    )


def test_perfect_run_on_scifact(scifact):
    with open(scifact / "qrels" / "test.tsv", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    qrels = [Qrel(r["query-id"], r["corpus-id"], int(r["score"])) for r in rows]
    relevant: dict[str, list[str]] = {}
    for q in sorted(qrels, key=lambda q: -q.relevance):
        if q.relevance > 0:
            relevant.setdefault(q.query_id, []).append(q.doc_id)
    run = {qid: [(doc, -float(i)) for i, doc in enumerate([*docs, "not-relevant"])] for qid, docs in relevant.items()}
    result = evaluate(run, qrels, ["nDCG@10", "MRR@10", "R@100"])
    assert result.num_queries == len(run) == 300 and result.num_missing == 0
    assert result.values == pytest.approx({"nDCG@10": 1.0, "MRR@10": 1.0, "R@100": 1.0})
    dropped = evaluate({qid: hits for qid, hits in run.items() if qid != qrels[0].query_id}, qrels, ["nDCG@10"])
    assert dropped.num_missing == 1 and dropped.values["nDCG@10"] == pytest.approx(299 / 300)

"""Retrieval effectiveness with ir-measures, counting queries the run missed as zero.

ir-measures (like trec_eval's default) averages only over queries present in the run,
which flatters a run that drops queries. Here every query with at least one relevant
judgement (relevance > 0) is evaluated, and one without hits scores 0 on every measure.
Measures are keyed by the names exactly as the caller wrote them (e.g. "MRR@10").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import fmean

import ir_measures
from ir_measures import Qrel, ScoredDoc

from lsr.errors import LsrError
from lsr.runs import Run

DEFAULT_MEASURES = ("nDCG@10", "R@100", "MRR@10")
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalResult:
    """Mean value per measure name, over `num_queries` judged queries, `num_missing` of them without hits."""

    values: dict[str, float]
    num_queries: int
    num_missing: int


def parse_measures(names: Sequence[str]) -> list[ir_measures.Measure]:
    """Parse ir-measures names ("nDCG@10", "R@100", "MRR@10" = "RR@10", ...); `LsrError` names a bad one."""
    measures = []
    for name in names:
        try:
            measures.append(ir_measures.parse_measure(name))
        except (NameError, ValueError) as err:
            raise LsrError(f"unknown measure {name!r} (expected an ir-measures name such as nDCG@10): {err}") from None
    return measures


def evaluate_per_query(run: Run, qrels: Iterable[Qrel], measures: Sequence[str]) -> dict[str, dict[str, float]]:
    """Measure name -> {query id: value} for every judged query; a query without hits gets 0.

    Hits are scored in list order (rank 1 first), so ties in score are not re-broken by doc id.
    Run queries without relevant judgements are ignored.
    """
    qrels = list(qrels)
    parsed = dict(zip(measures, parse_measures(measures)))
    qids = _judged_queries(qrels)
    judged = set(qids)
    scored = [ScoredDoc(qid, doc, float(len(run[qid]) - rank))
              for qid in qids if qid in run for rank, (doc, _) in enumerate(run[qid])]
    values = {measure: dict.fromkeys(qids, 0.0) for measure in parsed.values()}
    if scored and values:
        for metric in ir_measures.iter_calc(list(values), [q for q in qrels if q.query_id in judged], scored):
            values[metric.measure][metric.query_id] = metric.value
    return {name: values[measure] for name, measure in parsed.items()}


def evaluate(run: Run, qrels: Iterable[Qrel], measures: Sequence[str] = DEFAULT_MEASURES) -> EvalResult:
    """Mean of each measure over all judged queries (missing ones count as 0), with query counts."""
    qrels = list(qrels)
    qids = _judged_queries(qrels)
    if not qids:
        raise LsrError("the qrels judge no document relevant (relevance > 0); there is nothing to evaluate")
    _warn_if_shallow(run, measures)
    per_query = evaluate_per_query(run, qrels, measures)
    return EvalResult(values={name: fmean(by_query.values()) for name, by_query in per_query.items()},
                      num_queries=len(qids), num_missing=sum(1 for qid in qids if not run.get(qid)))


def _warn_if_shallow(run: Run, measures: Sequence[str]) -> None:
    """Warn when a measure looks deeper (R@100) than the run's deepest ranking (10 hits)."""
    depth = max((len(hits) for hits in run.values()), default=0)
    for name, measure in zip(measures, parse_measures(measures)):
        cutoff = measure.params.get("cutoff")
        if cutoff is not None and depth and cutoff > depth:
            log.warning("%s looks at %d hits but the run has at most %d per query: it is measured on a "
                        "shallower ranking than its name says", name, cutoff, depth)


def format_table(results: Mapping[str, Mapping[str, float]]) -> str:
    """A Markdown table: one row per run name, one column per measure, values to 4 decimals ("-" if absent)."""
    measures = list(dict.fromkeys(name for values in results.values() for name in values))
    rows = [["run", *measures]]
    rows += [[run, *(f"{values[m]:.4f}" if m in values else "-" for m in measures)] for run, values in results.items()]
    widths = [max(3, *(len(row[i]) for row in rows)) for i in range(len(rows[0]))]
    rule = ["-" * widths[0], *("-" * (w - 1) + ":" for w in widths[1:])]

    def line(cells: list[str]) -> str:
        padded = [cells[0].ljust(widths[0]), *(c.rjust(w) for c, w in zip(cells[1:], widths[1:]))]
        return "| " + " | ".join(padded) + " |"

    return "\n".join([line(rows[0]), line(rule), *(line(row) for row in rows[1:])])


def _judged_queries(qrels: list[Qrel]) -> list[str]:
    """Ids of queries with at least one relevant judgement, in first-seen order."""
    return list(dict.fromkeys(q.query_id for q in qrels if q.relevance > 0))

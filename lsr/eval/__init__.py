"""Evaluation: ir-measures metrics (missing queries count as 0), significance, costs (postings, FLOPS,
size), latency, BEIR dataset names and reports."""

from lsr.eval.metrics import DEFAULT_MEASURES, EvalResult, evaluate, evaluate_per_query, format_table, parse_measures

__all__ = ["DEFAULT_MEASURES", "EvalResult", "evaluate", "evaluate_per_query", "format_table", "parse_measures"]

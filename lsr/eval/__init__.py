"""Evaluation: TREC run files and ir-measures metrics (missing queries count as 0)."""

from lsr.eval.metrics import (DEFAULT_MEASURES, EvalResult, evaluate, evaluate_per_query, format_table,
                              parse_measures)
from lsr.eval.run import Run, read_trec_run, write_trec_run

__all__ = ["DEFAULT_MEASURES", "EvalResult", "Run", "evaluate", "evaluate_per_query", "format_table",
           "parse_measures", "read_trec_run", "write_trec_run"]

"""The top k of several impact shard indexes merged into the run one index of all their documents gives.

One index ranks by Lucene score, ties by document id (the UTF-8 bytes compared unsigned: Anserini's
BREAK_SCORE_TIES_BY_DOCID, `BulkSearcher.TopByScoreThenId`), then writes each score through Anserini's tie
adjustment (round to 4 decimals, lower the n-th of a run of equal scores by n x 1e-6, in float) and as the
run file prints it (`%f`). An impact score is an integer sum (query weight x document impact, exact in
float below 2^24, and the same float for a document in any index above), so it compares exactly across
shards and is the run score rounded to the nearest integer while fewer than 500,000 hits tie (the
adjustment stays under 0.5). The merge takes those integers, ranks the shards' hits as one index would,
and adjusts and prints the scores again for the merged ranks, with the arithmetic of BulkSearcher
(`adjustTies`, `asPrinted`). BM25 scores carry per-index statistics (document count, average length,
document frequencies) and do not compare across shards: only impact indexes are sharded.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from decimal import ROUND_HALF_UP, Decimal

import numpy as np

from lsr.errors import LsrError
from lsr.runs import Run

MAX_MERGED_K = 500_000
"""The largest k whose scores the merge reads back exactly (see the module's docstring)."""
_TIE_STEP = np.float32(1e-6)  # Java's 1.0e-6f
_SIX_DECIMALS = Decimal("0.000001")


def check_merged_k(k: int) -> None:
    """LsrError for a k the merge cannot serve."""
    if k < 1:
        raise LsrError(f"k must be at least 1, got {k}")
    if k > MAX_MERGED_K:
        raise LsrError(f"a sharded index is searched for at most {MAX_MERGED_K} hits per query, not {k}")


def merge_runs(runs: Sequence[Run], query_ids: Sequence[str], k: int) -> Run:
    """The top `k` hits of each of `query_ids` over the shards' `runs` (each a shard's run for the same
    query vectors at the same k or more), ranked and scored as one index of all the shards' documents."""
    check_merged_k(k)
    merged: Run = {}
    for query_id in query_ids:
        lists = [hits for hits in (run.get(query_id) for run in runs) if hits]
        if len(lists) == 1:  # one shard's hits: ranked and scored as the whole index has them already
            merged[query_id] = lists[0][:k]
            continue
        # By integer score, then doc id: Python orders strings by code point, as their UTF-8 bytes order.
        # Each shard's hits are a sorted run already, which sorting their concatenation merges.
        top = sorted(itertools.chain.from_iterable(map(_keyed, lists)))[:k]
        scores = run_scores(np.array([-negated for negated, _ in top], dtype=np.float32))
        merged[query_id] = list(zip([doc for _, doc in top], scores.tolist()))
    return merged


def _keyed(hits: list[tuple[str, float]]) -> list[tuple[int, str]]:
    """(-integer score, doc id) of each hit: the order one index ranks hits in, ascending."""
    docs, scores = zip(*hits)
    return list(zip((-np.rint(scores)).astype(np.int64).tolist(), docs))


def run_scores(raw: np.ndarray) -> np.ndarray:
    """The run scores of hits ranked best first with the integer Lucene scores `raw` (float32): Anserini's
    tie adjustment in float (BulkSearcher.adjustTies), then each score as the run file prints it
    (BulkSearcher.asPrinted)."""
    if not len(raw):
        return np.zeros(0)
    # Rounding an integer to 4 decimals keeps it; a run of equal scores starts after a score at least 1
    # above (still above after its own adjustment, under 0.5): the n-th of the run is lowered by n x 1e-6.
    starts = np.flatnonzero(np.concatenate([[True], raw[1:] != raw[:-1]]))
    tied = np.arange(len(raw)) - np.repeat(starts, np.diff(np.append(starts, len(raw))))
    adjusted = np.where(tied > 0, raw - _TIE_STEP * tied.astype(np.float32), raw).astype(np.float32)
    return _as_printed(adjusted)


def _as_printed(scores: np.ndarray) -> np.ndarray:
    """Java's `String.format("%f", score)` read back as a double, as BulkSearcher.asPrinted computes it:
    away from a rounding tie, the nearest integer of score x 1e6 over 1e6; near one (or for scores of a
    million and more) the float's decimal digits rounded half up to six decimals."""
    scaled = scores.astype(np.float64) * 1e6
    fraction = scaled - np.floor(scaled)
    printed = np.rint(scaled) / 1e6
    for i in np.flatnonzero((np.abs(scaled) >= 1e12) | (np.abs(fraction - 0.5) <= 1e-3)):
        printed[i] = float(Decimal(repr(float(scores[i]))).quantize(_SIX_DECIMALS, ROUND_HALF_UP))
    return printed

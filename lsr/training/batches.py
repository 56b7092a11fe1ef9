"""Training groups: a query, one positive and hard negatives, with the teachers' target scores.

Which query, positive and negatives fill batch slot p depends only on (seed, p): the queries are
shuffled per epoch with a generator seeded by (seed, epoch) and each group's sampling by
(seed, p). A resumed run therefore sees exactly the batches an uninterrupted one would.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from lsr.data import TrainQuery
from lsr.errors import LsrError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Group:
    """One query's documents for a step: `doc_ids[0]` the positive; `targets` the teacher scores or None."""

    query_id: str
    query_text: str
    doc_ids: tuple[str, ...]
    targets: tuple[float, ...] | None


class GroupSampler:
    """Deterministic groups of `size` documents (1 positive + `size - 1` negatives) per training query.

    Negatives are drawn without replacement from the query's mined candidates (with replacement
    when there are fewer). With `targets`, the positive is drawn from the positives the teachers
    scored, and every document's target comes from them. Queries without candidates are left out.
    """

    def __init__(self, queries: Sequence[TrainQuery], candidates: Mapping[str, Sequence[str]], size: int, seed: int,
                 targets: Mapping[str, Mapping[str, float]] | None = None):
        self.size, self.seed, self.targets = size, seed, targets
        self.queries = [q for q in queries if candidates.get(q.id)]
        if len(self.queries) < len(queries):
            log.warning("%d of %d training queries have no mined negatives and are left out",
                        len(queries) - len(self.queries), len(queries))
        if not self.queries:
            raise LsrError("no training query has both a positive and a mined negative")
        self.candidates = {q.id: list(candidates[q.id]) for q in self.queries}

    def __len__(self) -> int:
        return len(self.queries)

    def batch(self, number: int, queries_per_batch: int) -> list[Group]:
        """Batch `number` (0, 1, ...) of the endless epoch sequence."""
        start = number * queries_per_batch
        return [self.group(position) for position in range(start, start + queries_per_batch)]

    def group(self, position: int) -> Group:
        epoch, offset = divmod(position, len(self.queries))
        order = np.random.default_rng([self.seed, epoch]).permutation(len(self.queries))
        query = self.queries[order[offset]]
        rng = np.random.default_rng([self.seed, 1_000_003, position])
        positives = query.positives
        if self.targets is not None:
            positives = tuple(p for p in positives if p in self.targets.get(query.id, {})) or positives
        positive = positives[rng.integers(len(positives))]
        pool = self.candidates[query.id]
        needed = self.size - 1
        picks = rng.choice(len(pool), size=needed, replace=len(pool) < needed)
        doc_ids = (positive, *(pool[i] for i in picks))
        targets = None
        if self.targets is not None:
            scores = self.targets[query.id]
            targets = tuple(float(scores[d]) for d in doc_ids)
        return Group(query.id, query.text, doc_ids, targets)

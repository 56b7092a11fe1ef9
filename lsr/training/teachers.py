"""Teachers score (query, candidate) pairs; an ensemble normalises and combines their scores.

Teacher kinds (specs as in `lsr.training.retrievers`):
    cross:FOLDER   a `*ForSequenceClassification` cross-encoder: its logit for (query, document text)
    dense:FOLDER   a bi-encoder: inner product of the embeddings (cosine for normalised models)
    bm25, index:DIR  a sparse retriever: its score for the pair; a candidate outside its top
                   `SPARSE_DEPTH` gets the lowest score it retrieved for that query (0 if none)

Ensemble (heterogeneous distillation, Geng et al. 2024, as in OpenSearch's training code): for each
teacher t and query q, over q's candidates c, s'_t(q,c) = (s_t(q,c) - min_c s_t) / (max_c s_t - min_c s_t
+ 1e-6); the target is scale · Σ_t w_t s'_t(q,c) / Σ_t w_t (equal weights by default, scale 30).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

from lsr.data import Query
from lsr.training.retrievers import Retriever, Spec

log = logging.getLogger(__name__)
Scores = dict[str, dict[str, float]]
SPARSE_DEPTH = 1000


def teacher_scores(spec: Spec, queries: Sequence[Query], pairs: Mapping[str, Sequence[str]], *,
                   corpus: str | None, doc_texts: Mapping[str, str] | None, work: Path,
                   progress: bool = True) -> Scores:
    """The teacher's score of every (query id, doc id) in `pairs`: a cross-encoder's from `doc_texts`, the
    others' from searching `corpus`."""
    wanted = [q for q in queries if pairs.get(q.id)]
    if spec.kind == "cross":
        from lsr.models.cross_encoder import CrossEncoder

        assert doc_texts is not None  # a cross-encoder scores the documents' texts
        model = CrossEncoder.from_folder(spec.target)
        text_of = {q.id: q.text for q in wanted}
        keys = [(q.id, doc) for q in wanted for doc in pairs[q.id]]
        values = model.score([(text_of[qid], doc_texts[doc]) for qid, doc in keys], progress=progress)
        scores: Scores = {}
        for (qid, doc), value in zip(keys, values.tolist()):
            scores.setdefault(qid, {})[doc] = float(value)
        return scores
    assert corpus is not None  # every teacher but a cross-encoder searches the corpus
    retriever = Retriever(spec, corpus, work, progress=progress)
    if spec.kind == "dense":
        return retriever.dense_scores(wanted, {q.id: list(pairs[q.id]) for q in wanted})
    run = retriever.search(wanted, SPARSE_DEPTH, progress=progress)
    scores = {}
    for query in wanted:
        found = dict(run.get(query.id, []))
        floor = min(found.values(), default=0.0)
        scores[query.id] = {doc: found.get(doc, floor) for doc in pairs[query.id]}
    return scores


def ensemble(teachers: Sequence[Scores], weights: Sequence[float] | None = None, scale: float = 30.0) -> Scores:
    """Per-query min-max normalised teacher scores, weighted mean, times `scale` (see the module notes).

    Every teacher must score the same pairs.
    """
    weights = list(weights) if weights is not None else [1.0] * len(teachers)
    total = sum(weights)
    combined: Scores = {}
    for qid, docs in teachers[0].items():
        mixed = dict.fromkeys(docs, 0.0)
        for scores, weight in zip(teachers, weights):
            row = scores[qid]
            low, high = min(row.values()), max(row.values())
            for doc in mixed:
                mixed[doc] += weight * (row[doc] - low) / (high - low + 1e-6)
        combined[qid] = {doc: scale * value / total for doc, value in mixed.items()}
    return combined


def ranking(scores: Scores) -> dict[str, list[tuple[str, float]]]:
    """Scores as a run: each query's candidates best first (ties by doc id)."""
    return {qid: sorted(docs.items(), key=lambda hit: (-hit[1], hit[0])) for qid, docs in scores.items()}

"""Export an lsr impact index to OpenSearch or Elasticsearch: the documents' term weights as bulk
NDJSON for a `rank_features` field, the index mapping, and queries as query bodies.

The weights are the model's floats from the index's Parquet vectors, pruned as the index's Lucene
documents are, so the engine scores the model's dot product Σ_t q_t·d_t:

- OpenSearch: `{"neural_sparse": {FIELD: {"query_tokens": {term: q_t, ...}}}}` (OpenSearch ≥ 2.11) sums
  q_t times the document's feature value over the query's terms.
- Elasticsearch (and OpenSearch without the neural-search plugin): a `bool` of `should` clauses
  `{"rank_feature": {"field": "FIELD.term", "linear": {}, "boost": q_t}}`, the same sum.

`rank_features` keeps 9 significant bits of each value (about 0.4 % relative error), so the engine's
scores differ from lsr's by that much per term; values must be strictly positive (zeros are dropped).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from lsr.errors import LsrError
from lsr.fileio import atomic_path, write_text_atomic
from lsr.indexing.layout import VECTORS_DIR, IndexInfo, part_paths
from lsr.pruning import Pruning
from lsr.sparse import SparseVectors

DEFAULT_FIELD = "sparse_embedding"
ENGINES = ("opensearch", "elasticsearch")
DOCS_PER_FILE = 10_000
"""Documents per bulk file: a few MB each, a comfortable size for one `_bulk` request."""


@dataclass
class ExportStats:
    """What an export wrote."""

    num_docs: int
    num_files: int
    postings: int


def mapping(field: str = DEFAULT_FIELD) -> dict[str, Any]:
    """The index body to create the target index with: the document id and the term weights."""
    return {"mappings": {"properties": {"doc_id": {"type": "keyword"}, field: {"type": "rank_features"}}}}


def query_body(terms: dict[str, float], field: str = DEFAULT_FIELD, *, engine: str = "opensearch",
               k: int = 10) -> dict[str, Any]:
    """A `_search` body that ranks the index's documents by Σ_t q_t·d_t for the query weights `terms`."""
    query: dict[str, Any]
    if engine == "opensearch":
        query = {"neural_sparse": {field: {"query_tokens": terms}}}
    elif engine == "elasticsearch":
        query = {"bool": {"should": [{"rank_feature": {"field": f"{field}.{term}", "linear": {}, "boost": weight}}
                                     for term, weight in terms.items()]}}
    else:
        raise LsrError(f"engine {engine!r}: expected one of {', '.join(ENGINES)}")
    return {"size": k, "query": query, "_source": ["doc_id"]}


def export_index(index_dir: str | Path, vocab: Sequence[str], out: str | Path, *, index_name: str,
                 field: str = DEFAULT_FIELD, docs_per_file: int = DOCS_PER_FILE) -> ExportStats:
    """Write OUT/mapping.json and OUT/bulk-00000.ndjson, ... (each `_bulk` request's body) for the
    documents of the impact index `index_dir`, whose model has the vocabulary `vocab`; OUT is written
    whole or not at all."""
    folder = Path(index_dir)
    info = IndexInfo.read(folder)
    if info.kind != "impact":
        raise LsrError(f"{folder} is a BM25 index: only impact indexes have term weights to export")
    shards = part_paths(folder / VECTORS_DIR)
    if not shards:
        raise LsrError(f"{folder}: no {VECTORS_DIR}/ Parquet shards to export")
    pruning = Pruning.from_dict(info.pruning)
    stats = ExportStats(0, 0, 0)
    with atomic_path(Path(out), is_dir=True) as tmp:
        tmp.mkdir(parents=True, exist_ok=True)
        write_text_atomic(tmp / "mapping.json", json.dumps(mapping(field), indent=2) + "\n")
        lines: list[str] = []
        for vectors in (pruning.docs(SparseVectors.read_parquet(path)) for path in shards):
            for doc_id, terms in zip(vectors.ids, _term_dicts(vectors, vocab)):
                if not terms:
                    continue  # a blank or fully pruned document: absent from Lucene too
                lines.append(json.dumps({"index": {"_index": index_name, "_id": doc_id}}, ensure_ascii=False))
                lines.append(json.dumps({"doc_id": doc_id, field: terms}, ensure_ascii=False))
                stats.num_docs += 1
                stats.postings += len(terms)
                if len(lines) == 2 * docs_per_file:
                    _write_bulk(tmp, stats, lines)
        if lines:
            _write_bulk(tmp, stats, lines)
    return stats


def export_queries(vectors: SparseVectors, vocab: Sequence[str], out: str | Path, field: str = DEFAULT_FIELD, *,
                   engine: str = "opensearch", k: int = 10) -> int:
    """Write one JSON line per query vector (float weights), `{"id": ..., "body": <_search body>}`;
    the number of queries."""
    with atomic_path(Path(out)) as tmp, open(tmp, "w", encoding="utf-8") as f:
        for query_id, terms in zip(vectors.ids, _term_dicts(vectors, vocab)):
            f.write(json.dumps({"id": query_id, "body": query_body(terms, field, engine=engine, k=k)},
                               ensure_ascii=False) + "\n")
    return len(vectors)


def _term_dicts(vectors: SparseVectors, vocab: Sequence[str]) -> Iterator[dict[str, float]]:
    """Each row as {term: weight}, positive weights only (what rank_features accepts), each float32
    weight written as the shortest decimal that reads back as it."""
    if vectors.is_quantized:
        raise LsrError("export float vectors (the index's Parquet shards), not quantized ones")
    for i in range(len(vectors)):
        terms, weights = vectors.row(i)
        yield {vocab[t]: float(str(w)) for t, w in zip(terms.tolist(), weights.astype(np.float32)) if w > 0}


def _write_bulk(folder: Path, stats: ExportStats, lines: list[str]) -> None:
    (folder / f"bulk-{stats.num_files:05d}.ndjson").write_text("\n".join(lines) + "\n", encoding="utf-8")
    stats.num_files += 1
    lines.clear()

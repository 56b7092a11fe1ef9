"""`lsr export`: bulk NDJSON and query bodies for OpenSearch / Elasticsearch rank_features fields.

The exported documents, scored with the exported query weights by a plain Σ q_t·d_t here, must rank
as lsr's own Lucene search does (which scores the same floats quantized at scale 100)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from lsr.cli.main import cli
from lsr.data import read_queries
from lsr.indexing.build import build_bm25_index, build_impact_index
from lsr.models import load_encoder
from lsr.pruning import Pruning
from lsr.search.lucene import LuceneSearcher

from helpers import write_beir

NUM_DOCS = 120


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, mini_scifact) -> Path:
    docs = [json.loads(line) for line in open(mini_scifact / "corpus.jsonl")][:NUM_DOCS]
    docs.append({"_id": "blank", "title": "", "text": "  "})
    queries = [json.loads(line) for line in open(mini_scifact / "queries.jsonl")][:15]
    return write_beir(tmp_path_factory.mktemp("export"), docs, queries,
                      [(q["_id"], docs[0]["_id"], 1) for q in queries])


@pytest.fixture(scope="module")
def impact_index(tmp_path_factory, corpus, splade_tiny) -> Path:
    out = tmp_path_factory.mktemp("export-index") / "scifact-splade"
    build_impact_index(str(corpus), out, splade_tiny, encoder=load_encoder(splade_tiny, long_docs="first"),
                       pruning=Pruning(doc_top_k=40), progress=False)
    return out


def lsr(*args) -> tuple[int, str]:
    result = CliRunner().invoke(cli, [str(a) for a in args])
    return result.exit_code, result.output


def read_bulk(folder: Path) -> list[tuple[dict, dict]]:
    lines = [json.loads(line) for path in sorted(folder.glob("bulk-*.ndjson"))
             for line in path.read_text().splitlines()]
    return list(zip(lines[::2], lines[1::2]))


def test_export_writes_the_mapping_and_every_non_blank_document(impact_index, corpus, tmp_path):
    code, output = lsr("export", impact_index, "-o", tmp_path / "os", "--queries", corpus)
    assert code == 0, output
    assert json.loads((tmp_path / "os" / "mapping.json").read_text()) == {
        "mappings": {"properties": {"doc_id": {"type": "keyword"}, "sparse_embedding": {"type": "rank_features"}}}}
    pairs = read_bulk(tmp_path / "os")
    assert len(pairs) == NUM_DOCS  # the blank document is not exported (nor is it in Lucene)
    for action, source in pairs:
        assert action == {"index": {"_index": "scifact-splade", "_id": source["doc_id"]}}
        weights = source["sparse_embedding"]
        assert 0 < len(weights) <= 40 and all(w > 0 for w in weights.values())  # pruned as the index is
    assert f"wrote {NUM_DOCS} documents" in output


def test_exported_weights_rank_as_lsrs_search(impact_index, corpus, tmp_path):
    assert lsr("export", impact_index, "-o", tmp_path / "os", "--queries", corpus, "-k", 5)[0] == 0
    docs = {source["doc_id"]: source["sparse_embedding"] for _, source in read_bulk(tmp_path / "os")}
    bodies = [json.loads(line) for line in (tmp_path / "os" / "queries.jsonl").read_text().splitlines()]
    queries = read_queries(str(corpus), "test")
    assert [b["id"] for b in bodies] == [q.id for q in queries]
    searcher = LuceneSearcher(impact_index)
    for body, query in zip(bodies, queries):
        assert body["body"]["size"] == 5
        terms = body["body"]["query"]["neural_sparse"]["sparse_embedding"]["query_tokens"]
        scores = {doc: sum(w * weights.get(t, 0.0) for t, w in terms.items()) for doc, weights in docs.items()}
        exported = sorted((s for s in scores.values() if s > 0), reverse=True)[:10]
        lucene = [score for _, score in searcher.search_one(query.text, 10)]
        # Lucene scores integer impacts (weights rounded at scale 100): equal to about 1 %
        assert exported == pytest.approx(lucene, rel=0.02, abs=0.02), query.id


def test_elasticsearch_bodies_are_rank_feature_clauses(impact_index, corpus, tmp_path):
    assert lsr("export", impact_index, "-o", tmp_path / "es", "--queries", corpus, "--engine", "elasticsearch",
               "--field", "ml", "--index-name", "docs")[0] == 0
    body = json.loads((tmp_path / "es" / "queries.jsonl").read_text().splitlines()[0])["body"]
    clauses = body["query"]["bool"]["should"]
    assert clauses and all(set(c["rank_feature"]) == {"field", "linear", "boost"} for c in clauses)
    assert all(c["rank_feature"]["field"].startswith("ml.") and c["rank_feature"]["boost"] > 0 for c in clauses)
    assert read_bulk(tmp_path / "es")[0][0]["index"]["_index"] == "docs"


def test_export_refuses_bm25_indexes_and_existing_folders(corpus, impact_index, tmp_path):
    bm25 = tmp_path / "bm25"
    build_bm25_index(str(corpus), bm25)
    code, output = lsr("export", bm25, "-o", tmp_path / "x")
    assert code == 2 and "is a BM25 index" in output and not (tmp_path / "x").exists()
    (tmp_path / "taken").mkdir()
    code, output = lsr("export", impact_index, "-o", tmp_path / "taken")
    assert code == 2 and "exists: pass --overwrite" in output
    assert lsr("export", impact_index, "-o", tmp_path / "taken", "--overwrite")[0] == 0

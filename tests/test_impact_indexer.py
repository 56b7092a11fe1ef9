"""lsr's Java ImpactIndexer against Anserini's IndexCollection (lsr's former impact writer).

From the same Parquet shards both must give the same Lucene index, as far as anything can read it:
the same fields and options, documents, terms with their document and total frequencies, postings
(term frequency = impact), norms, stored ids and id doc values, and therefore the same runs.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from lsr.data import Query
from lsr.lucene import writers as lucene
from lsr.indexing.build import build_impact_index
from lsr.indexing.layout import part_paths
from lsr.indexing.layout import LUCENE_DIR, VECTORS_DIR
from lsr.lucene.jvm import jclass, jnius
from lsr.pruning import Pruning
from lsr.search.lucene import LuceneSearcher
from lsr.models import load_encoder
from tests.conftest import write_beir

NUM_DOCS = 200


@pytest.fixture(scope="module")
def built(tmp_path_factory, mini_scifact, splade_tiny) -> tuple[Path, Path]:
    """An impact index written by lsr's indexer (from `lsr index`'s own build) and one written by
    Anserini from the same shards (pruned, scale 37); blank and duplicate-text documents included."""
    docs = [json.loads(line) for line in open(mini_scifact / "corpus.jsonl")][:NUM_DOCS]
    docs += [{"_id": "blank", "title": "", "text": " "}, {**docs[0], "_id": "copy-of-first"}]
    queries = [json.loads(line) for line in open(mini_scifact / "queries.jsonl")][:30]
    corpus = write_beir(tmp_path_factory.mktemp("indexer-corpus"), docs, queries,
                        [(q["_id"], docs[0]["_id"], 1) for q in queries])
    ours = tmp_path_factory.mktemp("indexer") / "ours"
    pruning = Pruning(doc_top_k=60)
    build_impact_index(str(corpus), ours, splade_tiny, encoder=load_encoder(splade_tiny, long_docs="first"),
                       scale=37.0, pruning=pruning, part_size=64, progress=False)
    theirs = tmp_path_factory.mktemp("anserini") / "lucene"
    encoder = load_encoder(splade_tiny, long_docs="first")
    stats = lucene.write_impact_index_with_anserini(part_paths(ours / VECTORS_DIR), encoder.vocab, 37.0, theirs,
                                                    pruning=pruning)
    assert stats.num_docs == NUM_DOCS + 2 and stats.num_empty == 1
    return ours, theirs


def open_reader(lucene_dir: Path):
    path = jclass("java.io.File")(str(lucene_dir)).toPath()
    return jclass("org.apache.lucene.index.DirectoryReader").open(jclass("org.apache.lucene.store.FSDirectory").open(path))


def describe(lucene_dir: Path) -> dict:
    """Everything a reader sees, keyed by external id where documents are concerned."""
    reader = open_reader(lucene_dir)
    try:
        index_reader = jnius().cast("org.apache.lucene.index.IndexReader", reader)  # the overload pyjnius needs
        merged = jclass("org.apache.lucene.index.MultiTerms").getTerms(index_reader, "contents")
        terms, postings = {}, {}
        iterator = merged.iterator()
        ids = []
        stored = reader.storedFields()
        for doc in range(reader.maxDoc()):
            ids.append(stored.document(doc).get("id"))
        while (term := iterator.next()) is not None:
            text = term.utf8ToString()
            terms[text] = (iterator.docFreq(), iterator.totalTermFreq())
            docs = iterator.postings(None, 8)  # PostingsEnum.FREQS
            while (doc := docs.nextDoc()) != 2147483647:
                postings[ids[doc], text] = docs.freq()
        fields, norms, doc_values = {}, {}, {}
        for leaf in reader.leaves().toArray():
            leaf = jnius().cast("org.apache.lucene.index.LeafReaderContext", leaf)
            for info in leaf.reader().getFieldInfos().iterator():
                fields[info.name] = (info.getIndexOptions().toString(), info.getDocValuesType().toString(),
                                     info.hasNorms(), info.hasVectors(), info.hasPayloads())
            values = leaf.reader().getNormValues("contents")
            while (doc := values.nextDoc()) != 2147483647:
                norms[ids[leaf.docBase + doc]] = values.longValue()
            binary = leaf.reader().getBinaryDocValues("id")
            while (doc := binary.nextDoc()) != 2147483647:
                doc_values[ids[leaf.docBase + doc]] = binary.binaryValue().utf8ToString()
        return {"num_docs": reader.numDocs(), "segments": reader.leaves().size(), "ids": sorted(ids),
                "fields": fields, "terms": terms, "postings": postings, "norms": norms, "doc_values": doc_values}
    finally:
        reader.close()


def test_lsrs_impact_indexer_writes_anserinis_index(built):
    ours, theirs = built
    mine, reference = describe(ours / LUCENE_DIR), describe(theirs)
    assert mine["num_docs"] == NUM_DOCS + 1  # the blank document is left out by both
    assert mine["segments"] == 1  # merged, as Anserini's -optimize does: single queries are faster
    assert "blank" not in mine["ids"] and "copy-of-first" in mine["ids"]
    for key in reference:
        assert mine[key] == reference[key], key
    assert mine["doc_values"] == {doc_id: doc_id for doc_id in mine["ids"]}
    assert max(mine["postings"].values()) > 1  # frequencies carry the impacts


def test_searches_of_both_indexes_give_the_same_runs(built, mini_scifact):
    ours, theirs = built
    queries = [Query(q["_id"], q["text"]) for q in map(json.loads, open(mini_scifact / "queries.jsonl"))][:30]
    searcher = LuceneSearcher(ours)
    vectors = searcher.encode_queries(queries)
    mine = searcher.search_vectors(vectors, 100)
    other = LuceneSearcher(ours, searcher.encoder)
    other.lucene_dir = theirs  # the same metadata (scale 37, the model), Anserini's Lucene files
    assert other.search_vectors(vectors, 100) == mine and sum(map(len, mine.values())) > 1000


def test_without_the_helper_the_index_is_written_by_anserini(built, monkeypatch, caplog, tmp_path):
    ours, theirs = built
    monkeypatch.setattr(lucene, "impact_indexer_class", lambda: None)
    encoder_vocab = LuceneSearcher(ours).encoder.vocab
    with caplog.at_level(logging.WARNING):
        lucene.write_impact_index(part_paths(ours / VECTORS_DIR), encoder_vocab, 37.0, tmp_path / "fallback",
                                  pruning=Pruning(doc_top_k=60))
    assert "IndexCollection instead" in caplog.text
    assert describe(tmp_path / "fallback")["postings"] == describe(theirs)["postings"]

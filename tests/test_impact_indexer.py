"""lsr's Java ImpactIndexer against Anserini's IndexCollection (lsr's former impact writer).

From the same Parquet shards both must give the same Lucene index, as far as anything can read it:
the same fields and options, documents, terms with their document and total frequencies, postings
(term frequency = impact), norms, stored ids and id doc values, and therefore the same runs.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from lsr.data import Query
from lsr.errors import LsrError
from lsr.indexing.build import build_impact_index
from lsr.indexing.layout import LUCENE_DIR, VECTORS_DIR, IndexInfo, part_paths
from lsr.lucene import jvm
from lsr.lucene import writers as lucene
from lsr.lucene.jvm import jclass, jnius
from lsr.lucene.writers import ImpactStats
from lsr.models import load_encoder
from lsr.pruning import Pruning
from lsr.search.lucene import LuceneSearcher

from helpers import TINY_PRUNING, TINY_SCALE, error_of, every_term_query, pruned_impacts, write_beir

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
    directory = jclass("org.apache.lucene.store.FSDirectory").open(path)
    return jclass("org.apache.lucene.index.DirectoryReader").open(directory)


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


def test_without_the_jar_indexing_is_a_one_line_error(built, monkeypatch, tmp_path):
    """No silent fallback to Anserini's IndexCollection: the error says how to build the jar; nothing is written."""
    ours, _ = built
    encoder_vocab = LuceneSearcher(ours).encoder.vocab
    missing = tmp_path / "lsr-lucene.jar"
    monkeypatch.setattr(jvm, "HELPER_JAR", missing)
    with pytest.raises(LsrError) as caught:
        lucene.write_impact_index(part_paths(ours / VECTORS_DIR), encoder_vocab, 37.0, tmp_path / "out",
                                  pruning=Pruning(doc_top_k=60))
    assert str(caught.value) == f"{missing} is missing: build lsr's Java classes with `bash scripts/build_java.sh`"
    assert sorted(path.name for path in tmp_path.iterdir()) == []


def test_without_the_jar_a_fresh_process_fails_to_index_with_a_one_line_error(built, tmp_path):
    """The jar missing when the JVM starts (not on its class path)."""
    ours, _ = built
    code = ("import json, sys\nfrom pathlib import Path\nimport lsr.lucene.jvm as jvm\n"
            "jvm.HELPER_JAR = Path(sys.argv[2])\nfrom lsr.errors import LsrError\n"
            "from lsr.indexing.layout import VECTORS_DIR, part_paths\n"
            "from lsr.lucene.writers import write_impact_index\n"
            "from lsr.search.lucene import LuceneSearcher\nindex = Path(sys.argv[1])\n"
            "vocab = LuceneSearcher(index).encoder.vocab\n"
            "try:\n    write_impact_index(part_paths(index / VECTORS_DIR), vocab, 37.0, Path(sys.argv[3]))\n"
            "except LsrError as e:\n    print(json.dumps(str(e)))\n")
    out = subprocess.run([sys.executable, "-c", code, str(ours), str(tmp_path / "no.jar"), str(tmp_path / "out")],
                         capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == \
        f"{tmp_path / 'no.jar'} is missing: build lsr's Java classes with `bash scripts/build_java.sh`"
    assert not (tmp_path / "out").exists()


def test_the_anserini_writer_gives_the_index_and_counts_of_lsrs_indexer_which_needs_its_jar(tiny_build, tmp_path,
                                                                                              monkeypatch):
    from lsr.lucene import jvm
    from lsr.lucene import writers as lucene

    out, _, _ = tiny_build
    vocab = load_encoder(IndexInfo.read(out).model_location(out)).vocab
    shards = part_paths(out / VECTORS_DIR)
    ours = lucene.write_impact_index(shards, vocab, TINY_SCALE, tmp_path / "ours", pruning=TINY_PRUNING)
    deep = tmp_path / "new" / "deeper" / "theirs"  # folders created
    theirs = lucene.write_impact_index_with_anserini(shards, vocab, TINY_SCALE, deep, pruning=TINY_PRUNING)
    docs = pruned_impacts(out, TINY_PRUNING.doc_top_k, TINY_SCALE)
    assert ours == theirs == ImpactStats(12, sum(not d for d in docs.values()), sum(map(len, docs.values())))
    searcher = LuceneSearcher(out)
    query = every_term_query(len(vocab), TINY_SCALE)
    expected = searcher.search_vectors(query, 100)
    for lucene_dir in (tmp_path / "ours", deep):
        searcher.close()
        searcher.lucene_dir = lucene_dir
        assert searcher.search_vectors(query, 100) == expected
    searcher.close()
    missing = tmp_path / "lsr-lucene.jar"  # lsr's jar missing: an error, no fallback to Anserini's searchers
    monkeypatch.setattr(jvm, "HELPER_JAR", missing)
    message = f"{missing} is missing: build lsr's Java classes with `bash scripts/build_java.sh`"
    assert error_of(lambda: lucene.write_impact_index(shards, vocab, TINY_SCALE, tmp_path / "no-jar",
                                                      pruning=TINY_PRUNING)) == message
    assert not (tmp_path / "no-jar").exists() and not list(tmp_path.glob(".no-jar*"))

"""Corpus, query and qrels readers (lsr.data): source forms, validation, and ir_datasets offline."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from ir_measures import Qrel

from lsr.data import Document, Query, read_corpus, read_qrels, read_queries
from lsr.errors import LsrError

from helpers import SHARED, error_of, write_beir
from helpers import write_exact as write

MSMARCO_TOY = SHARED / "data" / "msmarco-sample" / "splade-toy"
REPO = Path(__file__).resolve().parents[1]




# --- records -------------------------------------------------------------------------------------

@pytest.mark.parametrize(("title", "text", "full"), [
    ("A title", "Some text", "A title Some text"), ("", "Some text", "Some text"), ("A title", "", "A title"),
    ("", "", ""), (" padded ", " text ", "padded text"),
])
def test_full_text(title, text, full):
    assert Document("d", text, title).full_text() == full


# --- real data -----------------------------------------------------------------------------------

def test_scifact_folder(scifact):
    docs = read_corpus(scifact)
    assert iter(docs) is docs  # streamed, not a list
    first = json.loads(open(scifact / "corpus.jsonl").readline())
    assert next(docs) == Document(first["_id"], first["text"], first["title"])
    assert 1 + sum(1 for _ in docs) == 5183

    test = read_queries(str(scifact), "test")
    assert len(test) == 300 and len(read_queries(scifact)) == 1109
    assert test[0] == Query("1", "0-dimensional biomaterials show inductive properties.")
    ids = [q.id for q in read_queries(scifact)]
    assert [q.id for q in test] == [i for i in ids if i in {q.id for q in test}]  # file order kept

    qrels = read_qrels(scifact, "test")
    assert len(qrels) == 339 and qrels[0] == Qrel("1", "31715818", 1)
    assert {q.query_id for q in qrels} == {q.id for q in test}
    assert len(read_qrels(scifact, "train")) == 919


def test_beir_folder_split_errors(scifact):
    message = error_of(lambda: read_qrels(scifact))
    assert str(scifact) in message and "test, train" in message
    message = error_of(lambda: read_queries(scifact, "dev"))
    assert "'dev'" in message and "test, train" in message
    assert "'dev'" in error_of(lambda: read_qrels(scifact, "dev"))


def test_beir_folder_without_corpus(tmp_path):
    (tmp_path / "queries.jsonl").write_text('{"_id": "q", "text": "x"}\n')
    assert "corpus.jsonl" in error_of(lambda: read_corpus(tmp_path))
    assert read_queries(tmp_path) == [Query("q", "x")]
    assert "none" in error_of(lambda: read_qrels(tmp_path, "test"))


def test_msmarco_toy():
    collection = MSMARCO_TOY / "full_collection.tsv"
    if not collection.exists():
        pytest.skip(f"needs {collection}")
    docs = list(read_corpus(collection))
    assert len(docs) == 89 and docs[0].id == "0" and docs[0].title == ""
    assert docs[1].text.startswith("The Manhattan Project and its atomic bomb")
    # The toy query file really repeats ids: the reader says so instead of keeping both.
    message = error_of(lambda: read_queries(MSMARCO_TOY / "dev_queries.tsv"))
    assert "dev_queries.tsv:7:" in message and "'1048876'" in message and "line 3" in message
    qrels = read_qrels(MSMARCO_TOY / "qrel.json")
    assert Qrel("786674", "99", 1) in qrels and len(qrels) == 11


# --- file variants -------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["docs.jsonl", "docs.jsonl.gz"])
def test_jsonl_corpus_field_names(tmp_path, name):
    path = write(tmp_path / name, "\ufeff" + "\r\n".join([
        '{"_id": "a", "title": "T", "text": "x"}', '{"id": "b", "contents": "y"}', "",
        '{"doc_id": 3, "text": "z", "title": null}', "   ", '{"docid": "d", "text": ""}']) + "\r\n")
    assert list(read_corpus(path)) == [Document("a", "x", "T"), Document("b", "y"), Document("3", "z"),
                                       Document("d", "")]


def test_jsonl_queries_field_names(tmp_path):
    path = write(tmp_path / "q.jsonl", '{"_id": "1", "text": "a"}\n{"id": "2", "query": "b"}\n'
                                       '{"query_id": "3", "text": ""}\n{"qid": 4, "query": "d"}\n')
    assert read_queries(path) == [Query("1", "a"), Query("2", "b"), Query("3", ""), Query("4", "d")]


@pytest.mark.parametrize("name", ["docs.tsv", "docs.tsv.gz"])
def test_tsv_corpus(tmp_path, name):
    path = write(tmp_path / name, "\ufeffa\tplain text\r\nb\tA title\tbody\n\nc\t\n d \t\tonly text\n")
    assert list(read_corpus(path)) == [Document("a", "plain text"), Document("b", "body", "A title"),
                                       Document("c", ""), Document("d", "only text")]


def test_tsv_queries_keep_text_verbatim(tmp_path):
    path = write(tmp_path / "q.tsv", "1\t what is x\n2\t\n3\tcarriage\rinside\n")
    assert read_queries(path) == [Query("1", " what is x"), Query("2", ""), Query("3", "carriage\rinside")]


@pytest.mark.parametrize(("name", "text"), [
    ("qrels.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\r\n\nq1\td2\t0\nq2\td1\t2\n"),
    ("qrels.tsv", "q1\td1\t1\nq1\td2\t0\nq2\td1\t2\n"),
    ("qrels.txt", "q1 0 d1 1\nq1 0 d2 0\n\nq2 0 d1 2\n"),
    ("run.qrels", "q1\tQ0\td1\t1\nq1 0 d2 0\nq2 0  d1   2\n"),
    ("qrels.qrels.gz", "q1 0 d1 1\nq1 0 d2 0\nq2 0 d1 2\n"),
])
def test_qrels_files(tmp_path, name, text):
    assert read_qrels(write(tmp_path / name, text)) == [Qrel("q1", "d1", 1), Qrel("q1", "d2", 0),
                                                        Qrel("q2", "d1", 2)]


def test_qrels_json(tmp_path):
    path = write(tmp_path / "qrels.json", '{"q1": {"d1": 1, "d2": 0}, "q2": {"d1": 2}}')
    assert read_qrels(path) == [Qrel("q1", "d1", 1), Qrel("q1", "d2", 0), Qrel("q2", "d1", 2)]
    write(path, '{"q1": {"d1": "high"}}')
    assert "'high'" in error_of(lambda: read_qrels(path))


def test_corpus_streams_up_to_a_bad_line(tmp_path):
    path = write(tmp_path / "docs.jsonl", '{"_id": "a", "text": "x"}\n{"_id": "b", "text": \n')
    docs = read_corpus(path)
    assert next(docs) == Document("a", "x")
    with pytest.raises(LsrError, match="docs.jsonl:2:"):
        next(docs)


# --- bad input -----------------------------------------------------------------------------------

BAD_INPUTS = [
    # (file name, content, reader, line number, extra words the message must contain)
    ("c.jsonl", '{"_id": "a", "text": "x"}\n\n{"_id": "b", "text": "y"\n', read_corpus, 3, ["malformed JSON"]),
    ("c.jsonl", '["a", "x"]\n', read_corpus, 1, ["JSON object"]),
    ("c.jsonl", '{"_id": "a", "text": "x"}\n{"title": "t", "text": "y"}\n', read_corpus, 2, ["missing id"]),
    ("c.jsonl", '{"_id": " ", "text": "x"}\n', read_corpus, 1, ["empty id"]),
    ("c.jsonl", '{"_id": "a", "title": "x"}\n', read_corpus, 1, ["missing text"]),
    ("c.jsonl", '{"_id": "a", "text": null}\n', read_corpus, 1, ["text must be a string"]),
    ("c.jsonl", '{"_id": "a", "text": "x"}\n{"_id": "b", "text": "y"}\n{"_id": "a", "text": "z"}\n',
     read_corpus, 3, ["duplicate document id 'a'", "line 1"]),
    ("c.jsonl.gz", '{"_id": "a", "text": "x"}\r\n{"_id": "a", "text": "z"}\r\n', read_corpus, 2, ["'a'", "line 1"]),
    ("c.tsv", "a\tx\nb\tt\tx\tmore\n", read_corpus, 2, ["got 4"]),
    ("c.tsv", "a\tx\nno tab here\n", read_corpus, 2, ["got 1"]),
    ("c.tsv", "a\tx\n\tx\n", read_corpus, 2, ["empty id"]),
    ("c.tsv", "7\tx\n\n8\ty\n7\tz\n", read_corpus, 4, ["duplicate document id '7'", "line 1"]),
    ("q.jsonl", '{"_id": "1", "text": "x"}\n{"_id": "1", "query": "y"}\n', read_queries, 2,
     ["duplicate query id '1'", "line 1"]),
    ("q.jsonl", '{"_id": "1"}\n', read_queries, 1, ["missing text"]),
    ("q.jsonl", '{"text": "x"}\n', read_queries, 1, ["missing id"]),
    ("q.tsv", "1\tx\n2\tx\ty\n", read_queries, 2, ["expected 2 columns"]),
    ("q.tsv", "1\tx\n2\ty\n1\tz\n", read_queries, 3, ["duplicate query id '1'", "line 1"]),
    ("r.tsv", "query-id\tcorpus-id\tscore\nq\td\t1.0\n", read_qrels, 2, ["relevance", "'1.0'"]),
    ("r.tsv", "qid\tdocid\trel\nq\td\t1\n", read_qrels, 1, ["relevance", "'rel'"]),  # not the BEIR header
    ("r.tsv", "q\td\t1\nq\td\n", read_qrels, 2, ["got 2"]),
    ("r.txt", "q 0 d 1\nq 0 d yes\n", read_qrels, 2, ["relevance", "'yes'"]),
    ("r.qrels", "q 0 d 1\nquery-id corpus-id score\n", read_qrels, 2, ["relevance"]),
]


@pytest.mark.parametrize(("name", "content", "reader", "line_no", "words"), BAD_INPUTS)
def test_bad_input_names_file_and_line(tmp_path, name, content, reader, line_no, words):
    path = write(tmp_path / name, content)
    message = error_of(lambda: reader(path))
    assert f"{path}:{line_no}:" in message
    for word in words:
        assert word in message
    assert "\n" not in message


def test_invalid_utf8(tmp_path):
    path = tmp_path / "c.tsv"
    path.write_bytes(b"a\tfine\nb\tbad \xff byte\n")
    assert f"{path}:2: not valid UTF-8" in error_of(lambda: read_corpus(path))


def test_truncated_gzip(tmp_path):
    path = tmp_path / "c.jsonl.gz"
    path.write_bytes(gzip.compress(b'{"_id": "a", "text": "x"}\n' * 100)[:40])
    assert str(path) in error_of(lambda: read_corpus(path))


# --- source forms --------------------------------------------------------------------------------

def test_unknown_sources(tmp_path):
    missing = tmp_path / "missing.tsv"
    message = error_of(lambda: read_corpus(missing))
    assert str(missing) in message and "no such file" in message and "irds:" in message and "BEIR folder" in message
    odd = write(tmp_path / "docs.parquet", "x")
    message = error_of(lambda: read_corpus(odd))
    assert str(odd) in message and "unrecognised" in message and ".jsonl" in message
    assert "unrecognised" in error_of(lambda: read_queries(tmp_path))  # a folder with no BEIR files


def test_forms_without_that_data(tmp_path):
    qrels = write(tmp_path / "r.txt", "q 0 d 1\n")
    assert "holds no documents" in error_of(lambda: read_corpus(qrels))
    assert "holds no queries" in error_of(lambda: read_queries(qrels))
    assert "holds no qrels" in error_of(lambda: read_qrels(write(tmp_path / "q.jsonl", "")))


def test_split_only_for_folders(tmp_path):
    queries = write(tmp_path / "q.tsv", "1\tx\n")
    assert "BEIR folders only" in error_of(lambda: read_queries(queries, "test"))
    assert "BEIR folders only" in error_of(lambda: read_qrels("irds:beir/scifact/test", "test"))


def test_empty_files(tmp_path):
    assert list(read_corpus(write(tmp_path / "c.jsonl", "\n\n"))) == []
    assert read_queries(write(tmp_path / "q.tsv", "")) == []
    assert read_qrels(write(tmp_path / "r.tsv", "query-id\tcorpus-id\tscore\n")) == []


# --- ir_datasets, offline ------------------------------------------------------------------------

IRDS_SCRIPT = """
import json, sys
import lsr.data
assert "ir_datasets" not in sys.modules, "lsr.data must import ir_datasets lazily"
from lsr.data import read_corpus, read_qrels, read_queries
from lsr.errors import LsrError

def error(call):
    try:
        call()
    except LsrError as e:
        return str(e)
    return None

source = "irds:beir/scifact/test"
print(json.dumps({
    "docs": [[d.id, d.title, d.text] for d in read_corpus(source)],
    "queries": [[q.id, q.text] for q in read_queries(source)],
    "qrels": [list(q) for q in read_qrels(source)],
    "unknown": error(lambda: read_queries("irds:no/such-dataset")),
    "no_qrels": error(lambda: read_qrels("irds:beir/scifact")),
    "download": error(lambda: read_qrels("irds:beir/nfcorpus/test")),
}))
"""


def _irds_home(home: Path, scifact: Path, num_docs: int = 50) -> Path:
    """Lay out what ir_datasets reads for beir/scifact: `<home>/beir/scifact/source.zip` holding
    `scifact/corpus.jsonl`, `scifact/queries.jsonl` and `scifact/qrels/<split>.tsv`, cut to the
    first documents. ir_datasets uses a file at that cache path as is (no hash check, no download)."""
    docs = open(scifact / "corpus.jsonl").readlines()[:num_docs]
    kept = {json.loads(line)["_id"] for line in docs}
    members = {"scifact/corpus.jsonl": "".join(docs),
               "scifact/queries.jsonl": (scifact / "queries.jsonl").read_text()}
    for split in ("test", "train"):
        header, *rows = (scifact / "qrels" / f"{split}.tsv").read_text().splitlines()
        kept_rows = [r for r in rows if r.split("\t")[1] in kept]
        members[f"scifact/qrels/{split}.tsv"] = "\n".join([header] + kept_rows) + "\n"
    (home / "beir" / "scifact").mkdir(parents=True)
    with zipfile.ZipFile(home / "beir" / "scifact" / "source.zip", "w") as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return home


def test_irds_offline(tmp_path, scifact):
    home = _irds_home(tmp_path / "irds-home", scifact)
    dead = "http://127.0.0.1:9"  # any download attempt fails at once, network or not
    env = {**os.environ, "IR_DATASETS_HOME": str(home), "HTTP_PROXY": dead, "HTTPS_PROXY": dead,
           "IR_DATASETS_DL_TRIES": "1", "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", IRDS_SCRIPT], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    got = json.loads(done.stdout)

    # The same cut as a BEIR folder, read by the file readers, must agree with ir_datasets.
    with zipfile.ZipFile(home / "beir" / "scifact" / "source.zip") as archive:
        archive.extractall(tmp_path / "extracted")
    folder = tmp_path / "extracted" / "scifact"
    assert got["docs"] == [[d.id, d.title, d.text] for d in read_corpus(folder)]
    assert len(got["docs"]) == 50 and got["docs"][0][0] == "4983"
    assert got["queries"] == [[q.id, q.text] for q in read_queries(folder, "test")]
    assert got["qrels"] == [list(q) for q in read_qrels(folder, "test")]
    assert len(got["queries"]) == 2 and len(got["qrels"]) == 2

    assert "no/such-dataset" in got["unknown"]
    assert "irds:beir/scifact" in got["no_qrels"] and "no qrels" in got["no_qrels"]
    assert "irds:beir/nfcorpus/test" in got["download"] and "download failed" in got["download"]
    assert "\n" not in got["download"]


def test_write_beir_fixture_round_trip(tmp_path):
    folder = write_beir(tmp_path / "b", [{"_id": "d1", "title": "", "text": ""}], [{"_id": "q1", "text": "x"}],
                        [("q1", "d1", 1)], split="dev")
    assert list(read_corpus(folder)) == [Document("d1", "")]
    assert read_queries(folder, "dev") == [Query("q1", "x")]
    assert read_qrels(folder, "dev") == [Qrel("q1", "d1", 1)]

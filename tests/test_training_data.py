"""Training-data readers (lsr.data.training): queries with positives, training tuples, teacher scores."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path

import pytest

from lsr.data import (
    TrainQuery,
    TrainTuple,
    content_id,
    read_teacher_scores,
    read_train_queries,
    read_train_tuples,
    write_teacher_scores,
)

from helpers import SHARED, error_of, write_beir
from helpers import write_exact as write

TOY = SHARED / "data" / "msmarco-sample" / "splade-toy"




def toy(name: str) -> Path:
    path = TOY / name
    if not path.exists():
        pytest.skip(f"needs {path}")
    return path


def tuple_of(query: str, *docs: str) -> TrainTuple:
    """A text tuple as the readers build it."""
    return TrainTuple(content_id(query), query, tuple((content_id(doc), doc) for doc in docs))


# --- content ids ---------------------------------------------------------------------------------

def test_content_id():
    assert content_id("abc") == "t:" + hashlib.sha1(b"abc").hexdigest()[:16] == "t:a9993e364706816a"
    assert re.fullmatch(r"t:[0-9a-f]{16}", content_id("d\u00e9j\u00e0 vu"))
    assert content_id("a") != content_id("a ")


# --- queries with positives ----------------------------------------------------------------------

def test_scifact_train_queries(scifact):
    queries = read_train_queries(scifact)
    assert len(queries) == 809 and read_train_queries(str(scifact), "train") == queries
    rows = [line.rstrip("\n").split("\t") for line in open(scifact / "qrels" / "train.tsv")][1:]
    expected: dict[str, list[str]] = {}
    for query_id, doc_id, relevance in rows:
        if int(relevance) > 0:
            expected.setdefault(query_id, []).append(doc_id)
    assert {q.id: list(q.positives) for q in queries} == expected
    assert sum(len(q.positives) for q in queries) == 919
    texts = {obj["_id"]: obj["text"] for obj in map(json.loads, open(scifact / "queries.jsonl"))}
    several = next(q for q in queries if len(expected[q.id]) > 1)
    assert several == TrainQuery(several.id, texts[several.id], tuple(expected[several.id]))
    assert queries[0] == TrainQuery("0", "0-dimensional biomaterials lack inductive properties.", ("31715818",))
    assert len(read_train_queries(scifact, "test")) == 300


def test_train_queries_leave_out_unjudged_and_negative_only(tmp_path, caplog):
    folder = write_beir(tmp_path / "b", [], [{"_id": i, "text": f"query {i}"} for i in ("q1", "q2", "q3", "q4")],
                        [("q1", "d1", 1), ("q2", "d2", 0), ("q1", "d3", 2), ("q1", "d1", 1), ("q4", "d4", 1)],
                        split="train")
    with caplog.at_level(logging.WARNING, logger="lsr.data.training"):
        got = read_train_queries(folder)
    assert got == [TrainQuery("q1", "query q1", ("d1", "d3")), TrainQuery("q4", "query q4", ("d4",))]
    assert "left out 1 of 3 queries that have no positive" in caplog.text  # q2; q3 is not in the split
    assert "name a qrels split" in error_of(lambda: read_train_queries(folder, None))


def test_train_queries_with_separate_qrels(tmp_path, caplog):
    queries = write(tmp_path / "queries.tsv", "1\tfirst\n2\tsecond\n")
    assert read_train_queries(queries, qrels=write(tmp_path / "qrels.json", '{"2": {"d9": 1, "d8": 0}}')) == [
        TrainQuery("2", "second", ("d9",))]
    assert read_train_queries(queries, None, qrels=write(tmp_path / "qrels.txt", "1 0 d1 1\n")) == [
        TrainQuery("1", "first", ("d1",))]
    assert "left out 1 of 2" in caplog.text


def test_train_queries_errors(tmp_path):
    folder = write_beir(tmp_path / "b", [], [{"_id": "q1", "text": "x"}], [("q1", "d1", 1), ("q7", "d1", 1),
                                                                           ("q8", "d1", 0)], split="train")
    message = error_of(lambda: read_train_queries(folder))
    assert "'q7'" in message and "not among the queries" in message and "1 other" in message
    queries = write(tmp_path / "queries.tsv", "1\tfirst\n")
    message = error_of(lambda: read_train_queries(queries, "dev", qrels=tmp_path / "b"))
    assert f"{queries}: a split ('dev') applies to BEIR folders only" in message
    assert "'test'" in error_of(lambda: read_train_queries(folder, "test"))


# --- training tuples: TSV ------------------------------------------------------------------------

def test_toy_triplets():
    path = toy("triplets.tsv")
    tuples = list(read_train_tuples(path))
    assert len(tuples) == 100 and all(len(t.docs) == 2 for t in tuples)  # query, positive, negative
    assert list(read_train_tuples(str(path))) == tuples  # stable ids across reads
    first = tuples[0]
    assert first.query_text == "is a little caffeine ok during pregnancy"
    assert first.query_id == content_id("is a little caffeine ok during pregnancy")
    assert first.positive[1].startswith("We don\u00e2\u0080\u0099t know a lot about the effects of caffeine")  # as-is
    assert first.negatives[0][1].startswith("It is generally safe for pregnant women to eat chocolate")
    raw = path.read_text(encoding="utf-8").splitlines()[0].split("\t")
    assert first == tuple_of(*raw)
    assert all(re.fullmatch(r"t:[0-9a-f]{16}", doc_id) for t in tuples for doc_id, _ in t.docs)


def test_tsv_text_tuples(tmp_path):
    path = write(tmp_path / "t.tsv.gz", "q one\tpos one\tneg a\tneg b\r\n\nq two\tpos two\tneg c\n")
    assert list(read_train_tuples(path)) == [tuple_of("q one", "pos one", "neg a", "neg b"),
                                             tuple_of("q two", "pos two", "neg c")]


@pytest.mark.parametrize(("text", "message"), [
    ("q\tp\tn\nq\tp\n", "t.tsv:2: expected 3 or more columns (query, positive, negative...), got 2"),
    ("q\tp\tn\n\nq\t \tn\n", "t.tsv:3: empty positive text in column 2"),
    ("\tp\tn\n", "t.tsv:1: empty query text in column 1"),
    ("q\tp\tn\t\n", "t.tsv:1: empty negative text in column 4"),
    ("q\tp\tn\n\xff\n", "t.tsv:2: not valid UTF-8"),
])
def test_tsv_text_tuple_errors(tmp_path, text, message):
    path = tmp_path / "t.tsv"
    path.write_bytes(text.encode("utf-8").replace("\xff".encode(), b"\xff"))
    assert message in error_of(lambda: read_train_tuples(path))


@pytest.fixture()
def id_data(tmp_path) -> dict:
    corpus = write_beir(tmp_path / "beir", [{"_id": "d1", "title": "T", "text": "one"},
                                            {"_id": "d2", "title": "", "text": "two"},
                                            {"_id": "d3", "title": "", "text": "three"}],
                        [{"_id": "q1", "text": "first"}], [], split="train")
    return {"corpus": corpus, "queries": {"q1": "first", "q2": "second"}}


def test_tsv_id_tuples(tmp_path, id_data):
    path = write(tmp_path / "ids.tsv", "q1\td1\td2\td3\nq2\td3\td1\n")
    assert list(read_train_tuples(path, **id_data)) == [
        TrainTuple("q1", "first", (("d1", "T one"), ("d2", "two"), ("d3", "three"))),
        TrainTuple("q2", "second", (("d3", "three"), ("d1", "T one")))]
    # both as sources lsr reads
    assert [t.query_text for t in read_train_tuples(write(tmp_path / "one.tsv", "q1\td1\td2\n"),
                                                    corpus=id_data["corpus"], queries=id_data["corpus"])] == ["first"]


def test_tsv_id_tuple_errors(tmp_path, id_data):
    path = write(tmp_path / "ids.tsv", "q1\td1\td2\nq1\td1\td9\n")
    assert error_of(lambda: read_train_tuples(path, **id_data)) == f"{path}:2: unknown document id 'd9'"
    path = write(tmp_path / "ids.tsv", "q1\td1\td2\n\nq5\td1\td2\n")
    assert error_of(lambda: read_train_tuples(path, **id_data)) == f"{path}:3: unknown query id 'q5'"
    path = write(tmp_path / "ids.tsv", "q1\td1\n")
    assert f"{path}:1: expected 3 or more columns (query id, positive id, negative id...), got 2" in error_of(
        lambda: read_train_tuples(path, **id_data))
    path = write(tmp_path / "ids.tsv", "q1\t \td2\n")
    assert error_of(lambda: read_train_tuples(path, **id_data)) == f"{path}:1: empty id"
    message = error_of(lambda: read_train_tuples(path, corpus=id_data["corpus"]))
    assert f"{path}: id tuples need both corpus and queries" in message


def test_tuple_source_errors(tmp_path):
    assert error_of(lambda: read_train_tuples(tmp_path / "none.tsv")) == f"{tmp_path / 'none.tsv'}: no such file"
    other = write(tmp_path / "t.csv", "q,p,n\n")
    assert "unrecognised training tuples file" in error_of(lambda: read_train_tuples(other))
    assert "brings its own documents and queries" in error_of(
        lambda: read_train_tuples("irds:whatever", corpus={"d": "x"}))
    assert "no such file" in error_of(lambda: read_train_tuples(write(tmp_path / "a.tsv", "q\tp\tn\n"),
                                                                corpus=tmp_path / "nothing", queries={}))


# --- training tuples: JSONL ----------------------------------------------------------------------

def test_jsonl_text_tuples(tmp_path):
    lines = [{"query": "q", "positive": "p", "negatives": ["n1", "n2"]},
             {"query": "q2", "positive": ["p1", "p2"], "negatives": "n"},
             {"query": "q3", "pos": "p", "neg": ["n"]}]
    path = write(tmp_path / "t.jsonl.gz", "".join(json.dumps(line) + "\n" for line in lines))
    assert list(read_train_tuples(path)) == [
        tuple_of("q", "p", "n1", "n2"), tuple_of("q2", "p1", "n"), tuple_of("q2", "p2", "n"), tuple_of("q3", "p", "n")]


def test_jsonl_id_and_mixed_tuples(tmp_path, id_data):
    lines = [{"query_id": "q1", "positive_ids": ["d1", "d2"], "negative_ids": ["d3"]},
             {"qid": 1, "pos_id": "d2", "neg_ids": ["d1", "d3"]},
             {"query": "free text", "positive_id": "d3", "negatives": ["a negative"]}]
    path = write(tmp_path / "t.jsonl", "".join(json.dumps(line) + "\n" for line in lines))
    got = list(read_train_tuples(path, corpus=id_data["corpus"], queries={"q1": "first", "1": "one"}))
    assert got == [TrainTuple("q1", "first", (("d1", "T one"), ("d3", "three"))),
                   TrainTuple("q1", "first", (("d2", "two"), ("d3", "three"))),
                   TrainTuple("1", "one", (("d2", "two"), ("d1", "T one"), ("d3", "three"))),
                   TrainTuple(content_id("free text"), "free text",
                              (("d3", "three"), (content_id("a negative"), "a negative")))]


@pytest.mark.parametrize(("line", "message"), [
    ('{"query": "q", "positive": "p"', "t.jsonl:2: malformed JSON"),
    ('["q", "p", "n"]', "t.jsonl:2: expected a JSON object, got list"),
    ('{"positive": "p", "negatives": ["n"]}', "t.jsonl:2: missing 'query' (or 'query_id', 'qid')"),
    ('{"query": "q", "negatives": ["n"]}', "t.jsonl:2: missing 'positive' (or 'positives', 'pos', 'positive_id'"),
    ('{"query": "q", "positive": "p"}', "t.jsonl:2: missing 'negatives'"),
    ('{"query": "q", "pos": "p", "positive": "p", "neg": "n"}', "t.jsonl:2: give one of 'positive' or 'pos', not both"),
    ('{"query": "q", "qid": "1", "pos": "p", "neg": "n"}', "t.jsonl:2: give one of 'query' or 'qid', not both"),
    ('{"query": " ", "pos": "p", "neg": "n"}', "t.jsonl:2: empty text in 'query'"),
    ('{"query": "q", "pos": "p", "neg": ["n", ""]}', "t.jsonl:2: empty text in 'neg'"),
    ('{"query": "q", "pos": [], "neg": "n"}', "t.jsonl:2: 'pos' is an empty list"),
    ('{"query": "q", "pos": "p", "negatives": []}', "t.jsonl:2: 'negatives' is an empty list"),
    ('{"query": 3, "pos": "p", "neg": "n"}', "t.jsonl:2: 'query' must hold text, got int"),
    ('{"query": "q", "pos": "p", "neg_ids": ["d1"]}', "t.jsonl:2: document ids need corpus to look their texts up in"),
    ('{"qid": "q1", "pos": "p", "neg": "n"}', "t.jsonl:2: query ids need queries to look their texts up in"),
    ('{"query": "q", "pos_ids": [null], "neg": "n"}', "t.jsonl:2: 'pos_ids': id must be a string, got None"),
])
def test_jsonl_tuple_errors(tmp_path, line, message):
    path = write(tmp_path / "t.jsonl", '{"query": "q", "pos": "p", "neg": "n"}\n' + line + "\n")
    assert message in error_of(lambda: read_train_tuples(path))


def test_jsonl_unknown_id(tmp_path, id_data):
    path = write(tmp_path / "t.jsonl", '{"qid": "q1", "pos_ids": ["d1"], "neg_ids": ["d1", "d7"]}\n')
    assert error_of(lambda: read_train_tuples(path, **id_data)) == f"{path}:1: unknown document id 'd7'"


# --- training tuples: ir_datasets (offline, a dataset registered over local files) ----------------

@pytest.fixture()
def irds_dataset(tmp_path, monkeypatch):
    """Register local datasets `<name>` (docs, queries, qrels, docpairs), `<name>/bad-pairs`
    (a docpair naming an unknown document) and `<name>/no-pairs` in ir_datasets' registry."""
    monkeypatch.setenv("IR_DATASETS_HOME", str(tmp_path / "irds-home"))
    import ir_datasets
    from ir_datasets.formats import TrecQrels, TsvDocPairs, TsvDocs, TsvQueries
    from ir_datasets.util import LocalDownload

    files = tmp_path / "irds-files"
    files.mkdir()
    write(files / "docs.tsv", "d1\tfirst doc\nd2\tsecond doc\nd3\tthird doc\n")
    write(files / "queries.tsv", "q1\tquery one\nq2\tquery two\n")
    write(files / "qrels.txt", "q1 0 d1 1\nq2 0 d2 0\n")
    write(files / "pairs.tsv", "q1\td1\td2\nq2\td3\td1\n")
    write(files / "bad-pairs.tsv", "q1\td1\td2\nq1\td1\td2\nq2\td3\td9\n")
    docs, queries = TsvDocs(LocalDownload(files / "docs.tsv")), TsvQueries(LocalDownload(files / "queries.tsv"))
    qrels = TrecQrels(LocalDownload(files / "qrels.txt"), {0: "not relevant", 1: "relevant"})
    name = f"lsr-test-{tmp_path.name}"
    added = {name: ir_datasets.Dataset(docs, queries, qrels, TsvDocPairs(LocalDownload(files / "pairs.tsv"))),
             f"{name}/bad-pairs": ir_datasets.Dataset(docs, queries,
                                                      TsvDocPairs(LocalDownload(files / "bad-pairs.tsv"))),
             f"{name}/no-pairs": ir_datasets.Dataset(docs, queries)}
    for key, dataset in added.items():
        ir_datasets.registry.register(key, dataset)
    yield name
    for key in added:
        ir_datasets.registry._registered.pop(key, None)


def test_irds_tuples(irds_dataset, caplog):
    source = f"irds:{irds_dataset}"
    assert list(read_train_tuples(source)) == [
        TrainTuple("q1", "query one", (("d1", "first doc"), ("d2", "second doc"))),
        TrainTuple("q2", "query two", (("d3", "third doc"), ("d1", "first doc")))]
    message = error_of(lambda: read_train_tuples(source + "/bad-pairs"))
    assert message == f"{source}/bad-pairs:3: unknown document id 'd9'"
    assert "has no document pairs" in error_of(lambda: read_train_tuples(source + "/no-pairs"))
    assert "unknown ir_datasets id" in error_of(lambda: read_train_tuples(source + "/nothing"))
    assert read_train_queries(source) == [TrainQuery("q1", "query one", ("d1",))]
    assert "left out 1 of 2" in caplog.text
    assert "BEIR folders only" in error_of(lambda: read_train_queries(source, "dev"))


# --- teacher scores ------------------------------------------------------------------------------

def test_toy_scores_json():
    scores = read_teacher_scores(toy("scores_toy.json"))
    raw = json.loads(toy("scores_toy.json").read_text())
    assert scores == {q: {d: float(s) for d, s in docs.items()} for q, docs in raw.items()}
    assert len(scores) == 9 and sum(map(len, scores.values())) == 20
    assert scores["2"] == {"69": 1.0, "12": 1.0} and type(scores["2"]["69"]) is float


@pytest.mark.parametrize(("name", "text"), [
    ("s.tsv", "q1\td1\t1.5\nq1\td2\t-2\n\nq2\td1\t3e2\n"),
    ("s.txt.gz", "q1 d1 1.5\r\nq1  d2 -2\nq2 d1 300\n"),
    ("s.run", "q1 Q0 d1 1 1.5 teacher\nq1 Q0 d2 2 -2.0 teacher\nq2 Q0 d1 1 300 teacher\n"),
    ("s.jsonl", '{"qid": "q1", "docid": "d1", "score": 1.5}\n{"query_id": "q1", "doc_id": "d2", "score": -2}\n'
                '{"qid": "q2", "docid": "d1", "score": "300"}\n'),
    ("s.json", '{"q1": {"d1": 1.5, "d2": -2}, "q2": {"d1": 3e2}}'),
    ("s.json.gz", '{"q1": {"d1": 1.5, "d2": -2}, "q2": {"d1": 300}}'),
])
def test_teacher_score_forms(tmp_path, name, text):
    assert read_teacher_scores(write(tmp_path / name, text)) == {"q1": {"d1": 1.5, "d2": -2.0}, "q2": {"d1": 300.0}}


@pytest.mark.parametrize(("name", "text", "message"), [
    ("s.tsv", "q1 d1 1\nq1 d1\n", "s.tsv:2: expected 3 columns (qid docid score) or 6 TREC run columns"),
    ("s.tsv", "q1 d1 1\nq1 d2 nan\n", "s.tsv:2: score 'nan' is not finite"),
    ("s.tsv", "q1 d1 1\nq1 d2 -inf\n", "s.tsv:2: score '-inf' is not finite"),
    ("s.tsv", "q1 d1 1\nq1 d2 high\n", "s.tsv:2: score must be a number, got 'high'"),
    ("s.tsv", "q1 d1 1\nq2 d1 1\n\nq1 d1 2\n",
     "s.tsv:4: duplicate score for query 'q1', document 'd1' (first at line 1)"),
    ("s.run", "q1 Q0 d1 1 2 t\nq1 Q0 d1 2 1 t\n",
     "s.run:2: duplicate score for query 'q1', document 'd1' (first at line 1)"),
    ("s.jsonl", '{"qid": "q", "docid": "d", "score": 1}\n{"qid": "q", "docid": "e", "score": NaN}\n',
     "s.jsonl:2: score nan is not finite"),
    ("s.jsonl", '{"qid": "q", "docid": "d", "score": 1}\n{"qid": "q", "docid": "d", "score": 1}\n',
     "s.jsonl:2: duplicate score for query 'q', document 'd' (first at line 1)"),
    ("s.jsonl", '{"qid": "q", "docid": "d"}\n', "s.jsonl:1: missing 'score'"),
    ("s.jsonl", '{"qid": "q", "docid": "d", "score": true}\n', "s.jsonl:1: score must be a number, got True"),
    ("s.jsonl", '{"qid": "q", "docid": "d", "score": 1e999}\n', "s.jsonl:1: score inf is not finite"),
    ("s.jsonl", '{"qid": "q"\n', "s.jsonl:1: malformed JSON"),
    ("s.json", '{"q": {"d": 1},\n "r": {"d": Infinity}}', "s.json: query 'r', document 'd': score inf is not finite"),
    ("s.json", '{"q": {"d": 1, "d": 2}}', "s.json: query 'q': duplicate score for document 'd'"),
    ("s.json", '{"q": {"d": 1}, "q": {"e": 2}}', "s.json: query 'q': the query appears twice"),
    ("s.json", '{"q": [1, 2]}', "s.json: query 'q': expected an object {doc_id: score}, got list"),
    ("s.json", '[1, 2]', "s.json: expected a JSON object {query_id: {doc_id: score}}"),
    ("s.json", '{"q": {"d": 1}\n\n', "s.json:3: malformed JSON"),
])
def test_teacher_score_errors(tmp_path, name, text, message):
    path = write(tmp_path / name, text)
    assert error_of(lambda: read_teacher_scores(path)).startswith(str(tmp_path / message.split(" ")[0]))
    assert message in error_of(lambda: read_teacher_scores(path))


def test_teacher_scores_missing_file(tmp_path):
    assert error_of(lambda: read_teacher_scores(tmp_path / "no.tsv")) == f"{tmp_path / 'no.tsv'}: no such file"


@pytest.mark.parametrize("name", ["out/scores.tsv", "scores.tsv.gz"])
def test_write_teacher_scores_round_trip(tmp_path, name):
    scores = {"q1": {"d1": 0.1 + 0.2, "d2": -3.0, "t:0123456789abcdef": 1e-300}, "7": {"8": 12}}
    path = tmp_path / name
    write_teacher_scores(scores, path)
    assert read_teacher_scores(path) == scores
    if not name.endswith(".gz"):
        assert path.read_text().splitlines()[0] == "q1\td1\t0.30000000000000004"
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left behind


def test_write_teacher_scores_errors_leave_old_file(tmp_path):
    path = tmp_path / "scores.tsv"
    write_teacher_scores({"q": {"d": 1.0}}, path)
    message = error_of(lambda: write_teacher_scores({"q": {"d": 2.0, "e": float("nan")}}, path))
    assert message == f"{path}: query 'q', document 'e': score nan is not finite"
    assert "free of whitespace" in error_of(lambda: write_teacher_scores({"q 1": {"d": 1.0}}, path))
    assert "free of whitespace" in error_of(lambda: write_teacher_scores({"q": {"": 1.0}}, path))
    assert path.read_text() == "q\td\t1.0\n" and [p.name for p in tmp_path.iterdir()] == ["scores.tsv"]

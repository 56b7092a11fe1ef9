"""IDF tables: computed from a corpus, saved and loaded, and the `lsr idf` command."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from lsr.cli.main import cli
from lsr.data import Document, read_corpus
from lsr.errors import LsrError
from lsr.models.idf import compute_idf, load_idf, load_tokenizer, save_idf

from helpers import write_beir

WORDS = ["heart", "disease", "liver", "the", "protein", "##s"]


@pytest.fixture(scope="module")
def tiny_tokenizer():
    from transformers import BertTokenizer

    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    return BertTokenizer(vocab={token: i for i, token in enumerate(vocab)})


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory, tiny_tokenizer):
    """A folder holding only the tokenizer: all `lsr idf` needs."""
    folder = tmp_path_factory.mktemp("tiny-tokenizer")
    tiny_tokenizer.save_pretrained(folder)
    return folder


def bm25_idf(num_docs: int, df: int) -> float:
    return math.log(1 + (num_docs - df + 0.5) / (df + 0.5))


def test_compute_idf_by_hand(tiny_tokenizer):
    docs = [Document("a", "the heart", title="Heart"),   # heart twice, counted once
            Document("b", "the liver zebra"),           # zebra is [UNK]: no entry
            Document("c", "liver liver disease"),
            Document("d", "")]                          # empty: counts in N, adds no token
    table = compute_idf(docs, tiny_tokenizer, progress=False)
    assert table == pytest.approx({"heart": bm25_idf(4, 1), "the": bm25_idf(4, 2),
                                   "liver": bm25_idf(4, 2), "disease": bm25_idf(4, 1)})
    assert list(table) == ["heart", "disease", "liver", "the"]  # term-id order; unseen and special tokens absent


def test_compute_idf_batches_agree(tiny_tokenizer, monkeypatch):
    docs = [Document(str(i), " ".join(WORDS[: 1 + i % len(WORDS)])) for i in range(25)]
    whole = compute_idf(docs, tiny_tokenizer, progress=False)
    monkeypatch.setattr("lsr.models.idf._BATCH", 4)
    assert compute_idf(iter(docs), tiny_tokenizer, progress=False) == whole


def test_scifact_idf(scifact, splade_tiny):
    table = compute_idf(read_corpus(scifact), load_tokenizer(splade_tiny), progress=False)
    num_docs = 5183
    assert 10_000 < len(table) < 30_522
    assert not {"[CLS]", "[SEP]", "[PAD]", "[UNK]"} & set(table)
    assert table["the"] < 0.1 and table["of"] < 0.1 and table["."] < 0.1
    assert table["the"] < table["protein"] < table["heart"] < table["malaria"]
    assert max(table.values()) == pytest.approx(bm25_idf(num_docs, 1))
    assert min(table.values()) > 0


def test_save_and_load_round_trip(tmp_path):
    table = {"heart": 4.192948341369629, "the": 0.1353016495704651, "naïve": 1.5, "##s": 2.0}
    save_idf(table, tmp_path / "idf.json")
    assert load_idf(tmp_path / "idf.json") == table
    assert [p.name for p in tmp_path.iterdir()] == ["idf.json"]  # no temporary left behind


@pytest.mark.parametrize("text, fragment", [
    ('{"heart": 1.0,', "invalid JSON"),
    ('["heart"]', "expected a JSON object"),
    ('{"heart": "high"}', "token 'heart' has weight 'high'"),
    ('{"heart": true}', "token 'heart' has weight True"),
])
def test_bad_tables(tmp_path, text, fragment):
    path = tmp_path / "weights.json"
    path.write_text(text)
    with pytest.raises(LsrError, match=r"weights\.json") as error:
        load_idf(path)
    assert fragment in str(error.value) and "\n" not in str(error.value)


def test_missing_table(tmp_path):
    with pytest.raises(LsrError, match=r"nothing\.json: no such file"):
        load_idf(tmp_path / "nothing.json")


def test_cli(tmp_path, tiny_model):
    docs = [{"_id": "a", "title": "heart", "text": "the heart"}, {"_id": "b", "text": "the liver"}]
    corpus = write_beir(tmp_path / "beir", docs, [{"_id": "q", "text": "heart"}], [("q", "a", 1)])
    result = CliRunner().invoke(cli, ["idf", str(corpus), "-o", str(tmp_path / "idf.json"),
                                      "--tokenizer", str(tiny_model)])
    assert result.exit_code == 0, result.output
    assert "2 documents, 3 distinct tokens" in result.output
    assert json.loads((tmp_path / "idf.json").read_text()) == pytest.approx(
        {"heart": bm25_idf(2, 1), "liver": bm25_idf(2, 1), "the": bm25_idf(2, 2)})


def test_cli_without_a_tokenizer(tmp_path):
    corpus = write_beir(tmp_path / "beir", [{"_id": "a", "text": "x"}], [], [])
    result = CliRunner().invoke(cli, ["idf", str(corpus), "-o", str(tmp_path / "idf.json"),
                                      "--tokenizer", str(tmp_path / "no-model")])
    assert result.exit_code == 2
    assert result.output.strip().startswith("lsr: error: model not found") and len(result.output.splitlines()) == 1

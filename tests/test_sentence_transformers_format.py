"""sentence-transformers SparseEncoder folders (as versions 5.0 and 5.4+ save them) load as lsr encoders."""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from lsr.cli.main import cli
from lsr.errors import LsrError
from lsr.models import load_encoder
from lsr.models.idf import save_idf
from lsr.models.inference_free import InferenceFreeEncoder
from lsr.models.settings import SpladeSettings
from lsr.models.splade import SpladeEncoder

from helpers import SHARED, make_tiny_mlm

WORDS = ["heart", "disease", "liver", "glucose", "the", "protein", "cells", "in", "##s"]
TEXTS = ["heart disease", "the liver cells", "glucose in the liver in the heart", "proteins [CLS] heart heart"]


@dataclass(frozen=True)
class Version:
    """How one sentence-transformers version names its module classes and configures them."""

    name: str
    types: dict[str, str]       # role -> class path in modules.json
    router_adds_class: bool     # 5.0's Router writes module path + class name
    mlm_config: dict
    dimension_key: str

    def router_type(self, role: str) -> str:
        path = self.types[role]
        return f"{path}.{path.rsplit('.', 1)[1]}" if self.router_adds_class else path


V5_0 = Version("5.0", {"mlm": "sentence_transformers.sparse_encoder.models.MLMTransformer",
                       "pooling": "sentence_transformers.sparse_encoder.models.SpladePooling",
                       "static": "sentence_transformers.sparse_encoder.models.SparseStaticEmbedding",
                       "router": "sentence_transformers.models.Router"},
               True, {"max_seq_length": 512, "do_lower_case": False}, "word_embedding_dimension")
V6 = Version("6", {"mlm": "sentence_transformers.base.modules.transformer.Transformer",
                   "pooling": "sentence_transformers.sparse_encoder.modules.splade_pooling.SpladePooling",
                   "static": "sentence_transformers.sparse_encoder.modules.sparse_static_embedding."
                             "SparseStaticEmbedding",
                   "router": "sentence_transformers.base.modules.router.Router"},
               False, {"transformer_task": "fill-mask",
                       "modality_config": {"text": {"method": "forward", "method_output_name": "logits"}},
                       "module_output_name": "token_embeddings"}, "embedding_dimension")
VOCAB_SIZE = 5 + len(WORDS)


def write_json(path: Path, value) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value, indent=2))


def tiny_mlm(folder: Path) -> Path:
    """A random-weight BERT MLM over WORDS with a working tokenizer."""
    from transformers import BertTokenizer

    make_tiny_mlm(folder, WORDS)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    BertTokenizer(vocab={token: i for i, token in enumerate(vocab)}).save_pretrained(folder)
    return folder


def write_mlm_module(folder: Path, version: Version) -> Path:
    tiny_mlm(folder)
    write_json(folder / "sentence_bert_config.json", version.mlm_config)
    return folder


def write_pooling_module(folder: Path, version: Version, **config) -> None:
    write_json(folder / "config.json", {"pooling_strategy": "max", "activation_function": "relu",
                                        version.dimension_key: VOCAB_SIZE, **config})


def write_model_config(folder: Path) -> None:
    write_json(folder / "config_sentence_transformers.json",
               {"model_type": "SparseEncoder", "similarity_fn_name": "dot", "prompts": {"query": "", "document": ""},
                "default_prompt_name": None})


def splade_folder(root: Path, version: Version, **pooling) -> Path:
    """SparseEncoder([MLM transformer, SpladePooling]) saved: the MLM in the root, the pooling in 1_SpladePooling."""
    write_mlm_module(root, version)
    write_pooling_module(root / "1_SpladePooling", version, **pooling)
    write_json(root / "modules.json", [{"idx": 0, "name": "0", "path": "", "type": version.types["mlm"]},
                                       {"idx": 1, "name": "1", "path": "1_SpladePooling",
                                        "type": version.types["pooling"]}])
    write_model_config(root)
    return root


def inference_free_folder(root: Path, version: Version, weight: torch.Tensor, *, doc_id: str | None = None,
                          weights_file: str = "model.safetensors", **pooling) -> Path:
    """SparseEncoder([Router(query=[SparseStaticEmbedding], document=[MLM transformer, SpladePooling])]) saved.

    The router sits in the root; each module id is a subfolder. `doc_id=""` puts the MLM in the
    root itself, as OpenSearch's published models keep it.
    """
    mlm_class = version.types["mlm"].rsplit(".", 1)[1]
    doc_id = f"document_0_{mlm_class}" if doc_id is None else doc_id
    ids = {"static": "query_0_SparseStaticEmbedding", "mlm": doc_id, "pooling": "document_1_SpladePooling"}
    write_mlm_module(root / doc_id, version)
    write_pooling_module(root / ids["pooling"], version, **pooling)
    static = root / ids["static"]
    tiny_mlm(static)  # the tokenizer files, then only the module's own ones
    for path in static.iterdir():
        if path.name in ("config.json", "model.safetensors"):
            path.unlink()
    if weights_file == "model.safetensors":
        from safetensors.torch import save_file

        save_file({"weight": weight}, static / weights_file)
    else:
        torch.save({"weight": weight}, static / weights_file)
    write_json(static / "config.json", {"frozen": False})
    write_json(root / "router_config.json", {
        "types": {module_id: version.router_type(role) for role, module_id in ids.items()},
        "structure": {"query": [ids["static"]], "document": [ids["mlm"], ids["pooling"]]},
        "parameters": {"default_route": "document", "allow_empty_key": True},
    })
    write_json(root / "modules.json", [{"idx": 0, "name": "0", "path": "", "type": version.types["router"]}])
    write_model_config(root)
    return root


def learned_weights() -> torch.Tensor:
    weight = torch.rand(VOCAB_SIZE, generator=torch.Generator().manual_seed(0)) * 3
    weight[[6, 9]] = 0.0  # "disease" and "the" learned to weigh nothing
    return weight


def assert_query_weights(encoder, weight: torch.Tensor) -> None:
    """Reference: 1 per distinct non-special token, times its learned weight (zeros left out)."""
    special = set(encoder.tokenizer.all_special_ids)
    expected = []
    for text in TEXTS:
        ids = set(encoder.tokenizer(text, add_special_tokens=False)["input_ids"]) - special
        expected.append({encoder.vocab[i]: float(weight[i]) for i in ids if weight[i] != 0})
    assert all(expected)
    assert encoder.encode_queries(TEXTS).to_dicts(encoder.vocab) == [pytest.approx(row) for row in expected]


def assert_same_docs(a, b) -> None:
    x, y = a.encode_docs(TEXTS), b.encode_docs(TEXTS)
    assert x.nnz_per_row().all()
    assert np.array_equal(x.indptr, y.indptr) and np.array_equal(x.indices, y.indices)
    assert np.allclose(x.values, y.values, atol=1e-6)


@pytest.mark.parametrize("version", [V5_0, V6], ids=lambda v: v.name)
def test_splade_layout_loads_as_splade_encoder(tmp_path, version):
    folder = splade_folder(tmp_path / "st", version)
    encoder = load_encoder(folder, doc_max_length=128)
    assert type(encoder) is SpladeEncoder and encoder.settings.doc_max_length == 128
    direct = SpladeEncoder.from_folder(folder, SpladeSettings(doc_max_length=128))
    assert_same_docs(encoder, direct)
    assert np.allclose(encoder.encode_queries(TEXTS).to_dense_torch(), direct.encode_queries(TEXTS).to_dense_torch())


def test_sum_pooling_is_a_setting(tmp_path):
    folder = splade_folder(tmp_path / "st", V6, pooling_strategy="sum")
    encoder = load_encoder(folder)
    assert (encoder.settings.pooling, encoder.settings.activation) == ("sum", "relu")
    assert_same_docs(encoder, SpladeEncoder.from_folder(folder, SpladeSettings(pooling="sum")))


def test_opensearch_v3_layout_keeps_its_double_log_activation(tmp_path):
    """OpenSearch's v3 doc-only models: SpladePooling(max, log1p_relu) on the document route."""
    weight = learned_weights()
    folder = inference_free_folder(tmp_path / "st", V6, weight, doc_id="", activation_function="log1p_relu")
    encoder = load_encoder(folder)
    assert encoder.settings.activation == "log1p_relu" and encoder.settings.pooling == "max"
    assert_query_weights(encoder, weight)
    assert_same_docs(encoder, SpladeEncoder.from_folder(folder, SpladeSettings(activation="log1p_relu")))
    plain = SpladeEncoder.from_folder(folder).encode_docs(TEXTS)
    assert np.allclose(encoder.encode_docs(TEXTS).values, np.log1p(plain.values), atol=1e-6)
    encoder.save(tmp_path / "lsr")
    assert load_encoder(tmp_path / "lsr").settings == encoder.settings


@pytest.mark.parametrize("version", [V5_0, V6], ids=lambda v: v.name)
def test_inference_free_layout_loads_with_its_learned_weights(tmp_path, version):
    weight = learned_weights()
    folder = inference_free_folder(tmp_path / "st", version, weight)
    encoder = load_encoder(folder)
    assert type(encoder) is InferenceFreeEncoder
    assert_query_weights(encoder, weight)
    mlm_class = version.types["mlm"].rsplit(".", 1)[1]
    assert_same_docs(encoder, SpladeEncoder.from_folder(folder / f"document_0_{mlm_class}"))


@pytest.mark.parametrize("weights_file", ["model.safetensors", "pytorch_model.bin"])
def test_mlm_in_the_router_folder_and_idf_json_beside_it(tmp_path, weights_file):
    weight = learned_weights()
    folder = inference_free_folder(tmp_path / "st", V6, weight, doc_id="", weights_file=weights_file)
    save_idf({"heart": 99.0}, folder / "idf.json")  # OpenSearch ships both: the router's weights win
    encoder = load_encoder(folder)
    assert_query_weights(encoder, weight)
    assert_same_docs(encoder, SpladeEncoder.from_folder(folder))


def test_settings_round_trip_through_an_lsr_folder(tmp_path):
    folder = inference_free_folder(tmp_path / "st", V6, learned_weights())
    encoder = load_encoder(folder, doc_max_length=32)
    again = load_encoder(folder, **encoder.recorded_settings())  # what a LuceneSearcher does with an index's settings
    assert again.settings == encoder.settings and again.doc_encoder.settings.doc_max_length == 32
    encoder.save(tmp_path / "lsr")
    saved = load_encoder(tmp_path / "lsr")
    assert type(saved) is InferenceFreeEncoder and np.array_equal(saved.query_weights, encoder.query_weights)
    assert_same_docs(saved, encoder)


def one_line_error(folder: Path) -> str:
    with pytest.raises(LsrError) as error:
        load_encoder(folder)
    message = str(error.value)
    assert "\n" not in message
    return message


def test_a_dense_model_is_refused(tmp_path):
    folder = SHARED / "models" / "all-MiniLM-L6-v2"
    if not folder.is_dir():
        pytest.skip(f"needs {folder}")
    message = one_line_error(folder)
    assert "unsupported sentence-transformers model (modules: Transformer, Pooling, Normalize)" in message
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "a", "text": "heart"}\n')
    result = CliRunner().invoke(cli, ["index", str(corpus), str(tmp_path / "index"), "--model", str(folder)])
    assert result.exit_code == 2 and result.output.startswith("lsr: error:") and "Normalize" in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_unsupported_layouts(tmp_path):
    mean_pooling = splade_folder(tmp_path / "mean", V6, pooling_strategy="mean")
    assert "pooling_strategy='mean'" in one_line_error(mean_pooling)
    feature_extraction = splade_folder(tmp_path / "features", V6)
    write_json(feature_extraction / "sentence_bert_config.json", {"transformer_task": "feature-extraction"})
    assert "(modules: Transformer, SpladePooling)" in one_line_error(feature_extraction)

    two_towers = inference_free_folder(tmp_path / "towers", V6, learned_weights())
    config = json.loads((two_towers / "router_config.json").read_text())
    config["types"]["query_0_SparseStaticEmbedding"] = V6.types["mlm"]
    write_json(two_towers / "router_config.json", config)
    assert "(routes query: Transformer; document: Transformer, SpladePooling)" in one_line_error(two_towers)

    broken = tmp_path / "broken"
    shutil.copytree(mean_pooling, broken)
    (broken / "modules.json").write_text("[{")
    assert "modules.json: invalid JSON" in one_line_error(broken)


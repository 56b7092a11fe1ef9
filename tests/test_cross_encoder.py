"""The cross-encoder on tiny random `BertForSequenceClassification` folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from lsr.errors import LsrError
from lsr.models.cross_encoder import CrossEncoder

from helpers import make_tiny_mlm

WORDS = ["heart", "liver", "glucose", "cell", "protein", "blood", "the", "of", "a", "in"]
PAIRS = [("heart", "the liver of a cell"), ("glucose in blood", ""), ("the " * 60, "protein cell"),
         ("a", "blood " * 80), ("liver cell", "heart protein of the cell in a blood")]


def make_tiny_classifier(folder: Path, num_labels: int) -> Path:
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizer

    torch.manual_seed(num_labels)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    BertTokenizer(vocab={token: i for i, token in enumerate(vocab)}).save_pretrained(folder)
    config = BertConfig(vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                        intermediate_size=32, max_position_embeddings=64, num_labels=num_labels)
    BertForSequenceClassification(config).save_pretrained(folder)
    return folder


@pytest.mark.parametrize("num_labels", [1, 2])
def test_scores_equal_a_direct_forward(tmp_path, num_labels):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    folder = make_tiny_classifier(tmp_path / "ce", num_labels)
    scores = CrossEncoder.from_folder(folder, max_length=32, batch_size=2).score(PAIRS)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    batch = tokenizer([q for q, _ in PAIRS], [p for _, p in PAIRS], padding=True, truncation="longest_first",
                      max_length=32, return_tensors="pt")
    with torch.no_grad():
        logits = model(**batch).logits
    expected = logits[:, 0] if num_labels == 1 else logits[:, 1] - logits[:, 0]
    assert scores.dtype == np.float32 and scores.shape == (len(PAIRS),)
    np.testing.assert_allclose(scores, expected.numpy(), atol=1e-5)
    one_by_one = CrossEncoder.from_folder(folder, max_length=32, batch_size=1)
    np.testing.assert_allclose([one_by_one.score([pair])[0] for pair in PAIRS], scores, atol=1e-5)
    assert one_by_one.score([]).shape == (0,)


def test_max_length_is_capped_at_the_position_embeddings(tmp_path):
    encoder = CrossEncoder.from_folder(make_tiny_classifier(tmp_path / "ce", 1))
    assert encoder.max_length == 64
    assert encoder.score([("heart " * 200, "liver " * 200)]).shape == (1,)


def test_other_models_are_refused(tmp_path):
    mlm = make_tiny_mlm(tmp_path / "mlm", WORDS)
    with pytest.raises(LsrError, match=r"mlm: not a cross-encoder \(architectures \['BertForMaskedLM'\]") as error:
        CrossEncoder.from_folder(mlm)
    assert "\n" not in str(error.value)
    with pytest.raises(LsrError, match="3 labels"):
        CrossEncoder.from_folder(make_tiny_classifier(tmp_path / "three", 3))
    with pytest.raises(LsrError, match="no config.json"):
        CrossEncoder.from_folder(tmp_path)

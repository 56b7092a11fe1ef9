"""Encoding a corpus into Parquet vector parts (lsr.indexing.vectors): the folder and its manifest, the
near-dense warning, resuming from the parts already written and refusing what does not match them."""

from __future__ import annotations

import json

from lsr.sparse import SparseVectors

from helpers import make_tiny_mlm


def test_the_near_dense_warning_gives_the_average_and_the_share_of_the_vocabulary(tmp_path, caplog):
    import logging

    from lsr.indexing.vectors import _warn_if_near_dense

    vocab = [f"t{i}" for i in range(20)]
    dense = SparseVectors.from_dicts([{f"t{i}": 1.0 for i in range(14)}, {f"t{i}": 1.0 for i in range(4, 20)}],
                                     ["x", "y"], vocab)
    with caplog.at_level(logging.WARNING):
        _warn_if_near_dense(dense, tmp_path)
    assert f"{tmp_path}: documents average 15 terms each, 75 % of the 20-term vocabulary: near-dense" in caplog.text
    caplog.clear()
    at_the_limit = SparseVectors.from_dicts([{"t0": 1.0, "t1": 1.0}, {"t2": 1.0, "t3": 1.0}], ["x", "y"], vocab)
    with caplog.at_level(logging.WARNING):
        _warn_if_near_dense(at_the_limit, tmp_path)  # 2 of 20 terms: exactly 10 %, not above it
    assert caplog.text == ""


def test_encode_corpus_makes_its_folder_and_records_the_manifest(tmp_path):
    from lsr.data import Document
    from lsr.indexing.layout import part_paths
    from lsr.indexing.vectors import VECTORS_INFO, encode_corpus
    from lsr.models import load_encoder


    encoder = load_encoder(make_tiny_mlm(tmp_path / "mlm", ["heart", "liver"]))
    folder = tmp_path / "not" / "yet" / "vectors"
    docs = [Document("a", "heart"), Document("b", "liver"), Document("c", "heart liver")]
    stats = encode_corpus(docs, encoder, folder, model_name="mlm", part_size=2, progress=False)
    assert (stats.num_docs, stats.encoded_now) == (3, 3)
    assert [SparseVectors.read_parquet(p).ids for p in part_paths(folder)] == [["a", "b"], ["c"]]
    assert json.loads((folder / VECTORS_INFO).read_text()) == {
        "model": "mlm", "encoder_kind": encoder.kind, "settings": json.loads(json.dumps(encoder.settings)),
        "vocab_fingerprint": encoder.fingerprint}

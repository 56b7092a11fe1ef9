"""Encoding a corpus into Parquet vector parts (lsr.indexing.vectors): the folder and its manifest, the
near-dense warning, resuming from the parts already written and refusing what does not match them."""

from __future__ import annotations

import json
import logging

from lsr.indexing.layout import part_paths
from lsr.models import load_encoder
from lsr.sparse import SparseVectors

from helpers import error_of, make_tiny_mlm, tiny_docs


def test_the_near_dense_warning_gives_the_average_and_the_share_of_the_vocabulary(tmp_path, caplog):

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
        "model": "mlm", "encoder_kind": encoder.kind, "settings": json.loads(json.dumps(encoder.recorded_settings())),
        "vocab_fingerprint": encoder.fingerprint}


def test_resuming_an_encoding_counts_the_finished_shards_and_names_the_first_changed_document(tmp_path, tiny_mlm):
    from lsr.data import Document
    from lsr.indexing.vectors import encode_corpus

    encoder = load_encoder(tiny_mlm, batch_size=4)
    folder = tmp_path / "new" / "deeper" / "vectors"  # parents created
    first = encode_corpus(tiny_docs(10), encoder, folder, model_name="mlm", part_size=3, progress=False)
    assert (first.num_docs, first.encoded_now) == (10, 10)
    assert [SparseVectors.read_parquet(p).ids for p in part_paths(folder)] == [
        [d.id for d in tiny_docs(10)[i:i + 3]] for i in range(0, 10, 3)]
    again = encode_corpus(tiny_docs(10), encoder, folder, model_name="mlm", part_size=3, progress=False)
    assert (again.num_docs, again.encoded_now) == (10, 0)
    part_paths(folder)[-1].unlink()
    rest = encode_corpus(tiny_docs(10), encoder, folder, model_name="mlm", part_size=3, progress=False)
    assert (rest.num_docs, rest.encoded_now) == (10, 1)
    changed = tiny_docs(10)
    changed[7] = Document("other", changed[7].text)
    message = error_of(lambda: encode_corpus(changed, encoder, folder, model_name="mlm", part_size=3,
                                             progress=False))
    assert message == (f"{part_paths(folder)[2]}: the corpus changed since this part was written (ids differ "
                       f"near document 7); use a new output folder or --overwrite")


def test_a_refused_resume_names_each_difference_with_both_values(tmp_path, tiny_mlm):
    from lsr.indexing.vectors import VECTORS_INFO, check_vectors_info

    encoder = load_encoder(tiny_mlm, doc_max_length=32)
    check_vectors_info(tmp_path, encoder, "mlm")
    other = load_encoder(tiny_mlm, doc_max_length=48)
    assert error_of(lambda: check_vectors_info(tmp_path, other, "elsewhere/mlm")) == (
        f"{tmp_path}: holds vectors from another model or settings (model: 'mlm' there, 'elsewhere/mlm' now; "
        f"settings.doc_max_length: 32 there, 48 now); use a new output folder or --overwrite")
    manifest = json.loads((tmp_path / VECTORS_INFO).read_text())
    manifest["settings"]["retired"] = 1
    (tmp_path / VECTORS_INFO).write_text(json.dumps(manifest))
    assert error_of(lambda: check_vectors_info(tmp_path, encoder, "mlm")) == (
        f"{tmp_path}: holds vectors from another model or settings (settings.retired: 1 there, None now); "
        f"use a new output folder or --overwrite")
    del manifest["settings"]["retired"], manifest["settings"]["precision"]  # written before the setting existed
    (tmp_path / VECTORS_INFO).write_text(json.dumps(manifest))
    check_vectors_info(tmp_path, encoder, "mlm")

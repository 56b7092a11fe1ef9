"""What an index folder records (lsr.indexing.layout): lsr-index.json read back, refused when unreadable,
the model's location relative to the index; a sharded index's manifest."""

from __future__ import annotations

import json

import pytest

from lsr.indexing.layout import INFO_FILE, IndexInfo

from helpers import error_of


def test_index_metadata_round_trip_and_refusals(tmp_path):
    info = IndexInfo(kind="impact", num_docs=3, num_empty=1, corpus="c", model="../m", scale=37.0,
                     pruning={"doc_top_k": 5}, speed={"index_docs_per_s": 2.5})
    folder = tmp_path / "idx"
    folder.mkdir()
    info.save(folder)
    text = (folder / INFO_FILE).read_text()
    assert text.endswith("}\n") and json.loads(text)["scale"] == 37.0
    assert IndexInfo.read(folder) == info
    raw = json.loads(text) | {"later_field": 1}
    assert IndexInfo.from_dict(raw) == info
    assert "not a complete lsr index" in error_of(lambda: IndexInfo.read(tmp_path))
    assert "index not found" in error_of(lambda: IndexInfo.read(tmp_path / "nowhere"))
    for content in ("[1, 2]", "{", "\xff"):
        (folder / INFO_FILE).write_bytes(content.encode("latin-1"))
        assert "unreadable index metadata" in error_of(lambda: IndexInfo.read(folder))
    with pytest.raises(TypeError, match="JSON list"):
        IndexInfo.from_dict([1])


def test_model_location_is_relative_to_the_index_folder_when_there(tmp_path):
    (tmp_path / "model").mkdir()
    index = tmp_path / "idx"
    index.mkdir()
    assert IndexInfo("impact", 1, 0, "c", model="../model").model_location(index) == str(index / "../model")
    assert IndexInfo("impact", 1, 0, "c", model="org/hub-model").model_location(index) == "org/hub-model"
    assert IndexInfo("bm25", 1, 0, "c").model_location(index) is None


def test_a_sharded_manifest_reads_back_and_names_what_is_wrong(cut_sharded, tmp_path):
    from lsr.indexing.layout import ShardedIndexInfo
    from lsr.indexing.sharded import SHARDED_INFO_FILE

    manifest = ShardedIndexInfo.read(cut_sharded)
    assert manifest.format_version == 1 and [shard.folder for shard in manifest.shards] == ["shard-00000",
                                                                                            "shard-00001"]
    raw = json.loads((cut_sharded / SHARDED_INFO_FILE).read_text())
    folder = tmp_path / "copy"
    folder.mkdir()
    for version in (None, 2):  # written before the field existed; a later format
        changed = {key: value for key, value in raw.items() if key != "format_version"}
        if version is not None:
            changed["format_version"] = version
        (folder / SHARDED_INFO_FILE).write_text(json.dumps(changed))
        found = ShardedIndexInfo.read(folder)
        assert found.format_version == (version or 1) and found.shards == manifest.shards
    assert error_of(lambda: ShardedIndexInfo.read(tmp_path)) == (
        f"{tmp_path}: not a complete sharded lsr index (no {SHARDED_INFO_FILE}; an interrupted sharded build "
        f"resumes when run again)")
    (folder / SHARDED_INFO_FILE).write_text("{")
    assert error_of(lambda: ShardedIndexInfo.read(folder)).startswith(
        f"{folder / SHARDED_INFO_FILE}: unreadable sharded index metadata (JSONDecodeError(")

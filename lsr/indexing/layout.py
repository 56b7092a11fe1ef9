"""The layout of an lsr index folder and its metadata files, each written last so its presence means "complete".

An index folder:
    lsr-index.json    `IndexInfo`: what the index was built from and with
    lucene/           the Lucene index (impact or BM25)
    vectors/          the document vectors as Parquet parts (impact indexes only; `lsr.indexing.vectors`)
    seismic/          optionally, a Seismic index of the vectors (`lsr.indexing.seismic`)

A sharded impact index folder (`lsr.indexing.sharded`):
    lsr-sharded-index.json   `ShardedIndexInfo`: the metadata of the whole and the list of shards
    vectors/                 the vector parts, when it was built from a corpus
    shard-00000/ ...         one index folder as above per index shard (lsr-index.json, lucene/)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lsr.errors import LsrError
from lsr.fileio import MetadataFile

INFO_FILE = "lsr-index.json"
LUCENE_DIR = "lucene"
VECTORS_DIR = "vectors"
SHARDED_INFO_FILE = "lsr-sharded-index.json"


@dataclass
class IndexInfo(MetadataFile):
    """What an index was built from and with; `lsr search` needs nothing else."""

    FILE = INFO_FILE

    kind: str                      # "impact" or "bm25"
    num_docs: int                  # documents read from the corpus
    num_empty: int                 # of which blank: kept in vectors/, absent from Lucene (they match nothing)
    corpus: str
    model: str | None = None       # impact: the model folder (relative to the index folder) or hub id
    encoder_kind: str | None = None
    encoder_settings: dict[str, Any] = field(default_factory=dict)
    vocab_fingerprint: str | None = None
    scale: float | None = None     # impact: int weight = round(float weight * scale)
    avg_postings_per_doc: float | None = None
    pruning: dict[str, Any] = field(default_factory=dict)  # impact: lsr.pruning.Pruning fields
    bm25: dict[str, float] | None = None  # bm25: {"k1": .., "b": ..}
    speed: dict[str, float | None] = field(default_factory=dict)  # encode/index docs per second of the build
    format_version: int = 1

    def model_location(self, folder: str | Path) -> str | None:
        """Where the model is: `model` taken relative to the index `folder` when that is a folder there
        (absolute paths of older indexes stay as they are), else `model` itself (a hub id)."""
        if self.model is None:
            return None
        beside = Path(folder) / self.model
        return str(beside) if beside.is_dir() else self.model

    @classmethod
    def read(cls, folder: str | Path) -> IndexInfo:
        if not (Path(folder) / INFO_FILE).is_file():
            if Path(folder).is_dir():
                raise LsrError(f"{folder}: not a complete lsr index (no {INFO_FILE}; "
                               f"an interrupted `lsr index` resumes when run again)")
            raise LsrError(f"index not found: {folder}")
        raw = cls.read_json(folder, "index metadata")
        try:
            return cls.from_dict(raw)
        except TypeError as e:
            raise LsrError(f"{Path(folder) / INFO_FILE}: unreadable index metadata ({e})") from e

    @classmethod
    def from_dict(cls, raw: Any) -> IndexInfo:
        """The metadata in a JSON object (keys it does not know are ignored); TypeError for another value."""
        return cls(**cls.known_fields(raw))


@dataclass
class ShardEntry:
    """One index shard: its folder (relative to the sharded index folder), its documents (`num_empty` of
    them without terms) and the vector parts (Parquet files of the vectors folder) it was written from."""

    folder: str
    num_docs: int
    num_empty: int
    vectors: list[str]


@dataclass
class ShardedIndexInfo(MetadataFile):
    """What `lsr-sharded-index.json` holds: the metadata of the whole (`index`: the model relative to the
    sharded index folder, encoder kind and settings, vocabulary fingerprint, scale, pruning, document
    counts), the vectors folder the shards were written from (relative to the sharded index folder when
    inside it) and the shards in document order."""

    FILE = SHARDED_INFO_FILE

    index: IndexInfo
    vectors: str
    shards: list[ShardEntry] = field(default_factory=list)
    format_version: int = 1

    def shard_dirs(self, folder: str | Path) -> list[Path]:
        return [Path(folder) / shard.folder for shard in self.shards]

    @classmethod
    def read(cls, folder: str | Path) -> ShardedIndexInfo:
        path = Path(folder) / SHARDED_INFO_FILE
        if not path.is_file():
            raise LsrError(f"{folder}: not a complete sharded lsr index (no {SHARDED_INFO_FILE}; an "
                           f"interrupted sharded build resumes when run again)")
        raw = cls.read_json(folder, "sharded index metadata")
        try:
            return cls(index=IndexInfo.from_dict(raw["index"]), vectors=str(raw["vectors"]),
                       shards=[ShardEntry(**shard) for shard in raw["shards"]],
                       format_version=int(raw.get("format_version", 1)))
        except (TypeError, KeyError, ValueError) as e:
            raise LsrError(f"{path}: unreadable sharded index metadata ({e!r})") from e


def part_paths(folder: str | Path) -> list[Path]:
    """The vector parts in `folder`, in document order."""
    return sorted(Path(folder).glob("part-*.parquet"))


def part_path(folder: str | Path, index: int) -> Path:
    """Where part `index` (the documents from `index * part_size` on) is written."""
    return Path(folder) / f"part-{index:05d}.parquet"


def is_sharded_index(folder: str | Path) -> bool:
    """Whether `folder` holds a complete sharded index (its `lsr-sharded-index.json`)."""
    return (Path(folder) / SHARDED_INFO_FILE).is_file()


def read_index_info(folder: str | Path) -> IndexInfo:
    """The metadata of an index folder, or that of the whole of a sharded index."""
    if is_sharded_index(folder):
        return ShardedIndexInfo.read(folder).index
    return IndexInfo.read(folder)

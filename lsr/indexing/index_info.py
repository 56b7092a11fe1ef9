"""The metadata file of an lsr index folder, written last so its presence means "complete".

Layout of an index folder:
    lsr-index.json    this metadata
    lucene/           the Lucene index (impact or BM25)
    vectors/          Parquet shards of the document vectors (impact indexes only)

A sharded impact index (`lsr.distributed.shards`) holds `lsr-sharded-index.json` and one such folder per shard.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from lsr.errors import LsrError
from lsr.fileio import write_text_atomic

INFO_FILE = "lsr-index.json"
LUCENE_DIR = "lucene"
VECTORS_DIR = "vectors"
SHARDED_INFO_FILE = "lsr-sharded-index.json"


@dataclass
class IndexInfo:
    """What an index was built from and with; `lsr search` needs nothing else."""

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
    pruning: dict[str, Any] = field(default_factory=dict)  # impact: lsr.indexing.pruning.Pruning fields
    bm25: dict[str, float] | None = None  # bm25: {"k1": .., "b": ..}
    speed: dict[str, float] = field(default_factory=dict)  # encode_docs_per_s, index_docs_per_s of the build
    format_version: int = 1

    def model_location(self, folder: str | Path) -> str | None:
        """Where the model is: `model` taken relative to the index `folder` when that is a folder there
        (absolute paths of older indexes stay as they are), else `model` itself (a hub id)."""
        if self.model is None:
            return None
        beside = Path(folder) / self.model
        return str(beside) if beside.is_dir() else self.model

    def save(self, folder: str | Path) -> None:
        write_text_atomic(Path(folder) / INFO_FILE, json.dumps(asdict(self), indent=2) + "\n")

    @classmethod
    def read(cls, folder: str | Path) -> IndexInfo:
        path = Path(folder) / INFO_FILE
        if not path.is_file():
            if Path(folder).is_dir():
                raise LsrError(f"{folder}: not a complete lsr index (no {INFO_FILE}; "
                               f"an interrupted `lsr index` resumes when run again)")
            raise LsrError(f"index not found: {folder}")
        try:
            return cls.from_dict(json.loads(path.read_text(encoding="utf-8")))
        except (json.JSONDecodeError, UnicodeDecodeError, TypeError) as e:
            raise LsrError(f"{path}: unreadable index metadata ({e})") from e

    @classmethod
    def from_dict(cls, raw: Any) -> IndexInfo:
        """The metadata in a JSON object (keys it does not know are ignored); TypeError for another value."""
        if not isinstance(raw, dict):
            raise TypeError(f"a JSON {type(raw).__name__}, not an object")
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in raw.items() if k in known})


def is_sharded_index(folder: str | Path) -> bool:
    """Whether `folder` holds a complete sharded index (its manifest)."""
    return (Path(folder) / SHARDED_INFO_FILE).is_file()


def read_index_info(folder: str | Path) -> IndexInfo:
    """The metadata of an index folder, or that of the whole of a sharded index (its manifest's)."""
    if is_sharded_index(folder):
        from lsr.distributed.shards import ShardedIndexInfo

        return ShardedIndexInfo.read(folder).index
    return IndexInfo.read(folder)

"""Exact inner-product search over dense document embeddings (faiss `IndexFlatIP`).

An index folder holds `embeddings.npy` (float32 [count, dim], row i for line i of `ids.txt`),
`ids.txt` (one doc id a line, corpus order) and `dense-index.json` (format version, the encoder's
settings, dim, count), which is written last: a folder without it is incomplete.

`DenseIndex.build` encodes the corpus in chunks. Each encoded chunk is saved under `parts/`
(`part-00000.npz`, … with the chunk's ids and embeddings) as it is done, so a build that crashes
resumes after the chunks already saved, provided the encoder settings and chunk size are the
same. Rebuilding over a complete index made with the same encoder settings takes the rows of
every chunk whose ids match the old index at the same position instead of encoding it again;
when nothing changed, the old index is returned untouched.
"""

from __future__ import annotations

import itertools
import json
import shutil
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from tqdm.auto import tqdm

from lsr.data.records import Document
from lsr.errors import LsrError
from lsr.fileio import atomic_path, write_text_atomic
from lsr.models.dense import DenseEncoder
from lsr.runs import Run

INFO_FILE = "dense-index.json"
EMBEDDINGS_FILE = "embeddings.npy"
IDS_FILE = "ids.txt"
PARTS_FOLDER = "parts"
PARTS_INFO = "parts.json"
FORMAT_VERSION = 1


class DenseIndex:
    """Documents' dense embeddings, searched exactly by inner product (cosine for normalised embeddings)."""

    def __init__(self, folder: Path, embeddings: np.ndarray, ids: list[str], settings: dict[str, Any]):
        self.folder = folder
        self.embeddings = embeddings
        self.ids = ids
        self.settings = settings
        self._faiss = None
        self._rows: dict[str, int] | None = None

    @property
    def dim(self) -> int:
        return int(self.embeddings.shape[1])

    def __len__(self) -> int:
        return len(self.ids)

    @classmethod
    def open(cls, folder: str | Path) -> DenseIndex:
        """The complete index in `folder` (embeddings memory-mapped); `LsrError` naming the file at fault."""
        folder = Path(folder)
        info_file = folder / INFO_FILE
        if not info_file.is_file():
            raise LsrError(f"{folder}: not a complete dense index (no {INFO_FILE})")
        try:
            info = json.loads(info_file.read_text(encoding="utf-8"))
            count, dim, settings = int(info["count"]), int(info["dim"]), dict(info["settings"])
            version = int(info.get("format_version", 1))
        except (json.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise LsrError(f"{info_file}: not a valid dense index description ({e!r})") from e
        if version != FORMAT_VERSION:
            raise LsrError(f"{info_file}: format_version {version}; this lsr reads {FORMAT_VERSION}")
        embeddings_file, ids_file = folder / EMBEDDINGS_FILE, folder / IDS_FILE
        try:
            embeddings = np.load(embeddings_file, mmap_mode="r")
            ids = _read_ids(ids_file)
        except FileNotFoundError as e:
            raise LsrError(f"{e.filename}: missing from the dense index") from None
        except ValueError as e:
            raise LsrError(f"{embeddings_file}: not a numpy array file ({e})") from e
        if embeddings.dtype != np.float32 or embeddings.shape != (count, dim):
            raise LsrError(f"{embeddings_file}: {embeddings.dtype} {list(embeddings.shape)}, but {INFO_FILE} "
                           f"says float32 [{count}, {dim}]")
        if len(ids) != count:
            raise LsrError(f"{ids_file}: {len(ids)} ids, but {INFO_FILE} says {count} documents")
        return cls(folder, embeddings, ids, settings)

    @classmethod
    def build(cls, docs: Iterable[Document], encoder: DenseEncoder, folder: str | Path, *, chunk: int = 1024,
              progress: bool = True) -> DenseIndex:
        """Encode `doc.full_text()` of every document into an index in `folder` and open it.

        Resumes an interrupted build and reuses a complete index's rows (see the module notes).
        Raises `LsrError` for a doc id that is empty, holds a line break or repeats.
        """
        if chunk < 1:
            raise LsrError(f"chunk must be at least 1, not {chunk}")
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        settings = encoder.settings
        previous = _open_if_complete(folder)
        if previous is not None and previous.settings != settings:
            previous = None
        parts = _Parts(folder / PARTS_FOLDER, {"settings": settings, "chunk": chunk})
        pieces: list[np.ndarray] = []
        ids: list[str] = []
        seen: set[str] = set()
        unchanged = previous is not None
        rows: np.ndarray | None
        bar = tqdm(desc="dense index", unit="doc", disable=not progress)
        docs = iter(docs)
        for number in itertools.count():
            batch = list(itertools.islice(docs, chunk))
            if not batch:
                break
            batch_ids = [doc.id for doc in batch]
            _check_ids(batch_ids, seen, folder)
            start = len(ids)
            if previous is not None and previous.ids[start:start + len(batch)] == batch_ids:
                rows = np.asarray(previous.embeddings[start:start + len(batch)])
            else:
                unchanged = False
                rows = parts.load(number, batch_ids)
                if rows is None:
                    rows = encoder.encode([doc.full_text() for doc in batch])
                    parts.save(number, batch_ids, rows)
            pieces.append(rows)
            ids.extend(batch_ids)
            bar.update(len(batch))
        bar.close()
        if unchanged and previous is not None and len(ids) == len(previous):
            parts.remove()
            return previous
        embeddings = np.concatenate(pieces) if pieces else np.zeros((0, encoder.dim), dtype=np.float32)
        _write(folder, embeddings.astype(np.float32, copy=False), ids, settings)
        parts.remove()
        return cls.open(folder)

    def search(self, query_embeddings: np.ndarray, query_ids: Sequence[str], k: int) -> Run:
        """The `k` documents of highest inner product for each query (row i is `query_ids[i]`), best first.

        `k` is capped at the number of documents.
        """
        queries = np.ascontiguousarray(query_embeddings, dtype=np.float32)
        if queries.ndim != 2 or queries.shape != (len(query_ids), self.dim):
            raise LsrError(f"{self.folder}: query embeddings of shape {list(queries.shape)} do not fit "
                           f"{len(query_ids)} queries of dimension {self.dim}")
        if k < 1:
            raise LsrError(f"k must be at least 1, not {k}")
        if len(set(query_ids)) != len(query_ids):
            raise LsrError("query ids repeat; each query needs its own id")
        k = min(k, len(self))
        if k == 0 or len(query_ids) == 0:
            return {qid: [] for qid in query_ids}
        scores, rows = self._index().search(queries, k)
        return {qid: [(self.ids[row], float(score)) for row, score in zip(row_list, score_list)]
                for qid, row_list, score_list in zip(query_ids, rows.tolist(), scores.tolist())}

    def embeddings_for(self, doc_ids: Sequence[str]) -> np.ndarray:
        """float32 [len(doc_ids), dim]: the stored embedding of each doc id, in the order given."""
        if self._rows is None:
            self._rows = {doc_id: row for row, doc_id in enumerate(self.ids)}
        try:
            rows = [self._rows[doc_id] for doc_id in doc_ids]
        except KeyError as e:
            raise LsrError(f"{self.folder}: doc id {e.args[0]!r} is not in the dense index") from None
        return np.asarray(self.embeddings[np.asarray(rows, dtype=np.int64)], dtype=np.float32).reshape(-1, self.dim)

    def _index(self):
        if self._faiss is None:
            import faiss

            index = faiss.IndexFlatIP(self.dim)
            index.add(np.ascontiguousarray(self.embeddings, dtype=np.float32))
            self._faiss = index
        return self._faiss


class _Parts:
    """The chunks of an unfinished build, each saved as it is encoded; kept only under the same manifest."""

    def __init__(self, folder: Path, manifest: dict[str, Any]):
        self.folder = folder
        self.manifest = manifest
        self._ready = False

    def _path(self, number: int) -> Path:
        return self.folder / f"part-{number:05d}.npz"

    def _prepare(self) -> None:
        """Drop parts left by a build with other settings; start a manifest."""
        if self._ready:
            return
        manifest_file = self.folder / PARTS_INFO
        try:
            same = json.loads(manifest_file.read_text(encoding="utf-8")) == self.manifest
        except (OSError, json.JSONDecodeError):
            same = False
        if not same:
            shutil.rmtree(self.folder, ignore_errors=True)
            self.folder.mkdir(parents=True)
            write_text_atomic(manifest_file, json.dumps(self.manifest, indent=2) + "\n")
        self._ready = True

    def load(self, number: int, ids: list[str]) -> np.ndarray | None:
        """The saved rows of chunk `number` when it holds exactly `ids`, else None."""
        self._prepare()
        path = self._path(number)
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as saved:
                if saved["ids"].tolist() != ids:
                    return None
                return np.asarray(saved["embeddings"], dtype=np.float32)
        except (OSError, ValueError, KeyError):
            return None  # a damaged part is encoded again

    def save(self, number: int, ids: list[str], rows: np.ndarray) -> None:
        self._prepare()
        with atomic_path(self._path(number)) as tmp, open(tmp, "wb") as f:
            np.savez(f, ids=np.asarray(ids, dtype=str), embeddings=rows)

    def remove(self) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)


def _open_if_complete(folder: Path) -> DenseIndex | None:
    try:
        return DenseIndex.open(folder)
    except LsrError:
        return None


def _check_ids(ids: list[str], seen: set[str], folder: Path) -> None:
    for doc_id in ids:
        if not doc_id or "\n" in doc_id or "\r" in doc_id:
            raise LsrError(f"{folder}: doc id {doc_id!r} is empty or holds a line break; it cannot go in {IDS_FILE}")
        if doc_id in seen:
            raise LsrError(f"{folder}: doc id {doc_id!r} repeats in the corpus")
        seen.add(doc_id)


def _write(folder: Path, embeddings: np.ndarray, ids: list[str], settings: dict[str, Any]) -> None:
    """Write the three files, the description last (the mark of a complete index)."""
    (folder / INFO_FILE).unlink(missing_ok=True)
    with atomic_path(folder / EMBEDDINGS_FILE) as tmp:
        np.save(tmp, embeddings)
    write_text_atomic(folder / IDS_FILE, "".join(f"{doc_id}\n" for doc_id in ids))
    info = {"format_version": FORMAT_VERSION, "settings": settings, "dim": int(embeddings.shape[1]),
            "count": len(ids)}
    write_text_atomic(folder / INFO_FILE, json.dumps(info, indent=2) + "\n")


def _read_ids(path: Path) -> list[str]:
    with open(path, encoding="utf-8", newline="") as f:
        text = f.read()
    return text.split("\n")[:-1] if text else []

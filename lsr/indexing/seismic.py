"""Seismic indexes (`pyseismic-lsr`) of an impact index's vector parts, for approximate search (`lsr.search.seismic`).

Layout inside an impact index folder (next to `lucene/`):
    seismic/index.index.seismic   the Seismic index
    seismic/seismic.json          its build parameters, pyseismic version and what it was built from

`build_seismic_index` streams `vectors/` shard by shard into Seismic's in-memory dataset, pruning and
quantizing each document as the Lucene build did (the index's recorded document pruning and scale), so
both backends hold the same integer impacts. Seismic keeps document values as float16, which holds
integers up to 2048 exactly (a weight of 20.48 at scale 100), and sums products in float32, exact below
2**24: Seismic then scores the very integer dot product Lucene does, and with exhaustive parameters
returns Lucene's ranking. `SeismicSearcher` scores as `LuceneSearcher` does, so the backends can stand in for
each other: `search` returns that integer score (what run files hold), `search_one` divides it by
scale² (the model's dot product).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from lsr.errors import LsrError
from lsr.fileio import MetadataFile, atomic_path
from lsr.indexing.layout import VECTORS_DIR, IndexInfo, part_paths

log = logging.getLogger(__name__)

SEISMIC_DIR = "seismic"
SEISMIC_INFO = "seismic.json"
_INDEX_STEM = "index"  # Seismic's save() appends ".index.seismic"
INDEX_FILE = _INDEX_STEM + ".index.seismic"
FLOAT16_EXACT = 2048  # float16 (Seismic's document values) holds every integer up to this one exactly


@dataclass(frozen=True)
class SeismicParams:
    """Seismic's build parameters (its names and defaults; see `help(seismic.SeismicIndex.build_from_dataset)`).

    `n_postings`: postings kept per term on average (a global threshold over all lists; lists above
    `n_postings * max_fraction` are cut); `centroid_fraction`: blocks per list as a fraction of its
    length; `min_cluster_size`: smallest block; `summary_energy`: share of a block's weight mass its
    summary keeps; `doc_cut`: terms per document used to cluster.
    """

    n_postings: int = 3500
    centroid_fraction: float = 0.1
    min_cluster_size: int = 2
    summary_energy: float = 0.4
    max_fraction: float = 1.5
    doc_cut: int = 15

    def check(self) -> None:
        """LsrError naming the first parameter out of range."""
        if self.n_postings < 1 or self.min_cluster_size < 1 or self.doc_cut < 1:
            raise LsrError(f"Seismic n_postings, min_cluster_size and doc_cut must be at least 1, got {self}")
        if not (0 < self.centroid_fraction <= 1 and 0 < self.summary_energy <= 1 and self.max_fraction > 0):
            raise LsrError(f"Seismic centroid_fraction and summary_energy must lie in (0, 1] and max_fraction "
                           f"be positive, got {self}")


@dataclass
class SeismicInfo(MetadataFile):
    """What `seismic.json` records: the build parameters and what the index was built from."""

    FILE = SEISMIC_INFO

    params: dict[str, Any]
    pyseismic_version: str
    scale: float
    pruning: dict[str, Any]   # the impact index's Pruning fields (document pruning applied at build)
    num_docs: int             # documents in vectors/
    num_indexed: int          # of which with terms (Seismic skips empty vectors: they match nothing)
    postings: int
    max_impact: int
    build_seconds: float
    format_version: int = 1

    @classmethod
    def read(cls, index_dir: str | Path) -> SeismicInfo:
        folder = Path(index_dir) / SEISMIC_DIR
        path = folder / SEISMIC_INFO
        if not path.is_file() or not (folder / INDEX_FILE).is_file():
            raise LsrError(f"{index_dir}: no Seismic index (build it with `lsr seismic {index_dir}`)")
        raw = cls.read_json(folder, "Seismic metadata")
        try:
            return cls(**raw)
        except TypeError as e:
            raise LsrError(f"{path}: unreadable Seismic metadata ({e})") from e


def build_seismic_index(index_dir: str | Path, params: SeismicParams = SeismicParams(), *,
                        threads: int | None = None, overwrite: bool = False) -> SeismicInfo:
    """Build `INDEX/seismic/` from the impact index's document vectors; it appears only when complete.

    An existing Seismic index is refused unless `overwrite`. Returns what `seismic.json` records.
    """
    import numpy as np

    from lsr.pruning import Pruning
    from lsr.sparse import SparseVectors

    seismic = import_seismic()
    index_dir = Path(index_dir)
    info = impact_index_info(index_dir)
    params.check()
    shards = part_paths(index_dir / VECTORS_DIR)
    if not shards:
        raise LsrError(f"{index_dir}: no document vectors ({VECTORS_DIR}/part-*.parquet) to build Seismic from")
    out = index_dir / SEISMIC_DIR
    if out.exists() and not overwrite:
        raise LsrError(f"{out}: a Seismic index is already there (pass --overwrite to rebuild it)")
    scale = info.scale
    assert scale is not None  # an impact index records the scale its vectors are quantized with
    pruning = Pruning.from_dict(info.pruning)
    start = time.perf_counter()
    dataset = None
    num_docs = num_indexed = postings = max_impact = 0
    for path in shards:
        vectors = pruning.docs(SparseVectors.read_parquet(path)).quantize(scale)
        if dataset is None:
            dataset = seismic.SeismicDataset(dim=vectors.vocab_size)
        num_docs += len(vectors)
        num_indexed += dataset.add_documents_by_id(vectors.ids, vectors.indices.astype(np.int64),
                                                   vectors.values.astype(np.float32), vectors.indptr)
        postings += len(vectors.indices)
        max_impact = max(max_impact, int(vectors.values.max(initial=0)))
    if num_docs != info.num_docs:
        raise LsrError(f"{index_dir}: {VECTORS_DIR}/ holds {num_docs} documents, the index records {info.num_docs}")
    if not num_indexed:
        raise LsrError(f"{index_dir}: every document vector is empty; there is nothing to search")
    if max_impact > FLOAT16_EXACT:
        log.warning("%s: impacts up to %d; Seismic's float16 document values round those above %d, so its "
                    "scores differ slightly from Lucene's", index_dir, max_impact, FLOAT16_EXACT)
    with atomic_path(out, is_dir=True) as tmp, _stdout_to_stderr():
        index = seismic.SeismicIndex.build_from_dataset(dataset, **asdict(params), num_threads=threads or 0)
        del dataset
        index.save(str(tmp / _INDEX_STEM))
        built = SeismicInfo(asdict(params), metadata.version("pyseismic-lsr"), scale, info.pruning, num_docs,
                            num_indexed, postings, max_impact, round(time.perf_counter() - start, 3))
        built.save(tmp)
    return built


def impact_index_info(index_dir: Path) -> IndexInfo:
    """The metadata of the impact index `index_dir`; LsrError for a BM25 index."""
    info = IndexInfo.read(index_dir)
    if info.kind != "impact":
        raise LsrError(f"{index_dir} is a {info.kind} index: Seismic needs an impact index's document vectors")
    return info


def import_seismic():
    """pyseismic's module; LsrError saying how to install it when it is missing."""
    try:
        import seismic
    except ImportError:
        raise LsrError("Seismic is not installed: pip install 'lsr[seismic]' (the pyseismic-lsr package)") from None
    return seismic


@contextmanager
def _stdout_to_stderr() -> Iterator[None]:
    """Send what Seismic's Rust code prints (progress lines) to stderr, keeping stdout for lsr's output."""
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        os.dup2(saved, 1)
        os.close(saved)

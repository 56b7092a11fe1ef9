"""Resumable corpus encoding into vector parts: Parquet files of document vectors.

Parts (`part-00000.parquet`, …) hold `part_size` documents each, in corpus order, and appear
atomically; `encoding.json` (`VECTORS_INFO`) records the model, encoder kind, settings and
vocabulary they were encoded with. A rerun after a crash checks the finished parts against the
corpus and encodes only the rest, so every document ends up exactly once.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import torch
from tqdm.auto import tqdm
from tqdm.contrib.logging import logging_redirect_tqdm

from lsr.data import Document
from lsr.errors import LsrError
from lsr.fileio import write_text_atomic
from lsr.indexing.layout import part_path, part_paths
from lsr.models import Encoder
from lsr.sparse import SparseVectors

log = logging.getLogger(__name__)
VECTORS_INFO = "encoding.json"
DEFAULT_PART_SIZE = 1024
# Trained sparse encoders keep well under 1 % of the vocabulary per document; above this
# fraction the vectors are near-dense (an untrained or mis-configured model).
NEAR_DENSE_FRACTION = 0.1


@dataclass
class EncodeStats:
    """Counts over the whole corpus; speed over the documents this run encoded."""

    num_docs: int
    encoded_now: int
    seconds: float

    @property
    def docs_per_second(self) -> float:
        return self.encoded_now / self.seconds if self.seconds > 0 else float("nan")


def encode_corpus(docs: Iterable[Document], encoder: Encoder, folder: str | Path, *, model_name: str,
                  part_size: int = DEFAULT_PART_SIZE, progress: bool = True, total: int | None = None) -> EncodeStats:
    """Encode `docs` into vector parts under `folder`, resuming after the parts already there.

    The bar counts documents of `total` (the corpus size, when known) and moves after every model batch.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    check_vectors_info(folder, encoder, model_name)
    docs = iter(docs)
    done = part_paths(folder)
    num_docs = _skip_finished(docs, done)
    encoded_now, start = 0, time.perf_counter()
    with tqdm(desc="encode docs", unit="doc", total=total, initial=num_docs, disable=not progress,
              dynamic_ncols=True) as bar, (logging_redirect_tqdm(tqdm_class=tqdm) if progress else nullcontext()):
        for index in itertools.count(len(done)):
            batch = list(itertools.islice(docs, part_size))
            if not batch:
                break
            end = num_docs + len(batch)
            # Model batches hold texts or windows of texts, longest first: count them, up to the part's end.
            with _after_model_batches(encoder.network, functools.partial(_advance, bar, end), enabled=progress):
                vectors = encoder.encode_docs([d.full_text() for d in batch], [d.id for d in batch])
            if encoded_now == 0:
                _warn_if_near_dense(vectors, folder)
            vectors.to_parquet(part_path(folder, index))
            num_docs, encoded_now = end, encoded_now + len(batch)
            bar.update(end - bar.n)
        bar.total = num_docs  # a line count can be a little off (blank lines): end at 100 %
    return EncodeStats(num_docs, encoded_now, time.perf_counter() - start)


def _advance(bar: tqdm, end: int, rows: int) -> None:
    """Move `bar` on by `rows`, not past `end`."""
    bar.update(min(rows, end - bar.n))


@contextmanager
def _after_model_batches(network: torch.nn.Module, step: Callable[[int], object], *, enabled: bool) -> Iterator[None]:
    """Call `step(rows)` after each forward call of `network` (or of its members, for a dict of networks),
    that is after each batch the encoder runs, without changing how it batches."""
    if not enabled:
        yield
        return

    def hook(module: torch.nn.Module, args: tuple, kwargs: dict, output: object) -> None:
        rows = kwargs.get("input_ids", args[0] if args else None)
        step(len(rows) if rows is not None else 0)

    modules = list(network.values()) if isinstance(network, torch.nn.ModuleDict) else [network]
    handles = [m.register_forward_hook(hook, with_kwargs=True) for m in modules]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def _warn_if_near_dense(vectors: SparseVectors, folder: Path) -> None:
    warn_if_near_dense(float(vectors.nnz_per_row().mean()), vectors.vocab_size, folder)


def warn_if_near_dense(mean_terms: float, vocab_size: int, folder: Path) -> None:
    """Warn when the first documents encoded average `mean_terms` terms, over 10 % of the vocabulary."""
    if mean_terms > NEAR_DENSE_FRACTION * vocab_size:
        log.warning("%s: documents average %.0f terms each, %.0f %% of the %d-term vocabulary: near-dense "
                    "vectors make large parts and, unless pruned (--doc-top-k, e.g. 256, or --doc-threshold), "
                    "a large and slow index. Is the model trained for sparsity?",
                    folder, mean_terms, 100 * mean_terms / vocab_size, vocab_size)


def check_vectors_info(folder: Path, encoder: Encoder, model_name: str) -> None:
    """Write `folder`'s vectors info (model, encoder kind, settings, vocabulary), or refuse a folder whose
    vectors info names another model or other settings. A setting the vectors info lacks (one added to lsr
    after the folder was written) counts as its default."""
    info = {"model": model_name, "encoder_kind": encoder.kind, "settings": encoder.recorded_settings(),
            "vocab_fingerprint": encoder.fingerprint}
    path = folder / VECTORS_INFO
    if path.exists():
        found, wanted = json.loads(path.read_text(encoding="utf-8")), json.loads(json.dumps(info))
        found["settings"] = {**_defaults(encoder), **(found.get("settings") or {})}
        if found != wanted:
            there, now = _flat(found), _flat(wanted)
            differences = "; ".join(f"{key}: {there.get(key)!r} there, {now.get(key)!r} now"
                                    for key in sorted(there.keys() | now.keys()) if there.get(key) != now.get(key))
            raise LsrError(f"{folder}: holds vectors from another model or settings ({differences}); "
                           f"use a new output folder or --overwrite")
    else:
        write_text_atomic(path, json.dumps(info, indent=2) + "\n")


def _defaults(encoder: Encoder) -> dict:
    """The default value of each of the encoder's settings that has one, as JSON values."""
    return json.loads(json.dumps({f.name: f.default for f in dataclasses.fields(encoder.settings)
                                  if f.default is not dataclasses.MISSING}))


def _flat(info: dict) -> dict:
    """Vectors info with its settings as top-level `settings.NAME` keys (to name what differs)."""
    flat = {key: value for key, value in info.items() if key != "settings"}
    flat.update({f"settings.{key}": value for key, value in (info.get("settings") or {}).items()})
    return flat


def _skip_finished(docs: Iterator[Document], parts: list[Path]) -> int:
    """Advance `docs` past the finished parts, checking the ids match; return how many."""
    skipped = 0
    for path in parts:
        ids = pq.read_table(path, columns=["id"]).column("id").to_pylist()
        corpus_ids = [d.id for d in itertools.islice(docs, len(ids))]
        if corpus_ids != ids:
            raise LsrError(f"{path}: the corpus changed since this part was written "
                           f"(ids differ near document {skipped + 1}); use a new output folder or --overwrite")
        skipped += len(ids)
    if parts:
        log.info("resuming after %d documents already encoded in %d parts", skipped, len(parts))
    return skipped


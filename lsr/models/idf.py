"""IDF tables: a weight per vocabulary token, from document frequencies over a corpus.

The formula is the BM25 (Lucene) one, `idf = ln(1 + (N - df + 0.5) / (df + 0.5))`: always
positive, near 0 for a token in every document, `ln((N + 1) / 1.5)` for a token in one. It is
also the formula behind OpenSearch's published `idf.json` (N = 8,841,823 MS MARCO passages:
a token seen once gets exactly its maximum, 15.5895). Tokens never seen get no entry.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from lsr.data import Document
from lsr.errors import LsrError
from lsr.fileio import write_text_atomic

_BATCH = 1000  # documents tokenized per call


def compute_idf(docs: Iterable[Document], tokenizer, *, progress: bool = True) -> dict[str, float]:
    """IDF of every token seen in `docs` (`Document.full_text()`, no special tokens), in term-id order.

    `tokenizer` is a Hugging Face tokenizer (fast ones take seconds for SciFact's 5,183 documents).
    """
    vocab_size = len(tokenizer)
    df = np.zeros(vocab_size, dtype=np.int64)
    num_docs = 0
    with tqdm(desc="idf", unit="doc", disable=not progress, leave=False) as bar:
        for batch in _batches((d.full_text() for d in docs), _BATCH):
            token_ids = tokenizer(batch, add_special_tokens=False, return_attention_mask=False,
                                  return_token_type_ids=False, verbose=False)["input_ids"]
            df += np.bincount(distinct_terms(token_ids, vocab_size)[1], minlength=vocab_size)
            num_docs += len(batch)
            bar.update(len(batch))
    df[tokenizer.all_special_ids] = 0  # [UNK] stands for many words: no weight of its own
    seen = np.flatnonzero(df)
    idf = np.log1p((num_docs - df[seen] + 0.5) / (df[seen] + 0.5))
    return dict(zip(tokenizer.convert_ids_to_tokens(seen.tolist()), idf.tolist()))


def save_idf(table: dict[str, float], path: str | Path) -> None:
    """Write `table` as one JSON object token -> weight (atomically)."""
    write_text_atomic(path, json.dumps(table, ensure_ascii=False) + "\n")


def load_idf(path: str | Path) -> dict[str, float]:
    """Read a JSON object token -> weight; LsrError naming the file if it is not one."""
    path = Path(path)
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as e:
        raise LsrError(f"{path}: no such file (expected a JSON token -> weight table)") from e
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise LsrError(f"{path}: invalid JSON ({e})") from e
    if not isinstance(raw, dict):
        raise LsrError(f"{path}: expected a JSON object token -> weight, got {type(raw).__name__}")
    for token, weight in raw.items():
        if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not math.isfinite(weight):
            raise LsrError(f"{path}: token {token!r} has weight {weight!r} (expected a finite number)")
    return {token: float(weight) for token, weight in raw.items()}


def load_tokenizer(model: str | Path):
    """The Hugging Face tokenizer of a model folder (or hub id)."""
    from transformers import AutoTokenizer

    from lsr.models.hub import local_folder

    folder = local_folder(model)
    try:
        return AutoTokenizer.from_pretrained(folder)
    except (OSError, ValueError) as e:
        raise LsrError(f"{folder}: no tokenizer could be loaded ({e})") from e


def distinct_terms(token_ids: list[list[int]], vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """(row, term id) of every distinct term of every row, sorted by row then term id."""
    lengths = np.fromiter(map(len, token_ids), dtype=np.int64, count=len(token_ids))
    rows = np.repeat(np.arange(len(token_ids), dtype=np.int64), lengths)
    terms = np.fromiter(itertools.chain.from_iterable(token_ids), dtype=np.int64, count=int(lengths.sum()))
    return np.divmod(np.unique(rows * vocab_size + terms), vocab_size)


def _batches(items: Iterable[str], size: int) -> Iterator[list[str]]:
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        yield batch

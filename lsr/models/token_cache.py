"""Token ids of short texts (queries) through a cache of their space-separated chunks.

A single call of a Hugging Face fast tokenizer costs some 40 µs for a 12-word query, a tenth of a
whole Lucene search; the words of a query stream repeat. Where no token can span a space (BERT's
normalizer and pre-tokenizer, or whitespace pre-tokenizers, with WordPiece: what inference-free
models use), the ids of a text are those of its " "-separated chunks, in order, so each chunk is
tokenized once and remembered.
"""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections.abc import Sequence
from itertools import chain

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

_LOCAL_NORMALIZERS = (normalizers.BertNormalizer, normalizers.Lowercase, normalizers.NFD, normalizers.NFKD,
                      normalizers.NFC, normalizers.NFKC, normalizers.StripAccents)
_SPACE_SPLITTING = (pre_tokenizers.BertPreTokenizer, pre_tokenizers.Whitespace, pre_tokenizers.WhitespaceSplit)


def splits_at_spaces(tokenizer: Tokenizer) -> bool:
    """Whether no token of `tokenizer` can span a space, so that chunks tokenize apart: a WordPiece
    model after a space-splitting pre-tokenizer and character-local normalizers."""
    return (isinstance(tokenizer.model, models.WordPiece)
            and isinstance(tokenizer.pre_tokenizer, _SPACE_SPLITTING)
            and (tokenizer.normalizer is None or isinstance(tokenizer.normalizer, _LOCAL_NORMALIZERS)))


class ChunkTokenCache:
    """`ids(texts)`: each text's token ids without special tokens or truncation, as
    `tokenizer.encode(text, add_special_tokens=False)` gives them, from a cache of chunk → ids
    (emptied when it reaches `max_chunks`). Thread-safe. Only for tokenizers `splits_at_spaces`."""

    def __init__(self, tokenizer: Tokenizer, *, max_chunks: int = 1 << 17):
        if not splits_at_spaces(tokenizer):
            raise ValueError("the tokenizer's tokens may span spaces: chunks cannot be tokenized apart")
        self._tokenizer = Tokenizer.from_str(tokenizer.to_str())
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._known: dict[str, tuple[int, ...]] = {}
        self._max_chunks = max_chunks
        self._lock = threading.Lock()

    def __contains__(self, chunk: str) -> bool:
        return chunk in self._known

    def clear(self) -> None:
        self._known.clear()

    def ids(self, texts: Sequence[str]) -> list[list[int]]:
        known = self._known
        parts = [[(chunk, known.get(chunk)) for chunk in text.split(" ")] for text in texts]
        missing = list(dict.fromkeys(chunk for row in parts for chunk, ids in row if ids is None))
        found = self._tokenize(missing) if missing else {}
        return [list(chain.from_iterable(found[chunk] if ids is None else ids for chunk, ids in row))
                for row in parts]

    def _tokenize(self, chunks: list[str]) -> dict[str, tuple[int, ...]]:
        """The ids of each chunk, from one tokenizer call over the chunks joined by spaces (each
        token goes to the chunk its offset falls in); remembered."""
        starts, position = [], 0
        for chunk in chunks:
            starts.append(position)
            position += len(chunk) + 1
        encoding = self._tokenizer.encode(" ".join(chunks), add_special_tokens=False)
        ids: list[list[int]] = [[] for _ in chunks]
        for token, (start, _) in zip(encoding.ids, encoding.offsets):
            ids[bisect_right(starts, start) - 1].append(token)
        found = {chunk: tuple(row) for chunk, row in zip(chunks, ids)}
        with self._lock:
            if len(self._known) + len(found) > self._max_chunks:
                self._known.clear()
            if len(found) <= self._max_chunks:
                self._known.update(found)
        return found

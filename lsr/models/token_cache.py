"""Token ids of short texts (queries) through a cache of their space-separated chunks.

A single call of a Hugging Face fast tokenizer costs some 40 µs for a 12-word query, a tenth of a
whole Lucene search; the words of a query stream repeat. Where no token can span a space (BERT's
normalizer and pre-tokenizer, or whitespace pre-tokenizers, with WordPiece: what inference-free
models use), the ids of a text are those of its " "-separated chunks, in order, so each chunk is
tokenized once and remembered.
"""

from __future__ import annotations

import re
import threading
from bisect import bisect_right
from collections.abc import Sequence
from itertools import chain

from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

_LOCAL_NORMALIZERS = (normalizers.BertNormalizer, normalizers.Lowercase, normalizers.NFD, normalizers.NFKD,
                      normalizers.NFC, normalizers.NFKC, normalizers.StripAccents)
_SPACE_SPLITTING = (pre_tokenizers.BertPreTokenizer, pre_tokenizers.Whitespace, pre_tokenizers.WhitespaceSplit)
_BERT_WORDS = re.compile(r"[A-Za-z0-9]+|[^A-Za-z0-9]")  # BERT's pre-tokens of printable ASCII without spaces


def splits_at_spaces(tokenizer: Tokenizer) -> bool:
    """Whether no token of `tokenizer` can span a space, so that chunks tokenize apart: a WordPiece
    model after a space-splitting pre-tokenizer and character-local normalizers, no added token
    holding a space."""
    return (isinstance(tokenizer.model, models.WordPiece)
            and isinstance(tokenizer.pre_tokenizer, _SPACE_SPLITTING)
            and (tokenizer.normalizer is None or isinstance(tokenizer.normalizer, _LOCAL_NORMALIZERS))
            and not any(" " in token.content for token in tokenizer.get_added_tokens_decoder().values()))


class ChunkTokenCache:
    """`ids(texts)`: each text's token ids without special tokens or truncation, as
    `tokenizer.encode(text, add_special_tokens=False)` gives them, from a cache of chunk → ids
    (emptied when it reaches `max_chunks`). Thread-safe. Only for tokenizers `splits_at_spaces`.

    A new chunk of printable ASCII under BERT's pre-tokenizer skips the tokenizer's pipeline (some
    5 µs a call): its words are runs of letters and digits and single punctuation marks, lowercased
    where the normalizer lowercases, each given to the WordPiece model; chunks holding an added
    token's text, and all others, take the tokenizer.
    """

    def __init__(self, tokenizer: Tokenizer, *, max_chunks: int = 1 << 17):
        if not splits_at_spaces(tokenizer):
            raise ValueError("the tokenizer's tokens may span spaces: chunks cannot be tokenized apart")
        self._tokenizer = Tokenizer.from_str(tokenizer.to_str())
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        normalizer = tokenizer.normalizer
        self._bert_words = isinstance(tokenizer.pre_tokenizer, pre_tokenizers.BertPreTokenizer)
        self._lowercase = isinstance(normalizer, normalizers.Lowercase) or (
            isinstance(normalizer, normalizers.BertNormalizer) and normalizer.lowercase)
        added = [token.content for token in tokenizer.get_added_tokens_decoder().values()]
        self._added = sorted({*added, *(token.lower() for token in added)})
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
        """The ids of each chunk (printable ASCII straight to the WordPiece model, the others in one
        tokenizer call); remembered."""
        found, others = {}, []
        for chunk in chunks:
            ids = self._ascii_ids(chunk) if self._bert_words else None
            if ids is None:
                others.append(chunk)
            else:
                found[chunk] = ids
        if others:
            found.update(self._tokenizer_ids(others))
        with self._lock:
            if len(self._known) + len(found) > self._max_chunks:
                self._known.clear()
            if len(found) <= self._max_chunks:
                self._known.update(found)
        return found

    def _ascii_ids(self, chunk: str) -> tuple[int, ...] | None:
        """The ids of a printable-ASCII chunk holding no added token, without the pipeline; else None."""
        if not (chunk.isascii() and chunk.isprintable()):
            return None
        text = chunk.lower() if self._lowercase else chunk
        if any(token in chunk or token in text for token in self._added):
            return None
        tokenize = self._tokenizer.model.tokenize
        return tuple(token.id for word in _BERT_WORDS.findall(text) for token in tokenize(word))

    def _tokenizer_ids(self, chunks: list[str]) -> dict[str, tuple[int, ...]]:
        """The ids of each chunk from one tokenizer call over the chunks joined by spaces (each token
        goes to the chunk its offset falls in)."""
        starts, position = [], 0
        for chunk in chunks:
            starts.append(position)
            position += len(chunk) + 1
        encoding = self._tokenizer.encode(" ".join(chunks), add_special_tokens=False)
        ids: list[list[int]] = [[] for _ in chunks]
        for token, (start, _) in zip(encoding.ids, encoding.offsets):
            ids[bisect_right(starts, start) - 1].append(token)
        return {chunk: tuple(row) for chunk, row in zip(chunks, ids)}

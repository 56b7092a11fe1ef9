"""Training data: queries with their positives, (query, positive, negatives) tuples, teacher scores.

Like the other readers, these validate as they go and report a bad input as an `LsrError`
naming `file:line` (or `irds:<id>:<position>`). Texts that come without ids (text triples)
get a stable content id from `content_id`, so caches of teacher scores can key on them.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import math
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from lsr.data.irds import PREFIX, download_failures, load_dataset, read_irds_queries
from lsr.data.jsonl import json_objects
from lsr.data.lines import json_problem, located, numbered_lines, record_id
from lsr.data.records import Document, Query
from lsr.data.sources import read_corpus, read_qrels, read_queries, split_for
from lsr.errors import LsrError
from lsr.fileio import atomic_path

log = logging.getLogger(__name__)

CONTENT_ID_PREFIX = "t:"

TextSource = str | os.PathLike | Mapping[str, str]
"""Where id tuples find texts: a corpus/queries source that lsr reads, or a mapping id -> text."""


def content_id(text: str) -> str:
    """The id of a text that came without one: `t:` and the first 16 hex digits of its UTF-8 SHA-1."""
    return CONTENT_ID_PREFIX + hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


# --- queries with positives ----------------------------------------------------------------------

@dataclass(frozen=True)
class TrainQuery(Query):
    """A training query and the ids of its positive documents (qrels relevance > 0), in qrels order."""

    positives: tuple[str, ...]


PSEUDO_PREFIX = "pseudo:"
PSEUDO_MIN_WORDS = 4


def pseudo_queries(docs: Iterable[Document], count: int, seed: int) -> list[TrainQuery]:
    """Up to `count` training queries made from the corpus itself, each with its document as positive.

    A document's title is its pseudo-query, or, without one, its first sentence; texts under
    PSEUDO_MIN_WORDS words are skipped. Which documents is a seeded sample, the same on every run.
    This is unsupervised domain adaptation on the corpus (as GPL does with generated queries): no
    judged query of any split is used. Query ids are `pseudo:<doc id>`.
    """
    made = []
    for doc in docs:
        text = doc.title.strip() or doc.text.strip().split(". ")[0]
        if len(text.split()) >= PSEUDO_MIN_WORDS:
            made.append(TrainQuery(PSEUDO_PREFIX + doc.id, text, (doc.id,)))
    if len(made) > count:
        keep = sorted(np.random.default_rng(seed).choice(len(made), size=count, replace=False).tolist())
        made = [made[i] for i in keep]
    return made


def read_train_queries(source: str | os.PathLike, split: str | None = "train", *,
                       qrels: str | os.PathLike | None = None) -> list[TrainQuery]:
    """The queries of `source` that have a positive document, each with its positives, in query order.

    `source` is anything `read_queries` accepts; the judgements come from `qrels` when given
    (e.g. a queries .tsv with a .json or TREC qrels file), else from `source` itself.
    `split` picks `qrels/<split>.tsv` of a BEIR folder; a source that names its own
    queries/qrels (`irds:<id>`, a file) takes the default "train" or None, any other split is
    an error. Queries without a positive are left out and counted in a logged warning; a
    judged query id that the queries lack is an `LsrError`.
    """
    qrels_source = source if qrels is None else qrels
    queries = read_queries(source, split_for(source, split, "train"))
    judgements = read_qrels(qrels_source, split_for(qrels_source, split, "train"))

    known = {query.id for query in queries}
    missing = list(dict.fromkeys(qrel.query_id for qrel in judgements if qrel.query_id not in known))
    if missing:
        more = f" (nor are {len(missing) - 1} other judged query ids)" if len(missing) > 1 else ""
        raise LsrError(f"{os.fspath(qrels_source)}: judged query id {missing[0]!r} is not among the queries "
                       f"of {os.fspath(source)}{more}")

    positives: dict[str, dict[str, None]] = {}
    for qrel in judgements:
        if qrel.relevance > 0:
            positives.setdefault(qrel.query_id, {})[qrel.doc_id] = None
    kept = [TrainQuery(query.id, query.text, tuple(positives[query.id])) for query in queries
            if query.id in positives]
    if len(kept) < len(queries):
        log.warning("%s: left out %d of %d queries that have no positive document",
                    os.fspath(source), len(queries) - len(kept), len(queries))
    return kept


# --- training tuples -----------------------------------------------------------------------------

@dataclass(frozen=True)
class TrainTuple:
    """A query and its documents as (doc id, doc text): the positive first, then the negatives."""

    query_id: str
    query_text: str
    docs: tuple[tuple[str, str], ...]

    @property
    def positive(self) -> tuple[str, str]:
        """The positive document, (id, text)."""
        return self.docs[0]

    @property
    def negatives(self) -> tuple[tuple[str, str], ...]:
        """The negative documents, (id, text) each."""
        return self.docs[1:]


def read_train_tuples(source: str | os.PathLike, *, corpus: TextSource | None = None,
                      queries: TextSource | None = None) -> Iterator[TrainTuple]:
    """Stream the training tuples of `source`, validated as read.

    Forms of `source`:

    - `.tsv[.gz]` text tuples `query<TAB>positive<TAB>negative[<TAB>negative...]` (MS MARCO's
      `triples.train.small.tsv`), read as-is; every text gets its `content_id`.
    - `.tsv[.gz]` id tuples `query id<TAB>positive id<TAB>negative id...` when both `corpus`
      and `queries` are given.
    - `.jsonl[.gz]`, one object per line. The query is `"query"` (text) or `"query_id"`/`"qid"`;
      the positive `"positive"`/`"positives"`/`"pos"` (a text or a list of texts) or
      `"positive_id"`/`"positive_ids"`/`"pos_id"`/`"pos_ids"`; the negatives
      `"negatives"`/`"negative"`/`"neg"` (a text or a non-empty list) or
      `"negative_ids"`/`"negative_id"`/`"neg_ids"`/`"neg_id"`. Each part is given as texts or as
      ids, not both; ids are looked up in `queries`/`corpus`. A list of positives yields one
      tuple per positive, each with all the negatives.
    - `irds:<id>`, an ir_datasets dataset with docpairs (e.g. `msmarco-passage/train/triples-small`):
      (query_id, doc_id_a, doc_id_b) as (query, positive, negative), texts from the dataset's
      queries and `docs_store()`; `corpus` and `queries` do not apply.

    `corpus` and `queries` are each a source lsr reads (`read_corpus`, `read_queries` without a
    split) or a mapping id -> text. A source is read into a dict id -> text when this is called,
    so the corpus must fit in memory (MS MARCO passages: a few GB); a document's text is its
    title and text joined (`Document.full_text`).
    """
    name = os.fspath(source)
    if name.startswith(PREFIX):
        if corpus is not None or queries is not None:
            raise LsrError(f"{name}: an ir_datasets source brings its own documents and queries; "
                           "leave out corpus and queries")
        return _irds_tuples(name.removeprefix(PREFIX))
    path = Path(name)
    if not path.is_file():
        raise LsrError(f"{name}: no such file")
    stem = path.name.removesuffix(".gz")
    if stem.endswith(".tsv"):
        if (corpus is None) != (queries is None):
            raise LsrError(f"{name}: id tuples need both corpus and queries; text tuples neither")
        return _tsv_tuples(path, _Texts(corpus, queries))
    if stem.endswith(".jsonl"):
        return _jsonl_tuples(path, _Texts(corpus, queries))
    raise LsrError(f"{name}: unrecognised training tuples file; accepted forms: .tsv[.gz], .jsonl[.gz], "
                   "irds:<ir_datasets id with docpairs>")


class _Texts:
    """Id -> text lookups for id tuples; either side may be absent (text tuples)."""

    def __init__(self, corpus: TextSource | None, queries: TextSource | None) -> None:
        self.docs = self._load(corpus, lambda src: {doc.id: doc.full_text() for doc in read_corpus(src)})
        self.queries = self._load(queries, lambda src: {query.id: query.text for query in read_queries(src)})

    @property
    def given(self) -> bool:
        return self.docs is not None and self.queries is not None

    @staticmethod
    def _load(texts: TextSource | None, read: Callable[[Any], dict[str, str]]) -> Mapping[str, str] | None:
        if texts is None or isinstance(texts, Mapping):
            return texts
        return read(texts)

    def doc(self, doc_id: str, where: str) -> str:
        return self._lookup(self.docs, "document", "corpus", doc_id, where)

    def query(self, query_id: str, where: str) -> str:
        return self._lookup(self.queries, "query", "queries", query_id, where)

    @staticmethod
    def _lookup(texts: Mapping[str, str] | None, kind: str, argument: str, item_id: str, where: str) -> str:
        if texts is None:
            raise LsrError(f"{where}: {kind} ids need {argument} to look their texts up in")
        try:
            return texts[item_id]
        except KeyError:
            raise LsrError(f"{where}: unknown {kind} id {item_id!r}") from None


def _tsv_tuples(path: Path, texts: _Texts) -> Iterator[TrainTuple]:
    by_id = texts.given
    columns = "query id, positive id, negative id..." if by_id else "query, positive, negative..."
    for line_no, line in numbered_lines(path):
        cells = line.split("\t")
        if len(cells) < 3:
            raise located(path, line_no, f"expected 3 or more columns ({columns}), got {len(cells)}")
        where = f"{path}:{line_no}"
        if by_id:
            query_id = record_id(cells[0], where)
            doc_ids = [record_id(cell, where) for cell in cells[1:]]
            yield TrainTuple(query_id, texts.query(query_id, where),
                             tuple((doc_id, texts.doc(doc_id, where)) for doc_id in doc_ids))
        else:
            for column, cell in enumerate(cells, 1):
                if not cell.strip():
                    role = "query" if column == 1 else "positive" if column == 2 else "negative"
                    raise located(path, line_no, f"empty {role} text in column {column}")
            yield TrainTuple(content_id(cells[0]), cells[0], tuple((content_id(cell), cell) for cell in cells[1:]))


QUERY_KEYS = (("query",), ("query_id", "qid"))
POSITIVE_KEYS = (("positive", "positives", "pos"), ("positive_id", "positive_ids", "pos_id", "pos_ids"))
NEGATIVE_KEYS = (("negatives", "negative", "neg"), ("negative_ids", "negative_id", "neg_ids", "neg_id"))


def _jsonl_tuples(path: Path, texts: _Texts) -> Iterator[TrainTuple]:
    for line_no, obj in json_objects(path):
        where = f"{path}:{line_no}"
        key, by_id, value = _part(obj, QUERY_KEYS, where)
        if by_id:
            query_id = record_id(value, where)
            query = (query_id, texts.query(query_id, where))
        else:
            query = _text_doc(value, key, where)
        positives = _docs(obj, POSITIVE_KEYS, texts, where)
        negatives = tuple(_docs(obj, NEGATIVE_KEYS, texts, where))
        for positive in positives:
            yield TrainTuple(query[0], query[1], (positive, *negatives))


def _part(obj: dict[str, Any], keys: tuple[tuple[str, ...], tuple[str, ...]], where: str) -> tuple[str, bool, Any]:
    """The one key of `obj` among the text and id spellings of a part: (key, is it ids, value)."""
    text_keys, id_keys = keys
    found = [key for key in (*text_keys, *id_keys) if key in obj]
    if not found:
        others = ", ".join(repr(key) for key in (*text_keys[1:], *id_keys))
        raise LsrError(f"{where}: missing {text_keys[0]!r} (or {others})")
    if len(found) > 1:
        raise LsrError(f"{where}: give one of {' or '.join(repr(k) for k in found)}, not both")
    return found[0], found[0] in id_keys, obj[found[0]]


def _docs(obj: dict[str, Any], keys: tuple[tuple[str, ...], tuple[str, ...]], texts: _Texts,
          where: str) -> list[tuple[str, str]]:
    key, by_id, value = _part(obj, keys, where)
    values = value if isinstance(value, list) else [value]
    if not values:
        raise LsrError(f"{where}: {key!r} is an empty list")
    if by_id:
        ids = [record_id(item, f"{where}: {key!r}") for item in values]
        return [(doc_id, texts.doc(doc_id, where)) for doc_id in ids]
    return [_text_doc(item, key, where) for item in values]


def _text_doc(value: Any, key: str, where: str) -> tuple[str, str]:
    """(content id, text) for a text read under `key`."""
    if not isinstance(value, str):
        raise LsrError(f"{where}: {key!r} must hold text, got {type(value).__name__}")
    if not value.strip():
        raise LsrError(f"{where}: empty text in {key!r}")
    return content_id(value), value


def _irds_tuples(dataset_id: str) -> Iterator[TrainTuple]:
    dataset = load_dataset(dataset_id, "has_docpairs", "document pairs")
    for has, what in (("has_docs", "documents"), ("has_queries", "queries")):
        if not getattr(dataset, has)():
            raise LsrError(f"{PREFIX}{dataset_id}: this ir_datasets dataset has no {what}")
    fields = getattr(dataset.docpairs_cls(), "_fields", ())
    if not {"query_id", "doc_id_a", "doc_id_b"} <= set(fields):
        raise LsrError(f"{PREFIX}{dataset_id}: its docpairs {fields} lack query_id, doc_id_a, doc_id_b")
    queries = {query.id: query.text for query in read_irds_queries(dataset_id)}
    return _irds_pairs(dataset_id, dataset, queries)


def _irds_pairs(dataset_id: str, dataset: Any, queries: dict[str, str]) -> Iterator[TrainTuple]:
    with download_failures(dataset_id):
        store = dataset.docs_store()
        for position, pair in enumerate(dataset.docpairs_iter(), 1):
            where = f"{PREFIX}{dataset_id}:{position}"
            query_id = record_id(pair.query_id, where)
            if query_id not in queries:
                raise LsrError(f"{where}: unknown query id {query_id!r}")
            docs = []
            for raw_id in (pair.doc_id_a, pair.doc_id_b):
                doc_id = record_id(raw_id, where)
                try:
                    raw = store.get(doc_id)
                except KeyError:
                    raise LsrError(f"{where}: unknown document id {doc_id!r}") from None
                docs.append((doc_id, _irds_text(raw)))
            yield TrainTuple(query_id, queries[query_id], tuple(docs))


def _irds_text(raw: Any) -> str:
    """A document's text as `read_irds_corpus` gives it, title and text joined."""
    if hasattr(raw, "text"):
        return Document("", raw.text, getattr(raw, "title", "") or "").full_text()
    return raw.default_text()


# --- teacher scores ------------------------------------------------------------------------------

Scores = dict[str, dict[str, float]]
ScoreRows = Callable[[], Iterator[tuple[int, str, str, float]]]


def read_teacher_scores(path: str | os.PathLike) -> Scores:
    """Read teacher scores as {query id: {doc id: score}}, in file order.

    Forms, by name (each may end in `.gz`): `.json`, a nested object `{qid: {docid: score}}`
    (naver/splade's distillation files); `.jsonl`, one `{"qid", "docid", "score"}` object a line
    (`query_id`/`doc_id` also accepted); anything else, whitespace-separated lines
    `qid docid score`, or TREC run lines `qid Q0 docid rank score tag`. A score must be a finite
    number, and a (query, document) pair may appear once.
    """
    path = Path(path)
    if not path.is_file():
        raise LsrError(f"{path}: no such file")
    stem = path.name.removesuffix(".gz")
    if stem.endswith(".json"):
        return _scores_json(path)
    rows: ScoreRows = (lambda: _score_objects(path)) if stem.endswith(".jsonl") else (lambda: _score_lines(path))
    scores: Scores = {}
    for line_no, query_id, doc_id, score in rows():
        docs = scores.setdefault(query_id, {})
        if doc_id in docs:
            first = next(n for n, q, d, _ in rows() if (q, d) == (query_id, doc_id))
            raise located(path, line_no, f"duplicate score for query {query_id!r}, document {doc_id!r} "
                                         f"(first at line {first})")
        docs[doc_id] = score
    return scores


def write_teacher_scores(scores: Mapping[str, Mapping[str, float]], path: str | os.PathLike) -> None:
    """Write `scores` as `qid<TAB>docid<TAB>score` lines (gzipped for `.gz`), atomically.

    Scores are written exactly (`repr` of the float), so `read_teacher_scores` gives them back;
    ids must be non-empty and free of whitespace, scores finite.
    """
    final = Path(path)
    with atomic_path(final) as tmp:
        opener = gzip.open if final.suffix == ".gz" else open
        with opener(tmp, "wt", encoding="utf-8", newline="\n") as f:
            for query_id, docs in scores.items():
                query_id = _writable_id(query_id, "query", final)
                for doc_id, score in docs.items():
                    doc_id = _writable_id(doc_id, "document", final)
                    value = float(score)
                    if not math.isfinite(value):
                        raise LsrError(f"{final}: query {query_id!r}, document {doc_id!r}: "
                                       f"score {score!r} is not finite")
                    f.write(f"{query_id}\t{doc_id}\t{value!r}\n")


def _writable_id(value: Any, kind: str, path: Path) -> str:
    text = str(value)
    if not text or text != "".join(text.split()):
        raise LsrError(f"{path}: cannot write {kind} id {value!r}: ids must be non-empty and free of whitespace")
    return text


def _score_lines(path: Path) -> Iterator[tuple[int, str, str, float]]:
    for line_no, line in numbered_lines(path):
        cols = line.split()
        if len(cols) == 3:
            query_id, doc_id, score = cols
        elif len(cols) == 6:
            query_id, _, doc_id, _, score, _ = cols
        else:
            raise located(path, line_no, "expected 3 columns (qid docid score) or 6 TREC run columns "
                                         f"(qid Q0 docid rank score tag), got {len(cols)}")
        where = f"{path}:{line_no}"
        yield line_no, record_id(query_id, where), record_id(doc_id, where), _score(score, where)


def _score_objects(path: Path) -> Iterator[tuple[int, str, str, float]]:
    for line_no, obj in json_objects(path):
        where = f"{path}:{line_no}"
        values = []
        for keys in (("qid", "query_id"), ("docid", "doc_id"), ("score",)):
            key = next((k for k in keys if k in obj), None)
            if key is None:
                raise LsrError(f"{where}: missing {' or '.join(repr(k) for k in keys)}")
            values.append(obj[key])
        yield line_no, record_id(values[0], where), record_id(values[1], where), _score(values[2], where)


class _Pairs(list):
    """A JSON object kept as its (key, value) pairs, so a repeated key is not silently dropped."""


def _scores_json(path: Path) -> Scores:
    try:
        raw = path.read_bytes()
        data = json.loads((gzip.decompress(raw) if path.suffix == ".gz" else raw).decode("utf-8-sig"),
                          object_pairs_hook=_Pairs)
    except json.JSONDecodeError as e:
        raise located(path, e.lineno, json_problem(e)) from None
    except (UnicodeDecodeError, gzip.BadGzipFile, EOFError) as e:
        raise LsrError(f"{path}: not a readable JSON scores file ({e})") from None
    if not isinstance(data, _Pairs):
        raise LsrError(f"{path}: expected a JSON object {{query_id: {{doc_id: score}}}}")
    scores: Scores = {}
    for raw_query_id, docs in data:
        query_id = record_id(raw_query_id, str(path))
        where = f"{path}: query {query_id!r}"
        if not isinstance(docs, _Pairs):
            raise LsrError(f"{where}: expected an object {{doc_id: score}}, got {type(docs).__name__}")
        if query_id in scores:
            raise LsrError(f"{where}: the query appears twice")
        scores[query_id] = {}
        for raw_doc_id, score in docs:
            doc_id = record_id(raw_doc_id, where)
            if doc_id in scores[query_id]:
                raise LsrError(f"{where}: duplicate score for document {doc_id!r}")
            scores[query_id][doc_id] = _score(score, f"{where}, document {doc_id!r}")
    return scores


def _score(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise LsrError(f"{where}: score must be a number, got {value!r}")
    try:
        score = float(value)
    except (ValueError, OverflowError):
        raise LsrError(f"{where}: score must be a number, got {value!r}") from None
    if not math.isfinite(score):
        raise LsrError(f"{where}: score {value!r} is not finite")
    return score

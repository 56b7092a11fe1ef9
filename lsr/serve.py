"""An HTTP search service over lsr index folders: a FastAPI app, run by uvicorn (`lsr serve`).

    POST /search   {"text": "...", "k": 10} or {"queries": [{"id": ..., "text": ...}, ...]}, with "index": NAME
                   when several indexes are served and "return_terms": true for each query's terms
    GET  /health   status and every index's metadata and backend

Each index gets one searcher, opened (model loaded, JVM started, Java searcher opened and warmed up)
before the port listens: a `LuceneSearcher` (Lucene), or with `backend` seismic a `SeismicSearcher` for each
impact index (BM25 indexes stay on Lucene; /health names each index's backend), and a `ShardedSearcher` for
a sharded index (its shards searched here, or by Ray actors with the backend's `ray` cluster). Hits are those of its
`search`, the path `lsr search` writes run files with: the same documents and scores (Lucene's, as a
run file prints them, or Seismic's, alike; `score_unit` in /health turns an impact score into the
model's dot product).

Threads: requests are searched on the service's own pool of `threads` threads, which live as long as
it does: a Python thread that has called Java stays attached to the JVM when it ends (pyjnius detaches
none), so the short-lived threads of FastAPI's pool, which end when idle, would each leave a JVM thread
behind. Searches go to Java concurrently: lsr's Java searcher is thread-safe (each call keeps its own
arrays; its helper threads are a shared pool) and pyjnius releases the GIL during the call. Query
encoding is not: a Hugging Face fast tokenizer changes its own padding and truncation state on every
call and fails ("Already borrowed") when two threads use it at once, so each encoder encodes under a
lock while other requests' Java searches go on. Seismic searches are safe from several threads too
(pyseismic reads its index only), but hold the GIL: they run one at a time.
"""

from __future__ import annotations

import asyncio
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_core import PydanticCustomError
from starlette.exceptions import HTTPException as StarletteHTTPException

from lsr.data import Query
from lsr.errors import LsrError
from lsr.indexing.layout import is_sharded_index, read_index_info
from lsr.search.backends import SearchBackend
from lsr.search.base import Searcher
from lsr.search.open import open_searcher
from lsr.sparse import SparseVectors

T = TypeVar("T")

MAX_K = 10_000
MAX_QUERIES = 1_000      # per request
MAX_HITS = 1_000_000     # per request: queries x k
WARM_UP = "search"       # a query run once per index at start-up: opens the Java searcher, warms the encoder


class QueryIn(BaseModel):
    """One query of a batch; `id` (default: its position) comes back with its hits."""

    model_config = ConfigDict(strict=True, extra="forbid")
    id: str | int | None = None
    text: str

    @field_validator("id", mode="before")
    @classmethod
    def _string_or_integer(cls, value: Any) -> Any:
        if value is not None and (isinstance(value, bool) or not isinstance(value, (str, int))):
            raise PydanticCustomError("id_type", "Input should be a string or an integer")
        return value


class SearchRequest(BaseModel):
    """The body of POST /search: `text` or `queries`, not both."""

    model_config = ConfigDict(strict=True, extra="forbid")
    index: str | None = None
    text: str | None = None
    queries: list[QueryIn] | None = Field(None, min_length=1, max_length=MAX_QUERIES)
    k: int = Field(10, ge=1, le=MAX_K)
    return_terms: bool = False


@dataclass
class ServedIndex:
    """An open index, the lock its query encoder is used under (shared by indexes sharing an encoder) and
    the backend searching it."""

    name: str
    path: Path
    searcher: Searcher
    encoding: threading.Lock
    query_model: str | None = None
    backend: SearchBackend = SearchBackend()


def parse_index_specs(specs: Sequence[str]) -> dict[str, Path]:
    """Index folders by name from `DIR` (named after the folder) or `NAME=DIR` arguments."""
    named: dict[str, Path] = {}
    for spec in specs:
        name, sep, folder = spec.partition("=")
        if not sep or Path(spec).exists():
            name, folder = Path(spec).resolve().name, spec
        if not name or not folder:
            raise LsrError(f"{spec}: give an index as DIR or NAME=DIR")
        if name in named:
            raise LsrError(f"two indexes named {name!r}: name them apart with NAME=DIR")
        named[name] = Path(folder)
    return named


def open_indexes(folders: dict[str, Path], *, query_model: str | None = None, threads: int | None = None,
                 backend: SearchBackend = SearchBackend()) -> list[ServedIndex]:
    """A warmed-up searcher per index; impact indexes encode queries with `query_model` (loaded once)
    when given, else with the model each records, and are searched on `backend` (BM25 ones on Lucene)."""
    kinds = {name: read_index_info(folder).kind for name, folder in folders.items()}  # all checked before loading
    encoder = None
    if query_model:
        from lsr.models import load_encoder

        encoder = load_encoder(query_model)
    locks: dict[int, threading.Lock] = {}
    served = []
    for name, folder in folders.items():
        chosen = _backend_for(folder, kinds[name], backend)
        if chosen.ray is None:
            searcher = open_searcher(folder, chosen, encoder, threads=threads)
        else:  # a sharded index searched by Ray actors
            from lsr.distributed.search import open_searcher as open_on_ray

            searcher = open_on_ray(folder, chosen, encoder, threads=threads)
        # Opens lsr's Java searcher now: LuceneSearcher opens it on first use, which is not safe from two threads.
        searcher.search([Query("warm-up", WARM_UP)], k=1)
        lock = locks.setdefault(id(searcher.encoder), threading.Lock())
        served.append(ServedIndex(name, folder, searcher, lock,
                                  query_model if searcher.encoder is not None else None, chosen))
    return served


def _backend_for(folder: Path, kind: str, backend: SearchBackend) -> SearchBackend:
    """What searches `folder`: `backend` for a single impact index (its Ray cluster left out), Lucene for
    BM25, and Lucene on `backend`'s Ray cluster, if any, for a sharded index."""
    if is_sharded_index(folder):
        return SearchBackend(ray=backend.ray)
    return replace(backend, ray=None) if kind == "impact" else SearchBackend()


class SearchService:
    """Answers search and health requests over open indexes, searching on `threads` threads (`pool`);
    `close` closes them."""

    def __init__(self, indexes: Sequence[ServedIndex], threads: int):
        self.indexes = {index.name: index for index in indexes}
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="lsr-search")

    def search(self, request: SearchRequest) -> dict[str, Any]:
        """The hits (and, asked for, terms) of each query of `request`, with timings in ms."""
        started = time.perf_counter()
        index = self._index(request.index)
        texts, ids = self._queries(request)
        if len(texts) * request.k > MAX_HITS:
            raise HTTPException(422, f"{len(texts)} queries x k={request.k} exceed {MAX_HITS:,} hits a request")
        searcher, encoder = index.searcher, index.searcher.encoder
        timing: dict[str, float] = {}
        queries = [Query(str(i), text) for i, text in enumerate(texts)]
        terms: Sequence[Mapping[str, float]] | None
        if encoder is None:
            run = _timed(timing, "search", lambda: searcher.search(queries, request.k))
            terms = [_bm25_terms(query) for query in queries] if request.return_terms else None
        else:
            with index.encoding:
                weights = _timed(timing, "encode", lambda: searcher.pruning.queries(
                    encoder.encode_queries(texts, [q.id for q in queries])))
            # What LuceneSearcher.search does after encoding (LuceneSearcher.encode_queries, then the search of the
            # quantized vectors), split so that only the encoding holds the lock.
            scale = searcher.info.scale
            assert scale is not None  # an impact index (it has a query encoder) records its scale
            vectors = weights.quantize(scale)
            run = _timed(timing, "search", lambda: searcher.search_vectors(vectors, request.k))
            terms = _impact_terms(searcher, weights, vectors) if request.return_terms else None
        results = []
        for i, query in enumerate(queries):
            result: dict[str, Any] = {"hits": [{"id": doc, "score": score} for doc, score in run[query.id]]}
            if terms is not None:
                result["terms"] = terms[i]
            results.append(result if request.text is not None else {"id": ids[i], **result})
        answer = {"index": index.name, **(results[0] if request.text is not None else {"results": results})}
        timing["total"] = round((time.perf_counter() - started) * 1000, 3)
        return {**answer, "timing_ms": timing}

    def health(self) -> dict[str, Any]:
        """Status, and per index its folder, metadata (`IndexInfo`), score unit, backend and any query model."""
        return {"status": "ok", "indexes": {
            name: {"path": str(index.path), **asdict(index.searcher.info), "score_unit": index.searcher.score_unit,
                   "backend": index.backend.describe(),
                   **({"query_model": index.query_model} if index.query_model else {})}
            for name, index in self.indexes.items()}}

    def close(self) -> None:
        self.pool.shutdown()
        for index in self.indexes.values():
            index.searcher.close()

    def _index(self, name: str | None) -> ServedIndex:
        if name is None:
            if len(self.indexes) == 1:
                return next(iter(self.indexes.values()))
            raise HTTPException(422, f"name the index to search: \"index\": one of {', '.join(self.indexes)}")
        if name not in self.indexes:
            raise HTTPException(404, f"no index named {name!r}; indexes: {', '.join(self.indexes)}")
        return self.indexes[name]

    @staticmethod
    def _queries(request: SearchRequest) -> tuple[list[str], list[str | int]]:
        """The texts and ids of the request's queries; 422 when a text is missing or blank."""
        if (request.text is None) == (request.queries is None):
            raise HTTPException(422, "give \"text\" (one query) or \"queries\" (a batch), not both")
        if request.text is not None:
            if not request.text.strip():
                raise HTTPException(422, "text is empty")
            return [request.text], [0]
        queries = request.queries
        assert queries is not None  # exactly one of text and queries is given, and text is not
        blank = [i for i, query in enumerate(queries) if not query.text.strip()]
        if blank:
            raise HTTPException(422, f"queries[{blank[0]}].text is empty")
        return ([query.text for query in queries],
                [i if query.id is None else query.id for i, query in enumerate(queries)])


def _timed(timing: dict[str, float], name: str, work: Callable[[], T]) -> T:
    """`work()`, its duration added to `timing[name]` in ms."""
    start = time.perf_counter()
    result = work()
    timing[name] = round((time.perf_counter() - start) * 1000, 3)
    return result


def _impact_terms(searcher: Searcher, weights: SparseVectors, vectors: SparseVectors) -> list[dict[str, float]]:
    """Each query's terms with the model's float weights, highest first: those searched (a weight that
    quantizes to 0 is not)."""
    assert searcher.encoder is not None  # called for impact indexes only
    vocab = searcher.encoder.vocab
    searched = vectors.to_dicts(vocab)
    return [{term: w for term, w in floats.items() if term in kept}
            for floats, kept in zip(weights.to_dicts(vocab), searched)]


def _bm25_terms(query: Query) -> dict[str, int]:
    """A BM25 query's analyzed terms, each with its count (the boost of its clause in Lucene's query)."""
    from lsr.lucene.jvm import jclass

    return dict(Counter(jclass("io.anserini.analysis.AnalyzerUtils").analyze(query.text)))


def create_app(service: SearchService) -> FastAPI:
    """The FastAPI app over `service`; errors are JSON {"error": "..."}; `service` closes at shutdown."""

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            service.close()

    app = FastAPI(title="lsr", summary="Learned sparse retrieval search over lsr indexes", lifespan=lifespan)

    @app.post("/search")
    async def search(request: SearchRequest) -> JSONResponse:
        def answer() -> JSONResponse:  # on the service's threads, the JSON text included
            return JSONResponse(service.search(request))

        return await asyncio.get_running_loop().run_in_executor(service.pool, answer)

    @app.get("/health")
    async def health() -> JSONResponse:
        return JSONResponse(service.health())

    @app.exception_handler(StarletteHTTPException)
    async def http_error(_: Request, error: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(error.detail)}, error.status_code, headers=error.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, error: RequestValidationError) -> JSONResponse:
        problems = error.errors()
        malformed = [problem for problem in problems if problem["type"] == "json_invalid"]
        if malformed:  # loc: ("body", character offset)
            where, reason = malformed[0]["loc"][-1], malformed[0].get("ctx", {}).get("error", "")
            return JSONResponse({"error": f"malformed JSON at character {where}: {reason}"}, 400)
        return JSONResponse({"error": "; ".join(_describe(problem) for problem in problems[:3])}, 422)

    return app


def _describe(problem: dict[str, Any]) -> str:
    """One validation problem as `field.path: message`."""
    path = ""
    for part in problem["loc"][1:]:  # loc starts with "body"
        path += f"[{part}]" if isinstance(part, int) else f".{part}" if path else str(part)
    if not path:
        return ("the body must be a JSON object, sent with Content-Type: application/json: "
                "{\"text\": ...} or {\"queries\": [...]}")
    return f"{path}: {problem['msg']}"


def bind(host: str, port: int) -> socket.socket:
    """A TCP socket bound to `host`:`port` (0: a free port), not yet listening; LsrError when it cannot be."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                             flags=socket.AI_PASSIVE)[0]
        sock = socket.socket(family, kind, proto)
    except OSError as e:
        raise LsrError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
    except OSError as e:
        sock.close()
        raise LsrError(f"cannot listen on {host}:{port}: {e.strerror or e}") from e
    return sock


def run(app: FastAPI, sock: socket.socket) -> None:
    """Serve `app` on the bound `sock` until SIGINT or SIGTERM, then finish the requests in flight, close
    the indexes and return."""
    import uvicorn

    host, port = sock.getsockname()[:2]
    server = uvicorn.Server(uvicorn.Config(app, host=host, port=port, log_config=None))
    # uvicorn re-raises the signal that stopped it once it has shut down, to the handlers in place before
    # it started: with these that signal ends the command normally (status 0), not by the default action.
    previous = {sig: signal.signal(sig, lambda *_: None) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        server.run(sockets=[sock])
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)

"""`lsr serve`: answer searches of index folders over HTTP (lsr.serve)."""

from __future__ import annotations

import logging

import click

from lsr.cli.options import backend_options, search_backend

log = logging.getLogger(__name__)


@click.command()
@click.argument("indexes", metavar="INDEX...", nargs=-1, required=True)
@click.option("--host", default="127.0.0.1", help="Address to listen on (0.0.0.0: every interface).")
@click.option("--port", default=8000, type=click.IntRange(0, 65535), help="Port to listen on (0: any free one).")
@click.option("--threads", type=click.IntRange(min=1), show_default="up to 4",
              help="Search threads: requests searched at once, and the threads a batch request is split over.")
@click.option("--query-model", show_default="the model each index records",
              help="Another query encoder for the impact indexes (same vocabulary).")
@backend_options
def serve(indexes: tuple[str, ...], host: str, port: int, threads: int | None, query_model: str | None,
          backend: str, query_cut: int | None, heap_factor: float | None, ray_address: str | None) -> None:
    """Answer searches of the INDEX folders over HTTP until stopped (Ctrl-C or SIGTERM).

    An INDEX is DIR (named after its folder) or NAME=DIR. POST /search takes a JSON object: "text" (one
    query) or "queries" (a batch of {"id": ..., "text": ...}), "k" (default 10), "index": NAME when
    several indexes are served, "return_terms": true for each query's terms; it answers each query's
    hits (document id and score, as `lsr search` writes them) and timings in ms. GET /health gives each
    index's metadata and backend. Requests are searched on --threads threads at once; the models and the
    JVM load once, before the port opens. --backend seismic searches the impact indexes' Seismic indexes
    (`lsr seismic`); BM25 and sharded indexes stay on Lucene. A sharded index (`lsr index --shards`) is
    searched shard by shard here or, with --ray, by one actor per shard on the Ray cluster.
    """
    from lsr.search.lucene import default_threads
    from lsr.serve import SearchService, bind, create_app, open_indexes, parse_index_specs, run

    engine = search_backend(backend, query_cut, heap_factor, ray_address)
    folders = parse_index_specs(indexes)
    sock = bind(host, port)  # a port in use is an error now, not after loading the models
    threads = threads or default_threads()
    service = SearchService(open_indexes(folders, query_model=query_model, threads=threads, backend=engine), threads)
    for name, index in service.indexes.items():
        info = index.searcher.info
        log.info("index %s: %s, %d documents, on %s (%s)", name, info.kind, info.num_docs, index.backend.name,
                 index.path)
    bound_host, bound_port = sock.getsockname()[:2]
    log.info("serving on http://%s:%d (POST /search, GET /health)",
             f"[{bound_host}]" if ":" in bound_host else bound_host, bound_port)
    run(create_app(service), sock)

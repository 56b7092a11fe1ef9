"""`lsr export`: an impact index's term weights for OpenSearch / Elasticsearch (`rank_features`)."""

from __future__ import annotations

from pathlib import Path

import click

from lsr.cli.options import split_for
from lsr.errors import LsrError


@click.command()
@click.argument("index_dir", metavar="INDEX", type=click.Path(file_okay=False))
@click.option("-o", "--out", required=True, type=click.Path(file_okay=False),
              help="Folder to write: mapping.json, bulk-NNNNN.ndjson (and queries.jsonl).")
@click.option("--index-name", show_default="the INDEX folder's name", help="Target index in the bulk actions.")
@click.option("--field", default="sparse_embedding", help="The rank_features field.")
@click.option("--queries", show_default="none",
              help="Also write a query body per query of this source (BEIR folder, file or irds:ID).")
@click.option("--split", default="test", help="Queries split for a BEIR folder.")
@click.option("--engine", type=click.Choice(["opensearch", "elasticsearch"]), default="opensearch",
              help="Query bodies as neural_sparse (OpenSearch) or rank_feature clauses (Elasticsearch).")
@click.option("-k", "--hits", "k", default=10, type=click.IntRange(min=1), help="`size` of each query body.")
@click.option("--overwrite", is_flag=True, help="Replace an existing OUT folder.")
def export(index_dir: str, out: str, index_name: str | None, field: str, queries: str | None, split: str,
           engine: str, k: int, overwrite: bool) -> None:
    """Write the documents of the impact index INDEX as bulk NDJSON for an OpenSearch/Elasticsearch
    `rank_features` field, with the index mapping; with --queries, each query's search body.

    Weights are the model's floats (the index's Parquet vectors, pruned as in its Lucene index):
    the engine scores the model's dot product.
    """
    from lsr.data import read_queries
    from lsr.export.opensearch import export_index, export_queries
    from lsr.search.lucene import LuceneSearcher

    if Path(out).exists() and not overwrite:
        raise LsrError(f"{out} exists: pass --overwrite to replace it")
    searcher = LuceneSearcher(index_dir)
    if searcher.encoder is None:
        raise LsrError(f"{index_dir} is a BM25 index: only impact indexes have term weights to export")
    vocab = searcher.encoder.vocab
    stats = export_index(index_dir, vocab, out, index_name=index_name or Path(index_dir).resolve().name, field=field)
    click.echo(f"wrote {stats.num_docs} documents ({stats.postings / max(stats.num_docs, 1):.1f} terms each) "
               f"in {stats.num_files} bulk files and mapping.json to {out}")
    if queries:
        topics = read_queries(queries, split_for(queries, split))
        vectors = searcher.pruning.queries(searcher.encoder.encode_queries([q.text for q in topics],
                                                                           [q.id for q in topics]))
        count = export_queries(vectors, vocab, Path(out) / "queries.jsonl", field, engine=engine, k=k)
        click.echo(f"wrote {count} {engine} query bodies to {Path(out) / 'queries.jsonl'}")

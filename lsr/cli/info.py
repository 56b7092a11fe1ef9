"""`lsr info`: what an index folder holds, read from its `lsr-index.json` (a sharded index: its manifest)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click


@click.command()
@click.argument("index_dir", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of `key: value` lines.")
def info(index_dir: str, as_json: bool) -> None:
    """Describe the lsr index INDEX_DIR: kind, model, settings, documents, postings and size."""
    facts = describe(index_dir)
    if as_json:
        click.echo(json.dumps({key: value for key, _, value in facts}, indent=2))
    else:
        for _, label, value in facts:
            click.echo(f"{label}: {_readable(value)}")


def describe(index_dir: str | Path) -> list[tuple[str, str, Any]]:
    """(JSON key, label, value) of every fact about the index; LsrError if it is not an lsr index.

    Average postings per document are recorded for impact indexes and read off Lucene for BM25.
    """
    from lsr.indexing.layout import LUCENE_DIR, ShardedIndexInfo, is_sharded_index, read_index_info
    from lsr.lucene.stats import postings as lucene_postings

    folder = Path(index_dir)
    meta, sharded = read_index_info(folder), is_sharded_index(folder)
    facts: list[tuple[str, str, Any]] = [("index", "index", str(folder)), ("kind", "kind", meta.kind),
                                         ("corpus", "corpus", meta.corpus)]
    if sharded:
        facts.append(("shards", "shards", len(ShardedIndexInfo.read(folder).shards)))
    if meta.model is not None:
        location = meta.model_location(folder)
        facts += [("model", "model", meta.model),
                  ("model_location", "model resolves to",
                   str(Path(location).resolve()) if location and Path(location).is_dir() else location),
                  ("encoder_kind", "encoder", meta.encoder_kind),
                  ("encoder_settings", "encoder settings", meta.encoder_settings),
                  ("vocab_fingerprint", "vocabulary", meta.vocab_fingerprint),
                  ("scale", "scale", meta.scale),
                  ("pruning", "pruning", {k: v for k, v in meta.pruning.items() if v is not None})]
    if meta.bm25 is not None:
        facts += [("k1", "BM25 k1", meta.bm25.get("k1")), ("b", "BM25 b", meta.bm25.get("b"))]
    postings = meta.avg_postings_per_doc
    if postings is None and meta.num_docs:
        postings = round(lucene_postings(folder / LUCENE_DIR) / meta.num_docs, 2)
    facts += [("num_docs", "documents", meta.num_docs), ("num_empty", "blank documents", meta.num_empty),
              ("avg_postings_per_doc", "average postings per document", postings),
              ("size_mb", "size on disk (MB)", round(_folder_bytes(folder) / 2**20, 3))]
    return facts


def _folder_bytes(folder: Path) -> int:
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file() and not path.is_symlink())


def _readable(value: Any) -> str:
    """Dicts as `k=v, …` (empty: none), None as `-`, the rest as str."""
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items()) or "none"
    return "-" if value is None else str(value)

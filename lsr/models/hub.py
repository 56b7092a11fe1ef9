"""A model named by a local folder or a Hugging Face hub id, as a local folder."""

from __future__ import annotations

from pathlib import Path

from lsr.errors import LsrError


def local_folder(model: str | Path) -> Path:
    """`model` as a local folder: itself, or a hub snapshot download; `LsrError` when neither."""
    path = Path(model)
    if path.is_dir():
        return path
    if path.exists() or str(model).startswith((".", "/", "~")) or str(model).count("/") != 1:
        raise LsrError(f"model not found: {model} (expected a model folder or a hub id such as naver/splade-v3)")
    try:
        from huggingface_hub import snapshot_download

        return Path(snapshot_download(str(model)))
    except Exception as e:  # the hub raises many kinds; all mean "could not fetch"
        raise LsrError(f"model not found: {model} is not a local folder and could not be fetched from the hub "
                       f"({type(e).__name__})") from e

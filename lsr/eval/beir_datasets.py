"""Which files or ir_datasets ids a BEIR dataset name stands for.

A name resolves to a local BEIR folder (`--data-dir/NAME`, or NAME itself when it is a
folder) or else to ir_datasets' `beir/...` ids with BEIR's evaluation split (test; dev for
msmarco; v2 for webis-touche2020). cqadupstack expands to its twelve sub-forums, which the
report averages, as BEIR does.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lsr.errors import LsrError

CQADUPSTACK_FORUMS = ("android", "english", "gaming", "gis", "mathematica", "physics", "programmers", "stats",
                      "tex", "unix", "webmasters", "wordpress")
IRDS_EVAL_IDS = {"msmarco": "beir/msmarco/dev", "webis-touche2020": "beir/webis-touche2020/v2"}


@dataclass(frozen=True)
class Dataset:
    """One corpus with its evaluation queries and qrels."""

    name: str                  # e.g. "scifact" or "cqadupstack/android"
    corpus: str                # a source string for lsr.data.read_corpus
    queries: str
    split: str | None          # the split to pass with `queries` (BEIR folders), None for irds ids
    group: str | None = None   # "cqadupstack" for its sub-forums


def resolve_datasets(names: list[str], data_dir: str | Path | None = None) -> list[Dataset]:
    """Datasets for comma-separated names, folders or `irds:` ids, in order."""
    datasets: list[Dataset] = []
    for name in names:
        datasets.extend(_resolve(name.strip(), Path(data_dir) if data_dir else None))
    seen = [d.name for d in datasets]
    if len(seen) != len(set(seen)):
        raise LsrError(f"a dataset is named twice: {', '.join(sorted({n for n in seen if seen.count(n) > 1}))}")
    return datasets


def _resolve(name: str, data_dir: Path | None) -> list[Dataset]:
    folder = data_dir / name if data_dir else None
    if folder is not None and folder.is_dir() or Path(name).is_dir():
        return _from_folder(folder if folder is not None and folder.is_dir() else Path(name))
    if name.startswith("irds:"):
        return [Dataset(name.removeprefix("irds:"), name, name, None)]
    if name == "cqadupstack":
        return [_from_irds(f"cqadupstack/{forum}", "cqadupstack") for forum in CQADUPSTACK_FORUMS]
    return [_from_irds(name)]


def _from_folder(folder: Path) -> list[Dataset]:
    subfolders = sorted(p for p in folder.iterdir() if (p / "corpus.jsonl").is_file())
    if not (folder / "corpus.jsonl").is_file() and subfolders:  # e.g. cqadupstack/<forum>/
        return [_folder_dataset(p, f"{folder.name}/{p.name}", folder.name) for p in subfolders]
    return [_folder_dataset(folder, folder.name, None)]


def _folder_dataset(folder: Path, name: str, group: str | None) -> Dataset:
    splits = sorted(p.stem for p in (folder / "qrels").glob("*.tsv"))
    split = next((s for s in ("test", "dev") if s in splits), None)
    if split is None:
        raise LsrError(f"{folder}: no qrels/test.tsv or qrels/dev.tsv to evaluate with (found: {splits or 'none'})")
    return Dataset(name, str(folder), str(folder), split, group)


def _from_irds(name: str, group: str | None = None) -> Dataset:
    import ir_datasets

    candidates = [IRDS_EVAL_IDS.get(name), f"beir/{name}/test", f"beir/{name}"]
    for dataset_id in filter(None, candidates):
        if dataset_id in ir_datasets.registry and ir_datasets.load(dataset_id).has_qrels():
            source = f"irds:{dataset_id}"
            corpus = dataset_id.removesuffix("/test").removesuffix("/dev")  # the one the qrels judge (touche: v2)
            return Dataset(name, f"irds:{corpus}", source, None, group)
    raise LsrError(f"unknown dataset {name!r}: not a folder under --data-dir and not an ir_datasets BEIR id")

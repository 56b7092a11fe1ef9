"""Build a small BEIR folder from the MS MARCO sample in ../shared (for `lsr beir` runs).

Each triplet (query, positive, negative) gives a query judged relevant to its positive
passage; the corpus is every triplet passage plus the sample's passage collection as
distractors. Texts are kept as they are (the sample's mojibake included).

    python benchmarks/data/msmarco_sample_beir.py OUT_FOLDER [--sample ../shared/data/msmarco-sample/splade-toy]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from lsr.fileio import atomic_path

ROOT = Path(__file__).resolve().parents[2]


def build(sample: Path, out: Path) -> None:
    passages: dict[str, str] = {}   # text -> id
    queries: dict[str, str] = {}
    qrels: set[tuple[str, str]] = set()
    for line in open(sample / "triplets.tsv", encoding="utf-8"):
        query, positive, negative = line.rstrip("\n").split("\t")
        qid = queries.setdefault(query, f"q{len(queries)}")
        for text in (positive, negative):
            passages.setdefault(text, f"t{len(passages)}")
        qrels.add((qid, passages[positive]))
    corpus = [{"_id": pid, "title": "", "text": text} for text, pid in passages.items()]
    for line in open(sample / "full_collection.tsv", encoding="utf-8"):
        pid, text = line.rstrip("\n").split("\t", 1)
        corpus.append({"_id": f"c{pid}", "title": "", "text": text})
    with atomic_path(out, is_dir=True) as tmp:
        (tmp / "qrels").mkdir(parents=True)
        (tmp / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in corpus), encoding="utf-8")
        (tmp / "queries.jsonl").write_text("".join(json.dumps({"_id": qid, "text": q}) + "\n"
                                                   for q, qid in queries.items()), encoding="utf-8")
        (tmp / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n" + "".join(
            f"{q}\t{d}\t1\n" for q, d in sorted(qrels)), encoding="utf-8")
    print(f"{out}: {len(corpus)} passages, {len(queries)} queries, {len(qrels)} qrels")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--sample", type=Path, default=ROOT.parent / "shared/data/msmarco-sample/splade-toy")
    args = parser.parse_args()
    build(args.sample, args.out)


if __name__ == "__main__":
    main()

"""Document encoding speed on the CPU: lsr's runtimes and precisions against two baselines, in one run.

Systems, all with the same model, batch size and length limit (documents truncated, so every
system encodes the same tokens):

- naive: a plain transformers loop (padding to the longest text of each batch, the literal
  log(1 + ReLU(logits)) then a masked max over positions);
- sentence-transformers: its `SparseEncoder` over the same folder (skipped when not installed);
- lsr torch, lsr torch bf16 (the encoder setting `precision="bfloat16"`: bf16 autocast, fast on CPUs
  with AMX or AVX-512 BF16), lsr onnx (fp32) and lsr onnx-int8 (the encoder setting `runtime`).

Prints docs/s (median of --runs timed passes after a warm-up pass) and each system's difference to
lsr torch (max abs weight difference, term overlap); --ndcg also indexes the corpus with each lsr
variant and prints SciFact nDCG@10.

    python benchmarks/encode_speed.py [--docs 1000] [--ndcg]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from itertools import islice
from pathlib import Path

import numpy as np
import torch
from common import add_out_argument, write_result

from lsr.data import read_corpus, read_qrels, read_queries
from lsr.models import load_encoder

ROOT = Path(__file__).resolve().parents[1]
VARIANTS = {"torch": {}, "torch bf16": {"precision": "bfloat16"}, "onnx": {"runtime": "onnx"},
            "onnx-int8": {"runtime": "onnx-int8"}}  # lsr's encoder settings of each measured variant


def naive_encoder(folder: str, max_length: int, batch_size: int) -> Callable[[list[str]], np.ndarray]:
    """The textbook SPLADE loop: [docs, vocab] weights."""
    from transformers import AutoModelForMaskedLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForMaskedLM.from_pretrained(folder).eval()

    def encode(texts: list[str]) -> np.ndarray:
        out = []
        with torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = tokenizer(texts[start:start + batch_size], padding="longest", truncation=True,
                                  max_length=max_length, return_tensors="pt")
                logits = model(**batch).logits
                weights = torch.log1p(torch.relu(logits)) * batch["attention_mask"].unsqueeze(-1)
                out.append(weights.amax(dim=1).numpy())
        return np.concatenate(out)

    return encode


def sentence_transformers_encoder(folder: str, max_length: int,
                                  batch_size: int) -> Callable[[list[str]], np.ndarray] | None:
    """sentence-transformers' `SparseEncoder` over the folder (MLM transformer + SPLADE pooling); None without it."""
    try:
        from sentence_transformers import SparseEncoder
    except ImportError as e:
        print(f"sentence-transformers skipped: {e}")
        return None
    model = SparseEncoder(folder, device="cpu")
    model.max_seq_length = max_length

    def encode(texts: list[str]) -> np.ndarray:
        return model.encode_document(texts, batch_size=batch_size, convert_to_tensor=True).to_dense().numpy()

    return encode


def lsr_encoder(folder: str, variant: dict, max_length: int, batch_size: int,
                long_docs: str) -> Callable[[list[str]], np.ndarray]:
    encoder = load_encoder(folder, device="cpu", batch_size=batch_size, doc_max_length=max_length,
                           long_docs=long_docs, **variant)
    return lambda texts: encoder.encode_docs(texts).to_dense_torch().numpy()


def docs_per_second(encode: Callable[[list[str]], np.ndarray], texts: list[str], runs: int) -> tuple[float, np.ndarray]:
    """Median docs/s of `runs` timed passes after one warm-up pass, and the warm-up's vectors."""
    vectors = encode(texts)
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        encode(texts)
        seconds.append(time.perf_counter() - start)
    return len(texts) / statistics.median(seconds), vectors


def compare(vectors: np.ndarray, reference: np.ndarray) -> str:
    """Max abs difference and the mean Jaccard overlap of the terms weighing over 0.01."""
    mine, theirs = vectors > 0.01, reference > 0.01
    overlap = (mine & theirs).sum(1) / np.maximum((mine | theirs).sum(1), 1)
    return f"max |diff| {np.abs(vectors - reference).max():.2e}, term overlap {overlap.mean():.4f}"


def ndcg(data: str, folder: str, variant: dict, max_length: int, batch_size: int, long_docs: str) -> float:
    from lsr.eval.metrics import evaluate
    from lsr.indexing.build import build_impact_index
    from lsr.search.lucene import LuceneSearcher

    encoder = load_encoder(folder, device="cpu", batch_size=batch_size, doc_max_length=max_length,
                           long_docs=long_docs, **variant)
    with tempfile.TemporaryDirectory() as tmp:
        build_impact_index(data, Path(tmp) / "index", folder, encoder=encoder, progress=False)
        run = LuceneSearcher(Path(tmp) / "index", encoder).search(read_queries(data, "test"), k=1000)
    return evaluate(run, read_qrels(data, "test"), ["nDCG@10"]).values["nDCG@10"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default=str(ROOT.parent / "shared/data/beir/scifact"))
    parser.add_argument("--model", default=str(ROOT.parent / "shared/models/splade-tiny"))
    parser.add_argument("--docs", type=int, help="the corpus's first N documents (default: all)")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--max-length", type=int, default=256)
    parser.add_argument("--long-docs", choices=["first", "windows"], default="first",
                        help="lsr's handling of long documents "
                             "(the baselines truncate: 'first' encodes the same tokens)")
    parser.add_argument("--runs", type=int, default=3, help="timed passes per system (median)")
    parser.add_argument("--ndcg", action="store_true", help="also index the corpus with each lsr variant: nDCG@10")
    add_out_argument(parser)
    args = parser.parse_args()

    texts = [d.full_text() for d in islice(read_corpus(args.data), args.docs)]
    print(f"{len(texts)} documents, batch size {args.batch_size}, max length {args.max_length}, "
          f"{torch.get_num_threads()} threads")
    systems = {f"lsr {name}": lambda v=variant: lsr_encoder(args.model, v, args.max_length, args.batch_size,
                                                             args.long_docs) for name, variant in VARIANTS.items()}
    systems["naive transformers"] = lambda: naive_encoder(args.model, args.max_length, args.batch_size)
    systems["sentence-transformers"] = lambda: sentence_transformers_encoder(args.model, args.max_length,
                                                                             args.batch_size)
    reference_speed, reference = 0.0, None
    rows = []
    for name, make in systems.items():  # lsr torch first: the reference
        encode = make()
        if encode is None:
            continue
        speed, vectors = docs_per_second(encode, texts, args.runs)
        if reference is None:
            reference_speed, reference = speed, vectors
        print(f"{name:22s} {speed:8.1f} docs/s  {speed / reference_speed:5.2f}x lsr torch  "
              f"{compare(vectors, reference)}", flush=True)
        rows.append({"system": name, "docs/s": round(speed, 1), "x lsr torch": round(speed / reference_speed, 2),
                     "against lsr torch": compare(vectors, reference)})
    ndcgs = {}
    if args.ndcg:
        for name, variant in VARIANTS.items():
            score = ndcg(args.data, args.model, variant, args.max_length, args.batch_size, args.long_docs)
            print(f"lsr {name:10s} nDCG@10 {score:.4f}")
            ndcgs[f"lsr {name}"] = round(score, 4)
    for row in rows:
        if row["system"] in ndcgs:
            row["nDCG@10"] = ndcgs[row["system"]]
    write_result(args.out, "encode_speed", {
        "documents": len(texts), "batch size": args.batch_size, "max length": args.max_length,
        "torch threads": torch.get_num_threads(), "runs": args.runs, "systems": rows},
        title="Document encoding speed (CPU)")


if __name__ == "__main__":
    main()

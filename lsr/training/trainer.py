"""The training loop: AdamW, warm-up and linear decay, gradient accumulation, sparsity regularisation,
checkpoints with exact resume, a JSONL log of every step and periodic evaluation.

Per optimizer step, over `grad_accum` micro-batches of B queries with G documents each:
    s(q, d) = q · d                                  (student scores, [B, G])
    L = L_rank(s) + λ_q(t)·R_q(q) + λ_d(t)·R_d(d)    R = FLOPS or L1, λ(t) = λ·min(1, (t/T)²)
L_rank is KL(softmax(teacher/τ) ‖ softmax(s/τ)), MarginMSE against the teacher margins, or InfoNCE
over in-batch and hard negatives. `score_space_flops` (inference-free, for comparison) is the FLOPS of
idf_j·w_d(j), which penalises every term alike. The query regulariser applies only when queries have trainable
weights (not to an inference-free model's fixed IDF queries: there the document FLOPS meets
IDF-weighted scores, which is the IDF-aware FLOPS of `lsr.training.losses.inference_free`).

A checkpoint holds the trainable weights, optimizer and scheduler state, the step and every random
generator's state; with the deterministic batches of `GroupSampler`, a run killed and resumed ends
with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import json
import logging
import math
import random
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import torch
from tqdm.auto import tqdm

from lsr.fileio import atomic_path, write_text_atomic
from lsr.models import Encoder
from lsr.training.batches import Group, GroupSampler
from lsr.training.config import SCORE_SPACE_FLOPS, TrainSection
from lsr.training.losses import flops, info_nce, kl_distillation, l1, margin_mse, quadratic_warmup

if TYPE_CHECKING:
    from lsr.models.inference_free import QueryWeights

log = logging.getLogger(__name__)
LOG_FILE = "log.jsonl"
KEEP_CHECKPOINTS = 2
REGULARIZERS = {"flops": flops, "l1": l1}

Evaluator = Callable[[Encoder], dict[str, float]]


def total_steps(config: TrainSection, num_queries: int) -> int:
    """Optimizer steps of the run: `max_steps`, else enough for `epochs` passes over the queries."""
    if config.max_steps is not None:
        return config.max_steps
    return max(1, math.ceil(config.epochs * num_queries / (config.queries_per_batch * config.grad_accum)))


class Trainer:
    """Trains `encoder` in place on `sampler`'s groups; `folder` holds checkpoints and the log."""

    def __init__(self, encoder: Encoder, config: TrainSection, sampler: GroupSampler, doc_texts: Mapping[str, str],
                 folder: str | Path, *, evaluate: Evaluator | None = None, progress: bool = True):
        self.encoder, self.config, self.sampler, self.doc_texts = encoder, config, sampler, doc_texts
        self.folder = Path(folder)
        self.evaluate, self.progress = evaluate, progress
        self.steps = total_steps(config, len(sampler))
        self.params = [p for p in encoder.network.parameters() if p.requires_grad]
        self.names = [n for n, p in encoder.network.named_parameters() if p.requires_grad]
        if not self.params:
            raise ValueError("the encoder has no trainable weights")
        self.optimizer = torch.optim.AdamW(self.params, lr=config.lr, weight_decay=config.weight_decay)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, self._lr_factor)

    def _lr_factor(self, step: int) -> float:
        warmup = self.config.warmup_steps
        if step < warmup:
            return (step + 1) / warmup
        return max(0.0, (self.steps - step) / max(1, self.steps - warmup))

    def train(self) -> dict[str, Any]:
        """Run (or resume) to the last step; return the last step's log record."""
        self.folder.mkdir(parents=True, exist_ok=True)
        step = self._resume()
        self._seed(step)
        network = self.encoder.network
        network.train()
        record: dict[str, Any] = {}
        bar = tqdm(total=self.steps, initial=step, desc="train", unit="step", disable=not self.progress)
        with open(self.folder / LOG_FILE, "a", encoding="utf-8") as log_file:
            if step == 0 and self.evaluate and self.config.eval_every:
                log_file.write(json.dumps({"step": 0, "eval": self._evaluate()}) + "\n")
            while step < self.steps:
                started = time.perf_counter()
                record = self._step(step)
                step += 1
                record.update(step=step, seconds=round(time.perf_counter() - started, 3))
                if self.evaluate and self.config.eval_every and (step % self.config.eval_every == 0
                                                                 or step == self.steps):
                    record["eval"] = self._evaluate()
                log_file.write(json.dumps(record) + "\n")
                log_file.flush()
                bar.update()
                bar.set_postfix(loss=f"{record['loss']:.3f}", pd=f"{record['postings_d']:.0f}")
                if step % self.config.checkpoint_every == 0 or step == self.steps:
                    self._checkpoint(step)
        bar.close()
        network.eval()
        return record

    def _step(self, step: int) -> dict[str, Any]:
        config = self.config
        lambda_q = quadratic_warmup(config.lambda_q, step + 1, config.lambda_warmup_steps)
        lambda_d = quadratic_warmup(config.lambda_d, step + 1, config.lambda_warmup_steps)
        totals: dict[str, float] = {}
        for micro in range(config.grad_accum):
            groups = self.sampler.batch(step * config.grad_accum + micro, config.queries_per_batch)
            parts, stats = self._losses(groups, lambda_q, lambda_d)
            loss = sum(parts.values())
            (loss / config.grad_accum).backward()
            values = {**{k: v.item() for k, v in parts.items()}, "loss": loss.item(), **stats}
            for key, value in values.items():
                totals[key] = totals.get(key, 0.0) + value / config.grad_accum
        grad_norm = torch.nn.utils.clip_grad_norm_(self.params, config.max_grad_norm)
        self.optimizer.step()
        self.scheduler.step()
        self.optimizer.zero_grad(set_to_none=True)
        return {**totals, "lr": self.scheduler.get_last_lr()[0], "lambda_q": lambda_q, "lambda_d": lambda_d,
                "grad_norm": float(grad_norm)}

    def _losses(self, groups: list[Group], lambda_q: float, lambda_d: float) -> tuple[dict, dict]:
        config = self.config
        size = len(groups[0].doc_ids)
        queries = self.encoder.forward([g.query_text for g in groups], is_query=True)
        docs = self.encoder.forward([self.doc_texts[d] for g in groups for d in g.doc_ids], is_query=False)
        docs = docs.view(len(groups), size, -1)
        scores = torch.einsum("bv,bgv->bg", queries, docs)
        if config.loss == "infonce":
            rank = info_nce(queries, docs, temperature=config.temperature)
        else:
            teacher = torch.tensor([g.targets for g in groups], dtype=scores.dtype, device=scores.device)
            rank = (kl_distillation(scores, teacher, temperature=config.temperature) if config.loss == "kl"
                    else margin_mse(scores, teacher))
        flat_docs = docs.reshape(-1, docs.shape[-1])
        if config.reg_d == SCORE_SPACE_FLOPS:
            query = cast("QueryWeights", self.encoder.network.query)  # an inference-free encoder's (the config checks)
            reg_d = flops(flat_docs * torch.relu(query.weight))
        else:
            reg_d = REGULARIZERS[config.reg_d](flat_docs)
        parts = {"rank_loss": rank, "reg_d": lambda_d * reg_d}
        if queries.requires_grad and lambda_q:  # fixed (IDF) queries have nothing to regularise
            parts["reg_q"] = lambda_q * REGULARIZERS[config.reg_q](queries)
        with torch.no_grad():
            active_q, active_d = (queries > 0).float(), (flat_docs > 0).float()
            stats = {"postings_q": float(active_q.sum(1).mean()), "postings_d": float(active_d.sum(1).mean()),
                     "flops": float((active_q.mean(0) * active_d.mean(0)).sum())}
        return parts, stats

    def _evaluate(self) -> dict[str, float]:
        assert self.evaluate is not None  # called only when there is an evaluator
        network = self.encoder.network
        network.eval()
        try:
            return self.evaluate(self.encoder)
        finally:
            network.train()

    # --- checkpoints ------------------------------------------------------------------------------

    def _checkpoint(self, step: int) -> None:
        state = {"step": step, "weights": {n: p.detach().cpu().clone() for n, p in zip(self.names, self.params)},
                 "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict(),
                 "rng": {"python": random.getstate(), "numpy": np.random.get_state(),
                         "torch": torch.get_rng_state(),
                         "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None}}
        with atomic_path(self.folder / f"checkpoint-{step:07d}.pt") as tmp:
            torch.save(state, tmp)
        for old in self._checkpoints()[:-KEEP_CHECKPOINTS]:
            old.unlink()

    def _checkpoints(self) -> list[Path]:
        return sorted(self.folder.glob("checkpoint-*.pt"))

    def _resume(self) -> int:
        """Load the latest checkpoint (if any) and cut the log back to it; the step to continue from."""
        found = [p for p in self._checkpoints() if int(p.stem.split("-")[1]) <= self.steps]
        step = 0
        if found:
            state = torch.load(found[-1], map_location="cpu", weights_only=False)
            with torch.no_grad():
                for name, param in zip(self.names, self.params):
                    param.copy_(state["weights"][name])
            self.optimizer.load_state_dict(state["optimizer"])
            self.scheduler.load_state_dict(state["scheduler"])
            random.setstate(state["rng"]["python"])
            np.random.set_state(state["rng"]["numpy"])
            torch.set_rng_state(state["rng"]["torch"])
            if state["rng"]["cuda"] is not None and torch.cuda.is_available():
                torch.cuda.set_rng_state_all(state["rng"]["cuda"])
            step = state["step"]
            log.info("resuming training from %s (step %d of %d)", found[-1].name, step, self.steps)
        log_path = self.folder / LOG_FILE
        if log_path.exists():
            kept = [line for line in log_path.read_text(encoding="utf-8").splitlines()
                    if line.strip() and json.loads(line)["step"] <= step]
            write_text_atomic(log_path, "".join(line + "\n" for line in kept))
        return step

    def _seed(self, step: int) -> None:
        if step == 0:
            random.seed(self.config.seed)
            np.random.seed(self.config.seed)
            torch.manual_seed(self.config.seed)

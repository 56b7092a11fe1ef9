"""The training config: typed sections read from a TOML or YAML file, with `key=value` overrides
(`lsr.keyvalue`: TOML values).

    lsr train examples/splade-distill.toml train.max_steps=200 out=runs/try

Every key is checked: an unknown section or key, or a value of the wrong type, is a one-line
`LsrError` naming it. Paths in the file are relative to the file's folder.
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from lsr.errors import LsrError
from lsr.keyvalue import check_type, parse_pair

LOSSES = ("kl", "margin_mse", "infonce")
REGULARIZERS = ("flops", "l1")
# Inference-free only: FLOPS of the score contributions idf_j·w_d(j), every term penalised alike (not
# IDF-aware): the baseline the IDF-aware FLOPS (plain "flops" on the raw document weights) is compared with.
SCORE_SPACE_FLOPS = "score_space_flops"
PSEUDO_POSITIVES = ("source", "teacher")


@dataclass
class ModelSection:
    """The student: a model folder to start from, its encoder settings, and how it is trained."""

    init: str = ""                        # model folder (or hub id) the student starts from
    kind: str | None = None               # "inference-free" turns a masked LM into a document-only model
    settings: dict[str, Any] = field(default_factory=dict)   # encoder settings (doc_max_length, long_docs, ...)
    idf: str | None = None                # inference-free: query weight table (JSON); None: IDF of the corpus
    trainable_idf: bool = False           # inference-free: learn the query weights too
    lora: dict[str, Any] | None = None    # decoder: LoRA adapter settings (r, alpha, dropout, target_modules)
    calibrate_postings: int | None = None  # decoder: start at the logit threshold leaving this many terms per doc


@dataclass
class DataSection:
    """Training queries with positives, the corpus, and the held-out evaluation split."""

    train: str = ""                       # BEIR folder (or queries source) with the training qrels
    split: str = "train"
    corpus: str | None = None             # default: the `train` folder's corpus
    tuples: str | None = None             # instead of `train` + mining: (query, positive, negatives...) tuples
    max_tuples: int | None = None         # read at most this many tuples (they are held in memory)
    teacher_scores: str | None = None     # precomputed (qid, docid, score) file: the targets, no teachers run
    pseudo_queries: int = 0               # also train on this many corpus titles (or first sentences) as queries
    pseudo_positive: str = "source"       # a pseudo-query's positive: its own document, or "teacher": the
                                          # ensemble's best other candidate (its own document left out)
    eval: str | None = None               # BEIR folder for evaluation; default: `train`
    eval_split: str = "test"
    full_eval: bool = True                # index the eval corpus with the trained model and search it
    eval_doc_top_k: int | None = None     # that index keeps each document's k largest weights (lsr index --doc-top-k)


@dataclass
class MiningSection:
    """Hard negatives: candidates retrieved from each source, known positives excluded."""

    sources: list[str] = field(default_factory=lambda: ["bm25"])   # bm25, dense:FOLDER, index:DIR
    depth: int = 50                       # candidates kept per query and source


@dataclass
class TeachersSection:
    """Teachers that score (query, candidate) pairs, and how their scores are combined."""

    models: list[str] = field(default_factory=list)   # bm25, dense:FOLDER, cross:FOLDER, index:DIR
    weights: list[float] | None = None    # per teacher; None: equal
    scale: float = 30.0                   # the normalised ensemble score is multiplied by this


@dataclass
class TrainSection:
    """The optimisation: loss, batch shape, schedule, sparsity regularisation, checkpoints."""

    loss: str = "kl"                      # kl | margin_mse | infonce (infonce needs no teacher)
    temperature: float = 1.0
    queries_per_batch: int = 4
    docs_per_query: int = 8               # 1 positive + hard negatives
    doc_max_length: int | None = None     # tokens per document while training (None: the model's setting)
    grad_accum: int = 1
    epochs: float = 1.0
    max_steps: int | None = None          # optimizer steps; overrides epochs when set
    lr: float = 5e-5
    weight_decay: float = 0.01
    warmup_steps: int = 50                # linear LR warm-up, then linear decay to 0
    lambda_q: float = 0.0
    lambda_d: float = 0.0
    lambda_warmup_steps: int = 100        # quadratic ramp of both λ
    reg_q: str = "flops"                  # flops | l1
    reg_d: str = "flops"                  # flops | l1 | score_space_flops (inference-free)
    seed: int = 42
    checkpoint_every: int = 50            # optimizer steps
    eval_every: int = 0                   # optimizer steps between rerank evaluations (and at 0 and the end)
    eval_queries: int = 100               # rerank evaluation: this many eval queries' candidates...
    eval_depth: int = 20                  # ...this deep, nDCG@10
    max_grad_norm: float = 1.0


@dataclass
class TrainConfig:
    """A whole training run; `out` holds every stage's output."""

    out: str = "runs/train"
    model: ModelSection = field(default_factory=ModelSection)
    data: DataSection = field(default_factory=DataSection)
    mining: MiningSection = field(default_factory=MiningSection)
    teachers: TeachersSection = field(default_factory=TeachersSection)
    train: TrainSection = field(default_factory=TrainSection)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def check(self) -> None:
        """Cross-field checks; `LsrError` naming the key."""
        if not self.model.init:
            raise LsrError("model.init: give the model folder the student starts from")
        if not self.data.train and not self.data.tuples:
            raise LsrError("data.train: give the training data (a BEIR folder with a train split, "
                           "or data.tuples)")
        if self.data.tuples and not (self.data.eval or self.data.train):
            raise LsrError("data.eval: training from tuples needs a BEIR folder to evaluate on")
        if self.train.loss not in LOSSES:
            raise LsrError(f"train.loss must be one of {', '.join(LOSSES)}, not {self.train.loss!r}")
        if self.train.reg_q not in REGULARIZERS:
            raise LsrError(f"train.reg_q must be one of {', '.join(REGULARIZERS)}")
        doc_regularizers = (*REGULARIZERS, SCORE_SPACE_FLOPS) if self.model.kind == "inference-free" else REGULARIZERS
        if self.train.reg_d not in doc_regularizers:
            raise LsrError(f"train.reg_d must be one of {', '.join(doc_regularizers)}")
        if self.train.loss != "infonce" and not self.teachers.models and not self.data.teacher_scores:
            raise LsrError(f"train.loss {self.train.loss} distils from teachers: list them in teachers.models "
                           f"or give data.teacher_scores")
        weights = self.teachers.weights
        if weights is not None and len(weights) != len(self.teachers.models):
            raise LsrError(f"teachers.weights has {len(weights)} values for {len(self.teachers.models)} teachers")
        if self.data.pseudo_positive not in PSEUDO_POSITIVES:
            raise LsrError(f"data.pseudo_positive must be one of {', '.join(PSEUDO_POSITIVES)}, "
                           f"not {self.data.pseudo_positive!r}")
        if self.data.pseudo_positive == "teacher" and self.train.loss == "infonce":
            raise LsrError("data.pseudo_positive = \"teacher\" needs teachers: not with train.loss infonce")
        if self.train.docs_per_query < 2:
            raise LsrError("train.docs_per_query must be at least 2 (a positive and a negative)")
        if self.data.eval_doc_top_k is not None and self.data.eval_doc_top_k < 1:
            raise LsrError(f"data.eval_doc_top_k must be at least 1, not {self.data.eval_doc_top_k}")


PATH_KEYS = {("model", "init"), ("model", "idf"), ("data", "train"), ("data", "corpus"), ("data", "eval"),
             ("data", "tuples"), ("data", "teacher_scores"), ("out",)}


def load_config(path: str | Path, overrides: Sequence[str] = ()) -> TrainConfig:
    """Read a TOML (.toml) or YAML (.yaml/.yml) config and apply `section.key=value` overrides."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise LsrError(f"{path}: no such config file") from None
    try:
        if path.suffix == ".toml":
            raw = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            import yaml

            raw = yaml.safe_load(text) or {}
        else:
            raise LsrError(f"{path}: a config is a .toml or .yaml file")
    except (tomllib.TOMLDecodeError, ValueError) as e:
        raise LsrError(f"{path}: invalid config ({e})".splitlines()[0]) from None
    if not isinstance(raw, dict):
        raise LsrError(f"{path}: the config must be a table of sections")
    _resolve_paths(raw, path.parent)
    for item in overrides:
        key, value = parse_pair(item, "section.key=value")
        _set(raw, key.split("."), value)
    config = _build(TrainConfig, raw, "")
    config.check()
    return config


def _resolve_paths(raw: dict[str, Any], base: Path) -> None:
    """Make the config's local paths relative to its own folder (hub ids and irds: ids stay)."""
    for keys in PATH_KEYS:
        table: Any = raw
        for key in keys[:-1]:
            table = table.get(key) if isinstance(table, dict) else None
        if isinstance(table, dict) and isinstance(table.get(keys[-1]), str):
            table[keys[-1]] = _resolve(table[keys[-1]], base, output=keys == ("out",))
    for section, key in (("mining", "sources"), ("teachers", "models")):
        values = raw.get(section, {}).get(key) if isinstance(raw.get(section), dict) else None
        if isinstance(values, list):
            raw[section][key] = [_resolve_spec(v, base) if isinstance(v, str) else v for v in values]


def _resolve(value: str, base: Path, *, output: bool = False) -> str:
    """`value` taken relative to `base` when it is an output folder, an existing path or starts with
    "."; otherwise (a hub id such as naver/splade-v3, an irds: id, an absolute path) as it is."""
    if value.startswith(("irds:", "/")) or not value:
        return value
    candidate = base / value
    if output or candidate.exists() or value.startswith("."):
        return os.path.normpath(candidate)
    return value


def _resolve_spec(spec: str, base: Path) -> str:
    kind, sep, target = spec.partition(":")
    return f"{kind}:{_resolve(target, base)}" if sep else spec


def _set(raw: dict[str, Any], keys: list[str], value: Any) -> None:
    table = raw
    for key in keys[:-1]:
        table = table.setdefault(key, {})
        if not isinstance(table, dict):
            raise LsrError(f"override {'.'.join(keys)}: {key} is not a section")
    table[keys[-1]] = value


def _build(cls: type, raw: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    known = {f.name for f in fields(cls)}
    values = {}
    for key, value in raw.items():
        name = f"{where}{key}"
        if key not in known:
            raise LsrError(f"unknown config key {name!r} (known here: {', '.join(sorted(known))})")
        hint = hints[key]
        if isinstance(hint, type) and dataclasses.is_dataclass(hint):
            if not isinstance(value, dict):
                raise LsrError(f"config key {name!r} is a section, not {value!r}")
            values[key] = _build(hint, value, f"{name}.")
        else:
            values[key] = check_type(value, hint, name, what="config key")
    return cls(**values)

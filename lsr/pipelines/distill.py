"""`lsr train`: mine → teacher scores → train → evaluate, every stage cached under OUT.

    OUT/config.json                    the resolved config of the run
    OUT/indexes/                       BM25 / dense indexes of the corpus that mining and teachers use
    OUT/candidates/{train,pseudo,eval}.<source>.trec   mined candidates (known positives excluded)
    OUT/teachers/{train,pseudo,eval}.<teacher>.tsv     teacher scores of every (query, candidate) pair
    OUT/teachers/report.json           each teacher's and the ensemble's nDCG@10 reranking the eval candidates
    OUT/idf.json                       inference-free students without a given table: IDF of the corpus
    OUT/train/                         checkpoints, log.jsonl (every step's losses, postings, FLOPS)
    OUT/model/                         the trained model folder (`lsr index -m OUT/model` loads it)
    OUT/eval/                          impact index of the eval corpus, run.trec, results.json

A stage is skipped when its output is there; training resumes from its last checkpoint, so a rerun
after a kill, or with more steps (`train.epochs`, `train.max_steps`), does only what is missing.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import torch

from lsr.data import (
    Query,
    TrainQuery,
    pseudo_queries,
    read_corpus,
    read_qrels,
    read_queries,
    read_teacher_scores,
    read_train_queries,
    read_train_tuples,
    write_teacher_scores,
)
from lsr.errors import LsrError
from lsr.eval.metrics import DEFAULT_MEASURES, evaluate
from lsr.fileio import atomic_path, write_text_atomic
from lsr.models import Encoder, load_encoder
from lsr.runs import Run, read_trec_run, write_trec_run
from lsr.training.batches import GroupSampler
from lsr.training.config import TrainConfig
from lsr.training.retrievers import Retriever, Spec, mine_negatives
from lsr.training.teachers import Scores, ensemble, ranking, teacher_scores
from lsr.training.trainer import Trainer, total_steps

if TYPE_CHECKING:
    from lsr.models.inference_free import QueryWeights

log = logging.getLogger(__name__)
CALIBRATION_DOCS = 64  # training positives the decoder's starting logit threshold is set on


class Distillation:
    """One training run described by a `TrainConfig`; `run()` does every missing stage."""

    def __init__(self, config: TrainConfig, *, progress: bool = True):
        self.config, self.progress = config, progress
        self.out = Path(config.out)
        data = config.data
        self.eval_source = data.eval or data.train
        # part -> corpus: training documents (none for text tuples without data.corpus), eval documents
        self.corpora = {"train": data.corpus or data.train, "eval": data.eval or data.corpus or data.train}
        self.corpora["pseudo"] = self.corpora["train"]
        self._texts: dict[str, dict[str, str]] = {}
        self.tuple_candidates: dict[str, list[str]] = {}
        if data.tuples:
            self.train_queries = self._read_tuples(data.tuples, data.max_tuples)
        else:
            self.train_queries = read_train_queries(data.train, data.split if Path(data.train).is_dir() else None)
        self.pseudo_queries = (pseudo_queries(read_corpus(self._corpus("pseudo")), data.pseudo_queries,
                                              config.train.seed) if data.pseudo_queries else [])
        split = data.eval_split if Path(self.eval_source).is_dir() else None
        self.eval_queries = read_queries(self.eval_source, split)
        self.eval_qrels = read_qrels(self.eval_source, split)
        self.sources = [Spec.parse(s) for s in config.mining.sources]
        self.teachers = [Spec.parse(t) for t in config.teachers.models]

    def run(self) -> dict[str, Any]:
        """All stages; the evaluation results."""
        self.out.mkdir(parents=True, exist_ok=True)
        write_text_atomic(self.out / "config.json", json.dumps(self.config.to_dict(), indent=2) + "\n")
        positives = {q.id: q.positives for q in self.train_queries}
        train_pool = self.tuple_candidates or self.candidates("train", self.train_queries, positives)
        eval_pool = self.candidates("eval", self.eval_queries, {})
        targets = None
        if self.config.train.loss != "infonce":
            pairs = {q.id: list(dict.fromkeys([*q.positives, *train_pool.get(q.id, [])])) for q in self.train_queries}
            if self.config.data.teacher_scores:
                targets = _covering(read_teacher_scores(self.config.data.teacher_scores), pairs,
                                    self.config.data.teacher_scores)
            else:
                targets = self.ensemble("train", self.train_queries, pairs)
                self.teacher_report(eval_pool)
        if self.pseudo_queries:
            pseudo_pool = self.candidates("pseudo", self.pseudo_queries,
                                          {q.id: q.positives for q in self.pseudo_queries})
            if targets is not None:
                own = self.config.data.pseudo_positive == "source"
                pairs = {q.id: list(dict.fromkeys([*(q.positives if own else ()), *pseudo_pool.get(q.id, [])]))
                         for q in self.pseudo_queries}
                pseudo_targets = self.ensemble("pseudo", self.pseudo_queries, pairs)
                if not own:
                    self.pseudo_queries, pseudo_pool = teacher_positives(self.pseudo_queries, pseudo_targets)
                targets = {**targets, **pseudo_targets}
            train_pool = {**train_pool, **pseudo_pool}
        model = self.train(train_pool, targets, eval_pool)
        return self.final_evaluation(model)

    # --- stages -----------------------------------------------------------------------------------

    def candidates(self, part: str, queries: Sequence[Query],
                   positives: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
        """Each query's candidates: the union of every source's top `mining.depth`, in source order."""
        pool: dict[str, list[str]] = {}
        for spec in self.sources:
            path = self.out / "candidates" / f"{part}.{spec.name}.trec"
            if not path.is_file():
                log.info("mining %s candidates with %s", part, spec.name)
                retriever = Retriever(spec, self._corpus(part), self._work(part), progress=self.progress)
                write_trec_run(mine_negatives(retriever, queries, positives, self.config.mining.depth), path,
                               tag=spec.name)
            for qid, hits in read_trec_run(path).items():
                pool.setdefault(qid, []).extend(doc for doc, _ in hits)
        return {qid: list(dict.fromkeys(docs)) for qid, docs in pool.items()}

    def teacher_scores(self, part: str, queries: Sequence[Query], pairs: dict[str, list[str]]) -> list[Scores]:
        """Every teacher's scores of `pairs`, from its cache file when that covers them."""
        found = []
        for spec in self.teachers:
            path = self.out / "teachers" / f"{part}.{spec.name}.tsv"
            scores = read_teacher_scores(path) if path.is_file() else {}
            if any(doc not in scores.get(qid, {}) for qid, docs in pairs.items() for doc in docs):
                log.info("scoring %s pairs with teacher %s", part, spec.name)
                corpus = self._corpus(part) if spec.kind != "cross" else None
                scores = teacher_scores(spec, queries, pairs, corpus=corpus, doc_texts=self.texts(part),
                                        work=self._work(part), progress=self.progress)
                write_teacher_scores(scores, path)
            found.append({qid: {doc: scores[qid][doc] for doc in docs} for qid, docs in pairs.items() if docs})
        return found

    def ensemble(self, part: str, queries: Sequence[Query], pairs: dict[str, list[str]]) -> Scores:
        teachers = self.config.teachers
        return ensemble(self.teacher_scores(part, queries, pairs), teachers.weights, teachers.scale)

    def teacher_report(self, eval_pool: dict[str, list[str]]) -> dict[str, Any]:
        """nDCG@10 of each teacher and of the ensemble, reranking the eval queries' candidates."""
        path = self.out / "teachers" / "report.json"
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
        scores = self.teacher_scores("eval", self.eval_queries, eval_pool)
        teachers = self.config.teachers
        runs = {spec.name: ranking(s) for spec, s in zip(self.teachers, scores)}
        runs["ensemble"] = ranking(ensemble(scores, teachers.weights, teachers.scale))
        report = {"candidates_per_query": _mean(len(v) for v in eval_pool.values()),
                  "ndcg@10": {name: evaluate(run, self.eval_qrels, ["nDCG@10"]).values["nDCG@10"]
                              for name, run in runs.items()}}
        write_text_atomic(path, json.dumps(report, indent=2) + "\n")
        log.info("teachers' nDCG@10 reranking the eval candidates: %s", report["ndcg@10"])
        return report

    def train(self, train_pool: dict[str, list[str]], targets: Scores | None,
              eval_pool: dict[str, list[str]]) -> Path:
        """Train (or resume) the student; the saved model folder."""
        model_dir, folder = self.out / "model", self.out / "train"
        sampler = GroupSampler([*self.train_queries, *self.pseudo_queries], train_pool,
                               self.config.train.docs_per_query, self.config.train.seed, targets)
        steps = total_steps(self.config.train, len(sampler))
        fingerprint = self._fingerprint()
        done = folder / "done.json"
        if done.is_file() and json.loads(done.read_text()) == {"steps": steps, "fingerprint": fingerprint} \
                and (model_dir / "lsr.json").is_file():
            return model_dir
        self._check_same_run(folder, fingerprint)
        student = self.student()
        trainer = Trainer(student, self.config.train, sampler, self.texts("train"), folder,
                          evaluate=self._reranker(eval_pool), progress=self.progress)
        inference = student.settings
        student.settings = inference.replace(doc_max_length=self.config.train.doc_max_length)  # None: the same
        try:
            trainer.train()
        finally:
            student.settings = inference
        if hasattr(student, "adopt_trained_query_weights") and self.config.model.trainable_idf:
            student.adopt_trained_query_weights()
        with atomic_path(model_dir, is_dir=True) as tmp:
            student.save(tmp)
        write_text_atomic(done, json.dumps({"steps": steps, "fingerprint": fingerprint}) + "\n")
        return model_dir

    def final_evaluation(self, model_dir: Path) -> dict[str, Any]:
        """Index the eval corpus with the trained model, search with Lucene, evaluate (cached)."""
        from lsr.eval.cost import cost_stats
        from lsr.indexing.build import build_impact_index
        from lsr.pruning import Pruning
        from lsr.search.lucene import LuceneSearcher

        path = self.out / "eval" / "results.json"
        done = json.loads((self.out / "train" / "done.json").read_text())
        if path.is_file():
            results = json.loads(path.read_text(encoding="utf-8"))
            if results.get("trained") == done and results.get("doc_top_k") == self.config.data.eval_doc_top_k:
                return results
        if not self.config.data.full_eval:
            results = {"trained": done, "rerank": self._log_evals(), "model": str(model_dir)}
            write_text_atomic(path, json.dumps(results, indent=2) + "\n")
            return results
        index = self.out / "eval" / "index"
        top_k = self.config.data.eval_doc_top_k
        build_impact_index(self.corpora["eval"], index, model_dir, pruning=Pruning(doc_top_k=top_k), overwrite=True,
                           progress=self.progress)
        searcher = LuceneSearcher(index)
        run = searcher.search(self.eval_queries, 1000, progress=self.progress)
        write_trec_run(run, self.out / "eval" / "run.trec", tag="lsr-train")
        costs = cost_stats(searcher, self.eval_queries)
        results = {"trained": done, "doc_top_k": top_k,
                   "metrics": evaluate(run, self.eval_qrels, DEFAULT_MEASURES).values,
                   "postings_per_doc": costs.postings_per_doc, "postings_per_query": costs.postings_per_query,
                   "flops": costs.flops, "model": str(model_dir)}
        write_text_atomic(path, json.dumps(results, indent=2) + "\n")
        return results

    def _log_evals(self) -> list[dict[str, Any]]:
        """The rerank evaluations the training log holds, by step."""
        lines = (self.out / "train" / "log.jsonl").read_text(encoding="utf-8").splitlines()
        return [{"step": r["step"], **r["eval"]} for r in map(json.loads, lines) if "eval" in r]

    # --- pieces -----------------------------------------------------------------------------------

    def texts(self, part: str) -> dict[str, str]:
        """Document id -> text of the part's corpus (train: with the training tuples' documents)."""
        if part not in self._texts:
            corpus = self.corpora[part]
            same = part != "train" and corpus == self.corpora["train"] and "train" in self._texts
            self._texts[part] = self._texts["train"] if same else (
                {d.id: d.full_text() for d in read_corpus(corpus)} if corpus else {})
        return self._texts[part]

    def _corpus(self, part: str) -> str:
        corpus = self.corpora[part]
        if not corpus:
            raise LsrError("mining and the bm25/dense/index teachers search a corpus: give data.corpus "
                           "(training from text tuples needs a cross-encoder teacher or data.teacher_scores "
                           "without one)")
        return corpus

    def _work(self, part: str) -> Path:
        """Where the indexes of the part's corpus go (one folder when train and eval share a corpus)."""
        same = self.corpora["eval"] == self.corpora["train"]
        return self.out / ("indexes" if part != "eval" or same else "indexes-eval")

    def _read_tuples(self, source: str, limit: int | None) -> list[TrainQuery]:
        """Queries, their positives and negatives (as candidates) from training tuples, held in memory."""
        data = self.config.data
        ids = {"corpus": data.corpus, "queries": data.train} if data.corpus and data.train else {}
        tuples = itertools.islice(read_train_tuples(source, **ids), limit)
        texts: dict[str, str] = {}
        positives: dict[str, list[str]] = {}
        candidates = self.tuple_candidates
        for row in tuples:
            texts.setdefault(row.query_id, row.query_text)
            positives.setdefault(row.query_id, []).append(row.positive[0])
            candidates.setdefault(row.query_id, []).extend(doc for doc, _ in row.negatives)
            self.texts("train").update(row.docs)
        for qid, docs in candidates.items():
            candidates[qid] = list(dict.fromkeys(d for d in docs if d not in set(positives[qid])))
        if not texts:
            raise LsrError(f"{source}: no training tuples")
        log.info("%d training queries from %s", len(texts), source)
        return [TrainQuery(qid, text, tuple(dict.fromkeys(positives[qid]))) for qid, text in texts.items()]

    def student(self) -> Encoder:
        """The model to train, as the config's `model` section says (seeded: LoRA weights start the same)."""
        from lsr.models.decoder import DecoderSpladeEncoder

        section = self.config.model
        torch.manual_seed(self.config.train.seed)
        student: Encoder
        if section.kind == "inference-free":
            from lsr.models.idf import compute_idf, load_idf, load_tokenizer, save_idf
            from lsr.models.inference_free import InferenceFreeEncoder
            from lsr.models.settings import InferenceFreeSettings

            if section.idf:
                table = load_idf(section.idf)
            else:
                idf_path = self.out / "idf.json"
                if not idf_path.is_file():
                    save_idf(compute_idf(read_corpus(self._corpus("train")), load_tokenizer(section.init),
                                         progress=self.progress), idf_path)
                table = load_idf(idf_path)
            settings = InferenceFreeSettings.parse(section.settings, "model.settings")
            student = InferenceFreeEncoder.from_folder(section.init, settings, table=table)
            cast("QueryWeights", student.network.query).weight.requires_grad_(section.trainable_idf)
        elif section.kind is not None and section.kind not in ("splade", "decoder-splade"):
            raise LsrError(f"model.kind {section.kind!r}: expected splade, decoder-splade or inference-free")
        else:
            student = load_encoder(section.init, **section.settings)
        if section.calibrate_postings:
            threshold = self._threshold(student, section.calibrate_postings)
            assert isinstance(student, DecoderSpladeEncoder)  # the one kind with a threshold (`_threshold` checks)
            student.set_logit_threshold(threshold)
        if section.lora:
            if not isinstance(student, DecoderSpladeEncoder):
                raise LsrError(f"model.lora: a {student.kind} encoder takes no LoRA adapters (decoder-splade only)")
            student.with_lora(**section.lora)
        return student

    def _threshold(self, student: Encoder, postings: int) -> float:
        """The logit threshold leaving `postings` terms per document, on the first training positives."""
        from lsr.training.calibrate import threshold_for_postings

        if not hasattr(student, "set_logit_threshold"):
            raise LsrError(f"model.calibrate_postings: a {student.kind} encoder has no logit threshold "
                           f"(decoder-splade only)")
        docs = list(dict.fromkeys(d for q in self.train_queries for d in q.positives))[:CALIBRATION_DOCS]
        texts = self.texts("train")
        return threshold_for_postings(student, [texts[d] for d in docs if d in texts], postings)

    def _reranker(self, eval_pool: dict[str, list[str]]):
        """Periodic evaluation: nDCG@10 of the student reranking the first eval queries' candidates."""
        depth = self.config.train.eval_depth
        queries = [q for q in self.eval_queries if eval_pool.get(q.id)][:self.config.train.eval_queries]
        pool = {q.id: eval_pool[q.id][:depth] for q in queries}

        def rerank(encoder: Encoder) -> dict[str, float]:
            docs = list(dict.fromkeys(d for q in queries for d in pool[q.id]))
            query_vectors = encoder.encode_queries([q.text for q in queries], [q.id for q in queries])
            doc_vectors = encoder.encode_docs([self.texts("eval")[d] for d in docs], docs)
            scores = (query_vectors.to_scipy() @ doc_vectors.to_scipy().T).toarray()
            row_of = {d: i for i, d in enumerate(docs)}
            run: Run = {q.id: sorted(((d, float(scores[i, row_of[d]])) for d in pool[q.id]), key=lambda h: -h[1])
                        for i, q in enumerate(queries)}
            judged = {q.id for q in queries}
            value = evaluate(run, [r for r in self.eval_qrels if r.query_id in judged], ["nDCG@10"]).values
            return {"rerank_ndcg@10": value["nDCG@10"], "queries": len(queries), "depth": depth}

        return rerank

    def _fingerprint(self) -> str:
        """What the trained weights depend on, apart from the number of steps."""
        config = self.config.to_dict()
        config["train"] = {k: v for k, v in config["train"].items()
                           if k not in ("epochs", "max_steps", "checkpoint_every", "eval_every")}
        config["data"].pop("eval_doc_top_k")  # the evaluation index's pruning
        config.pop("out")
        return hashlib.sha256(json.dumps(_canonical_paths(config), sort_keys=True).encode()).hexdigest()[:16]

    def _check_same_run(self, folder: Path, fingerprint: str) -> None:
        marker = folder / "run.json"
        if marker.is_file():
            found = json.loads(marker.read_text())["fingerprint"]
            if found != fingerprint:
                raise LsrError(f"{folder}: holds checkpoints of another configuration; use a new out folder "
                               f"or delete {folder}")
        else:
            folder.mkdir(parents=True, exist_ok=True)
            write_text_atomic(marker, json.dumps({"fingerprint": fingerprint}) + "\n")


def teacher_positives(queries: Sequence[TrainQuery], targets: Scores) -> tuple[list[TrainQuery], dict[str, list[str]]]:
    """Queries whose positive is the candidate the teachers score highest (ties: the first candidate),
    and their pools without it; queries without scored candidates are dropped."""
    kept, pool = [], {}
    for query in queries:
        scores = targets.get(query.id, {})
        if len(scores) < 2:
            continue
        best = max(scores, key=scores.__getitem__)
        kept.append(TrainQuery(query.id, query.text, (best,)))
        pool[query.id] = [doc for doc in scores if doc != best]
    return kept, pool


def _covering(scores: Scores, pairs: dict[str, list[str]], source: str) -> Scores:
    """`scores` restricted to `pairs`; `LsrError` naming the first pair the file does not score."""
    for qid, docs in pairs.items():
        for doc in docs:
            if doc not in scores.get(qid, {}):
                raise LsrError(f"{source}: no teacher score for query {qid!r}, document {doc!r}")
    return {qid: {doc: scores[qid][doc] for doc in docs} for qid, docs in pairs.items()}


def _canonical_paths(value: Any) -> Any:
    """`value` with every string naming an existing path (or `kind:path`) made absolute, so that the
    same run spelled from another folder has the same fingerprint."""
    if isinstance(value, dict):
        return {k: _canonical_paths(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_canonical_paths(v) for v in value]
    if isinstance(value, str) and value:
        kind, sep, target = value.partition(":")
        if sep and target and Path(target).exists():
            return f"{kind}:{Path(target).resolve()}"
        if Path(value).exists():
            return str(Path(value).resolve())
    return value


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


def run_training(config: TrainConfig, *, progress: bool = True) -> dict[str, Any]:
    """Run every missing stage of `config`; the final evaluation's results."""
    return Distillation(config, progress=progress).run()


__all__ = ["Distillation", "run_training"]

"""Training: config, batches, teachers' ensemble, mining, the trainer's exact resume and the whole pipeline."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from lsr.data import TrainQuery
from lsr.errors import LsrError
from lsr.models import load_encoder
from lsr.training.batches import GroupSampler
from lsr.training.config import load_config
from lsr.training.teachers import ensemble, ranking

from helpers import make_tiny_mlm, write_beir

LSR = str(Path(sys.executable).parent / "lsr")
WORDS = ["heart", "disease", "cancer", "cell", "blood", "brain", "gene", "drug", "risk", "study", "protein",
         "tumor", "virus", "sleep", "diet", "bone"]


@pytest.fixture(scope="module")
def tiny_beir(tmp_path_factory) -> Path:
    """24 documents over WORDS, 12 train queries (each with one positive), 6 test queries."""
    docs = [{"_id": f"d{i}", "title": "", "text": " ".join(WORDS[(i + j) % len(WORDS)] for j in range(4)) + f" n{i}"}
            for i in range(24)]
    queries = [{"_id": f"q{i}", "text": f"{WORDS[i % len(WORDS)]} {WORDS[(i + 1) % len(WORDS)]}"} for i in range(18)]
    folder = tmp_path_factory.mktemp("tiny-beir")
    write_beir(folder, docs, queries, [(f"q{i}", f"d{i}", 1) for i in range(12, 18)], split="test")
    write_beir(folder, docs, queries, [(f"q{i}", f"d{i}", 1) for i in range(12)], split="train")
    return folder


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    return make_tiny_mlm(tmp_path_factory.mktemp("tiny-mlm"), WORDS + [f"n{i}" for i in range(24)])


def write_config(path: Path, model: Path, data: Path, out: Path, extra: str = "") -> Path:
    path.write_text(f"""
out = "{out}"
[model]
init = "{model}"
settings = {{ doc_max_length = 16, query_max_length = 8 }}
[data]
train = "{data}"
[mining]
sources = ["bm25"]
depth = 5
[teachers]
models = ["bm25"]
[train]
loss = "kl"
queries_per_batch = 2
docs_per_query = 3
max_steps = 8
lr = 1e-3
warmup_steps = 2
lambda_d = 1e-3
lambda_q = 1e-3
lambda_warmup_steps = 4
checkpoint_every = 2
{extra}
""")
    return path


def test_config_paths_overrides_and_errors(tmp_path, tiny_model, tiny_beir):
    config = load_config(write_config(tmp_path / "c.toml", tiny_model, tiny_beir, tmp_path / "out"),
                         ["train.max_steps=3", "train.lr=0.01", 'mining.sources=["bm25", "dense:m"]'])
    assert (config.train.max_steps, config.train.lr, config.mining.sources) == (3, 0.01, ["bm25", "dense:m"])
    relative = tmp_path / "sub"
    relative.mkdir()
    (relative / "c.toml").write_text('out = "o"\n[model]\ninit = "../m"\n[data]\ntrain = "d"\n'
                                     '[train]\nloss = "infonce"\n')
    (relative / "d").mkdir()
    config = load_config(relative / "c.toml")
    assert config.model.init == str(tmp_path / "m") and config.out == str(relative / "o")
    assert config.data.train == str(relative / "d")
    hub = load_config(relative / "c.toml", ['model.init="naver/splade-v3"', 'data.train="irds:beir/scifact"'])
    assert (hub.model.init, hub.data.train) == ("naver/splade-v3", "irds:beir/scifact")
    for override, message in [("train.nope=1", "unknown config key 'train.nope'"),
                              ("train.lr=fast", "config key 'train.lr'"),
                              ("train.loss=hinge", "train.loss must be one of"),
                              ("teachers.models=[]", "distils from teachers"),
                              ("lr", "expected section.key=value")]:
        with pytest.raises(LsrError, match=message):
            load_config(tmp_path / "c.toml", [override])


def test_groups_are_deterministic_and_exclude_nothing_they_should_not():
    queries = [TrainQuery(f"q{i}", f"text {i}", (f"p{i}",)) for i in range(5)]
    candidates = {f"q{i}": [f"n{i}-{j}" for j in range(6)] for i in range(4)}  # q4 has none: left out
    sampler = GroupSampler(queries, candidates, size=4, seed=7)
    again = GroupSampler(queries, candidates, size=4, seed=7)
    first = [sampler.batch(n, 3) for n in range(6)]
    assert first == [again.batch(n, 3) for n in range(6)] and len(sampler) == 4
    for batch in first:
        for group in batch:
            qid = group.query_id
            assert group.doc_ids[0] == f"p{qid[1:]}" and len(set(group.doc_ids[1:])) == 3
            assert all(doc in candidates[qid] for doc in group.doc_ids[1:])
    epoch = [g.query_id for n in range(4) for g in sampler.batch(n, 1)]
    assert sorted(epoch) == ["q0", "q1", "q2", "q3"]  # every query once per epoch
    assert first != [GroupSampler(queries, candidates, size=4, seed=8).batch(n, 3) for n in range(6)]


def test_ensemble_normalises_per_query_and_weights():
    bm25 = {"q": {"a": 10.0, "b": 5.0, "c": 0.0}}
    dense = {"q": {"a": 0.2, "b": 0.6, "c": 0.4}}
    mixed = ensemble([bm25, dense], scale=30.0)["q"]
    assert mixed["a"] == pytest.approx(30 * (1.0 + 0.0) / 2, abs=1e-3)
    assert mixed["b"] == pytest.approx(30 * (0.5 + 1.0) / 2, abs=1e-3)
    assert mixed["c"] == pytest.approx(30 * (0.0 + 0.5) / 2, abs=1e-3)
    weighted = ensemble([bm25, dense], weights=[3.0, 1.0], scale=1.0)["q"]
    assert weighted["a"] == pytest.approx(0.75, abs=1e-4) and weighted["b"] == pytest.approx(0.625, abs=1e-4)
    assert [doc for doc, _ in ranking({"q": mixed})["q"]] == ["b", "a", "c"]


def run_lsr_train(config: Path, *overrides: str) -> subprocess.CompletedProcess:
    return subprocess.run([LSR, "-q", "train", str(config), *overrides],
                          capture_output=True, text=True, timeout=600)


def final_weights(out: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    return load_file(out / "model" / "model.safetensors")


def test_pipeline_trains_evaluates_and_resumes_exactly_after_kill_9(tmp_path, tiny_model, tiny_beir):
    """Whole `lsr train` run, then the same run killed with SIGKILL after its first checkpoint and rerun:
    the final weights are equal; every stage's output is there and reused."""
    whole = write_config(tmp_path / "whole.toml", tiny_model, tiny_beir, tmp_path / "whole")
    done = run_lsr_train(whole)
    assert done.returncode == 0, done.stderr
    results = json.loads((tmp_path / "whole" / "eval" / "results.json").read_text())
    assert set(results["metrics"]) == {"nDCG@10", "R@100", "MRR@10"} and results["postings_per_doc"] > 0
    log = [json.loads(line) for line in (tmp_path / "whole" / "train" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 9))
    assert {"rank_loss", "reg_d", "reg_q", "postings_q", "postings_d", "flops", "lr"} <= set(log[0])
    assert log[-1]["lambda_d"] == pytest.approx(1e-3) and log[0]["lambda_d"] == pytest.approx(1e-3 / 16)
    report = json.loads((tmp_path / "whole" / "teachers" / "report.json").read_text())
    assert set(report["ndcg@10"]) == {"bm25", "ensemble"}
    trained = load_encoder(tmp_path / "whole" / "model")
    assert trained.settings.doc_max_length == 16

    killed = write_config(tmp_path / "killed.toml", tiny_model, tiny_beir, tmp_path / "killed")
    process = subprocess.Popen([LSR, "-q", "train", str(killed)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    train_dir = tmp_path / "killed" / "train"
    deadline = time.monotonic() + 300
    while not list(train_dir.glob("checkpoint-*.pt")) and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert not (tmp_path / "killed" / "model").exists(), "the run ended before it could be killed"
    resumed = run_lsr_train(killed)
    assert resumed.returncode == 0, resumed.stderr
    expected, got = final_weights(tmp_path / "whole"), final_weights(tmp_path / "killed")
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.allclose(expected[name], got[name], atol=1e-6), name
    log = [json.loads(line) for line in (train_dir / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == list(range(1, 9))

    before = (tmp_path / "whole" / "eval" / "results.json").stat().st_mtime_ns
    again = run_lsr_train(whole)
    assert again.returncode == 0 and (tmp_path / "whole" / "eval" / "results.json").stat().st_mtime_ns == before
    more = run_lsr_train(whole, "train.max_steps=10")  # two more steps: resumes from step 8, re-evaluates
    assert more.returncode == 0, more.stderr
    log = [json.loads(line) for line in (tmp_path / "whole" / "train" / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log][-3:] == [8, 9, 10]
    pruned = run_lsr_train(whole, "train.max_steps=10", "data.eval_doc_top_k=2")  # only the evaluation again
    assert pruned.returncode == 0, pruned.stderr
    results = json.loads((tmp_path / "whole" / "eval" / "results.json").read_text())
    assert results["doc_top_k"] == 2 and 0 < results["postings_per_doc"] <= 2
    assert (tmp_path / "whole" / "train" / "log.jsonl").read_text().count("\n") == len(log)


def test_a_changed_config_does_not_resume_foreign_checkpoints(tmp_path, tiny_model, tiny_beir):
    config = write_config(tmp_path / "c.toml", tiny_model, tiny_beir, tmp_path / "out", "max_grad_norm = 0.5")
    assert run_lsr_train(config, "train.max_steps=2").returncode == 0
    other = run_lsr_train(config, "train.max_steps=2", "train.lr=0.5")
    assert other.returncode == 2 and "holds checkpoints of another configuration" in other.stderr
    assert other.stderr.count("\n") == 1


def test_inference_free_student_keeps_idf_queries_and_learns_documents(tmp_path, tiny_model, tiny_beir):
    config = write_config(tmp_path / "c.toml", tiny_model, tiny_beir, tmp_path / "out")
    result = run_lsr_train(config, 'model.kind="inference-free"', "train.max_steps=4")
    assert result.returncode == 0, result.stderr
    model = load_encoder(tmp_path / "out" / "model")
    assert model.kind == "inference-free"
    idf = json.loads((tmp_path / "out" / "idf.json").read_text())
    assert json.loads((tmp_path / "out" / "model" / "idf.json").read_text()) == pytest.approx(idf)
    query = model.encode_queries(["heart disease"]).to_dicts(model.vocab)[0]
    assert query == pytest.approx({"heart": idf["heart"], "disease": idf["disease"]})
    log = [json.loads(line) for line in (tmp_path / "out" / "train" / "log.jsonl").read_text().splitlines()]
    assert "reg_q" not in log[-1]  # fixed IDF queries: nothing to regularise on the query side


def test_rerank_evaluation_before_during_and_after_without_a_full_index(tmp_path, tiny_model, tiny_beir):
    config = write_config(tmp_path / "c.toml", tiny_model, tiny_beir, tmp_path / "unused")
    result = run_lsr_train(config, "-o", str(tmp_path / "out"), 'model.kind="inference-free"',
                           'train.reg_d="score_space_flops"', "train.max_steps=4", "train.eval_every=3",
                           "data.full_eval=false", "train.eval_queries=4", "train.eval_depth=5")
    assert result.returncode == 0, result.stderr
    results = json.loads((tmp_path / "out" / "eval" / "results.json").read_text())
    assert [r["step"] for r in results["rerank"]] == [0, 3, 4]
    assert all(0 <= r["rerank_ndcg@10"] <= 1 and r["queries"] == 4 for r in results["rerank"])
    assert not (tmp_path / "out" / "eval" / "index").exists() and not (tmp_path / "unused").exists()
    with pytest.raises(LsrError, match="train.reg_d must be one of flops, l1$"):
        load_config(config, ['train.reg_d="score_space_flops"'])  # score space needs IDF queries


def test_training_from_text_tuples_with_precomputed_teacher_scores(tmp_path, tiny_model, tiny_beir):
    from lsr.data import content_id, write_teacher_scores

    rows = [{"query": f"{WORDS[i]} {WORDS[i + 1]}", "positive": f"{WORDS[i]} {WORDS[i + 1]} n{i}",
             "negatives": [f"{WORDS[i + 2]} n{i + 1}", f"{WORDS[i + 3]} n{i + 2}"]} for i in range(8)]
    (tmp_path / "tuples.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    scores = {content_id(r["query"]): {content_id(r["positive"]): 3.0, **{content_id(n): float(k) for k, n in
                                                                        enumerate(r["negatives"])}} for r in rows}
    write_teacher_scores(scores, tmp_path / "scores.tsv")
    config = write_config(tmp_path / "c.toml", tiny_model, tiny_beir, tmp_path / "out")
    overrides = [f'data.tuples="{tmp_path / "tuples.jsonl"}"', 'data.train=""', f'data.eval="{tiny_beir}"',
                 f'data.teacher_scores="{tmp_path / "scores.tsv"}"', "teachers.models=[]", "train.max_steps=3"]
    result = run_lsr_train(config, *overrides)
    assert result.returncode == 0, result.stderr
    log = [json.loads(line) for line in (tmp_path / "out" / "train" / "log.jsonl").read_text().splitlines()]
    assert len(log) == 3 and not (tmp_path / "out" / "candidates" / "train.bm25.trec").exists()
    assert (tmp_path / "out" / "eval" / "results.json").is_file()
    del scores[content_id(rows[0]["query"])]
    write_teacher_scores(scores, tmp_path / "scores.tsv")
    missing = run_lsr_train(config, *overrides, "-o", str(tmp_path / "other"))
    assert missing.returncode == 2 and "no teacher score for query" in missing.stderr


def test_pseudo_queries_are_corpus_titles_or_first_sentences_sampled_by_seed():
    from lsr.data import Document, pseudo_queries

    docs = [Document("a", "Body. More.", "heart disease and blood pressure"), Document("b", "too short"),
            Document("c", "Statins lower the risk of stroke. Second sentence.", ""), Document("d", "x", "two words")]
    made = pseudo_queries(docs, 10, seed=1)
    assert [(q.id, q.text, q.positives) for q in made] == [
        ("pseudo:a", "heart disease and blood pressure", ("a",)),
        ("pseudo:c", "Statins lower the risk of stroke", ("c",))]
    assert pseudo_queries(docs, 1, seed=1) == pseudo_queries(docs, 1, seed=1) and len(pseudo_queries(docs, 1, 1)) == 1


def test_training_adds_pseudo_queries_with_their_own_candidates_and_targets(tmp_path, tiny_model, tiny_beir):
    corpus = [json.loads(line) for line in (tiny_beir / "corpus.jsonl").read_text().splitlines()]
    titled = tmp_path / "beir"
    write_beir(titled, [{**d, "title": f"{d['text'].split()[0]} {d['text'].split()[1]} study {d['_id']}"}
                        for d in corpus],
               [json.loads(q) for q in (tiny_beir / "queries.jsonl").read_text().splitlines()],
               [tuple(r.split("\t")) for r in (tiny_beir / "qrels" / "train.tsv").read_text().splitlines()[1:]],
               split="train")
    (titled / "qrels" / "test.tsv").write_text((tiny_beir / "qrels" / "test.tsv").read_text())
    config = write_config(tmp_path / "c.toml", tiny_model, titled, tmp_path / "out")
    result = run_lsr_train(config, "data.pseudo_queries=10", "data.full_eval=false", "train.max_steps=4")
    assert result.returncode == 0, result.stderr
    mined = (tmp_path / "out" / "candidates" / "pseudo.bm25.trec").read_text().splitlines()
    assert {line.split()[0] for line in mined} <= {f"pseudo:d{i}" for i in range(24)}
    assert len({line.split()[0] for line in mined}) == 10
    assert all(line.split()[0] != f"pseudo:{line.split()[2]}" for line in mined)  # its own document excluded
    scored = (tmp_path / "out" / "teachers" / "pseudo.bm25.tsv").read_text()
    assert "pseudo:" in scored


def test_teacher_positives_replace_a_pseudo_querys_own_document_with_the_teachers_best_candidate():
    from lsr.pipelines.distill import teacher_positives

    queries = [TrainQuery("pseudo:a", "heart study", ("a",)), TrainQuery("pseudo:b", "liver", ("b",)),
               TrainQuery("pseudo:c", "lonely", ("c",))]
    targets = {"pseudo:a": {"x": 3.0, "y": 9.0, "z": 9.0}, "pseudo:b": {"y": 1.0, "x": 2.0}, "pseudo:c": {"x": 5.0}}
    kept, pool = teacher_positives(queries, targets)
    assert kept == [TrainQuery("pseudo:a", "heart study", ("y",)), TrainQuery("pseudo:b", "liver", ("x",))]
    assert pool == {"pseudo:a": ["x", "z"], "pseudo:b": ["y"]}  # "c": one candidate, no negative left


@pytest.mark.parametrize("overrides, message", [
    (["data.pseudo_positive=own"], "data.pseudo_positive must be one of source, teacher, not 'own'"),
    (["data.pseudo_positive=teacher", "train.loss=infonce"], "needs teachers: not with train.loss infonce"),
])
def test_pseudo_positive_is_checked(tmp_path, overrides, message):
    config = tmp_path / "c.toml"
    config.write_text('[model]\ninit = "m"\n[data]\ntrain = "d"\n[teachers]\nmodels = ["bm25"]\n')
    with pytest.raises(LsrError, match=re.escape(message)):
        load_config(config, overrides)


def test_cli_train_reports_a_bad_config_in_one_line(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[model\n")
    result = run_lsr_train(bad)
    assert result.returncode == 2 and result.stderr.startswith("lsr: error: ") and result.stderr.count("\n") == 1



@pytest.mark.parametrize("example", sorted((Path(__file__).parents[1] / "examples").glob("*.toml")),
                         ids=lambda p: p.name)
def test_example_configs_load(example):
    config = load_config(example)
    assert Path(config.data.train).name == "scifact" and config.model.init


def make_tiny_decoder(folder: Path) -> Path:
    """A random 2-layer Llama over WORDS and the documents' n-tokens, saved as a Hugging Face folder."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    words = ["<unk>", "<s>", "</s>", *WORDS, *(f"n{i}" for i in range(24))]
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    torch.manual_seed(0)
    model = LlamaForCausalLM(LlamaConfig(vocab_size=len(words), hidden_size=32, intermediate_size=64,
                                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                                         initializer_range=0.2, tie_word_embeddings=True))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def test_decoder_student_starts_at_the_calibrated_logit_threshold(tmp_path, tiny_model, tiny_beir):
    from lsr.data import read_corpus
    from lsr.training.calibrate import threshold_for_postings

    decoder = make_tiny_decoder(tmp_path / "decoder")
    config = write_config(tmp_path / "c.toml", decoder, tiny_beir, tmp_path / "out")
    result = run_lsr_train(config, "model.calibrate_postings=5", "model.lora={r=2, alpha=4}", "train.max_steps=2",
                           "data.full_eval=false", "train.eval_queries=4", "train.eval_depth=5")
    assert result.returncode == 0, result.stderr
    positives = {d.id: d.full_text() for d in read_corpus(tiny_beir) if int(d.id[1:]) < 12}
    untrained = load_encoder(decoder, doc_max_length=16)
    expected = threshold_for_postings(untrained, list(positives.values()), 5)
    assert 0 < expected
    trained = load_encoder(tmp_path / "out" / "model")
    assert trained.settings.logit_threshold == pytest.approx(expected) and trained.lora["r"] == 2
    untrained.set_logit_threshold(expected)
    assert len(untrained.encode_docs(list(positives.values())).values) == 5 * len(positives)

    result = run_lsr_train(config, "model.calibrate_postings=5", "-o", str(tmp_path / "mlm"),
                           f'model.init="{tiny_model}"', "train.max_steps=2", "data.full_eval=false")
    assert result.returncode == 2 and "calibrate_postings: a splade encoder has no logit threshold" in result.stderr

"""`lsr` options end to end on a four-document BEIR folder: `--overwrite` and the clean-up of a failed
build, blank documents, unreadable index metadata, `--java-heap` reaching the JVM, `-q` on every verb,
`search --split/--query-model/-m/--batch-size` and `eval --split`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from lsr.indexing.layout import INFO_FILE, LUCENE_DIR, VECTORS_DIR, part_paths
from lsr.indexing.vectors import VECTORS_INFO
from lsr.sparse import SparseVectors

from helpers import assert_one_line_error, make_tiny_mlm, run_cli, write_beir

TEXTS = ["heart disease and blood pressure", "liver glucose metabolism", "protein folding in cells",
         "heart attack risk factors"]
WORDS = sorted({w for t in TEXTS for w in t.split()} | {"glucose", "liver", "cells", "risk"})
DOCS = [{"_id": f"d{i}", "title": "", "text": t} for i, t in enumerate(TEXTS)]
QUERIES = [{"_id": "q1", "text": "heart risk"}, {"_id": "q2", "text": "glucose liver"},
           {"_id": "q3", "text": "protein cells"}]
TEST_QRELS = [("q1", "d3", 1), ("q2", "d1", 1)]
DEV_QRELS = [("q3", "d2", 1), ("q1", "d0", 1)]


def assert_ok(result) -> None:
    assert result.exit_code == 0, result.output + repr(result.exception)


def write_corpus(path: Path, docs: list[dict]) -> Path:
    path.write_text("".join(json.dumps(d) + "\n" for d in docs))
    return path


def shard_ids(index: Path) -> list[str]:
    return [i for p in part_paths(index / VECTORS_DIR) for i in SparseVectors.read_parquet(p).ids]


def read_run(path: Path) -> dict[str, dict[str, float]]:
    run: dict[str, dict[str, float]] = {}
    for line in path.read_text().splitlines():
        query, _, doc, _, score, _ = line.split()
        run.setdefault(query, {})[doc] = float(score)
    return run


@pytest.fixture(scope="module")
def beir(tmp_path_factory) -> Path:
    """Four documents; queries q1, q2 judged in the test split, q3 and q1 in the dev split."""
    folder = tmp_path_factory.mktemp("beir")
    write_beir(folder, DOCS, QUERIES, DEV_QRELS, split="dev")
    return write_beir(folder, DOCS, QUERIES, TEST_QRELS, split="test")


@pytest.fixture(scope="module")
def bm25_index(tmp_path_factory, beir) -> Path:
    out = tmp_path_factory.mktemp("bm25") / "idx"
    assert_ok(run_cli("-q", "index", beir, "-o", out, "--bm25"))
    return out


@pytest.fixture(scope="module")
def mlm_pair(tmp_path_factory) -> tuple[Path, Path]:
    """Two random masked LMs with the same vocabulary (so either can query the other's index)."""
    root = tmp_path_factory.mktemp("mlms")
    torch.manual_seed(1)
    first = make_tiny_mlm(root / "a", WORDS)
    torch.manual_seed(2)
    return first, make_tiny_mlm(root / "b", WORDS)


@pytest.fixture(scope="module")
def mlm_index(tmp_path_factory, beir, mlm_pair) -> Path:
    out = tmp_path_factory.mktemp("mlm-index") / "idx"
    assert_ok(run_cli("-q", "index", beir, "-o", out, "-m", mlm_pair[0]))
    return out


# --- 1. --overwrite, and what a failed build leaves ------------------------------------------------


def test_bm25_index_is_refused_without_overwrite_and_rebuilt_with_it(tmp_path, beir):
    out = tmp_path / "idx"
    assert_ok(run_cli("-q", "index", beir, "-o", out, "--bm25"))
    (out / "stale.txt").write_text("left from before")
    (out / LUCENE_DIR / "stale-segment").write_text("junk")
    before = (out / INFO_FILE).read_text()
    smaller = write_corpus(tmp_path / "two.jsonl", DOCS[:2])

    assert_one_line_error(run_cli("index", smaller, "-o", out, "--bm25"), str(out), "--overwrite")
    assert (out / INFO_FILE).read_text() == before and (out / "stale.txt").exists()

    assert_ok(run_cli("-q", "index", smaller, "-o", out, "--bm25", "--overwrite"))
    assert not (out / "stale.txt").exists() and not (out / LUCENE_DIR / "stale-segment").exists()
    assert json.loads((out / INFO_FILE).read_text())["num_docs"] == 2
    hits = run_cli("-q", "search", out, "-t", "heart risk glucose protein", "-k", "10")
    assert_ok(hits)
    assert {line.split()[1] for line in hits.stdout.splitlines()} == {"d0", "d1"}


def test_impact_index_is_refused_without_overwrite_and_rebuilt_with_it(tmp_path, beir, mlm_pair):
    out = tmp_path / "idx"
    assert_ok(run_cli("-q", "index", beir, "-o", out, "-m", mlm_pair[0]))
    (out / "stale.txt").write_text("left from before")
    other = write_corpus(tmp_path / "other.jsonl", [{"_id": "x1", "text": "blood glucose"},
                                                    {"_id": "x2", "text": "protein risk"}])
    before = (out / INFO_FILE).read_text()

    assert_one_line_error(run_cli("index", other, "-o", out, "-m", mlm_pair[0]), str(out), "--overwrite")
    assert (out / INFO_FILE).read_text() == before and shard_ids(out) == ["d0", "d1", "d2", "d3"]

    # Without emptying the folder first, the old shards would be resumed from (or refused as another corpus).
    assert_ok(run_cli("-q", "index", other, "-o", out, "-m", mlm_pair[0], "--overwrite"))
    assert not (out / "stale.txt").exists()
    assert shard_ids(out) == ["x1", "x2"] and json.loads((out / INFO_FILE).read_text())["num_docs"] == 2


def test_a_failed_bm25_build_removes_the_folders_it_created_and_only_those(tmp_path):
    corpus = write_corpus(tmp_path / "dup.jsonl", [{"_id": "a", "text": "heart"}, {"_id": "b", "text": "liver"},
                                                   {"_id": "a", "text": "again"}])
    assert_one_line_error(run_cli("index", corpus, "-o", tmp_path / "new" / "deeper" / "idx", "--bm25"),
                          "dup.jsonl:3", "'a'")
    assert not (tmp_path / "new").exists()

    (tmp_path / "kept").mkdir()
    (tmp_path / "kept" / "note.txt").write_text("mine")
    assert_one_line_error(run_cli("index", corpus, "-o", tmp_path / "kept" / "idx", "--bm25"), "dup.jsonl:3")
    assert sorted(p.name for p in (tmp_path / "kept").iterdir()) == ["note.txt"]


def test_a_failed_impact_build_keeps_its_folder_only_when_shards_were_written(tmp_path, splade_tiny):
    docs = [{"_id": f"d{i}", "text": t} for i, t in enumerate(TEXTS)]
    early = write_corpus(tmp_path / "early.jsonl", [docs[0], docs[0], *docs[1:]])  # duplicate in the first shard
    assert_one_line_error(run_cli("-q", "index", early, "-o", tmp_path / "a" / "idx", "-m", splade_tiny,
                                  "--shard-size", "2"), "early.jsonl:2")
    assert not (tmp_path / "a").exists()

    late = write_corpus(tmp_path / "late.jsonl", [*docs[:3], docs[0]])  # duplicate in the second shard
    out = tmp_path / "b" / "idx"
    assert_one_line_error(run_cli("-q", "index", late, "-o", out, "-m", splade_tiny, "--shard-size", "2"),
                          "late.jsonl:4")
    assert shard_ids(out) == ["d0", "d1"] and not (out / INFO_FILE).exists()

    fixed = write_corpus(tmp_path / "late.jsonl", docs)
    rerun = run_cli("index", fixed, "-o", out, "-m", splade_tiny, "--shard-size", "2")
    assert_ok(rerun)
    assert "resuming after 2 documents already encoded in 1 parts" in rerun.stderr
    assert shard_ids(out) == ["d0", "d1", "d2", "d3"]


def test_refused_resumes_name_overwrite_which_then_rebuilds(tmp_path, splade_tiny, mlm_pair):
    """A partial folder of another model's shards, or of another corpus's: refused naming --overwrite;
    with --overwrite the folder is emptied and rebuilt from the new model / corpus alone."""
    docs = [{"_id": f"d{i}", "text": t} for i, t in enumerate(TEXTS)]
    out = tmp_path / "idx"
    assert_one_line_error(run_cli("-q", "index", write_corpus(tmp_path / "c.jsonl", [*docs[:3], docs[0]]), "-o", out,
                                  "-m", splade_tiny, "--shard-size", "2"), "c.jsonl:4")
    partial = sorted(p.name for p in (out / VECTORS_DIR).iterdir())
    corpus = write_corpus(tmp_path / "c.jsonl", docs)

    assert_one_line_error(run_cli("-q", "index", corpus, "-o", out, "-m", mlm_pair[0], "--shard-size", "2"),
                          "another model or settings", "--overwrite")
    edited = write_corpus(tmp_path / "edited.jsonl", [{"_id": "e0", "text": "heart"}, *docs[1:]])
    assert_one_line_error(run_cli("-q", "index", edited, "-o", out, "-m", splade_tiny, "--shard-size", "2"),
                          "the corpus changed", "--overwrite")
    assert sorted(p.name for p in (out / VECTORS_DIR).iterdir()) == partial

    assert_ok(run_cli("-q", "index", corpus, "-o", out, "-m", mlm_pair[0], "--shard-size", "2", "--overwrite"))
    manifest = json.loads((out / VECTORS_DIR / VECTORS_INFO).read_text())
    assert Path(out / manifest["model"]).resolve() == mlm_pair[0].resolve()
    assert_ok(run_cli("-q", "index", edited, "-o", out, "-m", mlm_pair[0], "--shard-size", "2", "--overwrite"))
    assert shard_ids(out) == ["e0", "d1", "d2", "d3"]


def test_resuming_with_another_model_of_the_same_vocabulary_is_refused(tmp_path, mlm_pair):
    """Two checkpoints of one model (same vocabulary and settings, other weights) must not mix their
    vectors in one index: only the model recorded in the shards' manifest tells them apart."""
    docs = [{"_id": f"d{i}", "text": t} for i, t in enumerate(TEXTS)]
    out = tmp_path / "idx"
    failed = run_cli("-q", "index", write_corpus(tmp_path / "c.jsonl", [*docs[:3], docs[0]]), "-o", out,
                     "-m", mlm_pair[0], "--shard-size", "2")
    assert failed.exit_code == 2 and "c.jsonl:4" in failed.output
    assert shard_ids(out) == ["d0", "d1"]
    corpus = write_corpus(tmp_path / "c.jsonl", docs)
    assert_one_line_error(run_cli("-q", "index", corpus, "-o", out, "-m", mlm_pair[1], "--shard-size", "2"),
                          "another model or settings", "--overwrite")
    assert shard_ids(out) == ["d0", "d1"] and not (out / INFO_FILE).exists()


# --- 2. blank documents ------------------------------------------------------------------------------


def test_a_document_of_control_characters_counts_as_blank(tmp_path):
    corpus = write_corpus(tmp_path / "c.jsonl", [{"_id": "a", "text": "heart disease"}, {"_id": "b", "text": "\x01"}])
    result = run_cli("index", corpus, "-o", tmp_path / "idx", "--bm25")
    assert_ok(result)
    assert "1 of 2 documents have no terms" in result.output


# --- 3. Unreadable index metadata ---------------------------------------------------------------------


@pytest.mark.parametrize("verb", ["info", "search"])
@pytest.mark.parametrize("content, fragment", [
    (b'{"kind": "bm25", "num_docs": 4', "unreadable index metadata"),
    (b'{"kind": "bm25"}', "unreadable index metadata"),
    (b"[]", "unreadable index metadata"),
    (b'\xff{"kind": "bm25"}', "unreadable index metadata"),
], ids=["truncated", "missing-fields", "not-an-object", "not-utf8"])
def test_unreadable_metadata_is_a_one_line_error(tmp_path, beir, verb, content, fragment):
    index = tmp_path / "idx"
    index.mkdir()
    (index / INFO_FILE).write_bytes(content)
    args = ["info", index] if verb == "info" else ["search", index, beir, "-o", tmp_path / "r.trec"]
    assert_one_line_error(run_cli(*args), str(index / INFO_FILE), fragment)
    assert not (tmp_path / "r.trec").exists()


def test_missing_metadata_or_folder_is_a_one_line_error(tmp_path, beir):
    (tmp_path / "half").mkdir()
    for args in (["info", tmp_path / "half"], ["search", tmp_path / "half", "-t", "heart"]):
        assert_one_line_error(run_cli(*args), str(tmp_path / "half"), "not a complete lsr index", INFO_FILE)
    for args in (["info", tmp_path / "absent"], ["search", tmp_path / "absent", beir, "-o", tmp_path / "r.trec"]):
        assert_one_line_error(run_cli(*args), "index not found", str(tmp_path / "absent"))
    assert not (tmp_path / "absent").exists() and not (tmp_path / "r.trec").exists()


# --- 4. --java-heap reaches the JVM -------------------------------------------------------------------

HEAP_PROBE = """
import sys
from lsr.cli.main import cli
sys.argv = ["lsr", *sys.argv[1:]]
try:
    cli()
except SystemExit as e:
    assert not e.code, e.code
from lsr.lucene.jvm import jclass
print("max heap MiB", jclass("java.lang.Runtime").getRuntime().maxMemory() // 2**20)
"""


@pytest.mark.parametrize("flag, env, low, high", [
    (["--java-heap", "300m"], "1g", 250, 300),   # after the verb, and over LSR_JAVA_HEAP
    (["--java-heap=400m"], None, 350, 400),      # the `=` form
])
def test_java_heap_flag_sets_the_jvms_heap(bm25_index, flag, env, low, high):
    """`lsr info` of a BM25 index starts the JVM (it counts postings in Lucene); its heap is the flag's."""
    environ = {k: v for k, v in os.environ.items() if k != "LSR_JAVA_HEAP"}
    if env:
        environ["LSR_JAVA_HEAP"] = env
    done = subprocess.run([sys.executable, "-c", HEAP_PROBE, "info", str(bm25_index), *flag], env=environ,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "documents: 4" in done.stdout
    heap = int(done.stdout.strip().splitlines()[-1].split()[-1])
    assert low <= heap <= high, done.stdout


# --- 5. -q on every verb: no INFO lines or bars, warnings kept ---------------------------------------


def loud_and_quiet(make_args) -> tuple:
    """The same command run without and with -q (`make_args(tag)` gives distinct outputs per run)."""
    loud, quiet = run_cli(*make_args("loud")), run_cli("-q", *make_args("quiet"))
    assert_ok(loud)
    assert_ok(quiet)
    return loud, quiet


def test_quiet_index_bm25_and_impact(tmp_path, beir, mlm_pair):
    loud, quiet = loud_and_quiet(lambda tag: ["index", beir, "-o", tmp_path / f"bm25-{tag}", "--bm25"])
    assert "lsr: writing Lucene index" in loud.stderr and quiet.stderr == ""
    assert quiet.stdout == loud.stdout.replace("loud", "quiet")
    loud, quiet = loud_and_quiet(lambda tag: ["index", beir, "-o", tmp_path / f"imp-{tag}", "-m", mlm_pair[0]])
    assert "encode docs" in loud.stderr and "4/4" in loud.stderr and "writing Lucene index" in loud.stderr
    assert "near-dense" in loud.stderr and "near-dense" in quiet.stderr  # a warning stays under -q
    assert [line for line in quiet.stderr.splitlines() if "near-dense" not in line] == []


def test_quiet_search_encode_and_beir(tmp_path, beir, mlm_index, mlm_pair):
    loud, quiet = loud_and_quiet(lambda tag: ["search", mlm_index, beir, "-o", tmp_path / f"{tag}.trec"])
    assert "encode:" in loud.stderr and "batch" in loud.stderr and quiet.stderr == ""
    assert (tmp_path / "loud.trec").read_text() == (tmp_path / "quiet.trec").read_text()

    loud, quiet = loud_and_quiet(lambda tag: ["encode", "-m", mlm_pair[0], "--doc", "--input", beir,
                                              "-o", tmp_path / f"{tag}.jsonl"])
    assert "encode docs" in loud.stderr and quiet.stderr == ""

    loud, quiet = loud_and_quiet(lambda tag: ["beir", "-d", beir, "-o", tmp_path / f"beir-{tag}", "-M", "P@1",
                                              "--latency-queries", "1"])
    assert "] bm25: index" in loud.stderr and "stage" in loud.stderr and quiet.stderr == ""


def test_quiet_keeps_the_warnings_of_eval_and_the_output_of_info(tmp_path, beir, bm25_index):
    """eval and info print no INFO lines: -q changes nothing, and eval's warning survives it."""
    assert_ok(run_cli("-q", "search", bm25_index, beir, "-o", tmp_path / "r.trec", "-k", "2"))
    loud, quiet = loud_and_quiet(lambda tag: ["eval", tmp_path / "r.trec", beir])
    assert "R@100 looks at 100 hits but the run has at most 2 per query" in quiet.stderr
    assert (loud.stdout, loud.stderr) == (quiet.stdout, quiet.stderr)
    loud, quiet = loud_and_quiet(lambda tag: ["info", bm25_index])
    assert (loud.stdout, loud.stderr) == (quiet.stdout, "")


def test_quiet_train(tmp_path, mlm_pair):
    docs = [{"_id": f"d{i}", "title": "", "text": f"{WORDS[i % len(WORDS)]} {WORDS[(i + 3) % len(WORDS)]}"}
            for i in range(12)]
    queries = [{"_id": f"q{i}", "text": WORDS[i % len(WORDS)]} for i in range(8)]
    data = write_beir(tmp_path / "data", docs, queries, [(f"q{i}", f"d{i}", 1) for i in range(6)], split="train")
    write_beir(data, docs, queries, [(f"q{i}", f"d{i}", 1) for i in range(6, 8)], split="test")
    config = tmp_path / "c.toml"
    config.write_text(f'out = "unused"\n[model]\ninit = "{mlm_pair[0]}"\n'
                      "settings = { doc_max_length = 8, query_max_length = 4 }\n"
                      f'[data]\ntrain = "{data}"\n[mining]\nsources = ["bm25"]\ndepth = 3\n'
                      '[teachers]\nmodels = ["bm25"]\n[train]\nloss = "kl"\nqueries_per_batch = 2\n'
                      "docs_per_query = 2\nmax_steps = 1\nwarmup_steps = 0\n")
    loud, quiet = loud_and_quiet(lambda tag: ["train", config, "-o", tmp_path / tag])
    for marker in ("lsr: mining train candidates with bm25", "lsr: scoring train pairs", "train:", "encode docs"):
        assert marker in loud.stderr, marker
    assert "near-dense" in quiet.stderr  # the warning stays
    for marker in ("mining", "scoring", "teachers'", "train:", "encode docs", "writing Lucene"):
        assert marker not in quiet.stderr, marker
    assert json.loads(quiet.stdout)["metrics"] == json.loads(loud.stdout)["metrics"]


# --- 6. search --split, --query-model / -m, --batch-size; eval --split --------------------------------


def test_search_split_picks_that_splits_queries(tmp_path, beir, bm25_index):
    for split, expected in [("test", {"q1", "q2"}), ("dev", {"q1", "q3"})]:
        assert_ok(run_cli("-q", "search", bm25_index, beir, "-o", tmp_path / f"{split}.trec", "--split", split))
        assert set(read_run(tmp_path / f"{split}.trec")) == expected
    # q1 is in both splits: the same hits either way
    assert read_run(tmp_path / "test.trec")["q1"] == read_run(tmp_path / "dev.trec")["q1"]
    assert_ok(run_cli("-q", "search", bm25_index, beir / "queries.jsonl", "-o", tmp_path / "all.trec"))
    assert set(read_run(tmp_path / "all.trec")) == {"q1", "q2", "q3"}  # a file names its own queries
    # ... so another split than the default is a mistake there, as in training (one rule: lsr.data.sources)
    assert_one_line_error(run_cli("-q", "search", bm25_index, beir / "queries.jsonl", "-o", tmp_path / "x.trec",
                                  "--split", "dev"), "a split ('dev') applies to BEIR folders only")
    assert not (tmp_path / "x.trec").exists()


def test_eval_split_scores_against_that_splits_qrels(tmp_path, beir):
    run = tmp_path / "r.trec"
    run.write_text("q1 Q0 d0 1 9 x\nq1 Q0 d3 2 8 x\nq2 Q0 d1 1 9 x\nq3 Q0 d0 1 9 x\nq3 Q0 d2 2 8 x\n")
    figures = {}
    for split in ("test", "dev"):
        assert_ok(run_cli("-q", "eval", run, beir, "--split", split, "-M", "MRR@10", "-M", "P@1",
                          "--json", tmp_path / f"{split}.json"))
        figures[split] = json.loads((tmp_path / f"{split}.json").read_text())
    # test: q1's relevant d3 at rank 2, q2's d1 at rank 1; dev: q3's d2 at rank 2, q1's d0 at rank 1
    assert figures["test"]["MRR@10"] == pytest.approx((1 / 2 + 1) / 2)
    assert figures["test"]["P@1"] == pytest.approx(1 / 2) and figures["test"]["num_queries"] == 2
    assert figures["dev"]["MRR@10"] == pytest.approx((1 + 1 / 2) / 2)
    assert figures["dev"]["P@1"] == pytest.approx(1 / 2) and figures["dev"]["num_queries"] == 2
    run.write_text("q1 Q0 d3 1 9 x\nq2 Q0 d1 1 9 x\nq3 Q0 d2 1 9 x\nq1 Q0 d0 2 8 x\n")
    for split, mrr in [("test", 1.0), ("dev", (1 + 1 / 2) / 2)]:
        assert_ok(run_cli("-q", "eval", run, beir, "--split", split, "-M", "MRR@10", "--json", tmp_path / "x.json"))
        assert json.loads((tmp_path / "x.json").read_text())["MRR@10"] == pytest.approx(mrr)


def brute_force_run(index: Path, model: Path, queries: list[dict]) -> dict[str, dict[str, float]]:
    """Every document's integer score for each query: `model`'s quantized query vectors against the
    index's stored document vectors quantized at the index's scale."""
    from lsr.models import load_encoder

    scale = json.loads((index / INFO_FILE).read_text())["scale"]
    docs = SparseVectors.concat([SparseVectors.read_parquet(p) for p in part_paths(index / VECTORS_DIR)])
    encoded = load_encoder(model).encode_queries([q["text"] for q in queries], [q["_id"] for q in queries])
    scores = encoded.quantize(scale).dot(docs.quantize(scale))
    return {q["_id"]: {d: float(s) for d, s in zip(docs.ids, row) if s > 0} for q, row in zip(queries, scores)}


def test_search_with_another_query_model(tmp_path, beir, mlm_index, mlm_pair):
    queries = [q for q in QUERIES if q["_id"] in {"q1", "q2"}]
    own, other = (brute_force_run(mlm_index, model, queries) for model in mlm_pair)
    assert own != other  # the two models rank differently: the test can tell them apart
    runs = {}
    for name, flags in [("own", []), ("query-model", ["--query-model", mlm_pair[1]]), ("m", ["-m", mlm_pair[1]])]:
        assert_ok(run_cli("-q", "search", mlm_index, beir, "-o", tmp_path / f"{name}.trec", *flags))
        runs[name] = read_run(tmp_path / f"{name}.trec")
    assert runs["own"] == own
    assert runs["query-model"] == other and runs["m"] == other


def test_search_batch_size_sets_the_query_batches(tmp_path, beir, mlm_index, mlm_pair):
    """Queries are encoded in ceil(queries / batch size) batches (the bar's total); the run is the same."""
    totals, runs = {}, {}
    for name, flags in [("default", []), ("one", ["--batch-size", "1"]),
                        ("model-one", ["--batch-size", "1", "--query-model", mlm_pair[0]])]:
        result = run_cli("search", mlm_index, beir, "-o", tmp_path / f"{name}.trec", "--split", "dev", *flags)
        assert_ok(result)
        totals[name] = {int(part.split("/")[1].split()[0]) for part in result.stderr.split("|")[1:]
                        if "/" in part and "batch" in part}
        runs[name] = read_run(tmp_path / f"{name}.trec")
    assert totals == {"default": {1}, "one": {2}, "model-one": {2}}
    assert runs["one"].keys() == runs["default"].keys() == {"q1", "q3"}
    for query in runs["default"]:
        assert runs["one"][query] == pytest.approx(runs["default"][query], abs=1.0)  # integer impacts, ±1 rounding
        assert runs["model-one"][query] == runs["one"][query]


@pytest.mark.parametrize("size", ["0", "-1"])
def test_search_refuses_a_batch_size_below_one(tmp_path, beir, mlm_index, size):
    result = run_cli("search", mlm_index, beir, "-o", tmp_path / "r.trec", "--batch-size", size)
    assert result.exit_code == 2
    assert f"Invalid value for '--batch-size': {size} is not in the range x>=1" in result.output
    assert not (tmp_path / "r.trec").exists()

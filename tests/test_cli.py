"""The `lsr` command line end to end, and its one-line errors for bad input."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from lsr.cli.main import cli

from helpers import assert_one_line_error, make_tiny_mlm, run_cli, write_beir


@pytest.fixture(scope="module")
def tiny_beir(tmp_path_factory):
    docs = [{"_id": f"d{i}", "title": f"title {i}", "text": text} for i, text in enumerate(
        ["heart disease and blood pressure", "liver glucose metabolism", "protein folding in cells",
         "heart attack risk factors", ""])]
    queries = [{"_id": "q1", "text": "heart risk"}, {"_id": "q2", "text": "glucose liver"}]
    return write_beir(tmp_path_factory.mktemp("beir"), docs, queries, [("q1", "d3", 1), ("q2", "d1", 1)])


def test_bm25_index_search_eval(tmp_path, tiny_beir):
    assert run_cli("index", tiny_beir, tmp_path / "idx", "--bm25").exit_code == 0
    result = run_cli("search", tmp_path / "idx", tiny_beir, tmp_path / "run.trec", "-k", "3")
    assert result.exit_code == 0, result.output
    lines = (tmp_path / "run.trec").read_text().splitlines()
    assert lines[0].split()[:4] == ["q1", "Q0", "d3", "1"]
    result = run_cli("eval", tmp_path / "run.trec", tiny_beir, "-M", "nDCG@10", "-M", "MRR@10",
                     "--json", tmp_path / "eval.json")
    assert result.exit_code == 0, result.output
    figures = json.loads((tmp_path / "eval.json").read_text())
    assert figures["MRR@10"] == pytest.approx(1.0)
    assert "nDCG@10" in result.output


def test_impact_index_with_a_model(tmp_path, tiny_beir, splade_tiny):
    result = run_cli("index", tiny_beir, tmp_path / "idx", "--model", splade_tiny, "--batch-size", "2",
                     "--long-docs", "first", "--doc-top-k", "20")
    assert result.exit_code == 0, result.output
    assert "average postings per document" in result.output
    info = json.loads((tmp_path / "idx" / "lsr-index.json").read_text())
    assert info["encoder_settings"]["long_docs"] == "first" and info["pruning"]["doc_top_k"] == 20
    assert run_cli("search", tmp_path / "idx", tiny_beir, tmp_path / "run.trec").exit_code == 0
    assert (tmp_path / "run.trec").read_text().startswith("q1 Q0 d")


def test_quiet_hides_progress_bars(tmp_path, tiny_beir, splade_tiny):
    loud = run_cli("idf", tiny_beir, "-o", tmp_path / "idf.json", "--tokenizer", splade_tiny)
    quiet = run_cli("-q", "idf", tiny_beir, "-o", tmp_path / "idf.json", "--tokenizer", splade_tiny)
    assert loud.exit_code == quiet.exit_code == 0
    assert "doc/s" in loud.output and "doc/s" not in quiet.output
    assert quiet.output.strip().splitlines() == ["5 documents, 21 distinct tokens: wrote " + str(tmp_path / "idf.json")]


def test_malformed_corpus_line(tmp_path, tiny_beir):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "a", "text": "ok"}\n{"_id": "b", "text": \n')
    assert_one_line_error(run_cli("index", corpus, tmp_path / "idx", "--bm25"), "corpus.jsonl:2")
    assert not (tmp_path / "idx" / "lsr-index.json").exists()


def test_missing_id_and_duplicate_ids(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "a", "text": "x"}\n{"text": "y"}\n')
    assert_one_line_error(run_cli("index", corpus, tmp_path / "i1", "--bm25"), "corpus.jsonl:2")
    corpus.write_text('{"_id": "a", "text": "x"}\n{"_id": "a", "text": "y"}\n')
    assert_one_line_error(run_cli("index", corpus, tmp_path / "i2", "--bm25"), "corpus.jsonl:2", "a")


def test_unknown_model_path(tmp_path, tiny_beir):
    assert_one_line_error(run_cli("index", tiny_beir, tmp_path / "idx", "--model", tmp_path / "nope"), "nope")


def test_colliding_query_ids(tmp_path, tiny_beir):
    assert run_cli("index", tiny_beir, tmp_path / "idx", "--bm25").exit_code == 0
    queries = tmp_path / "queries.tsv"
    queries.write_text("q1\theart\nq2\tliver\nq1\tglucose\n")
    result = run_cli("search", tmp_path / "idx", queries, tmp_path / "run.trec")
    assert_one_line_error(result, "queries.tsv:3", "q1")
    assert not (tmp_path / "run.trec").exists()


def test_searching_with_another_models_vocabulary(tmp_path, tiny_beir, splade_tiny):
    assert run_cli("index", tiny_beir, tmp_path / "idx", "--model", splade_tiny).exit_code == 0
    other = make_tiny_mlm(tmp_path / "other", ["heart", "liver", "glucose"])
    result = run_cli("search", tmp_path / "idx", tiny_beir, "-o", tmp_path / "run.trec", "--query-model", other)
    assert_one_line_error(result, "vocabulary")
    assert not (tmp_path / "run.trec").exists()


def test_searching_an_unfinished_index(tmp_path, tiny_beir):
    (tmp_path / "idx").mkdir()
    assert_one_line_error(run_cli("search", tmp_path / "idx", tiny_beir, tmp_path / "r.trec"), "not a complete")


def test_index_needs_exactly_one_of_model_or_bm25(tmp_path, tiny_beir):
    assert_one_line_error(run_cli("index", tiny_beir, tmp_path / "idx"), "--model")


def all_commands():
    return [(name, command) for name, command in sorted(cli.commands.items())]


def test_version():
    from lsr import __version__

    for flag in ("--version", "-V"):
        result = run_cli(flag)
        assert result.exit_code == 0 and result.output.strip() == f"lsr, version {__version__}"


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_every_option_shows_its_default(name):
    import click

    command = cli.commands[name]
    ctx = click.Context(command, parent=click.Context(cli, info_name="lsr", **cli.context_settings), info_name=name)
    text = command.get_help(ctx)
    for param in command.params:
        if not isinstance(param, click.Option) or param.hidden or param.is_flag or param.required:
            continue
        record = param.get_help_record(ctx)
        assert "default:" in record[1], f"lsr {name} {record[0]}: no default in --help"
    assert "Usage: lsr " in text or "Usage: " in text


def test_global_options_work_after_the_verb(tmp_path, tiny_beir, splade_tiny, monkeypatch):
    monkeypatch.delenv("LSR_JAVA_HEAP", raising=False)
    result = run_cli("idf", tiny_beir, "-o", tmp_path / "idf.json", "-m", splade_tiny, "-q", "--java-heap", "3g")
    assert result.exit_code == 0, result.output
    assert "doc/s" not in result.output  # -q after the verb hides the bar
    from lsr.lucene import jvm

    # given to the JVM, not the environment
    assert jvm._heap == "3g" and "LSR_JAVA_HEAP" not in __import__("os").environ
    jvm.set_heap(None)
    from lsr.cli.main import hoist_global_options

    assert hoist_global_options(["train", "c.toml", "-q", "--", "-q"]) == ["-q", "train", "c.toml", "--", "-q"]
    assert hoist_global_options(["index", "x", "--java-heap=1g"]) == ["--java-heap=1g", "index", "x"]


def test_outputs_are_named_with_dash_o_everywhere(tmp_path, tiny_beir):
    assert run_cli("index", tiny_beir, "-o", tmp_path / "idx", "--bm25").exit_code == 0
    result = run_cli("search", tmp_path / "idx", tiny_beir, "-o", tmp_path / "run.trec", "-k", "3")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "run.trec").is_file()
    assert_one_line_error(run_cli("search", tmp_path / "idx", tiny_beir), "-o")
    assert_one_line_error(run_cli("index", tiny_beir, tmp_path / "a", "-o", tmp_path / "b", "--bm25"), "once")
    for name in ("index", "search", "idf", "beir", "train", "encode"):
        help_text = run_cli(name, "--help").output
        assert "-o, --out" in help_text, name


def test_search_refuses_to_overwrite_a_run_without_the_flag(tmp_path, tiny_beir):
    assert run_cli("index", tiny_beir, tmp_path / "idx", "--bm25").exit_code == 0
    run = tmp_path / "run.trec"
    run.write_text("keep me\n")
    assert_one_line_error(run_cli("search", tmp_path / "idx", tiny_beir, "-o", run), "--overwrite")
    assert run.read_text() == "keep me\n"
    assert run_cli("search", tmp_path / "idx", tiny_beir, "-o", run, "--overwrite").exit_code == 0
    assert run.read_text().startswith("q1 Q0")


def test_a_missing_split_speaks_of_queries(tmp_path, tiny_beir):
    assert run_cli("index", tiny_beir, tmp_path / "idx", "--bm25").exit_code == 0
    result = run_cli("search", tmp_path / "idx", tiny_beir, "-o", tmp_path / "r.trec", "--split", "dev")
    assert_one_line_error(result, "no queries for split 'dev'", "test")


def test_malformed_json_message_reads_as_a_sentence(tmp_path):
    corpus = tmp_path / "corpus.jsonl"
    corpus.write_text('{"_id": "a", "text": "unterminated}\n')
    result = run_cli("index", corpus, tmp_path / "idx", "--bm25")
    assert_one_line_error(result, "corpus.jsonl:1", "Unterminated string starting at column 22")
    assert "at at" not in result.output


def test_a_corpus_given_as_queries_is_warned_about(tmp_path, tiny_beir):
    assert run_cli("index", tiny_beir, tmp_path / "idx", "--bm25").exit_code == 0
    result = run_cli("search", tmp_path / "idx", tiny_beir / "corpus.jsonl", "-o", tmp_path / "r.trec")
    assert result.exit_code == 0, result.output
    assert "5 of 5 queries have a title, as corpus documents do" in result.output


def test_many_long_queries_are_warned_about(tmp_path, tiny_beir, caplog):
    import logging

    long_queries = tmp_path / "long.tsv"
    long_queries.write_text("".join(f"q{i}\t{' '.join(['word'] * 50)}\n" for i in range(1000)))
    from lsr.data import read_queries

    caplog.clear()
    with caplog.at_level(logging.WARNING):
        read_queries(long_queries)
    assert "look like a corpus" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        read_queries(tiny_beir, "test")
    assert caplog.text == ""


def test_eval_warns_when_the_run_is_shallower_than_a_measure(tmp_path, tiny_beir):
    assert run_cli("index", tiny_beir, tmp_path / "idx", "--bm25").exit_code == 0
    assert run_cli("search", tmp_path / "idx", tiny_beir, "-o", tmp_path / "r.trec", "-k", "2").exit_code == 0
    result = run_cli("eval", tmp_path / "r.trec", tiny_beir, "-M", "R@100", "-M", "P@1")
    assert result.exit_code == 0, result.output
    assert "R@100 looks at 100 hits but the run has at most 2 per query" in result.output
    assert "P@1 looks" not in result.output


def test_shell_completion_script():
    result = CliRunner().invoke(cli, [], prog_name="lsr", env={"_LSR_COMPLETE": "bash_source"})
    assert "_lsr_completion" in result.output and "complete " in result.output


@pytest.mark.parametrize("kind", ["bm25", "impact"])
def test_search_text_explain_contributions_add_up_to_the_score(tmp_path, tiny_beir, splade_tiny, kind):
    from lsr.search.explain import explain
    from lsr.search.lucene import LuceneSearcher

    build = ["--bm25"] if kind == "bm25" else ["-m", splade_tiny]
    assert run_cli("index", tiny_beir, "-o", tmp_path / "idx", *build).exit_code == 0
    searcher = LuceneSearcher(tmp_path / "idx")
    hits = searcher.search_one("heart attack risk", k=3, raw=True)
    assert hits
    for doc_id, score in hits:
        parts = explain(searcher, "heart attack risk", doc_id)
        assert sum(c.score for c in parts) == pytest.approx(score, rel=1e-5, abs=1e-4)  # BM25 hits: 4 decimals
        assert [c.score for c in parts] == sorted((c.score for c in parts), reverse=True)
        assert all(c.score == pytest.approx(c.query_weight * c.doc_weight) for c in parts)
    result = run_cli("search", tmp_path / "idx", "-t", "heart attack risk", "-k", "2", "--explain")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:2] == ["1", hits[0][0]]
    assert float(lines[0].split()[2]) == pytest.approx(hits[0][1] / searcher.score_unit, abs=1e-4)
    assert " = " in lines[1]
    assert_one_line_error(run_cli("search", tmp_path / "idx", tiny_beir, "--explain", "-o", tmp_path / "r"),
                          "--text")


def test_a_bm25_search_loads_neither_torch_nor_transformers(tmp_path, tiny_beir):
    import subprocess
    import sys

    assert run_cli("index", tiny_beir, "-o", tmp_path / "idx", "--bm25").exit_code == 0
    code = ("import sys; from lsr.cli.main import cli; sys.argv = ['lsr', '-q', 'search', sys.argv[1], '-t', 'heart'];"
            "\ntry:\n    cli()\nexcept SystemExit:\n    pass\n"
            "print('torch' in sys.modules, 'transformers' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code, str(tmp_path / "idx")], capture_output=True, text=True)
    assert result.stdout.strip().splitlines()[-1] == "False False", result.stdout + result.stderr
    assert "d3" in result.stdout  # the hits were printed

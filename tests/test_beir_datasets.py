"""BEIR dataset names (lsr.eval.beir_datasets) resolved to ir_datasets ids as BEIR evaluates them:
registry look-ups only, nothing downloaded."""

from __future__ import annotations

import pytest

CQADUPSTACK = ["android", "english", "gaming", "gis", "mathematica", "physics", "programmers", "stats", "tex",
               "unix", "webmasters", "wordpress"]
# (name, corpus, queries and qrels) as BEIR evaluates them: test split, dev for msmarco, one split only
# for the datasets ir_datasets gives no split (arguana, trec-covid, ...).
EXPECTED_IRDS = [
    ("scifact", "irds:beir/scifact", "irds:beir/scifact/test"),
    ("nfcorpus", "irds:beir/nfcorpus", "irds:beir/nfcorpus/test"),
    ("msmarco", "irds:beir/msmarco", "irds:beir/msmarco/dev"),
    ("trec-covid", "irds:beir/trec-covid", "irds:beir/trec-covid"),
    ("arguana", "irds:beir/arguana", "irds:beir/arguana"),
    ("fiqa", "irds:beir/fiqa", "irds:beir/fiqa/test"),
    ("quora", "irds:beir/quora", "irds:beir/quora/test"),
    ("hotpotqa", "irds:beir/hotpotqa", "irds:beir/hotpotqa/test"),
    ("dbpedia-entity", "irds:beir/dbpedia-entity", "irds:beir/dbpedia-entity/test"),
    ("scidocs", "irds:beir/scidocs", "irds:beir/scidocs"),
    ("nq", "irds:beir/nq", "irds:beir/nq"),
    ("fever", "irds:beir/fever", "irds:beir/fever/test"),
    ("climate-fever", "irds:beir/climate-fever", "irds:beir/climate-fever"),
]


def test_ir_datasets_beir_names_resolve_to_their_evaluation_ids(tmp_path):
    from lsr.eval.beir_datasets import resolve_datasets

    names = [name for name, _, _ in EXPECTED_IRDS]
    found = resolve_datasets(names, tmp_path)  # an empty --data-dir: no folders there
    assert [(d.name, d.corpus, d.queries, d.split, d.group) for d in found] == \
        [(name, corpus, queries, None, None) for name, corpus, queries in EXPECTED_IRDS]


def test_cqadupstack_expands_to_its_twelve_forums():
    from lsr.eval.beir_datasets import resolve_datasets

    found = resolve_datasets(["cqadupstack", "scifact"])
    assert [(d.name, d.corpus, d.queries, d.split, d.group) for d in found] == [
        (f"cqadupstack/{forum}", f"irds:beir/cqadupstack/{forum}", f"irds:beir/cqadupstack/{forum}", None,
         "cqadupstack") for forum in CQADUPSTACK] + [("scifact", "irds:beir/scifact", "irds:beir/scifact/test",
                                                      None, None)]


def test_irds_names_and_errors():
    from lsr.errors import LsrError
    from lsr.eval.beir_datasets import resolve_datasets

    found = resolve_datasets(["irds:beir/nfcorpus/dev"])
    assert [(d.name, d.corpus, d.queries, d.split) for d in found] == \
        [("beir/nfcorpus/dev", "irds:beir/nfcorpus/dev", "irds:beir/nfcorpus/dev", None)]
    for names, message in [(["scifact", "scifact"], "named twice: scifact"),
                           (["cqadupstack", "cqadupstack/gis"], "named twice: cqadupstack/gis"),
                           (["cqadupstack/nope"], "unknown dataset 'cqadupstack/nope'"),
                           (["msmarco-v2"], "unknown dataset 'msmarco-v2'")]:
        with pytest.raises(LsrError, match=message):
            resolve_datasets(names)


def same_corpus(dataset) -> bool:
    """Whether ir_datasets gives the dataset's corpus id and its queries/qrels id the same documents."""
    import ir_datasets

    corpus, judged = (ir_datasets.load(source.removeprefix("irds:")) for source in (dataset.corpus, dataset.queries))
    return corpus.docs_handler() is judged.docs_handler()


def test_the_corpus_is_the_one_the_qrels_judge():
    from lsr.eval.beir_datasets import resolve_datasets

    found = resolve_datasets([name for name, _, _ in EXPECTED_IRDS] + ["cqadupstack"])
    assert [d.name for d in found if not same_corpus(d)] == []


def test_touche_reads_the_corpus_its_qrels_judge():
    from lsr.eval.beir_datasets import resolve_datasets

    (touche,) = resolve_datasets(["webis-touche2020"])
    assert touche.queries == "irds:beir/webis-touche2020/v2"
    assert same_corpus(touche)

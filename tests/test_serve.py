"""`lsr serve`: the command run in a subprocess on loopback, asked over real HTTP connections.

One server over a tiny BM25 index and a tiny splade-tiny impact index answers every test; its hits must
be those of `LuceneSearcher.search` in this process (documents and scores alike), singly, in batches and
from 16 concurrent clients; bad requests get 4xx JSON errors naming the problem; SIGTERM lets a request
in flight finish, then ends the command with status 0 and no traceback (the last test).
"""

from __future__ import annotations

import http.client
import json
import signal
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from click.testing import CliRunner

from lsr.cli.main import cli
from lsr.data import Query, read_queries
from lsr.indexing.build import build_bm25_index, build_impact_index
from lsr.models import load_encoder
from lsr.search.lucene import LuceneSearcher
from lsr.serve import SearchService, open_indexes, parse_index_specs

from helpers import as_hits, call, cut_beir, error_of, search, serving

EXTRA = [Query("stopwords", "the of and"), Query("emoji", "\N{GRINNING FACE} giraffe cancer"),
         Query("repeats", "cancer cancer cells")]


@pytest.fixture(scope="module")
def beir(tmp_path_factory, scifact) -> Path:
    return cut_beir(scifact, tmp_path_factory.mktemp("serve-beir"), 60, 20)


@pytest.fixture(scope="module")
def queries(beir) -> list[Query]:
    return read_queries(beir, "test") + EXTRA


@pytest.fixture(scope="module")
def searchers(tmp_path_factory, beir, splade_tiny) -> dict[str, LuceneSearcher]:
    """The two indexes, searched in this process: what the server must answer."""
    folder = tmp_path_factory.mktemp("serve-indexes")
    build_bm25_index(str(beir), folder / "bm25")
    encoder = load_encoder(splade_tiny, doc_max_length=64, long_docs="first")
    build_impact_index(str(beir), folder / "impact", splade_tiny, encoder=encoder, progress=False)
    found = {"bm25": LuceneSearcher(folder / "bm25"), "impact": LuceneSearcher(folder / "impact", encoder)}
    yield found
    for searcher in found.values():
        searcher.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, searchers):
    """`lsr serve bm25=DIR impact=DIR --port 0` running; yields (port, process, log file)."""
    log_file = tmp_path_factory.mktemp("serve-log") / "server.log"
    args = [*(f"{name}={searcher.index_dir}" for name, searcher in searchers.items()), "--port", "0", "--threads", "2"]
    with serving(args, log_file) as (port, process):
        yield port, process, log_file


@pytest.mark.parametrize("name", ["bm25", "impact"])
def test_hits_equal_searcher_search_singly_and_in_batches(server, searchers, queries, name):
    port = server[0]
    for k in (10, 100):  # 100: more than the 60 documents
        expected = searchers[name].search(queries, k)
        batch = search(port, {"index": name, "k": k, "queries": [{"id": q.id, "text": q.text} for q in queries]})
        assert [result["id"] for result in batch["results"]] == [q.id for q in queries]
        for query, result in zip(queries, batch["results"]):
            assert result["hits"] == as_hits(expected[query.id]), query.id
    for query, result in zip(queries, batch["results"]):
        single = search(port, {"index": name, "k": k, "text": query.text})
        assert single["hits"] == result["hits"], query.id
        assert set(single["timing_ms"]) == ({"encode", "search", "total"} if name == "impact" else {"search", "total"})
    assert len(search(port, {"index": name, "text": queries[0].text})["hits"]) == 10  # k=10 by default
    ids = search(port, {"index": "bm25", "queries": [{"text": "cancer"}, {"id": 7, "text": "cells"}]})["results"]
    assert [result["id"] for result in ids] == [0, 7]  # an id given comes back as it is; else the position


def test_health_gives_every_index_metadata(server, searchers):
    status, health = call(server[0], "GET", "/health")
    assert status == 200 and health["status"] == "ok"
    assert set(health["indexes"]) == {"bm25", "impact"}
    for name, searcher in searchers.items():
        served = health["indexes"][name]
        assert served["kind"] == searcher.info.kind and served["num_docs"] == 60
        assert served["path"] == str(searcher.index_dir) and served["score_unit"] == searcher.score_unit
    assert health["indexes"]["impact"]["scale"] == 100 and health["indexes"]["impact"]["model"]
    assert health["indexes"]["bm25"]["bm25"] == {"k1": 0.9, "b": 0.4}


def test_return_terms_gives_the_terms_each_query_is_searched_with(server, searchers, queries):
    port, impact, bm25 = server[0], searchers["impact"], searchers["bm25"]
    texts = [q.text for q in queries[:3]]
    answer = search(port, {"index": "impact", "return_terms": True, "queries": [{"text": t} for t in texts]})
    model_weights = impact.pruning.queries(impact.encoder.encode_queries(texts)).to_dicts(impact.encoder.vocab)
    for i, result in enumerate(answer["results"]):
        assert set(result["terms"]) == impact.query_terms([queries[i]])[0]
        assert all(result["terms"][term] == model_weights[i][term] for term in result["terms"])
        assert list(result["terms"].values()) == sorted(result["terms"].values(), reverse=True)
    answer = search(port, {"index": "bm25", "return_terms": True, "text": "cancer cancer cells"})
    assert answer["terms"] == {"cancer": 2, "cell": 1}
    assert set(answer["terms"]) == bm25.query_terms([Query("q", "cancer cancer cells")])[0]
    assert "terms" not in search(port, {"index": "bm25", "text": "cancer"})


@pytest.mark.parametrize("body, status, message", [
    (b'{"index": "bm25", "text": "cancer"', 400, "malformed JSON"),
    (b"", 422, "JSON object"),
    (b"[1, 2]", 422, "JSON object"),
    ({"index": "bm25", "text": ""}, 422, "text is empty"),
    ({"index": "bm25", "text": " \t"}, 422, "text is empty"),
    ({"index": "bm25"}, 422, '"text" (one query) or "queries"'),
    ({"index": "bm25", "text": "a", "queries": [{"text": "b"}]}, 422, "not both"),
    ({"index": "bm25", "text": "a", "k": 0}, 422, "k: Input should be greater than or equal to 1"),
    ({"index": "bm25", "text": "a", "k": 10001}, 422, "k: Input should be less than or equal to 10000"),
    ({"index": "bm25", "text": "a", "k": "10"}, 422, "k: Input should be a valid integer"),
    ({"index": "bm25", "text": "a", "k": 2.5}, 422, "k: Input should be a valid integer"),
    ({"index": "bm25", "text": 5}, 422, "text: Input should be a valid string"),
    ({"index": "bm25", "text": "a", "return_terms": "yes"}, 422, "return_terms: Input should be a valid boolean"),
    ({"index": "bm25", "text": "a", "kk": 5}, 422, "kk: Extra inputs are not permitted"),
    ({"index": "nope", "text": "a"}, 404, "no index named 'nope'; indexes: bm25, impact"),
    ({"text": "a"}, 422, '"index": one of bm25, impact'),
    ({"index": 3, "text": "a"}, 422, "index: Input should be a valid string"),
    ({"index": "bm25", "queries": []}, 422, "queries: List should have at least 1 item"),
    ({"index": "bm25", "queries": "a"}, 422, "queries: Input should be a valid list"),
    ({"index": "bm25", "queries": [{"text": "a"}, {"text": ""}]}, 422, "queries[1].text is empty"),
    ({"index": "bm25", "queries": [{"txt": "a"}]}, 422, "queries[0].text: Field required"),
    ({"index": "bm25", "queries": [{"id": [1], "text": "a"}]}, 422, "queries[0].id: Input should be a string or"),
    ({"index": "bm25", "queries": [{"id": True, "text": "a"}]}, 422, "queries[0].id: Input should be a string or"),
    ({"index": "bm25", "queries": [{"text": "a"}] * 1001}, 422, "queries: List should have at most 1000 items"),
    ({"index": "bm25", "queries": [{"text": "a"}] * 101, "k": 10000}, 422, "exceed 1,000,000 hits"),
])
def test_bad_requests_get_a_4xx_json_error_naming_the_problem(server, body, status, message):
    got, answer = call(server[0], "POST", "/search", body)
    assert (got, list(answer)) == (status, ["error"]), answer
    assert message in answer["error"]


def test_unknown_paths_and_methods_get_json_errors(server):
    assert call(server[0], "GET", "/search") == (405, {"error": "Method Not Allowed"})
    assert call(server[0], "POST", "/nothing", {"text": "a"}) == (404, {"error": "Not Found"})


def test_sixteen_concurrent_clients_get_their_own_answers(server, searchers, queries):
    expected = {name: searcher.search(queries, 10) for name, searcher in searchers.items()}
    port, start = server[0], threading.Barrier(16)

    def client(number: int) -> list[bool]:
        start.wait()
        checks = []
        for i in range(3):
            query, name = queries[(number * 3 + i) % len(queries)], ("bm25", "impact")[(number + i) % 2]
            answer = search(port, {"index": name, "text": query.text})
            checks.append(answer["hits"] == as_hits(expected[name][query.id]))
        return checks

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(client, range(16)))
    assert all(all(checks) for checks in results)


def test_command_errors_are_one_line(tmp_path, searchers):
    runner = CliRunner()
    missing = runner.invoke(cli, ["serve", str(tmp_path / "missing"), "--port", "0"])
    assert (missing.exit_code, missing.output.strip()) == (2, f"lsr: error: index not found: {tmp_path / 'missing'}")
    twice = runner.invoke(cli, ["serve", f"a={searchers['bm25'].index_dir}", f"a={searchers['impact'].index_dir}"])
    assert twice.exit_code == 2 and "two indexes named 'a'" in twice.output
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        busy = runner.invoke(cli, ["serve", str(searchers["bm25"].index_dir), "--port", str(port)])
    assert busy.exit_code == 2 and f"lsr: error: cannot listen on 127.0.0.1:{port}" in busy.output


def test_index_arguments_are_named_after_their_folder_or_as_given(tmp_path):
    (tmp_path / "x=y").mkdir()
    assert parse_index_specs(["runs/bm25", "s=runs/splade", str(tmp_path / "x=y")]) == {
        "bm25": Path("runs/bm25"), "s": Path("runs/splade"), "x=y": tmp_path / "x=y"}
    assert "NAME=DIR" in error_of(lambda: parse_index_specs(["=runs/a"]))
    assert "two indexes named 'a'" in error_of(lambda: parse_index_specs(["a=b", "x/a"]))


def test_a_query_model_loads_once_for_every_impact_index(searchers, splade_tiny):
    impact, bm25 = searchers["impact"].index_dir, searchers["bm25"].index_dir
    service = SearchService(open_indexes({"a": impact, "b": impact, "bm25": bm25}, query_model=str(splade_tiny)), 1)
    try:
        a, b, plain = service.indexes.values()
        assert a.searcher.encoder is b.searcher.encoder and a.encoding is b.encoding
        assert plain.searcher.encoder is None
        health = service.health()["indexes"]
        assert health["a"]["query_model"] == str(splade_tiny) and "query_model" not in health["bm25"]
    finally:
        service.close()


def test_sigterm_finishes_the_request_in_flight_then_exits_cleanly(server, searchers, queries):
    """Runs last: it stops the module's server."""
    port, process, log_file = server
    batch = {"index": "impact", "queries": [{"id": f"{i}-{q.id}", "text": q.text} for i in range(10) for q in queries]}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)

    def send_batch() -> tuple[int, dict]:  # on one kept-alive connection: the server has accepted it already
        connection.request("POST", "/search", body=json.dumps(batch), headers={"Content-Type": "application/json"})
        response = connection.getresponse()
        return response.status, json.loads(response.read())

    started = time.perf_counter()
    assert send_batch()[0] == 200
    took = time.perf_counter() - started
    with ThreadPoolExecutor(1) as pool:
        in_flight = pool.submit(send_batch)
        time.sleep(took / 4)
        process.send_signal(signal.SIGTERM)
        status, answer = in_flight.result()
    connection.close()
    assert status == 200 and len(answer["results"]) == len(batch["queries"])
    expected = searchers["impact"].search(queries, 10)
    assert all(result["hits"] == as_hits(expected[result["id"].split("-", 1)[1]]) for result in answer["results"])
    assert process.wait(300) == 0  # exiting can take minutes on a starved machine
    log = log_file.read_text()
    assert "Traceback" not in log, log
    assert log.index("Shutting down") < log.rindex('"POST /search HTTP/1.1" 200'), log  # answered after the signal

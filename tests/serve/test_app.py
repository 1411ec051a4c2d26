"""The server through HTTP: real LanguageTool clients, ltex-ls's request shape, bad requests, batching."""
import json
import threading
import urllib.parse

import httpx
import pytest
from starlette.testclient import TestClient

from mtfix.serve.app import Checker, ServeConfig, build_app

TEXT = "Smile 😀 “quoted” pariad\r\nThe two guides met in one Explosion.\r\n"


def test_language_tool_python_gets_the_right_offsets(server):
    import language_tool_python

    tool = language_tool_python.LanguageTool("en-US", remote_server=server)
    try:
        found = tool.check(TEXT)
    finally:
        tool.close()
    assert [TEXT[m.offset:m.offset + m.error_length] for m in found] == ["pariad", "guides", "Explosion"]
    assert found[0].replacements[0] == "pariah" and found[1].rule_id == "MTFIX_WRONG_SENSE"
    assert language_tool_python.utils.correct(TEXT, found[:1]).startswith("Smile 😀 “quoted” pariah")


def test_pylanguagetool_gets_the_same_matches(server):
    from pylanguagetool import api

    result = api.check(TEXT, api_url=server + "/v2/", lang="en-US")
    units = TEXT.encode("utf-16-le")
    spans = [units[2 * m["offset"]:2 * (m["offset"] + m["length"])].decode("utf-16-le") for m in result["matches"]]
    assert spans == ["pariad", "guides", "Explosion"]  # Java (UTF-16) offsets: the emoji counts twice


def test_ltex_sends_a_form_labelled_json_with_annotated_data(server):
    data = {"annotation": [{"markup": "# "}, {"text": "A "}, {"markup": "**"}, {"text": "pariad"}, {"markup": "**"},
                           {"markup": "\n\n", "interpretAs": "\n\n"}, {"text": "Two guides."}]}
    body = urllib.parse.urlencode({"data": json.dumps(data), "language": "en-US", "enabledOnly": "false",
                                   "motherTongue": "de-DE", "level": "default"})
    answer = httpx.post(server + "/v2/check", content=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200 and answer.headers["content-type"] == "application/json"
    original = "".join(part.get("text", part.get("markup", "")) for part in data["annotation"])
    found = [original[m["offset"]:m["offset"] + m["length"]] for m in answer.json()["matches"]]
    assert found == ["pariad", "guides"]
    assert all(m["sentence"] for m in answer.json()["matches"])


@pytest.mark.parametrize("method, params, status, message", [
    ("POST", {"language": "en-US"}, 400, "exactly one"),
    ("POST", {"text": "a", "data": "{}", "language": "en-US"}, 400, "not both"),
    ("POST", {"data": "{oops", "language": "en-US"}, 400, "not valid JSON"),
    ("POST", {"text": "a", "language": "fr"}, 400, "English only"),
    ("POST", {"text": "x" * 20_001, "language": "en-US"}, 413, "exceeds the limit"),
    ("PUT", {"text": "a", "language": "en-US"}, 405, "GET or POST"),
])
def test_bad_requests_get_plain_text_errors_and_the_server_goes_on(server, method, params, status, message):
    answer = httpx.request(method, server + "/v2/check", data=params)
    assert answer.status_code == status and answer.text.startswith("Error: ") and message in answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    assert httpx.post(server + "/v2/check", data={"text": "a pariad", "language": "en-US"}).status_code == 200


def test_invalid_utf8_unknown_paths_and_the_small_endpoints(server):
    answer = httpx.post(server + "/v2/check", content=b"text=%FF%FE&language=en-US",
                        headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert answer.status_code == 400 and "UTF-8" in answer.text
    assert httpx.get(server + "/v2/nowhere").text.startswith("Error: ")
    assert httpx.get(server + "/v2/nowhere").status_code == 404
    assert httpx.get(server + "/v2/healthcheck").text == "OK"
    assert httpx.get(server + "/v2/maxtextlength").text == "20000"
    assert {"name": "English (US)", "code": "en", "longCode": "en-US"} in httpx.get(server + "/v2/languages").json()
    got = httpx.get(server + "/v2/check", params={"text": "a pariad", "language": "auto"})
    assert got.status_code == 200 and got.json()["matches"][0]["offset"] == 2
    cors = httpx.post(server + "/v2/check", data={"text": "a", "language": "en"}, headers={"Origin": "http://x"})
    assert cors.headers["access-control-allow-origin"] == "*"
    assert "<textarea" in httpx.get(server + "/").text


def test_a_body_over_the_limit_is_refused_before_it_is_read():
    app = build_app(lambda texts, picky, requests=None: [([], []) for _ in texts], ServeConfig(max_text_length=10))
    with TestClient(app) as client:
        answer = client.post("/v2/check", content=b"text=" + b"a" * 70_000 + b"&language=en")
    assert answer.status_code == 413 and answer.text.startswith("Error: ")


def test_a_failing_model_is_a_500_with_no_traceback_and_the_server_goes_on():
    calls = {"n": 0}

    def flaky(texts, picky, requests=None):
        calls["n"] += 1
        if calls["n"] == 1:
            raise RuntimeError("secret internals")
        return [([], []) for _ in texts]

    with TestClient(build_app(flaky), raise_server_exceptions=False) as client:
        first = client.post("/v2/check", data={"text": "a", "language": "en"})
        second = client.post("/v2/check", data={"text": "a", "language": "en"})
    assert first.status_code == 500 and "secret" not in first.text and first.text.startswith("Error: ")
    assert second.status_code == 200


def test_concurrent_requests_are_read_together(server, word_checker):
    word_checker.delay = 0.3
    barrier = threading.Barrier(8)
    results = []

    def client(i):
        barrier.wait()
        results.append(httpx.post(server + "/v2/check", data={"text": f"Request {i} has a pariad.",
                                                               "language": "en-US"}, timeout=30))

    threads = [threading.Thread(target=client, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(r.status_code == 200 and len(r.json()["matches"]) == 1 for r in results)
    assert len(word_checker.batches) < 8  # some requests shared a batch
    assert sorted(t for batch in word_checker.batches for t in batch) == sorted(
        f"Request {i} has a pariad." for i in range(8))
    # the checker hears where each request's lines are: one line each here
    assert [sizes for sizes in word_checker.requests] == [[1] * len(batch) for batch in word_checker.batches]


class _ContextFixer:
    """A fixer whose detector reads each line after the lines before it; records the texts of each call."""

    def __init__(self):
        from types import SimpleNamespace

        self.detector = SimpleNamespace(context=2, threshold=0.5)
        self.calls = []

    def detect(self, texts, **options):
        self.calls.append((list(texts), options.get("documents")))
        return [[] for _ in texts]


def test_a_detector_that_reads_context_reads_each_requests_lines_after_its_own_only():
    fixer = _ContextFixer()
    checker = Checker(fixer, fix=False)
    found = checker(["A first line.", "Its second line.", "Another request."], False, [2, 1])
    assert len(found) == 3
    # one batch, each request its own document: never read after another's lines (test_fuse: the contexts), its
    # lines flagged at the threshold of the request's MT probability (test_document)
    assert fixer.calls == [(["A first line.", "Its second line.", "Another request."], [2, 1])]
    checker(["One.", "Two."], False)  # one request: one document
    assert fixer.calls[-1] == (["One.", "Two."], [2])
    fixer.detector.context = 0  # lines read alone: nothing to keep apart
    checker(["One.", "Two."], False, [1, 1])
    assert fixer.calls[-1] == (["One.", "Two."], None)


def test_the_real_models_answer_through_the_checker(tiny_models):
    import mtfix

    tagger, corrector = tiny_models
    checker = Checker(mtfix.load(model=str(tagger), fast=True, corrector=str(corrector), threshold=0.5,
                                 min_score=0.0))
    text = "The council approved the plan 😀.\nThe two guides met in one Explosion."
    with TestClient(build_app(checker)) as client:
        body = client.post("/v2/check", data={"text": text, "language": "en-US", "level": "picky"}).json()
    units = text.encode("utf-16-le")
    for m in body["matches"]:
        covered = units[2 * m["offset"]:2 * (m["offset"] + m["length"])].decode("utf-16-le")
        assert covered.strip() and covered in text and m["rule"]["id"].startswith("MTFIX_")
    assert body["sentenceRanges"][0][0] == 0


def test_mtfix_serve_starts_from_the_cli_and_stops_on_sigterm(tiny_models):
    import os
    import signal
    import subprocess
    import sys
    import time
    from pathlib import Path

    from .conftest import free_port

    tagger, corrector = tiny_models
    port = free_port()
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.Popen([sys.executable, "-m", "mtfix", "serve", "--port", str(port), "--fast", "--model",
                             str(tagger), "--corrector", str(corrector)], cwd=root, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "MTFIX_NO_PROGRESS": "1"})
    try:
        deadline = time.time() + 120
        while True:
            assert proc.poll() is None and time.time() < deadline, "mtfix serve did not start"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v2/healthcheck").text == "OK":
                    break
            except httpx.TransportError:
                time.sleep(0.3)
        answer = httpx.post(f"http://127.0.0.1:{port}/v2/check", data={"text": "A pariad here.", "language": "en"})
        assert answer.status_code == 200
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in proc.stderr.read()


def test_picky_is_an_argument_of_the_call_not_a_change_to_the_model(tiny_models):
    import mtfix

    tagger, corrector = tiny_models
    high = 0.503  # the tiny tagger's P(BAD) sits near 0.5: one word reaches this, every word 0.7 of it
    fixer = mtfix.load(model=str(tagger), fast=True, corrector=str(corrector), threshold=high)
    texts = ["The two guides met in one Explosion on Monday.", "A pariad was there."]
    checker = Checker(fixer, fix=False)
    factor = checker.picky
    picky = [spans for spans, _, _ in checker(texts, True)]
    default = [spans for spans, _, _ in Checker(fixer, fix=False)(texts, False)]
    assert fixer.detector.threshold == high  # the loaded model is left as it was
    assert sum(len(s) for s in picky) > sum(len(s) for s in default) > 0
    lower = mtfix.load(model=str(tagger), fast=True, corrector=str(corrector), threshold=high * factor)
    assert picky == lower.detect(texts) == fixer.detect(texts, threshold=high * factor)
    assert default == fixer.detect(texts)

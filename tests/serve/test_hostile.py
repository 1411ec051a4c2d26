"""What a hostile client tries on `mtfix serve` (docs/serve.md): each request is answered alone, slow and many
clients do not exhaust the server, and a match always maps back to the text exactly."""
import json
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from mtfix.serve.app import ServeConfig, build_app
from mtfix.text.spans import Span

from .conftest import free_port

ROOT = Path(__file__).resolve().parents[2]


def concurrently(server: str, bodies: list[dict]) -> list[httpx.Response]:
    """POST every body at once (the checker's delay makes them share a batch); the answers in order."""
    barrier = threading.Barrier(len(bodies))
    answers: list[httpx.Response | None] = [None] * len(bodies)

    def client(i: int) -> None:
        barrier.wait()
        answers[i] = httpx.post(server + "/v2/check", data=bodies[i], timeout=30)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(bodies))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers  # type: ignore[return-value]


def test_a_lone_surrogate_is_a_400_for_its_request_alone(server, word_checker):
    word_checker.delay = 0.3
    bad = {"data": json.dumps({"annotation": [{"text": "x \ud800 y"}]}), "language": "en-US"}
    good = [{"text": f"Request {i} has a pariad.", "language": "en-US"} for i in range(5)]
    answers = concurrently(server, [*good[:2], bad, *good[2:]])
    assert answers[2].status_code == 400 and "lone surrogate" in answers[2].text
    assert all(a.status_code == 200 and len(a.json()["matches"]) == 1 for i, a in enumerate(answers) if i != 2)
    interpret = {"data": json.dumps({"annotation": [{"markup": "<x>", "interpretAs": "\udfff"}]}), "language": "en"}
    assert httpx.post(server + "/v2/check", data=interpret).status_code == 400


def test_a_text_that_breaks_the_checker_fails_its_own_request_only(server, word_checker):
    word_checker.delay = 0.3
    word_checker.fail_on = "boom"
    bodies = [{"text": f"Request {i} has a pariad.", "language": "en-US"} for i in range(4)]
    bodies.insert(1, {"text": "This one goes boom.", "language": "en-US"})
    answers = concurrently(server, bodies)
    assert answers[1].status_code == 500 and answers[1].text.startswith("Error: ")
    assert all(a.status_code == 200 for i, a in enumerate(answers) if i != 1)
    assert any(len(batch) > 1 for batch in word_checker.batches)  # they did share a batch


@pytest.mark.parametrize("deep", ["[" * 200_000, '{"annotation": ' + "[" * 100_000 + "]" * 100_000 + "}"])
def test_data_nested_deeply_is_a_400(server, deep):
    with TestClient(build_app(lambda t, p, r=None: [([], []) for _ in t])) as client:
        answer = client.post("/v2/check", content=b"language=en-US&data=" + deep.encode())
        assert answer.status_code == 400 and "nested too deeply" in answer.text
        assert client.post("/v2/check", data={"text": "a pariad", "language": "en"}).status_code == 200


def test_a_flag_inside_markup_read_as_its_interpret_as_is_not_reported(server):
    data = {"annotation": [{"text": "The two guides said "}, {"markup": "\\emph{X}", "interpretAs": "pariad"},
                           {"text": " and "}, {"markup": "<b>"}, {"text": "pariad"}, {"markup": "</b>"},
                           {"text": " in one Explosion."}]}
    original = "".join(p.get("text", p.get("markup", "")) for p in data["annotation"])
    answer = httpx.post(server + "/v2/check", data={"data": json.dumps(data), "language": "en-US"})
    matches = answer.json()["matches"]
    covered = [original[m["offset"]:m["offset"] + m["length"]] for m in matches]
    assert covered == ["guides", "pariad", "Explosion"]
    # accepting every suggestion changes only the flagged words: the markup is untouched
    fixed = original
    for m in sorted(matches, key=lambda m: -m["offset"]):
        fixed = fixed[:m["offset"]] + m["replacements"][0]["value"] + fixed[m["offset"] + m["length"]:]
    assert fixed == "The two leaders said \\emph{X} and <b>pariah</b> in one explosion."


def classed_checker(texts, picky, requests=None):
    """Spans with the classes the fused detector's class head names."""
    out = []
    for text in texts:
        spans = []
        for word, name in (("pariad", "non-word"), ("guides", "wrong-sense"), ("at", "preposition"),
                           ("Explosion", "casing")):
            at = text.find(word)
            if at >= 0:
                spans.append(Span(at, at + len(word), "artifact", 0.9, evidence={"kind": "lm"}, class_name=name,
                                  class_p=0.8))
        out.append((spans, []))
    return out


TEXT = "A pariad.\nThe two guides met at noon in one Explosion."


@pytest.mark.parametrize("params, rules", [
    ({}, ["MTFIX_NON_WORD", "MTFIX_WRONG_SENSE", "MTFIX_PREPOSITION", "MTFIX_CASING"]),
    ({"disabledRules": "MTFIX_NON_WORD,MTFIX_CASING"}, ["MTFIX_WRONG_SENSE", "MTFIX_PREPOSITION"]),
    ({"enabledRules": "MTFIX_CASING"}, ["MTFIX_NON_WORD", "MTFIX_WRONG_SENSE", "MTFIX_PREPOSITION", "MTFIX_CASING"]),
    ({"enabledRules": "MTFIX_CASING", "enabledOnly": "true"}, ["MTFIX_CASING"]),
    ({"enabledCategories": "MT_ARTIFACTS", "enabledOnly": "true"},
     ["MTFIX_NON_WORD", "MTFIX_WRONG_SENSE", "MTFIX_PREPOSITION", "MTFIX_CASING"]),
    ({"disabledCategories": "MT_ARTIFACTS"}, []),
])
def test_rule_ids_carry_the_class_and_rules_switch_them(params, rules):
    with TestClient(build_app(classed_checker)) as client:
        body = client.post("/v2/check", data={"text": TEXT, "language": "en-US", **params}).json()
    assert [m["rule"]["id"] for m in body["matches"]] == rules
    assert all(m["mtfix"]["class"] != "artifact" for m in body["matches"])


SERVER = """
import sys
from mtfix.serve.app import ServeConfig, build_app, uvicorn_config
from tests.serve.conftest import WordChecker
import uvicorn
config = ServeConfig(read_timeout=float(sys.argv[2]))
uvicorn.Server(uvicorn_config(build_app(WordChecker(), config), "127.0.0.1", int(sys.argv[1]), config)).run()
"""


def test_slow_and_many_clients_do_not_exhaust_the_server():
    import resource

    port = free_port()

    def limit_files() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))

    proc = subprocess.Popen([sys.executable, "-c", SERVER, str(port), "2"], cwd=ROOT, preexec_fn=limit_files,
                            stderr=subprocess.PIPE, text=True, env={**os.environ, "MTFIX_NO_PROGRESS": "1"})
    held: list[socket.socket] = []
    try:
        deadline = time.time() + 60
        while True:
            assert proc.poll() is None and time.time() < deadline, "the server did not start"
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v2/healthcheck").text == "OK":
                    break
            except httpx.TransportError:
                time.sleep(0.2)
        for _ in range(70):  # more than the process may open files: each sends half its headers, then waits
            conn = socket.create_connection(("127.0.0.1", port))
            conn.sendall(b"POST /v2/check HTTP/1.1\r\nHost: x\r\n")
            held.append(conn)
        started = time.time()
        answer = httpx.post(f"http://127.0.0.1:{port}/v2/check", data={"text": "a pariad", "language": "en"},
                            timeout=20)
        # answered at once: checked, or told that the server is full (the held connections are not yet timed out)
        assert answer.status_code in (200, 503) and time.time() - started < 5
        # the held connections were refused at once (past the limit) or closed after read_timeout (2 s)
        time.sleep(3)
        answers = []
        for conn in held:
            conn.settimeout(5)
            try:
                answers.append(conn.recv(200))
            except OSError:
                answers.append(b"")
        assert all(a.startswith((b"HTTP/1.1 408", b"HTTP/1.1 503")) for a in answers), answers[:3]
        assert any(a.startswith(b"HTTP/1.1 408") for a in answers)
        assert httpx.post(f"http://127.0.0.1:{port}/v2/check", data={"text": "ok", "language": "en"}).status_code == 200
    finally:
        for conn in held:
            conn.close()
        proc.terminate()
        proc.wait(20)
    assert "Traceback" not in proc.stderr.read()


def test_a_body_that_trickles_in_is_closed_after_the_read_timeout():
    import uvicorn

    from mtfix.serve.app import uvicorn_config

    port = free_port()
    config = ServeConfig(read_timeout=1.0)
    app = build_app(lambda t, p, r=None: [([], []) for _ in t], config)
    srv = uvicorn.Server(uvicorn_config(app, "127.0.0.1", port, config))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    while not srv.started:
        time.sleep(0.05)
    try:
        with socket.create_connection(("127.0.0.1", port)) as conn:
            conn.sendall(b"POST /v2/check HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
                         b"Content-Length: 100\r\n\r\ntext=a")
            started = time.time()
            conn.settimeout(10)
            data = b""
            while True:
                block = conn.recv(1000)
                if not block:
                    break
                data += block
        assert time.time() - started < 5  # closed, not held
    finally:
        srv.should_exit = True
        thread.join(10)

import re
import socket
import threading
import time

import pytest
import uvicorn

from mtfix.serve.app import ServeConfig, build_app
from mtfix.text.spans import Edit, Span

FLAGS = {"pariad": ("pariah", "spelling"), "guides": ("leaders", "pivot"), "Explosion": ("explosion", "case")}


class WordChecker:
    """A stand-in for the models at the API's boundary: flags the words of FLAGS (with their fix as an edit, as
    the corrector gives it) and a missing word before each 'gap'; records the batches it was given, and how many
    lines of each batch each request sent."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.requests: list[list[int] | None] = []
        self.delay = 0.0  # seconds per batch, as a model takes
        self.fail_on: str | None = None  # a batch with a text holding this fails, as a model can

    def __call__(self, texts, picky, requests=None):
        self.batches.append(list(texts))
        self.requests.append(requests)
        time.sleep(self.delay)
        if self.fail_on is not None and any(self.fail_on in t for t in texts):
            raise RuntimeError("the model failed")
        out = []
        for text in texts:
            spans, edits = [], []
            for m in re.finditer(r"\S+", text):
                word = m.group().strip(".,;")
                if word in FLAGS:
                    fix, kind = FLAGS[word]
                    end = m.start() + len(word)
                    spans.append(Span(m.start(), end, "artifact", 0.9, evidence={"kind": kind, "candidate": fix}))
                    edits.append(Edit(m.start(), end, fix, 0.88, ("alt",)))
                if word == "gap":
                    spans.append(Span(m.start(), m.start(), "artifact", 0.6, evidence={"kind": "article",
                                                                                        "candidate": "a"}))
            out.append((spans, edits))
        return out


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def word_checker():
    return WordChecker()


@pytest.fixture
def server(word_checker):
    """A real uvicorn server on a free port around the WordChecker; yields its URL."""
    port = free_port()
    config = uvicorn.Config(build_app(word_checker, ServeConfig(max_text_length=20_000)), host="127.0.0.1", port=port,
                            log_level="warning")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.time() + 20
    while not srv.started:
        assert time.time() < deadline, "the server did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(10)

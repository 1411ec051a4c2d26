"""`mtfix serve`: the LanguageTool HTTP API (a compatible subset of /v2) on Starlette, served by uvicorn.

Starlette and uvicorn: a small, well-kept ASGI stack with no template or ORM baggage, whose test client and
server are the same code paths clients hit. The models are loaded once per process; requests that arrive while
the models are busy are read together in the next batch (several editors typing at once), so a request waits at
most for the batch in progress and its own.
"""
from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from dataclasses import dataclass, replace
from importlib import resources
from typing import Any, Callable, Sequence

import h11
import uvicorn
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route
from uvicorn.protocols.http.h11_impl import H11Protocol

from mtfix.points import DEFAULTS, read_points
from mtfix.serve.languagetool import (
    LANGUAGES,
    BadRequest,
    CheckRequest,
    TooLong,
    check_request,
    found_spans,
    parse_params,
    response,
    segments,
)
from mtfix.settings import CorrectSettings, DetectSettings, ServeSettings
from mtfix.text.spans import Edit, Span

log = logging.getLogger("mtfix.serve")


@dataclass
class ServeConfig:
    max_text_length: int = 50_000      # UTF-16 units, as LanguageTool counts
    max_pending: int = 64              # requests waiting for the models before the server answers 503
    allow_origin: str = "*"
    batch_size: int = 32
    read_timeout: float = 20.0         # seconds for a request (headers and body) to arrive whole, else 408
    max_connections: int = 512         # open connections, kept below the open-file limit (connection_limit)


class Checker:
    """Reads texts in batches on one model thread: ``check(texts, picky, requests)`` -> per text, spans and
    edits. A picky request is flagged at ``picky`` times the detector's threshold (the detector folder's point: a
    reviewer trades false flags for recall)."""

    def __init__(self, fixer: Any, fix: bool = True, picky: float = DEFAULTS["picky"]) -> None:
        self.fixer, self.fix, self.picky = fixer, fix, picky
        self.lock = threading.Lock()

    def __call__(self, texts: Sequence[str], picky: bool, requests: Sequence[int] | None = None
                 ) -> list[tuple[Any, ...]]:
        """Per text, its spans, its edits and what the detector read of it (a document.Tally; None where the
        detector keeps none). ``requests``: how many of the texts, in order, each request sent (None: one)."""
        from mtfix.detect import reads_context

        # picky: the detector's own threshold (default, or --threshold) times self.picky, for this call only
        threshold = getattr(self.fixer.detector, "threshold", None)
        threshold = threshold * self.picky if picky and threshold is not None else None
        texts = list(texts)
        tallies: list[Any] = []
        # each request is a document: its lines are read after that request's own lines only (by a detector that
        # reads context), in the same batch as other requests', and flagged at the threshold that follows its MT
        # probability (the one the answer reports), never another request's
        options: dict[str, Any] = {"threshold": threshold, "tallies": tallies, "one_document": False}
        if reads_context(self.fixer.detector) or getattr(self.fixer.detector, "follow", None) is not None:
            options["documents"] = list(requests) if requests is not None else [len(texts)]
        with self.lock:
            if self.fix:
                found = [(f.spans, f.edits) for f in self.fixer.fix(texts, **options)]
            else:
                found = [(spans, []) for spans in self.fixer.detect(texts, **options)]
        counted = tallies if len(tallies) == len(found) else [None] * len(found)
        return [(spans, edits, t) for (spans, edits), t in zip(found, counted)]

    def mt_probability(self, tallies: Sequence[Any]) -> float | None:
        """The MT probability of a request's text, from its lines' tallies."""
        return self.fixer.mt_probability([t for t in tallies if t is not None])


class Batcher:
    """Collects the lines of concurrent requests and runs them through the checker together, saying how many
    lines each request sent (a checker whose detector reads context reads each request's lines after that
    request's own only)."""

    def __init__(self, checker: Callable[..., list[tuple[list[Span], list[Edit]]]], max_pending: int) -> None:
        self.checker, self.max_pending = checker, max_pending
        self.queue: list[tuple[list[str], bool, asyncio.Future]] = []
        self.running = False

    @property
    def pending(self) -> int:
        return len(self.queue)

    async def check(self, texts: list[str], picky: bool) -> list[tuple[list[Span], list[Edit]]]:
        if not texts:
            return []
        future: asyncio.Future = asyncio.get_running_loop().create_future()
        self.queue.append((texts, picky, future))
        if not self.running:
            self.running = True
            asyncio.get_running_loop().create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        try:
            while self.queue:
                picky = self.queue[0][1]
                batch = [item for item in self.queue if item[1] == picky]
                self.queue = [item for item in self.queue if item[1] != picky]
                texts = [t for texts, _, _ in batch for t in texts]
                try:
                    results = await asyncio.to_thread(self.checker, texts, picky, [len(t) for t, _, _ in batch])
                except Exception as err:
                    if len(batch) == 1:
                        if not batch[0][2].done():
                            batch[0][2].set_exception(err)
                        continue
                    # one request's text may be what failed: each is read again alone, so that only the
                    # request whose text fails hears of it
                    for texts_of, _, future in batch:
                        try:
                            alone = await asyncio.to_thread(self.checker, texts_of, picky)
                        except Exception as own:
                            if not future.done():
                                future.set_exception(own)
                        else:
                            if not future.done():
                                future.set_result(alone)
                    continue
                at = 0
                for texts_of, _, future in batch:
                    if not future.done():
                        future.set_result(results[at:at + len(texts_of)])
                    at += len(texts_of)
        finally:
            self.running = False


def error(status: int, message: str) -> PlainTextResponse:
    """Errors as LanguageTool sends them: plain text, never JSON."""
    return PlainTextResponse(f"Error: {message}", status_code=status)


def page() -> str:
    return resources.files("mtfix.serve").joinpath("static/index.html").read_text(encoding="utf-8")


def build_app(checker: Callable[[Sequence[str], bool], list[tuple[list[Span], list[Edit]]]],
              config: ServeConfig | None = None) -> Starlette:
    """The ASGI app around a checker (see Checker)."""
    config = config or ServeConfig()
    batcher = Batcher(checker, config.max_pending)
    body_limit = config.max_text_length * 12 + 65_536  # percent-encoded UTF-8 of the longest text, and the rest

    async def check(request: Request) -> Response:
        if request.method not in ("GET", "POST"):
            return error(405, f"/v2/check takes GET or POST, not {request.method}")
        try:
            declared = int(request.headers.get("content-length") or 0)
        except ValueError:
            declared = 0
        if declared > body_limit:
            return error(413, f"request body over {body_limit} bytes")
        body = b""
        if request.method == "POST":
            chunks = []
            size = 0
            try:
                async for chunk in request.stream():
                    size += len(chunk)
                    if size > body_limit:
                        return error(413, f"request body over {body_limit} bytes")
                    chunks.append(chunk)
            except ClientDisconnect:  # gone, or closed for taking longer than read_timeout
                return error(408, "the request body did not arrive")
            body = b"".join(chunks)
        try:
            params = parse_params(body, request.url.query)
            asked: CheckRequest = check_request(params, config.max_text_length)
        except BadRequest as err:
            return error(400, str(err))
        except TooLong as err:
            return error(413, str(err))
        if batcher.pending >= config.max_pending:
            return error(503, "the server is busy; try again in a moment")
        lines = segments(asked.plain)
        try:
            results = await batcher.check([asked.plain[a:b] for a, b in lines], asked.picky)
        except Exception:
            log.exception("checking failed")
            return error(500, "internal error while checking the text (logged on the server)")
        found, tallies = [], []
        for (a, _), (spans, edits, *read) in zip(lines, results):
            shift = [replace(s, start=s.start + a, end=s.end + a) for s in spans]
            moved = [replace(e, start=e.start + a, end=e.end + a) for e in edits]
            found += found_spans(asked.plain, shift, moved)
            tallies += read
        answer = response(asked, found)
        reader = getattr(checker, "mt_probability", None)
        if reader is not None:  # the request's text is one document
            answer["mtfix"] = {"mt_probability": reader(tallies)}
        return JSONResponse(answer, media_type="application/json")

    async def languages(_: Request) -> Response:
        return JSONResponse(LANGUAGES)

    async def healthcheck(_: Request) -> Response:
        return PlainTextResponse("OK")

    async def maxtextlength(_: Request) -> Response:
        return PlainTextResponse(str(config.max_text_length))

    async def index(_: Request) -> Response:
        return Response(page(), media_type="text/html; charset=utf-8")

    async def not_found(request: Request, _: Exception) -> Response:
        return error(404, f"no such path: {request.url.path}")

    async def server_error(request: Request, exc: Exception) -> Response:
        log.error("error answering %s: %r", request.url.path, exc)
        return error(500, "internal error (logged on the server)")

    routes = [Route("/v2/check", check, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
              Route("/v2/languages", languages), Route("/v2/healthcheck", healthcheck),
              Route("/v2/maxtextlength", maxtextlength), Route("/", index)]
    middleware = [Middleware(CORSMiddleware, allow_origins=[config.allow_origin], allow_methods=["GET", "POST"],
                             allow_headers=["*"])]
    return Starlette(routes=routes, middleware=middleware,
                     exception_handlers={404: not_found, 405: not_found, 500: server_error})


def create_app(settings: ServeSettings) -> Starlette:
    """The server with mtfix's models, loaded once and warmed up before the first request."""
    from mtfix.api import from_settings
    from mtfix.models import shipped_detector

    fixer = from_settings(DetectSettings.from_args(settings), CorrectSettings.from_args(settings))
    picky = read_points(settings.model or shipped_detector()).get("picky", DEFAULTS["picky"])
    checker = Checker(fixer, fix=not settings.no_fix, picky=picky)
    checker(["The council met on Monday to discuss the plan."], False)  # load the corrector and warm up
    return build_app(checker, limits(settings))


def limits(settings: ServeSettings) -> ServeConfig:
    """The HTTP limits the settings give (the rest keep ServeConfig's defaults)."""
    return ServeConfig(max_text_length=settings.max_text_length, allow_origin=settings.allow_origin)


SETTINGS_ENV = "MTFIX_SERVE_SETTINGS"


class GuardedProtocol(H11Protocol):
    """uvicorn's h11 protocol with what it lacks against slow or many clients: a request (headers and body) must
    arrive whole within ``read_timeout`` seconds of its first byte or of the connection (else 408 and the
    connection closes), and past ``max_connections`` open connections a new one is answered 503 and closed at
    once, so that held connections never use up the process's open files. Idle keep-alive connections close
    after uvicorn's own keep-alive timeout."""

    read_timeout = ServeConfig.read_timeout
    max_connections = ServeConfig.max_connections

    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._deadline: asyncio.TimerHandle | None = None
        if len(self.connections) > self.max_connections:
            _refuse(transport, 503, "too many open connections; try again in a moment")
            return
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state in (h11.DONE, h11.MUST_CLOSE, h11.CLOSED, h11.ERROR):
            self._disarm()
        else:
            self._arm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if getattr(self, "_deadline", None) is None:
            self._deadline = self.loop.call_later(self.read_timeout, self._too_slow)

    def _disarm(self) -> None:
        if getattr(self, "_deadline", None) is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        if self.conn.our_state is h11.IDLE:
            _refuse(self.transport, 408, f"the request did not arrive within {self.read_timeout:g} s")
        else:
            self.transport.close()


def _refuse(transport: Any, status: int, message: str) -> None:
    """Answer in LanguageTool's plain-text error form, outside any request cycle, and close."""
    body = f"Error: {message}".encode()
    reason = {408: "Request Timeout", 503: "Service Unavailable"}[status]
    transport.write(f"HTTP/1.1 {status} {reason}\r\ncontent-type: text/plain; charset=utf-8\r\n"
                    f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode() + body)
    transport.close()


def connection_limit(config: ServeConfig) -> int:
    """``config.max_connections``, and at most half the open files the process has left (the other half is room
    for the connections accepted in one turn of the event loop before the surplus is closed)."""
    import os
    import resource

    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return config.max_connections
    try:
        used = len(os.listdir("/proc/self/fd"))
    except OSError:
        used = 32
    return max(4, min(config.max_connections, (soft - used - 16) // 2))


def guard(config: ServeConfig) -> type[GuardedProtocol]:
    """The protocol class with this server's limits (class attributes, so that uvicorn's worker processes, which
    import it by name, take them from app_from_env)."""
    GuardedProtocol.read_timeout = config.read_timeout
    GuardedProtocol.max_connections = connection_limit(config)
    return GuardedProtocol


def uvicorn_config(app: Any, host: str, port: int, config: ServeConfig | None = None, **kw: Any) -> uvicorn.Config:
    """uvicorn's settings for mtfix's app: the guarded h11 protocol, quiet logs, 10 s to finish on shutdown."""
    protocol = guard(config or ServeConfig())
    return uvicorn.Config(app, host=host, port=port, http=protocol, backlog=backlog(protocol.max_connections),
                          log_level="warning", timeout_graceful_shutdown=10, **kw)


def backlog(connections: int) -> int:
    """The listening queue, which is also how many connections asyncio accepts in one turn: half the connection
    limit, so that a burst is closed before it uses up the open files."""
    return max(8, min(2048, connections // 2))


class GracefulServer(uvicorn.Server):
    """uvicorn's server, which on SIGTERM or Ctrl-C finishes the requests in flight and then returns (exit status
    0), instead of re-raising the signal as uvicorn does."""

    @contextlib.contextmanager
    def capture_signals(self):  # type: ignore[override]
        def stop(*_: Any) -> None:
            self.should_exit = True

        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)


def app_from_env() -> Starlette:
    """The app for each of uvicorn's worker processes (--workers), its settings passed in the environment."""
    import json
    import os

    settings = ServeSettings(**json.loads(os.environ[SETTINGS_ENV]))
    app = create_app(settings)
    guard(limits(settings))
    return app


def serve(settings: ServeSettings) -> None:
    """Load the models, then answer until SIGTERM or Ctrl-C (uvicorn finishes the requests in flight)."""
    import json
    import os

    config = limits(settings)
    if settings.workers > 1:
        from dataclasses import asdict

        os.environ[SETTINGS_ENV] = json.dumps(asdict(settings))
        uvicorn.run("mtfix.serve.app:app_from_env", factory=True, host=settings.host, port=settings.port,
                    workers=settings.workers, http="mtfix.serve.app:GuardedProtocol",
                    backlog=backlog(connection_limit(config)), log_level="warning", timeout_graceful_shutdown=10)
        return
    app = create_app(settings)
    GracefulServer(uvicorn_config(app, settings.host, settings.port, config)).run()

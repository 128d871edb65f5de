"""A real HTTP server whose answers each test writes: redirects, validators,
gzip, tricklers and liars, the ways podcast hosts behave in the wild."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

# what a route does with one request
Answer = Callable[["Request"], None]


@dataclass
class Request:
    """One request the site received, and the means to answer it."""

    path: str
    headers: dict[str, str]
    handler: BaseHTTPRequestHandler
    stopping: threading.Event

    def send(
        self,
        status: int,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        *,
        length: int | None = None,
    ) -> None:
        """Answer ``status`` with ``body``; ``length`` is the Content-Length
        claimed (the body's own by default; -1 sends none, so the body ends
        when the connection closes)."""
        self.handler.send_response(status)
        claimed = len(body) if length is None else length
        if claimed >= 0:
            self.handler.send_header("Content-Length", str(claimed))
        for name, value in (headers or {}).items():
            self.handler.send_header(name, value)
        self.handler.end_headers()
        self.handler.wfile.write(body)

    def hold(self) -> None:
        """Send nothing more until the test ends."""
        self.stopping.wait()


@dataclass
class Site:
    """Routes by path; every request is kept in ``seen`` so a test can tell
    what the client sent."""

    base_url: str = ""
    routes: dict[str, Answer] = field(default_factory=dict)
    seen: list[Request] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    def on(self, path: str, answer: Answer) -> str:
        self.routes["/" + path.lstrip("/")] = answer
        return self.url(path)

    def asked(self, path: str) -> list[dict[str, str]]:
        """The headers of each request for ``path``, in order."""
        return [r.headers for r in self.seen if r.path == "/" + path.lstrip("/")]


def body(data: bytes, status: int = 200, **headers: str) -> Answer:
    return lambda request: request.send(status, data, _names(headers))


def redirect(status: int, to: str) -> Answer:
    return lambda request: request.send(status, b"", {"Location": to})


def trickle(data: bytes, every: float) -> Answer:
    """Promise ``data`` and send it one byte every ``every`` seconds."""

    def answer(request: Request) -> None:
        request.send(200, b"", length=len(data))
        for byte in data:
            if request.stopping.wait(every):
                return
            request.handler.wfile.write(bytes([byte]))
            request.handler.wfile.flush()

    return answer


def promise(length: int) -> Answer:
    """Claim a body of ``length`` bytes, then send none of it."""

    def answer(request: Request) -> None:
        request.send(200, b"", length=length)
        request.handler.wfile.flush()
        request.hold()

    return answer


def _names(headers: dict[str, str]) -> dict[str, str]:
    # keyword arguments cannot hold a dash: content_type -> Content-Type
    return {"-".join(p.capitalize() for p in k.split("_")): v for k, v in headers.items()}


@contextmanager
def serve() -> Iterator[Site]:
    site = Site()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            request = Request(self.path, dict(self.headers.items()), self, site.stopping)
            site.seen.append(request)
            answer = site.routes.get(self.path)
            if answer is None:
                request.send(404, b"not here")
                return
            # the client may hang up early, as it should on a refusal
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                answer(request)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, name="site", daemon=True)
    thread.start()
    site.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    try:
        yield site
    finally:
        site.stopping.set()
        httpd.shutdown()
        httpd.server_close()

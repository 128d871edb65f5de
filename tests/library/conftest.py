"""Fixtures of the library tests: the demo podcast served over HTTP, and small
real servers that misbehave the ways podcast hosts do."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from earmark.library.demo import DemoShow, build_demo, build_demo_show
from earmark.library.fileserver import FileServer
from earmark.sync.broker import free_port

from .servers import Site, serve


@pytest.fixture(scope="session")
def demo_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("demo")
    build_demo_show(folder)
    return folder


@pytest.fixture(scope="session")
def demo_show(demo_folder: Path) -> DemoShow:
    return build_demo_show(demo_folder)  # from the cache the first build left


@dataclass
class ServedDemo:
    server: FileServer
    show: DemoShow
    feed_url: str


@pytest.fixture
def served_demo(demo_folder: Path, demo_show: DemoShow) -> Iterator[ServedDemo]:
    with FileServer(demo_folder) as server:
        build_demo(demo_folder, server.base_url)
        yield ServedDemo(server, demo_show, server.url("feed.xml"))


@pytest.fixture
def refused_url() -> str:
    """An address where nothing listens: the connection is refused."""
    return f"http://127.0.0.1:{free_port()}/feed.xml"


@pytest.fixture
def silent_url() -> Iterator[str]:
    """A server that accepts the connection (the kernel's backlog does) and
    never answers."""
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(8)
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/feed.xml"


@dataclass
class CuttingServer:
    """Serves ``body`` at any path, honouring Range; the first ``cuts`` answers
    promise the whole body and hang up halfway, like a dropped connection."""

    body: bytes
    cuts: int = 1
    ranges: list[str | None] = field(default_factory=list)
    base_url: str = ""


@pytest.fixture
def cutting_server() -> Iterator[CuttingServer]:
    state = CuttingServer(body=bytes(range(256)) * 4096)  # 1 MiB

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            pass

        def do_GET(self) -> None:  # noqa: N802
            asked = self.headers.get("Range")
            state.ranges.append(asked)
            start = int(asked[len("bytes=") : -1]) if asked else 0
            body = state.body[start:]
            self.send_response(206 if asked else 200)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Accept-Ranges", "bytes")
            if asked:
                self.send_header(
                    "Content-Range", f"bytes {start}-{len(state.body) - 1}/{len(state.body)}"
                )
            self.end_headers()
            if state.cuts > 0:
                state.cuts -= 1
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                self.close_connection = True
                return
            self.wfile.write(body)

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    state.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    yield state
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    """A real HTTP server whose routes the test writes (see ``servers.py``)."""
    with serve() as served:
        yield served

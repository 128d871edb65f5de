"""A small HTTP file server that honours Range requests.

It serves the bundled demo podcast on the box (no internet needed) and is the
feed and episode server of the tests. It counts the bytes it sends, so a test
or benchmark can tell whether a far seek fetched the whole file.
"""

from __future__ import annotations

import os
import re
import socket
import threading
from http import HTTPStatus
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

_RANGE = re.compile(r"bytes=(\d*)-(\d*)$")


class FileServer:
    """Serve ``root`` on ``host:port`` (port 0 picks a free one) in a thread."""

    def __init__(
        self,
        root: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        honour_range: bool = True,
        send_buffer: int | None = None,
    ) -> None:
        """``send_buffer`` caps the kernel's send buffer (connections inherit it), so
        ``bytes_sent`` counts what a reader took, not megabytes queued locally."""
        self.root = Path(root)
        self.honour_range = honour_range
        self.bytes_sent = 0
        # by the reader's User-Agent: mpv's fetch and ffmpeg's ranged ones told apart
        self.bytes_by_agent: dict[str, int] = {}
        self._lock = threading.Lock()
        server = self

        class Handler(_RangeHandler):
            def __init__(self, *args: Any, **kwargs: Any) -> None:
                super().__init__(*args, directory=str(server.root), **kwargs)

            file_server = server

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        if send_buffer is not None:
            self._httpd.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="fileserver", daemon=True
        )

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, relative: str) -> str:
        return f"{self.base_url}/{relative.lstrip('/')}"

    def count(self, n: int, agent: str = "") -> None:
        with self._lock:
            self.bytes_sent += n
            self.bytes_by_agent[agent] = self.bytes_by_agent.get(agent, 0) + n

    def start(self) -> FileServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def __enter__(self) -> FileServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class _RangeHandler(SimpleHTTPRequestHandler):
    file_server: FileServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # the daemon logs events, not every request

    def do_GET(self) -> None:  # noqa: N802
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        size = path.stat().st_size
        start, end = 0, size - 1
        match = (
            _RANGE.match(self.headers.get("Range", "")) if self.file_server.honour_range else None
        )
        partial = False
        if match and (match.group(1) or match.group(2)):
            if match.group(1):
                start = int(match.group(1))
                end = int(match.group(2)) if match.group(2) else size - 1
            else:  # suffix range: the last N bytes
                start = max(0, size - int(match.group(2)))
            end = min(end, size - 1)
            if start >= size or start > end:
                self.send_response(HTTPStatus.REQUESTED_RANGE_NOT_SATISFIABLE)
                self.send_header("Content-Range", f"bytes */{size}")
                self.end_headers()
                return
            partial = True
        self.send_response(HTTPStatus.PARTIAL_CONTENT if partial else HTTPStatus.OK)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Length", str(end - start + 1))
        if self.file_server.honour_range:
            self.send_header("Accept-Ranges", "bytes")
        if partial:
            self.send_header("Content-Range", f"bytes {start}-{end}/{size}")
        self.end_headers()
        remaining = end - start + 1
        try:
            with path.open("rb") as f:
                f.seek(start)
                while remaining > 0:
                    chunk = f.read(min(65536, remaining))
                    if not chunk:
                        break
                    self.wfile.write(chunk)
                    self.file_server.count(len(chunk), self.headers.get("User-Agent", ""))
                    remaining -= len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # players close streams they no longer need

    def do_HEAD(self) -> None:  # noqa: N802
        path = Path(self.translate_path(self.path))
        if not path.is_file():
            self.send_error(HTTPStatus.NOT_FOUND)
            return
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", self.guess_type(str(path)))
        self.send_header("Content-Length", str(os.path.getsize(path)))
        if self.file_server.honour_range:
            self.send_header("Accept-Ranges", "bytes")
        self.end_headers()

"""Asking a server we do not trust for one address: the transport under
``download.py``.

Feeds, chapters, transcripts and enclosures come from the wild. Redirects are
followed by hand (http and https only, at most ten hops, no loops), a
``Clock`` bounds each silent gap and the whole fetch, and every failure is one
``DownloadError`` line. A ``file:`` address is opened only when the caller
allows it, and only if it is a regular file.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import stat
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from http.client import HTTPException, HTTPResponse
from typing import BinaryIO

from earmark import __version__
from earmark.errors import EarmarkError

log = logging.getLogger(__name__)

USER_AGENT = f"earmark/{__version__} (podcast speaker; +https://github.com/earmark)"
CHUNK = 64 * 1024
MAX_REDIRECTS = 10
_WEB = ("http", "https")
_PERMANENT = (301, 308)
_REDIRECTS = (301, 302, 303, 307, 308)
_MB = 1024 * 1024


class DownloadError(EarmarkError):
    """A document or episode file could not be fetched."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"cannot download {url}: {reason}")


class FeedGone(DownloadError):
    """The server says the address is gone for good (HTTP 410): unsubscribe,
    do not ask again."""


class RangeNotSatisfiable(EarmarkError):
    """The server has no more bytes for a resumed download (control flow, never shown)."""


def require_scheme(url: str, *, allow_file: bool) -> str:
    """``url``'s scheme if earmark may fetch it: http and https always,
    ``file`` only when allowed (the listener's own configured address)."""
    scheme = urllib.parse.urlsplit(url).scheme.lower()
    if scheme in _WEB or (allow_file and scheme == "file"):
        return scheme
    allowed = "an http, https or file" if allow_file else "an http or https"
    raise DownloadError(url, f"not {allowed} address")


def size_text(n: int) -> str:
    """``n`` bytes for a person: "64 MB", "500 kB", "12 bytes"."""
    if n >= _MB:
        return f"{round(n / _MB, 1):g} MB"
    if n >= 1024:
        return f"{round(n / 1024, 1):g} kB"
    return f"{n} bytes"


class Clock:
    """How long one fetch may take: ``timeout`` bounds connecting and each
    silent gap, ``deadline`` the whole fetch (None: no bound on the whole, for
    episode files that take as long as the line needs)."""

    def __init__(self, timeout: float, deadline: float | None = None) -> None:
        self.timeout = timeout
        self.deadline = deadline
        self._end = None if deadline is None else time.monotonic() + deadline

    def wait(self) -> float:
        """How long the next read may block; 0 or less once the deadline passed."""
        if self._end is None:
            return self.timeout
        return min(self.timeout, self._end - time.monotonic())

    def sent_only(self, received: int) -> str:
        return f"the server sent only {received} bytes in {self.deadline:g} s; try again later"


@dataclass(frozen=True)
class Opened:
    """The answer at the end of the redirects; ``response`` is None for a 304."""

    response: HTTPResponse | None
    url: str  # to store from now on: the last address if every hop was permanent
    final_url: str  # where the body comes from
    moved_permanently: bool


def open_web(url: str, headers: Mapping[str, str], clock: Clock) -> Opened:
    """Ask for ``url`` (http or https) and follow its redirects by hand.

    Raises ``FeedGone`` for 410, ``RangeNotSatisfiable`` for 416 and
    ``DownloadError`` for every other failure, redirect loops included.
    """
    current = url
    seen = {url}
    permanent = True
    for _hop in range(MAX_REDIRECTS + 1):
        answer = _ask(url, current, headers, clock)
        if isinstance(answer, HTTPResponse):
            return _opened(url, answer, current, permanent)
        code = answer.code
        if code == 304:
            return _opened(url, None, current, permanent)
        if code not in _REDIRECTS:
            raise _refusal(url, code, answer.reason)
        target = _redirect_target(url, current, code, answer.headers.get("Location"))
        if target in seen:
            raise DownloadError(url, f"redirect loop: {_short(target)} leads back to itself")
        seen.add(target)
        permanent = permanent and code in _PERMANENT
        log.debug("redirect url=%s status=%d to=%s", current, code, target)
        current = target
    raise DownloadError(url, f"redirect loop: more than {MAX_REDIRECTS} redirects")


def read_body(url: str, response: HTTPResponse, clock: Clock, hint: str = "") -> Iterator[bytes]:
    """The body as it arrives, cut off when the server falls silent for
    ``clock.timeout`` or the whole fetch outlives ``clock.deadline``; ``hint``
    ends the line of a dropped connection."""
    sock = _socket_of(response)
    received = 0
    while True:
        wait = clock.wait()
        if wait <= 0:
            raise DownloadError(url, clock.sent_only(received))
        if sock is not None:
            # OSError: the body is complete and http.client closed the socket
            with contextlib.suppress(OSError):
                sock.settimeout(wait)
        try:
            # read1: one recv at most, so a trickle cannot hold a read past the deadline
            chunk = response.read1(CHUNK)
        except TimeoutError:
            if wait < clock.timeout:  # the deadline, not the silence, cut this read
                raise DownloadError(url, clock.sent_only(received)) from None
            raise DownloadError(url, f"the server stopped sending{hint}") from None
        except (OSError, HTTPException) as exc:
            raise DownloadError(url, f"connection dropped ({why(exc)}){hint}") from None
        if not chunk:
            return
        received += len(chunk)
        yield chunk


def open_local(url: str, limit: int) -> tuple[BinaryIO, int]:
    """The regular file a ``file:`` address names, open, and its size; a
    device (``/dev/zero``), a pipe or a folder is refused before any read, and
    so is a file larger than ``limit``."""
    parts = urllib.parse.urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise DownloadError(url, "a file address must name a file on this box (file:///path)")
    path = urllib.request.url2pathname(parts.path)
    try:
        # O_NONBLOCK: opening a pipe must not wait for a writer
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY)
    except OSError as exc:
        raise DownloadError(url, why(exc)) from None
    try:
        info = os.fstat(fd)  # of what was opened, not of what the name pointed at before
        if not stat.S_ISREG(info.st_mode):
            raise DownloadError(url, "not a regular file (a device, a pipe or a folder)")
        if info.st_size > limit:
            raise DownloadError(url, f"larger than {size_text(limit)}")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb"), info.st_size
    except BaseException:
        os.close(fd)
        raise


class Inflater:
    """Undoes the Content-Encoding, never producing more than it is allowed
    to: a gzip bomb stops at the limit."""

    def __init__(self, url: str, encoding: str | None) -> None:
        self.url = url
        self.encoding = (encoding or "identity").strip().lower()
        bits = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS}
        bits["deflate"] = zlib.MAX_WBITS  # zlib-wrapped, as the RFC says; raw is tried too
        if self.encoding not in (*bits, "identity"):
            raise DownloadError(url, f"the server sent it encoded as {self.encoding!r}")
        self._z = zlib.decompressobj(bits[self.encoding]) if self.encoding in bits else None
        self._sure = self.encoding != "deflate"  # of the format, once a first chunk decoded

    def take(self, data: bytes, room: int) -> bytes:
        """``data`` decoded, at most ``room`` bytes of it (``room`` > 0)."""
        if self._z is None:
            return data
        try:
            out = self._z.decompress(data, room)
        except zlib.error:
            if self._sure:
                raise DownloadError(self.url, f"the {self.encoding} body is corrupt") from None
            self._sure = True
            self._z = zlib.decompressobj(-zlib.MAX_WBITS)  # raw deflate, as some servers send
            return self.take(data, room)
        self._sure = True
        return out

    def end(self, room: int) -> bytes:
        if self._z is None:
            return b""
        rest = self._z.flush(room)
        if not self._z.eof:
            raise DownloadError(self.url, "the compressed body ends early; try again")
        return rest


def why(reason: object) -> str:
    """A network or file failure as a few words a listener can act on."""
    if isinstance(reason, socket.gaierror):
        return "cannot find that host; check the address and the network"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused; is the server running?"
    if isinstance(reason, TimeoutError):
        return "no answer in time"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason).splitlines()[0] if str(reason) else type(reason).__name__


# http and https only: no file, ftp or data handler, and no redirect handler, so
# every 3xx comes back to open_web as an HTTPError to judge
_OPENER = urllib.request.OpenerDirector()
for _handler in (
    urllib.request.ProxyHandler(),
    urllib.request.UnknownHandler(),
    urllib.request.HTTPHandler(),
    urllib.request.HTTPSHandler(),
    urllib.request.HTTPDefaultErrorHandler(),
    urllib.request.HTTPErrorProcessor(),
):
    _OPENER.add_handler(_handler)


def _ask(
    url: str, current: str, headers: Mapping[str, str], clock: Clock
) -> HTTPResponse | urllib.error.HTTPError:
    """One request; a 2xx answer open, any other status closed."""
    wait = clock.wait()
    if wait <= 0:
        raise DownloadError(url, f"no answer within {clock.deadline:g} s")
    request = urllib.request.Request(current, headers={**headers, "User-Agent": USER_AGENT})
    try:
        response: HTTPResponse = _OPENER.open(request, timeout=wait)
    except urllib.error.HTTPError as exc:
        exc.close()
        return exc
    except urllib.error.URLError as exc:
        raise DownloadError(url, why(exc.reason)) from None
    except TimeoutError:
        raise DownloadError(url, f"no answer within {wait:g} s") from None
    except (OSError, HTTPException, ValueError) as exc:
        raise DownloadError(url, why(exc)) from None
    return response


def _opened(url: str, response: HTTPResponse | None, final: str, permanent: bool) -> Opened:
    moved = permanent and final != url
    if moved:
        log.info("address moved permanently url=%s to=%s", url, final)
    return Opened(response, final if moved else url, final, moved)


def _redirect_target(url: str, current: str, code: int, location: str | None) -> str:
    if not location:
        raise DownloadError(url, f"the server answered HTTP {code} without saying where to")
    target = urllib.parse.urljoin(current, location.strip())
    scheme = urllib.parse.urlsplit(target).scheme.lower()
    if scheme not in _WEB:
        raise DownloadError(url, f"the server redirected to a {scheme or 'schemeless'} address")
    return urllib.parse.urldefrag(target).url


def _refusal(url: str, code: int, reason: str) -> EarmarkError:
    if code == 410:
        return FeedGone(url, "the server says it is gone for good (HTTP 410); stop asking for it")
    if code == 416:
        return RangeNotSatisfiable()
    return DownloadError(url, f"the server answered HTTP {code} {_short(str(reason))}".rstrip())


def _short(text: str, most: int = 100) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def _socket_of(response: HTTPResponse) -> socket.socket | None:
    # http.client keeps the socket behind its buffered file; it is the only way
    # to shorten one read's wait to what is left of the deadline
    sock = getattr(getattr(response.fp, "raw", None), "_sock", None)
    return sock if isinstance(sock, socket.socket) else None

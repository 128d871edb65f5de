"""Getting bytes from the network: small documents (feeds, chapters,
transcripts) into memory, episode files onto disk.

An episode is streamed to ``<name>.part`` and renamed when complete, so the
final name only ever holds a whole file; an interrupted download resumes with
a Range request when the server allows it.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from http.client import HTTPException, HTTPResponse
from pathlib import Path
from typing import BinaryIO

from earmark import __version__
from earmark.errors import EarmarkError

log = logging.getLogger(__name__)

USER_AGENT = f"earmark/{__version__} (podcast speaker)"
CHUNK = 64 * 1024
_CONTENT_RANGE = re.compile(r"bytes (\d+)-\d+/(\d+|\*)")
_SCHEMES = ("http", "https", "file")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")

# The seam where bytes reach the disk; tests put a full disk behind it.
WriteChunk = Callable[[BinaryIO, bytes], object]


class DownloadError(EarmarkError):
    """A document or episode file could not be fetched."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__(f"cannot download {url}: {reason}")


def fetch_bytes(url: str, *, timeout: float = 30.0, limit: int = 50 * 1024 * 1024) -> bytes:
    """The body at ``url`` (http, https or file), at most ``limit`` bytes."""
    with _open(url, timeout) as response:
        data = _read(url, response, limit + 1)
    if len(data) > limit:
        raise DownloadError(url, f"larger than {limit // (1024 * 1024)} MB; is this a feed?")
    return data


def download(
    url: str,
    folder: Path,
    *,
    name: str | None = None,
    timeout: float = 30.0,
    write_chunk: WriteChunk | None = None,
) -> Path:
    """Download ``url`` into ``folder`` as ``name`` (default: from the URL) and
    return the file's path; resume a previous partial download if possible.

    ``timeout`` is how long the server may stay silent, not the whole transfer.
    """
    if name is not None and Path(name).name != name:
        raise ValueError(f"download name must be a plain file name, not {name!r}")
    final = folder / (name or file_name(url))
    if final.exists():
        return final
    part = final.with_name(final.name + ".part")
    write = write_chunk or _write
    have = part.stat().st_size if part.exists() else 0
    request = _request(url)
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        with _open(request, timeout) as response:
            have, total = _resume_point(url, response, have)
            try:
                folder.mkdir(parents=True, exist_ok=True)
                with part.open("ab" if have else "wb") as out:
                    received = _copy(url, response, out, write)
            except OSError as exc:  # network errors became DownloadError in _copy
                raise _disk_error(url, part, exc) from None
    except _RangeNotSatisfiable:
        if not have:
            raise DownloadError(url, "the server refused to send the file (HTTP 416)") from None
        # the part is no prefix of what the server has now, or the server cannot
        # send the rest we asked for: start over rather than guess
        part.unlink(missing_ok=True)
        return download(url, folder, name=name, timeout=timeout, write_chunk=write_chunk)
    size = have + received
    if total is not None and size < total:
        raise DownloadError(
            url, f"connection dropped after {size} of {total} bytes; try again to resume"
        )
    os.replace(part, final)
    log.info("episode downloaded url=%s file=%s bytes=%d resumed_from=%d", url, final, size, have)
    return final


def file_name(url: str) -> str:
    """A safe local file name from the last part of ``url``'s path."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    base = _UNSAFE.sub("-", path.rsplit("/", 1)[-1]).strip(".-")
    return base[-120:] or "episode"


class _RangeNotSatisfiable(EarmarkError):
    """The server has no more bytes for a resumed download (control flow, never shown)."""


def _resume_point(url: str, response: HTTPResponse, have: int) -> tuple[int, int | None]:
    """Where the body starts in the file (0 when the server sent it all), and
    the whole file's size if known."""
    length = response.headers.get("Content-Length")
    if response.status == 206 and have:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if match and int(match.group(1)) == have:
            total = None if match.group(2) == "*" else int(match.group(2))
            log.info("download resumed url=%s from=%d", url, have)
            return have, total
        raise _RangeNotSatisfiable  # not the range we asked for: start over
    if have:
        log.info("download restarted url=%s reason=server ignored Range", url)
    return 0, int(length) if length and length.isdigit() else None


def _copy(url: str, response: HTTPResponse, out: BinaryIO, write_chunk: WriteChunk) -> int:
    received = 0
    while True:
        try:
            chunk = response.read(CHUNK)
        except TimeoutError:
            # what arrived stays in the part file, for the resume
            raise DownloadError(url, "the server stopped sending; try again to resume") from None
        except (OSError, HTTPException) as exc:
            raise DownloadError(
                url, f"connection dropped ({_why(exc)}); try again to resume"
            ) from None
        if not chunk:
            return received
        write_chunk(out, chunk)
        received += len(chunk)


def _disk_error(url: str, part: Path, exc: OSError) -> DownloadError:
    if exc.errno == errno.ENOSPC:
        # a half file would only hold on to the space the box has run out of
        part.unlink(missing_ok=True)
        return DownloadError(
            url,
            f"disk full in {part.parent}; free some space (delete played episodes) and try again",
        )
    return DownloadError(url, f"cannot write {part}: {exc.strerror or exc}")


def _write(out: BinaryIO, chunk: bytes) -> None:
    out.write(chunk)


def _request(url: str) -> urllib.request.Request:
    if urllib.parse.urlsplit(url).scheme.lower() not in _SCHEMES:
        raise DownloadError(url, "not an http, https or file address")
    # no Accept-Encoding: urllib does not undo gzip, and audio does not shrink anyway
    return urllib.request.Request(url, headers={"User-Agent": USER_AGENT})


def _open(request: str | urllib.request.Request, timeout: float) -> HTTPResponse:
    if isinstance(request, str):
        request = _request(request)
    url = request.full_url
    try:
        response: HTTPResponse = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code == 416:
            raise _RangeNotSatisfiable from None
        raise DownloadError(url, f"the server answered HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise DownloadError(url, _why(exc.reason)) from None
    except TimeoutError:
        raise DownloadError(url, f"no answer within {timeout:g} s") from None
    except (OSError, HTTPException, ValueError) as exc:
        raise DownloadError(url, _why(exc)) from None
    return response


def _read(url: str, response: HTTPResponse, limit: int) -> bytes:
    try:
        return response.read(limit)
    except TimeoutError:
        raise DownloadError(url, "the server stopped sending") from None
    except (OSError, HTTPException) as exc:
        raise DownloadError(url, f"connection dropped ({_why(exc)})") from None


def _why(reason: object) -> str:
    if isinstance(reason, socket.gaierror):
        return "cannot find that host; check the address and the network"
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused; is the server running?"
    if isinstance(reason, TimeoutError):
        return "no answer in time"
    if isinstance(reason, OSError) and reason.strerror:
        return reason.strerror
    return str(reason) or type(reason).__name__

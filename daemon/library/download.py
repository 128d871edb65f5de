"""Getting bytes from the network: documents (feeds, chapters, transcripts)
into memory or a file, episode files onto disk.

A document is asked for with its validators (a 304 costs nothing), gzip is
undone within the size limit, and the address to store follows permanent
redirects only. An episode is streamed to ``<name>.part`` and renamed when
complete, so the final name only ever holds a whole file; an interrupted
download resumes with a Range request when the server allows it.
``http.py`` is the transport under both.
"""

from __future__ import annotations

import errno
import logging
import os
import re
import tempfile
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.client import HTTPResponse
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from earmark.library.http import (
    CHUNK,
    USER_AGENT,
    Clock,
    DownloadError,
    FeedGone,
    Inflater,
    RangeNotSatisfiable,
    open_local,
    open_web,
    read_body,
    require_scheme,
    size_text,
)

__all__ = [
    "USER_AGENT",
    "DownloadError",
    "DownloadStopped",
    "FeedGone",
    "Fetched",
    "Validators",
    "download",
    "extension",
    "fetch_bytes",
    "fetch_document",
    "file_name",
]

log = logging.getLogger(__name__)

_CONTENT_RANGE = re.compile(r"bytes (\d+)-\d+/(\d+|\*)")
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
_SUFFIX = re.compile(r"[a-z0-9]{1,5}")
# a short suffix that names the page that served the file, not the file
_PAGE_SUFFIXES = frozenset({"php", "asp", "aspx", "jsp", "cgi", "pl", "htm", "html"})
_AUDIO_SUFFIXES = {
    mime: suffix
    for suffix, mimes in {
        ".mp3": "audio/mpeg audio/mp3 audio/mpeg3 audio/x-mpeg",
        ".m4a": "audio/mp4 audio/x-m4a audio/m4a",
        ".ogg": "audio/ogg",
        ".opus": "audio/opus",
        ".aac": "audio/aac",
        ".wav": "audio/wav audio/x-wav audio/wave",
        ".mp4": "video/mp4",
    }.items()
    for mime in mimes.split()
}
_PROGRESS_EVERY = 0.1  # seconds: at most ten reports a second

# The seam where bytes reach the disk; tests put a full disk behind it.
WriteChunk = Callable[[BinaryIO, bytes], object]
# bytes of the file so far, and its whole size if the server said it
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class Validators:
    """What the server said identifies the version we have (ETag,
    Last-Modified); sent back, they let it answer 304 Not Modified."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        asked = {"If-None-Match": self.etag, "If-Modified-Since": self.last_modified}
        return {name: value for name, value in asked.items() if value}


@dataclass(frozen=True)
class Fetched:
    """One fetched document."""

    url: str  # to store from now on: the new address only if every redirect was permanent
    final_url: str  # where the body came from, to resolve relative URLs against
    body: bytes | None  # None when written to ``path`` or not modified
    path: Path | None
    validators: Validators
    not_modified: bool
    moved_permanently: bool
    content_type: str | None  # the header as sent, charset parameter included


def fetch_document(
    url: str,
    *,
    validators: Validators | None = None,
    timeout: float = 10.0,
    deadline: float = 60.0,
    limit: int = 64 * 1024 * 1024,
    allow_file: bool = False,
    into: Path | None = None,
) -> Fetched:
    """Fetch the document at ``url`` (http or https; ``file:`` too when
    ``allow_file``), at most ``limit`` bytes after decompression, within
    ``deadline`` seconds in all; into the file ``into`` (whole or not at all)
    when given, else into memory."""
    if require_scheme(url, allow_file=allow_file) == "file":
        return _fetch_file(url, limit, into)
    clock = Clock(timeout, deadline)
    headers = {"Accept-Encoding": "gzip, deflate"}
    if validators is not None:
        headers.update(validators.headers())
    opened = open_web(url, headers, clock)
    if opened.response is None:
        if validators is None or not validators.headers():
            raise DownloadError(url, "the server answered HTTP 304 to a question not asked")
        log.debug("document not modified url=%s", url)
        return Fetched(
            url=opened.url,
            final_url=opened.final_url,
            body=None,
            path=None,
            validators=validators,
            not_modified=True,
            moved_permanently=opened.moved_permanently,
            content_type=None,
        )
    with opened.response as response:
        length = _content_length(response)
        if length is not None and length > limit:
            raise DownloadError(url, f"larger than {size_text(limit)}")
        inflate = Inflater(url, response.headers.get("Content-Encoding"))
        with _sink(url, into) as sink:
            wire = 0
            for chunk in read_body(url, response, clock):
                wire += len(chunk)
                sink.add(inflate.take(chunk, limit + 1 - sink.size), limit)
            sink.add(inflate.end(limit + 1 - sink.size), limit)
            if length is not None and wire < length:
                raise DownloadError(
                    url, f"connection dropped after {wire} of {length} bytes; try again"
                )
            body = sink.finish()
        got = Validators(response.headers.get("ETag"), response.headers.get("Last-Modified"))
        return Fetched(
            url=opened.url,
            final_url=opened.final_url,
            body=body,
            path=into,
            validators=got,
            not_modified=False,
            moved_permanently=opened.moved_permanently,
            content_type=response.headers.get("Content-Type"),
        )


def fetch_bytes(
    url: str,
    *,
    timeout: float = 30.0,
    deadline: float = 120.0,
    limit: int = 50 * 1024 * 1024,
    allow_file: bool = True,
) -> bytes:
    """The body at ``url``, at most ``limit`` bytes.

    ``allow_file`` is True for now because today's callers read the listener's
    own feed addresses (and the tests' ``file:`` feeds) through here; the
    library will pass False for every URL read from a feed (chapters,
    transcripts), which must never open a file on the box.
    """
    # a longer deadline than fetch_document's: callers pass a 30 s silence
    fetched = fetch_document(
        url, timeout=timeout, deadline=deadline, limit=limit, allow_file=allow_file
    )
    return fetched.body or b""


def download(
    url: str,
    folder: Path,
    *,
    name: str | None = None,
    timeout: float = 30.0,
    max_bytes: int | None = None,
    allow_file: bool = False,
    progress: Progress | None = None,
    write_chunk: WriteChunk | None = None,
    stop: threading.Event | None = None,
) -> Path:
    """Download ``url`` into ``folder`` as ``name`` (default: from the URL) and
    return the file's path; resume a previous partial download if possible.

    ``timeout`` is how long the server may stay silent, not the whole transfer.
    An enclosure read from a feed is http(s) only: ``file:`` needs
    ``allow_file``. A file larger than ``max_bytes`` is refused and nothing of
    it kept. ``progress`` hears (bytes so far, whole size if known) at most ten
    times a second, and once at the end. Once ``stop`` is set the download
    ends at its next chunk with ``DownloadStopped``, its part file kept to resume.
    """
    scheme = require_scheme(url, allow_file=allow_file)
    if name is not None and Path(name).name != name:
        raise ValueError(f"download name must be a plain file name, not {name!r}")
    final = folder / (name or file_name(url))
    if final.exists():
        return final
    part = final.with_name(final.name + ".part")
    have = part.stat().st_size if part.exists() else 0
    report = _Reporter(progress)
    try:
        opener = _open_local if scheme == "file" else _open_episode
        with opener(url, have, timeout, max_bytes) as (start, total, chunks):
            report.total = total
            try:
                folder.mkdir(parents=True, exist_ok=True)
                with part.open("ab" if start else "wb") as out:
                    size = _receive(
                        url, chunks, out, write_chunk or _write, start, max_bytes, report, stop
                    )
            except OSError as exc:  # network errors became DownloadError in read_body
                raise _disk_error(url, part, exc) from None
    except RangeNotSatisfiable:
        if not have:
            raise DownloadError(url, "the server refused to send the file (HTTP 416)") from None
        # the part is no prefix of what the server has now, or the server cannot
        # send the rest we asked for: start over rather than guess
        part.unlink(missing_ok=True)
        return download(
            url,
            folder,
            name=name,
            timeout=timeout,
            max_bytes=max_bytes,
            allow_file=allow_file,
            progress=progress,
            write_chunk=write_chunk,
            stop=stop,
        )
    except _TooLarge:
        part.unlink(missing_ok=True)  # a refused file keeps no bytes on the box
        raise
    if total is not None and size < total:
        raise DownloadError(
            url, f"connection dropped after {size} of {total} bytes; try again to resume"
        )
    report(size, last=True)
    os.replace(part, final)
    log.info("episode downloaded url=%s file=%s bytes=%d resumed_from=%d", url, final, size, start)
    return final


def file_name(url: str) -> str:
    """A safe local file name from the last part of ``url``'s path."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    base = _UNSAFE.sub("-", path.rsplit("/", 1)[-1]).strip(".-")
    return base[-120:] or "episode"


def extension(url: str, mime_type: str | None) -> str:
    """A safe file extension for an episode: the URL path's suffix when it is a
    short alphanumeric one (and not a web page's, like ``.php``), else one for
    the MIME type, else ".audio"."""
    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path)
    suffix = PurePosixPath(path).suffix[1:].lower()
    if _SUFFIX.fullmatch(suffix) and suffix not in _PAGE_SUFFIXES:
        return f".{suffix}"
    mime = (mime_type or "").split(";", 1)[0].strip().lower()
    return _AUDIO_SUFFIXES.get(mime, ".audio")


class DownloadStopped(DownloadError):
    """The speaker is stopping: the download ends, its part file kept to resume."""


class _TooLarge(DownloadError):
    """A file over its size limit (its part file is deleted on the way out)."""


# -- documents ---------------------------------------------------------------


def _fetch_file(url: str, limit: int, into: Path | None) -> Fetched:
    stream, _size = open_local(url, limit)
    with stream, _sink(url, into) as sink:
        try:
            while chunk := stream.read(CHUNK):
                sink.add(chunk, limit)  # the file may have grown since it was opened
        except OSError as exc:
            raise DownloadError(url, f"cannot read it ({exc.strerror or exc})") from None
        body = sink.finish()
    return Fetched(
        url=url,
        final_url=url,
        body=body,
        path=into,
        validators=Validators(),
        not_modified=False,
        moved_permanently=False,
        content_type=None,
    )


class _Sink:
    """Where a document's bytes go: memory, or a temporary file beside ``into``
    renamed onto it by ``finish``."""

    def __init__(self, url: str, into: Path | None) -> None:
        self.url = url
        self.into = into
        self.size = 0
        self._memory = bytearray()
        self._out: BinaryIO | None = None
        self._temp: Path | None = None
        if into is not None:
            into.parent.mkdir(parents=True, exist_ok=True)
            fd, temp = tempfile.mkstemp(dir=into.parent, prefix=f".{into.name}.", suffix=".tmp")
            self._out, self._temp = os.fdopen(fd, "wb"), Path(temp)

    def add(self, data: bytes, limit: int) -> None:
        self.size += len(data)
        if self.size > limit:
            raise DownloadError(self.url, f"larger than {size_text(limit)}")
        if self._out is None:
            self._memory += data
        else:
            self._out.write(data)

    def finish(self) -> bytes | None:
        if self._out is None:
            return bytes(self._memory)
        assert self._temp is not None and self.into is not None
        self._out.flush()
        os.fsync(self._out.fileno())  # whole on disk before the name points at it
        self._out.close()
        os.replace(self._temp, self.into)
        self._temp = None
        return None

    def discard(self) -> None:
        if self._out is not None:
            self._out.close()
        if self._temp is not None:
            self._temp.unlink(missing_ok=True)


@contextmanager
def _sink(url: str, into: Path | None) -> Iterator[_Sink]:
    try:
        sink = _Sink(url, into)
    except OSError as exc:
        raise DownloadError(url, f"cannot write beside {into}: {exc.strerror or exc}") from None
    try:
        yield sink
    except OSError as exc:  # the network's errors arrive as DownloadError
        raise DownloadError(url, _disk_reason(into or Path("."), exc)) from None
    finally:
        sink.discard()


def _content_length(response: HTTPResponse) -> int | None:
    length = response.headers.get("Content-Length", "").strip()
    return int(length) if length.isdigit() else None


# -- episodes ----------------------------------------------------------------

_Source = tuple[int, int | None, Iterator[bytes]]


@contextmanager
def _open_episode(url: str, have: int, timeout: float, max_bytes: int | None) -> Iterator[_Source]:
    """Where the body starts in the file, the file's whole size if known, and
    the body's chunks."""
    headers = {"Range": f"bytes={have}-"} if have else {}
    clock = Clock(timeout)  # no deadline: an episode takes as long as the line needs
    opened = open_web(url, headers, clock)
    if opened.response is None:
        raise DownloadError(url, "the server answered HTTP 304 to a question not asked")
    with opened.response as response:
        start, total = _resume_point(url, response, have)
        if max_bytes is not None and total is not None and total > max_bytes:
            raise _TooLarge(url, _over(max_bytes, total))
        yield start, total, read_body(url, response, clock, "; try again to resume")


@contextmanager
def _open_local(url: str, have: int, timeout: float, max_bytes: int | None) -> Iterator[_Source]:
    stream, size = open_local(url, limit=1 << 62)
    with stream:
        if max_bytes is not None and size > max_bytes:
            raise _TooLarge(url, _over(max_bytes, size))
        yield 0, size, iter(lambda: stream.read(CHUNK), b"")


def _over(max_bytes: int, total: int | None) -> str:
    size = f" ({size_text(total)})" if total is not None else ""
    return f"larger{size} than {size_text(max_bytes)}, the most earmark keeps of one episode"


def _receive(
    url: str,
    chunks: Iterator[bytes],
    out: BinaryIO,
    write: WriteChunk,
    start: int,
    max_bytes: int | None,
    report: _Reporter,
    stop: threading.Event | None = None,
) -> int:
    size = start
    for chunk in chunks:
        if stop is not None and stop.is_set():
            out.flush()
            raise DownloadStopped(url, f"stopped after {size} bytes; it resumes at the next start")
        size += len(chunk)
        if max_bytes is not None and size > max_bytes:
            raise _TooLarge(url, _over(max_bytes, None))
        write(out, chunk)
        report(size)
    return size


class _Reporter:
    """Tells ``progress`` how far the download is, at most ten times a second."""

    def __init__(self, progress: Progress | None) -> None:
        self.progress = progress
        self.total: int | None = None
        self._last = float("-inf")

    def __call__(self, size: int, last: bool = False) -> None:
        now = time.monotonic()
        if self.progress is not None and (last or now - self._last >= _PROGRESS_EVERY):
            self._last = now
            self.progress(size, self.total)


def _resume_point(url: str, response: HTTPResponse, have: int) -> tuple[int, int | None]:
    """Where the body starts in the file (0 when the server sent it all), and
    the whole file's size if known."""
    if response.status == 206 and have:
        match = _CONTENT_RANGE.match(response.headers.get("Content-Range", ""))
        if match and int(match.group(1)) == have:
            total = None if match.group(2) == "*" else int(match.group(2))
            log.info("download resumed url=%s from=%d", url, have)
            return have, total
        raise RangeNotSatisfiable  # not the range we asked for: start over
    if have:
        log.info("download restarted url=%s reason=server ignored Range", url)
    return 0, _content_length(response)


def _disk_error(url: str, part: Path, exc: OSError) -> DownloadError:
    if exc.errno == errno.ENOSPC:
        # a half file would only hold on to the space the box has run out of
        part.unlink(missing_ok=True)
    return DownloadError(url, _disk_reason(part, exc))


def _disk_reason(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ENOSPC:
        return f"disk full in {path.parent}; free some space (delete played episodes) and try again"
    return f"cannot write {path}: {exc.strerror or exc}"


def _write(out: BinaryIO, chunk: bytes) -> None:
    out.write(chunk)

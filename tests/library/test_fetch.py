"""Fetching documents (feeds, chapters, transcripts) from servers we do not
trust: validators, compression, redirects, limits, deadlines and schemes,
each against a real local HTTP server."""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import pytest

from earmark import __version__
from earmark.library.download import (
    DownloadError,
    FeedGone,
    Validators,
    fetch_bytes,
    fetch_document,
)

from .servers import Answer, Request, Site, body, promise, redirect, trickle

FEED = b"<?xml version='1.0'?><rss version='2.0'><channel><title>Trains</title></channel></rss>"
MB = 1024 * 1024


def one_line(error: pytest.ExceptionInfo[BaseException]) -> str:
    message = str(error.value)
    assert "\n" not in message
    # no chained traceback behind it
    chained = error.value.__context__ is not None and not error.value.__suppress_context__
    assert error.value.__cause__ is None and not chained
    return message


def conditional(etag: str | None = None, last_modified: str | None = None) -> Answer:
    """A feed that answers 304 when the client sends back its validators."""

    def answer(request: Request) -> None:
        if (etag and request.headers.get("If-None-Match") == etag) or (
            last_modified and request.headers.get("If-Modified-Since") == last_modified
        ):
            request.send(304)
            return
        headers = {"ETag": etag} if etag else {"Last-Modified": last_modified or ""}
        request.send(200, FEED, headers)

    return answer


def test_a_matching_etag_is_not_modified(site: Site) -> None:
    url = site.on("feed.xml", conditional(etag='"v1"'))
    first = fetch_document(url, timeout=5)
    assert first.body == FEED and first.validators == Validators('"v1"', None)

    again = fetch_document(url, validators=first.validators, timeout=5)
    assert site.asked("feed.xml")[1]["If-None-Match"] == '"v1"'
    assert again.not_modified and again.body is None and again.path is None
    assert again.validators == first.validators and again.url == url


def test_an_unchanged_last_modified_is_not_modified(site: Site) -> None:
    stamp = "Wed, 21 Oct 2026 07:28:00 GMT"
    url = site.on("feed.xml", conditional(last_modified=stamp))
    first = fetch_document(url, timeout=5)
    assert first.validators == Validators(None, stamp)

    again = fetch_document(url, validators=first.validators, timeout=5)
    asked = site.asked("feed.xml")
    assert "If-Modified-Since" not in asked[0]
    assert asked[1]["If-Modified-Since"] == stamp and "If-None-Match" not in asked[1]
    assert again.not_modified and again.body is None


def test_the_user_agent_names_earmark_and_its_version(site: Site) -> None:
    fetch_document(site.on("feed.xml", body(FEED)), timeout=5)
    agent = site.asked("feed.xml")[0]["User-Agent"]
    assert agent.startswith(f"earmark/{__version__} ")


def test_a_gzipped_body_is_decoded_and_its_charset_kept(site: Site) -> None:
    packed = gzip.compress(FEED * 100)
    url = site.on(
        "feed.xml",
        body(packed, content_encoding="gzip", content_type="application/rss+xml; charset=latin-1"),
    )
    fetched = fetch_document(url, timeout=5)
    assert "gzip" in site.asked("feed.xml")[0]["Accept-Encoding"]
    assert fetched.body == FEED * 100
    assert fetched.content_type == "application/rss+xml; charset=latin-1"


@pytest.mark.parametrize("wrapped", [True, False], ids=["zlib", "raw"])
def test_a_deflated_body_is_decoded(site: Site, wrapped: bool) -> None:
    packer = zlib.compressobj(wbits=zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS)
    packed = packer.compress(FEED * 100) + packer.flush()
    url = site.on("feed.xml", body(packed, content_encoding="deflate"))
    assert fetch_document(url, timeout=5).body == FEED * 100


def test_a_gzip_bomb_is_refused_at_the_limit(site: Site) -> None:
    bomb = gzip.compress(bytes(20 * MB))
    assert len(bomb) < MB  # only the decompressed size is over the limit
    url = site.on("feed.xml", body(bomb, content_encoding="gzip"))
    with pytest.raises(DownloadError) as error:
        fetch_document(url, timeout=5, limit=MB)
    assert "larger than 1 MB" in one_line(error)


def test_a_cut_off_gzip_body_is_an_error(site: Site) -> None:
    packed = gzip.compress(os.urandom(50_000))
    url = site.on("feed.xml", body(packed[: len(packed) // 2], content_encoding="gzip"))
    with pytest.raises(DownloadError) as error:
        fetch_document(url, timeout=5)
    assert "ends early" in one_line(error)


def chain(site: Site, statuses: list[int]) -> tuple[str, str]:
    """Hops with these statuses, then the feed; the first and the last address."""
    final = site.on("final.xml", body(FEED))
    target = final
    for hop, status in reversed(list(enumerate(statuses))):
        target = site.on(f"hop{hop}.xml", redirect(status, target))
    return target, final


@pytest.mark.parametrize(
    ("statuses", "moved"),
    [
        ([301], True),
        ([308], True),
        ([301, 308, 301], True),
        ([302], False),
        ([303], False),
        ([307], False),
        ([301, 302], False),
        ([302, 301], False),
    ],
)
def test_only_permanent_redirects_change_the_stored_address(
    site: Site, statuses: list[int], moved: bool
) -> None:
    first, final = chain(site, statuses)
    fetched = fetch_document(first, timeout=5)
    assert fetched.body == FEED and fetched.final_url == final
    assert fetched.moved_permanently is moved
    assert fetched.url == (final if moved else first)


def test_relative_redirects_are_followed(site: Site) -> None:
    site.on("new/feed.xml", body(FEED))
    url = site.on("old/feed.xml", redirect(301, "../new/feed.xml"))
    fetched = fetch_document(url, timeout=5)
    assert fetched.body == FEED and fetched.url == site.url("new/feed.xml")


def test_a_redirect_loop_is_one_error(site: Site) -> None:
    site.on("a.xml", redirect(302, site.url("b.xml")))
    site.on("b.xml", redirect(301, site.url("a.xml")))
    with pytest.raises(DownloadError) as error:
        fetch_document(site.url("a.xml"), timeout=5)
    assert "redirect loop" in one_line(error)
    assert len(site.seen) == 2


def test_more_than_ten_redirects_is_one_error(site: Site) -> None:
    first, _final = chain(site, [301] * 11)
    with pytest.raises(DownloadError) as error:
        fetch_document(first, timeout=5)
    assert "redirect loop" in one_line(error)
    assert not site.asked("final.xml")


def test_ten_redirects_are_followed(site: Site) -> None:
    first, final = chain(site, [301] * 10)
    assert fetch_document(first, timeout=5).url == final


@pytest.mark.parametrize("target", ["file:///etc/passwd", "ftp://example.org/feed.xml"])
def test_a_redirect_away_from_the_web_is_refused(site: Site, target: str) -> None:
    url = site.on("feed.xml", redirect(302, target))
    with pytest.raises(DownloadError) as error:
        fetch_document(url, timeout=5, allow_file=True)
    assert "redirected to a" in one_line(error)


def test_410_means_the_feed_is_gone_for_good(site: Site) -> None:
    url = site.on("feed.xml", body(b"gone", status=410))
    with pytest.raises(FeedGone) as error:
        fetch_document(url, timeout=5)
    assert "gone for good" in one_line(error)


@pytest.mark.parametrize("status", [404, 500])
def test_http_errors_are_one_line(site: Site, status: int) -> None:
    url = site.on("feed.xml", body(b"oops", status=status))
    with pytest.raises(DownloadError) as error:
        fetch_document(url, timeout=5)
    assert not isinstance(error.value, FeedGone)
    assert f"HTTP {status} " in one_line(error)


def test_a_trickling_server_is_cut_off_at_the_deadline(site: Site) -> None:
    url = site.on("feed.xml", trickle(FEED * 10, every=0.05))
    with pytest.raises(DownloadError) as error:
        fetch_document(url, timeout=1, deadline=2)
    message = one_line(error)
    assert "the server sent only " in message and " bytes in 2 s" in message
    sent = int(message.split("sent only ")[1].split()[0])
    assert 0 < sent < len(FEED * 10)


def test_a_silent_server_is_cut_off_at_the_deadline_not_the_timeout(site: Site) -> None:
    # silent after the headers; a read that waited for the timeout would outlast
    # the test's own time limit (pytest-timeout) and fail it
    url = site.on("feed.xml", promise(len(FEED)))
    with pytest.raises(DownloadError) as error:
        fetch_document(url, timeout=3600, deadline=2)
    assert "the server sent only 0 bytes in 2 s" in one_line(error)


def test_a_content_length_over_the_limit_is_refused_before_the_body(site: Site) -> None:
    # the server never sends the body: a client that waited for it would time out
    url = site.on("feed.xml", promise(100 * MB))
    with pytest.raises(DownloadError) as error:
        fetch_document(url, timeout=5, limit=MB)
    assert "larger than 1 MB" in one_line(error)


def test_a_body_over_the_limit_is_refused_while_streaming(site: Site) -> None:
    url = site.on("feed.xml", lambda request: request.send(200, bytes(2 * MB), length=-1))
    with pytest.raises(DownloadError) as error:
        fetch_document(url, timeout=5, limit=MB)
    assert "larger than 1 MB" in one_line(error)


def test_a_body_shorter_than_promised_is_an_error(site: Site) -> None:
    url = site.on("feed.xml", lambda request: request.send(200, FEED, length=len(FEED) * 2))
    with pytest.raises(DownloadError) as error:
        fetch_document(url, timeout=5)
    assert f"connection dropped after {len(FEED)} of {len(FEED) * 2} bytes" in one_line(error)


def test_into_writes_the_whole_document_under_its_name(site: Site, tmp_path: Path) -> None:
    url = site.on("feed.xml", body(FEED * 1000))
    into = tmp_path / "cache" / "feed.xml"
    fetched = fetch_document(url, timeout=5, into=into)
    assert fetched.path == into and fetched.body is None
    assert into.read_bytes() == FEED * 1000
    assert list(into.parent.iterdir()) == [into]


def test_into_keeps_the_old_document_when_the_fetch_fails(site: Site, tmp_path: Path) -> None:
    url = site.on("feed.xml", lambda request: request.send(200, FEED, length=len(FEED) * 2))
    into = tmp_path / "feed.xml"
    into.write_bytes(b"the version we had")
    with pytest.raises(DownloadError):
        fetch_document(url, timeout=5, into=into)
    assert into.read_bytes() == b"the version we had"
    assert list(tmp_path.iterdir()) == [into]


def test_a_file_address_is_refused_unless_allowed(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(FEED)
    with pytest.raises(DownloadError) as error:
        fetch_document(path.as_uri())
    assert "not an http or https address" in one_line(error)
    with pytest.raises(DownloadError):
        fetch_bytes(path.as_uri(), allow_file=False)
    assert fetch_document(path.as_uri(), allow_file=True).body == FEED


def test_a_file_over_the_limit_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "feed.xml"
    path.write_bytes(bytes(2000))
    with pytest.raises(DownloadError) as error:
        fetch_document(path.as_uri(), allow_file=True, limit=1000)
    assert "larger than" in one_line(error)


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "feed.xml"
    os.mkfifo(path)
    return path


@pytest.mark.parametrize("kind", ["device", "pipe", "folder"])
def test_a_file_address_that_is_no_regular_file_is_refused(
    kind: str, fifo: Path, tmp_path: Path
) -> None:
    path = {"device": Path("/dev/zero"), "pipe": fifo, "folder": tmp_path}[kind]
    with pytest.raises(DownloadError) as error:
        fetch_document(path.as_uri(), allow_file=True)
    assert "not a regular file" in one_line(error)


@pytest.mark.parametrize(
    "url", ["ftp://example.org/feed.xml", "javascript:alert(1)", "data:text/xml,<rss/>"]
)
def test_addresses_that_are_not_the_web_are_refused(url: str) -> None:
    with pytest.raises(DownloadError) as error:
        fetch_document(url, allow_file=True)
    assert "not an http, https or file address" in one_line(error)
    with pytest.raises(DownloadError) as error:
        fetch_document(url)
    assert "not an http or https address" in one_line(error)

"""Downloading episodes: whole files only under the final name, resumes, and
one-line errors."""

from __future__ import annotations

import errno
import hashlib
from pathlib import Path
from typing import BinaryIO

import pytest

from earmark.library.download import DownloadError, download, extension, file_name
from earmark.library.fileserver import FileServer

from .conftest import CuttingServer
from .servers import Site, body, promise, redirect


@pytest.fixture
def episodes(tmp_path: Path) -> Path:
    return tmp_path / "episodes"


def leftovers(folder: Path) -> list[Path]:
    return sorted(folder.iterdir()) if folder.exists() else []


def put(server: FileServer, name: str, size: int = 300_000) -> bytes:
    body = hashlib.sha256(name.encode()).digest() * (size // 32)
    (server.root / name).write_bytes(body)
    return body


def test_episode_is_downloaded_under_its_name(file_server: FileServer, episodes: Path) -> None:
    body = put(file_server, "ep1.mp3")
    path = download(file_server.url("ep1.mp3"), episodes, timeout=5)
    assert path == episodes / "ep1.mp3"
    assert path.read_bytes() == body
    assert list(path.parent.iterdir()) == [path]


def test_a_downloaded_episode_is_not_fetched_again(file_server: FileServer, episodes: Path) -> None:
    put(file_server, "ep1.mp3")
    download(file_server.url("ep1.mp3"), episodes, timeout=5)
    sent = file_server.bytes_sent
    download(file_server.url("ep1.mp3"), episodes, timeout=5)
    assert file_server.bytes_sent == sent


def test_interrupted_download_resumes_where_it_stopped(
    cutting_server: CuttingServer, episodes: Path
) -> None:
    url = f"{cutting_server.base_url}/show/episode%201.mp3?src=rss"
    with pytest.raises(DownloadError, match=r"^cannot download .*try again to resume$"):
        download(url, episodes, timeout=5)
    half = len(cutting_server.body) // 2
    assert not (episodes / "episode-1.mp3").exists()
    assert (episodes / "episode-1.mp3.part").stat().st_size == half

    path = download(url, episodes, timeout=5)
    assert cutting_server.ranges == [None, f"bytes={half}-"]
    assert path.name == "episode-1.mp3"
    assert path.read_bytes() == cutting_server.body
    assert not (episodes / "episode-1.mp3.part").exists()


def test_resume_restarts_from_zero_when_the_server_ignores_range(tmp_path: Path) -> None:
    root = tmp_path / "www"
    root.mkdir()
    folder = tmp_path / "eps"
    folder.mkdir()
    (folder / "ep.mp3.part").write_bytes(b"stale bytes from another file")
    with FileServer(root, honour_range=False) as server:
        body = put(server, "ep.mp3")
        path = download(server.url("ep.mp3"), folder, timeout=5)
    assert path.read_bytes() == body


def test_a_part_longer_than_the_file_starts_over(file_server: FileServer, episodes: Path) -> None:
    body = put(file_server, "ep.mp3", size=1000)
    episodes.mkdir()
    (episodes / "ep.mp3.part").write_bytes(b"x" * 5000)  # the server answers 416
    assert download(file_server.url("ep.mp3"), episodes, timeout=5).read_bytes() == body


def test_404_is_a_one_line_error_and_leaves_no_file(
    file_server: FileServer, episodes: Path
) -> None:
    with pytest.raises(DownloadError, match=r"^cannot download .*HTTP 404[^\n]*$"):
        download(file_server.url("gone.mp3"), episodes, timeout=5)
    assert leftovers(episodes) == []


def test_unreachable_server_is_a_one_line_error(refused_url: str, episodes: Path) -> None:
    with pytest.raises(DownloadError, match=r"^cannot download .*connection refused[^\n]*$"):
        download(refused_url, episodes, timeout=5)


def test_silent_server_times_out(silent_url: str, episodes: Path) -> None:
    with pytest.raises(DownloadError, match=r"^cannot download .*no answer[^\n]*$"):
        download(silent_url, episodes, timeout=0.5)
    assert leftovers(episodes) == []


def test_full_disk_is_a_one_line_error_and_leaves_no_half_file(
    file_server: FileServer, episodes: Path
) -> None:
    put(file_server, "ep.mp3")
    written = 0

    def disk_fills_up(out: BinaryIO, chunk: bytes) -> None:
        # the disk is hardware we lack: it fills after 100 kB
        nonlocal written
        if written + len(chunk) > 100_000:
            raise OSError(errno.ENOSPC, "No space left on device")
        out.write(chunk)
        written += len(chunk)

    with pytest.raises(DownloadError, match=r"^cannot download .*disk full in [^\n]*$"):
        download(file_server.url("ep.mp3"), episodes, timeout=5, write_chunk=disk_fills_up)
    assert leftovers(episodes) == []


@pytest.mark.parametrize(
    ("url", "name"),
    [
        ("https://cdn.example/a/b/Episode%2012.mp3?x=1", "Episode-12.mp3"),
        ("https://cdn.example/", "episode"),
        ("https://cdn.example/../../etc/passwd", "passwd"),
        ("https://cdn.example/..", "episode"),
    ],
)
def test_file_name_is_safe(url: str, name: str) -> None:
    assert file_name(url) == name


@pytest.mark.parametrize("url", ["file:///etc/passwd", "file:///dev/zero"])
def test_an_enclosure_on_the_box_is_refused_and_nothing_written(url: str, episodes: Path) -> None:
    with pytest.raises(DownloadError, match=r"^cannot download .*not an http or https address$"):
        download(url, episodes, name="1.mp3", timeout=5)
    assert not episodes.exists()


def test_a_file_address_is_downloaded_only_when_allowed(tmp_path: Path, episodes: Path) -> None:
    source = tmp_path / "ep.mp3"
    source.write_bytes(b"ID3" + bytes(5000))
    path = download(source.as_uri(), episodes, name="1.mp3", allow_file=True)
    assert path.read_bytes() == source.read_bytes()
    with pytest.raises(DownloadError, match=r"not a regular file"):
        download("file:///dev/zero", episodes, name="2.mp3", allow_file=True)
    assert leftovers(episodes) == [path]


def test_a_redirected_episode_is_saved_under_the_given_name(site: Site, episodes: Path) -> None:
    audio = bytes(range(256)) * 100
    site.on("cdn/abc123", body(audio, content_type="audio/mpeg"))
    site.on("track/ep.mp3", redirect(302, site.url("cdn/abc123")))
    url = site.on("ep.mp3", redirect(301, site.url("track/ep.mp3")))
    path = download(url, episodes, name="42.mp3", timeout=5)
    assert path == episodes / "42.mp3" and path.read_bytes() == audio
    assert leftovers(episodes) == [path]


def test_a_redirect_loop_is_one_line(site: Site, episodes: Path) -> None:
    url = site.on("ep.mp3", redirect(302, site.url("ep.mp3")))
    with pytest.raises(DownloadError, match=r"^cannot download [^\n]*redirect loop[^\n]*$"):
        download(url, episodes, timeout=5)
    assert leftovers(episodes) == []


def test_an_episode_over_max_bytes_is_refused_from_its_content_length(
    site: Site, episodes: Path
) -> None:
    # the server never sends the body: a client that waited for it would time out
    url = site.on("ep.mp3", promise(900 * 1024 * 1024))
    with pytest.raises(DownloadError, match=r"^cannot download .*larger \(900 MB\) than 1 MB"):
        download(url, episodes, timeout=5, max_bytes=1024 * 1024)
    assert leftovers(episodes) == []


def test_an_episode_over_max_bytes_is_refused_while_streaming(site: Site, episodes: Path) -> None:
    url = site.on("ep.mp3", lambda request: request.send(200, bytes(300_000), length=-1))
    with pytest.raises(DownloadError, match=r"^cannot download .*larger than 100 kB[^\n]*$"):
        download(url, episodes, timeout=5, max_bytes=100 * 1024)
    assert leftovers(episodes) == []


def test_progress_hears_the_total_and_the_end(file_server: FileServer, episodes: Path) -> None:
    size = len(put(file_server, "ep.mp3", size=2_000_000))
    heard: list[tuple[int, int | None]] = []
    download(
        file_server.url("ep.mp3"),
        episodes,
        timeout=5,
        progress=lambda done, total: heard.append((done, total)),
    )
    assert heard[0][0] < size  # heard while it downloads, not only at the end
    assert heard[-1] == (size, size)
    assert {total for _, total in heard} == {size}
    assert [done for done, _ in heard] == sorted(done for done, _ in heard)


def test_progress_counts_from_the_resumed_bytes(
    cutting_server: CuttingServer, episodes: Path
) -> None:
    url = f"{cutting_server.base_url}/ep.mp3"
    with pytest.raises(DownloadError):
        download(url, episodes, timeout=5)
    heard: list[tuple[int, int | None]] = []
    download(url, episodes, timeout=5, progress=lambda done, total: heard.append((done, total)))
    whole = len(cutting_server.body)
    assert whole // 2 < heard[0][0] < whole
    assert heard[-1] == (whole, whole)


@pytest.mark.parametrize(
    ("url", "mime_type", "suffix"),
    [
        ("https://cdn.example/show/ep12.MP3?token=abc", None, ".mp3"),
        ("https://cdn.example/show/ep12.m4a", "audio/mpeg", ".m4a"),
        ("https://cdn.example/track/12345", "audio/mpeg", ".mp3"),
        ("https://cdn.example/track/12345", "audio/x-m4a", ".m4a"),
        ("https://cdn.example/track/12345", "Audio/MP4; codecs=mp4a", ".m4a"),
        ("https://cdn.example/track/12345", "audio/ogg", ".ogg"),
        ("https://cdn.example/track/12345", "audio/opus", ".opus"),
        ("https://cdn.example/track/12345", "audio/aac", ".aac"),
        ("https://cdn.example/track/12345", "audio/wav", ".wav"),
        ("https://cdn.example/track/12345", "video/mp4", ".mp4"),
        ("https://cdn.example/get.php?id=12", "audio/mpeg", ".mp3"),
        ("https://cdn.example/ep.mp3%2F..%2F..%2Fetc", "audio/mpeg", ".mp3"),
        ("https://cdn.example/ep.tar.gz-evil", "audio/mpeg", ".mp3"),
        ("https://cdn.example/ep.verylongsuffix", None, ".audio"),
        ("https://cdn.example/ep", "application/octet-stream", ".audio"),
        ("https://cdn.example/ep", None, ".audio"),
    ],
)
def test_extension_is_short_and_safe(url: str, mime_type: str | None, suffix: str) -> None:
    assert extension(url, mime_type) == suffix

"""Downloading episodes: whole files only under the final name, resumes, and
one-line errors."""

from __future__ import annotations

import errno
import hashlib
from pathlib import Path
from typing import BinaryIO

import pytest

from earmark.library.download import DownloadError, download, file_name
from earmark.library.fileserver import FileServer

from .conftest import CuttingServer


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

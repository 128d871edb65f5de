"""SIGTERM stops the real daemon promptly in every state, the way systemd sends
it: playing, refreshing a slow feed, downloading from a throttled server,
transcribing a snip, and with the broker away and the outbox full. Each time it
exits by itself with code 0 (``terminate`` would report -9 had it to be killed),
its log says every part stopped without waiting out a bound ("still running
after" is what a part says when it does), and the next start carries on.

How fast it stops is a benchmark figure (``bench/bench_stop.py``), not an
assertion here: the suite's machine is too noisy for durations.
"""

from __future__ import annotations

import socket
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from earmark.sync.broker import LocalBroker

from .conftest import Episode
from .daemon_process import Daemon, earmark
from .library.servers import Site, body, serve, trickle
from .support import wait_for

# far above any bound the daemon's stop has, far below systemd's patience
EXIT_BOUND = 20.0


def stopped_cleanly(daemon: Daemon) -> None:
    """SIGTERM: the daemon exits 0 by itself, and no part of it waited out a bound."""
    code = daemon.terminate(timeout=EXIT_BOUND)
    log = daemon.log
    assert code == 0, f"exit code {code}:\n{log[-3000:]}"
    assert "earmark stopped" in log, log[-3000:]
    assert "still running after" not in log, log[-3000:]


def _jobs(database: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(database, timeout=5) as conn:
        return conn.execute("SELECT kind, status, attempts FROM jobs ORDER BY id").fetchall()


@pytest.fixture
def site() -> Iterator[Site]:
    with serve() as running:
        yield running


def _feed(site: Site, enclosure: str, length: int) -> str:
    xml = f"""<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel><title>Slow Show</title><link>{site.base_url}</link>
<description>A throttled host</description>
<item><guid>slow-1</guid><title>Big</title><pubDate>Mon, 09 Nov 2026 08:00:00 +0000</pubDate>
<enclosure url="{site.url(enclosure)}" type="audio/mpeg" length="{length}"/></item>
</channel></rss>"""
    return site.on("feed.xml", body(xml.encode(), content_type="application/rss+xml"))


def test_sigterm_while_playing_keeps_the_position(
    garden_config: Callable[..., Path], tmp_path: Path
) -> None:
    config = garden_config({"transcription": {"lookahead": "off"}})
    daemon = Daemon(config, tmp_path / "first.log")
    try:
        daemon.wait_playing()
        assert earmark(config, "seek", "30").returncode == 0
        daemon.wait_playing(min_position=30)
    finally:
        stopped_cleanly(daemon)
    again = Daemon(config, tmp_path / "second.log")
    try:
        status = again.wait_playing()
        assert status["player"]["position"] >= 29.0, status
    finally:
        stopped_cleanly(again)


def test_sigterm_while_a_slow_feed_refreshes(
    write_config: Callable[..., Path], broker: LocalBroker, site: Site, tmp_path: Path
) -> None:
    feed = site.on("feed.xml", trickle(b"<rss>" + b" " * 100_000, every=0.05))
    config = write_config(
        {
            "mqtt": {"host": "127.0.0.1", "port": broker.port},
            "library": {"demo": False, "feeds": [feed], "feed_seconds": 120},
        }
    )
    daemon = Daemon(config, tmp_path / "daemon.log")
    try:
        wait_for(lambda: site.asked("feed.xml"), 30, 0.05, "the feed to be asked for")
    finally:
        stopped_cleanly(daemon)


def test_sigterm_while_downloading_leaves_the_download_resumable(
    write_config: Callable[..., Path],
    broker: LocalBroker,
    site: Site,
    data_dir: Path,
    tmp_path: Path,
) -> None:
    size = 2_000_000
    feed = _feed(site, "big.mp3", size)
    site.on("big.mp3", trickle(b"\xff" * size, every=0.001))
    config = write_config(
        {
            "mqtt": {"host": "127.0.0.1", "port": broker.port},
            "library": {"demo": False, "feeds": [feed]},
        }
    )
    daemon = Daemon(config, tmp_path / "first.log")
    parts = lambda: [p for p in (data_dir / "episodes").rglob("*.part") if p.stat().st_size]  # noqa: E731
    try:
        wait_for(parts, 30, 0.05, "the download to start")
    finally:
        stopped_cleanly(daemon)
    kept = parts()[0].stat().st_size
    assert "download stopped" in daemon.log, daemon.log[-3000:]
    # the daemon's own requests (mpv streams the episode meanwhile)
    ours = lambda: [h for h in site.asked("big.mp3") if "earmark" in h.get("User-Agent", "")]  # noqa: E731
    before = len(ours())
    again = Daemon(config, tmp_path / "second.log")
    try:
        wait_for(lambda: len(ours()) > before, 30, 0.05, "the download again")
        asked = ours()[-1].get("Range", "")
        assert asked.startswith("bytes=") and int(asked[6:].rstrip("-")) >= kept, asked
    finally:
        stopped_cleanly(again)


def test_sigterm_while_transcribing_leaves_the_job_to_resume(
    garden_config: Callable[..., Path], data_dir: Path, tmp_path: Path
) -> None:
    config = garden_config(
        {"snip": {"before": 45, "after": 15}, "transcription": {"lookahead": "off"}}
    )
    database = data_dir / "earmark.db"
    daemon = Daemon(config, tmp_path / "first.log")
    try:
        daemon.wait_playing()
        assert earmark(config, "seek", "48").returncode == 0
        daemon.wait_playing(min_position=48)
        result = earmark(config, "snip")
        assert result.returncode == 0, result.stderr
        wait_for(lambda: "whisper model loaded" in daemon.log, 60, 0.01, "the transcription")
    finally:
        stopped_cleanly(daemon)
    transcribe = [job for job in _jobs(database) if job[0] == "transcribe"]
    if transcribe[0][1] != "done":  # else it finished before the signal came
        assert transcribe == [("transcribe", "queued", 0)], transcribe
        assert "left for the next start" in daemon.log, daemon.log[-3000:]
    again = Daemon(config, tmp_path / "second.log")
    try:
        wait_for(
            lambda: all(status == "done" for _, status, _ in _jobs(database)),
            180,
            0.2,
            "the snip's jobs to finish",
        )
    finally:
        stopped_cleanly(again)


def test_sigterm_with_the_broker_away_keeps_the_outbox(
    garden_config: Callable[..., Path],
    broker: LocalBroker,
    garden_episode: Episode,
    tmp_path: Path,
) -> None:
    held = socket.socket()  # bound and never listening: connections are refused
    held.bind(("127.0.0.1", 0))
    away = {"host": "127.0.0.1", "port": held.getsockname()[1]}
    config = garden_config({"mqtt": away, "transcription": {"lookahead": "off"}})
    daemon = Daemon(config, tmp_path / "first.log")
    try:
        daemon.wait_playing()
        assert earmark(config, "snip").returncode == 0
        wait_for(lambda: (daemon.status() or {}).get("outbox_pending", 0) > 0, 30, 0.1, "rows")
    finally:
        stopped_cleanly(daemon)
        held.close()
    assert "mqtt connected" not in daemon.log
    back = garden_config({"transcription": {"lookahead": "off"}})  # the broker is back
    again = Daemon(back, tmp_path / "second.log")
    try:
        wait_for(lambda: (again.status() or {}).get("outbox_pending") == 0, 120, 0.2, "outbox")
    finally:
        stopped_cleanly(again)

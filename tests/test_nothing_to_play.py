"""When every episode has been played, a newcomer is told so (at start and on
``status``), and ``play`` starts the most recent episode again; with an empty
library ``play`` fails and says why."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from earmark import config as config_module
from earmark.store.catalog import Catalog
from earmark.store.database import Database
from earmark.sync.broker import LocalBroker

from .daemon_process import Daemon, earmark
from .support import wait_for


def test_play_starts_the_most_recent_episode_when_all_are_played(
    garden_config: Callable[..., Path], tmp_path: Path
) -> None:
    path = garden_config({"transcription": {"lookahead": "off"}})
    first = Daemon(path, tmp_path / "first.log")
    try:
        first.wait_playing()
    finally:
        first.terminate()
    db = Database(config_module.load(path).database_path)
    catalog = Catalog(db)
    for episode in catalog.episodes():
        catalog.mark_played(episode.id)
    db.close()

    again = Daemon(path, tmp_path / "again.log")
    try:
        status = wait_for(
            lambda: (again.status() or {}).get("player", {}).get("nothing_to_play"),
            60,
            0.2,
            "the daemon to say there is nothing to play",
        )
        assert "every episode has been played" in status
        assert "nothing to play" in earmark(path, "status").stdout
        played = earmark(path, "play")
        assert played.returncode == 0, played.stderr
        assert again.wait_playing()["player"]["nothing_to_play"] is None
    finally:
        again.terminate()


def test_play_with_an_empty_library_fails_and_says_why(
    write_config: Callable[..., Path], broker: LocalBroker, tmp_path: Path
) -> None:
    path = write_config({"mqtt": {"host": "127.0.0.1", "port": broker.port}})
    daemon = Daemon(path, tmp_path / "daemon.log")
    try:
        wait_for(
            lambda: (daemon.status() or {}).get("player", {}).get("nothing_to_play"),
            60,
            0.2,
            "the daemon to say there is nothing to play",
        )
        result = earmark(path, "play")
        assert result.returncode != 0
        assert "the library is empty" in result.stderr
    finally:
        daemon.terminate()

"""Player fixtures: real mpv on the null output, events recorded for waiting on."""

from __future__ import annotations

import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from earmark.config.model import PlayerConfig
from earmark.player import EpisodeEnd, Player, PlayerEvents, PlayerState, Progress

from ..support import wait_for

PLAYER_CACHE = Path(tempfile.gettempdir()) / "earmark-test-player"


class Recorder:
    """Collects what the player reports, from whichever thread it reports on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.states: list[PlayerState] = []
        # when each state arrived (time.monotonic()), index for index
        self.state_times: list[float] = []
        self.positions: list[Progress] = []
        self.ends: list[EpisodeEnd] = []
        self.errors: list[str] = []

    def events(self) -> PlayerEvents:
        return PlayerEvents(
            on_state=self._add_state,
            on_position=lambda p: self._add(self.positions, p),
            on_end=lambda e: self._add(self.ends, e),
            on_error=lambda m: self._add(self.errors, m),
        )

    def _add_state(self, state: PlayerState) -> None:
        with self._lock:
            self.states.append(state)
            self.state_times.append(time.monotonic())

    def _add(self, into: list[Any], item: Any) -> None:
        with self._lock:
            into.append(item)

    def wait_end(self, timeout: float = 20.0) -> EpisodeEnd:
        return wait_for(lambda: self.ends[-1] if self.ends else None, timeout, what="episode end")


def wait_state(
    player: Player,
    check: Callable[[PlayerState], bool],
    timeout: float = 15.0,
    what: str = "player state",
) -> PlayerState:
    return wait_for(lambda: (s := player.snapshot()) and check(s) and s, timeout, what=what)


def wait_playing_past(player: Player, position: float, timeout: float = 15.0) -> PlayerState:
    return wait_state(
        player,
        lambda s: s.status == "playing" and s.position > position,
        timeout,
        what=f"playing past {position}s",
    )


@pytest.fixture
def recorder() -> Recorder:
    return Recorder()


@pytest.fixture
def make_player(recorder: Recorder) -> Iterator[Callable[..., Player]]:
    """Build a Player on the null output; keyword arguments go to PlayerConfig,
    ``player_*`` ones to the Player (e.g. ``player_hang_timeout=1``)."""
    made: list[Player] = []

    def make(**options: Any) -> Player:
        extra = {
            k.removeprefix("player_"): v for k, v in options.items() if k.startswith("player_")
        }
        config = {k: v for k, v in options.items() if not k.startswith("player_")}
        config.setdefault("audio_output", "null")
        extra.setdefault("retry_backoff", 0.1)
        player = Player(PlayerConfig(**config), recorder.events(), **extra)
        made.append(player)
        return player

    yield make
    for player in made:
        player.close()


@pytest.fixture(scope="session")
def long_stream_file() -> Path:
    """A two-hour 32 kbps MP3 (≈ 29 MB): one minute of tone, copied 120 times."""
    PLAYER_CACHE.mkdir(parents=True, exist_ok=True)
    out = PLAYER_CACHE / "long-120min.mp3"
    if out.exists():
        return out
    # made once for every test process: the parts are this process's own, the result
    # arrives in one rename
    mine = f"{os.getpid()}"
    minute = PLAYER_CACHE / f"tone-1min-{mine}.mp3"
    run = ["ffmpeg", "-nostdin", "-loglevel", "error", "-y"]
    subprocess.run(
        [
            *run,
            "-f",
            "lavfi",
            "-i",
            "sine=frequency=440:duration=60",
            "-ac",
            "1",
            "-c:a",
            "libmp3lame",
            "-b:a",
            "32k",
            str(minute),
        ],
        check=True,
    )
    listing = PLAYER_CACHE / f"long-{mine}.txt"
    listing.write_text(f"file '{minute}'\n" * 120)
    partial = PLAYER_CACHE / f"long-{mine}.part.mp3"
    subprocess.run(
        [*run, "-f", "concat", "-safe", "0", "-i", str(listing), "-c", "copy", str(partial)],
        check=True,
    )
    partial.replace(out)
    minute.unlink()
    listing.unlink()
    return out

"""Skipping silence shortens the listening time but keeps the episode's clock."""

from __future__ import annotations

import time

from earmark.player.silence import SilenceSkipper

from ..support import wait_for


def test_skipper_hurries_only_inside_reported_silence():
    skipper = SilenceSkipper(factor=3.0, keep=0.25)
    skipper.report({"lavfi.silence_start": "5.0"})
    assert skipper.factor_at(4.0) == 1.0
    assert skipper.factor_at(6.0) == 3.0  # the end is not known yet
    skipper.report({"lavfi.silence_start": "5.0", "lavfi.silence_end": "7.0"})
    assert skipper.factor_at(6.5) == 3.0
    assert skipper.factor_at(6.9) == 1.0


def test_skip_silence_finishes_sooner_with_true_positions(make_player, make_episode, recorder):
    episode = make_episode(
        ("First we say one thing.", "Then after a long pause another."),
        name="pauses.mp3",
        pause=3.0,
    )
    player = make_player(skip_silence=True)
    started = time.monotonic()
    player.play(str(episode.path))
    end = recorder.wait_end(episode.duration + 5)
    took = time.monotonic() - started
    assert took < episode.duration - 1.5, f"{took:.1f}s for {episode.duration:.1f}s of audio"
    assert abs(end.position - episode.duration) < 0.5
    positions = wait_for(lambda: recorder.positions, what="positions")
    assert positions[-1].played

"""The look-ahead over a long episode, as a listener hears it: it stays ahead of
the play head for the whole episode, through seeks, and a press never waits
behind the chunk it is transcribing."""

from __future__ import annotations

import math
import subprocess
from collections.abc import Callable

import pytest

from earmark.library.speech import SpokenAudio, SpokenSentence, encode
from earmark.snip.lookahead import KIND as LOOKAHEAD
from earmark.store import segments
from earmark.store.highlights import DONE, TRANSCRIBED

from ..conftest import Episode
from ..support import wait_for
from .conftest import Stack
from .test_lookahead import in_a_pause

LONG = 30 * 60.0


@pytest.fixture(scope="module")
def long_episode(garden_episode: Episode, tmp_path_factory: pytest.TempPathFactory) -> Episode:
    """Half an hour: the garden episode's speech over and over (sox ``repeat``)."""
    base = garden_episode.audio
    loops = math.ceil(LONG / base.duration)
    folder = tmp_path_factory.mktemp("long")
    wav = folder / "long.wav"
    subprocess.run(
        ["sox", str(base.wav), str(wav), "repeat", str(loops - 1)], check=True, capture_output=True
    )
    sentences = tuple(
        SpokenSentence(s.start + i * base.duration, s.end + i * base.duration, s.text)
        for i in range(loops)
        for s in base.sentences
    )
    audio = SpokenAudio(wav, base.duration * loops, sentences)
    path = encode(wav, folder / "long.mp3", title="long")
    return Episode(path, audio, ())


def _ahead_of(stack: Stack, episode_id: int, at: float) -> float:
    """How far past ``at`` the stored transcript runs without a gap."""
    return next((b for a, b in segments.spans(stack.db, episode_id) if a <= at < b), at) - at


def test_lookahead_stays_ahead_of_the_listener_through_a_long_episode(
    make_stack: Callable[..., Stack], long_episode: Episode
) -> None:
    stack = make_stack(chunk_seconds=30.0)
    horizon = 60.0  # the daemon's is 600 s; a shorter one keeps the test quick
    stack.lookahead.horizon = horizon
    stack.lookahead.recheck = 0.2
    assert long_episode.duration >= LONG
    episode_id = stack.add_episode(long_episode)
    stack.play(episode_id, 0.0)
    stack.lookahead.follow(episode_id)  # once: nothing restarts it below
    stack.start()
    stack.worker.notify()
    wait_for(lambda: _ahead_of(stack, episode_id, 0.0) >= horizon, 90, 0.1, "the horizon")
    # horizon reached: the job waits for the listener instead of ending
    wait_for(lambda: not stack.worker.busy, 30, 0.05, "the look-ahead to pause")
    assert stack.waiting(LOOKAHEAD) == 1
    # the listener listens on, then seeks to minute 25, then listens on again
    for position in (45.0, 1500.0, 1530.0):
        stack.seek(position)
        wait_for(
            lambda position=position: _ahead_of(stack, episode_id, position) >= horizon,
            90,
            0.1,
            f"the look-ahead to be {horizon:.0f} s ahead of {position:.0f} s",
        )
    for start, end in segments.spans(stack.db, episode_id):
        assert in_a_pause(long_episode.audio, start) and in_a_pause(long_episode.audio, end)


def test_a_press_during_a_lookahead_chunk_is_transcribed_before_the_chunk(
    make_stack: Callable[..., Stack], long_episode: Episode
) -> None:
    stack = make_stack(chunk_seconds=150.0)  # five whisper windows
    episode_id = stack.add_episode(long_episode)
    stack.play(episode_id, 600.0)
    stack.lookahead.follow(episode_id)
    stack.start()
    stack.worker.notify()
    wait_for(lambda: stack.asr.calls >= 1, 30, 0.01, "the look-ahead chunk to start")
    highlight = stack.snip(episode_id, 100.0)  # far from the chunk: nothing stored there

    def transcribed() -> bool:
        now = stack.book.get(highlight.id)
        return now is not None and now.status in (TRANSCRIBED, DONE)

    wait_for(transcribed, 60, 0.02, "the snip's transcript")
    chunk_stored = [a for a, _ in segments.spans(stack.db, episode_id) if a >= 590.0]
    # the chunk gave way: the snip did not wait for it to finish
    assert not chunk_stored, segments.spans(stack.db, episode_id)
    stack.settled(highlight.id)
    # and the chunk was not lost: it is transcribed again after the snip
    wait_for(lambda: _ahead_of(stack, episode_id, 600.0) > 100.0, 90, 0.1, "the cancelled chunk")
    assert stack.asr.calls >= 3  # chunk (cancelled), snip, chunk again

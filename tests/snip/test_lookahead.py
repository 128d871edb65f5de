"""The look-ahead: transcribes the playing episode ahead of the play head,
follows the listener's seeks, and picks up after a restart from what is stored
without transcribing any stretch twice."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

from earmark.library.speech import SpokenAudio
from earmark.snip.lookahead import KIND as LOOKAHEAD
from earmark.store import segments
from earmark.transcribe.base import Transcriber, TranscribeRequest, Transcript

from ..conftest import Episode
from ..support import wait_for, word_error_rate
from .conftest import Stack


def _span_rows(stack: Stack, episode_id: int) -> list[tuple[float, float]]:
    rows = stack.db.query(
        'SELECT start, "end" FROM transcribed_spans WHERE episode_id = ? ORDER BY start',
        (episode_id,),
    )
    return [(float(a), float(b)) for a, b in rows]


def assert_transcribed_once(stack: Stack, episode_id: int, episode: Episode) -> None:
    """Every stretch transcribed once, the stored words in order and complete."""
    rows = _span_rows(stack, episode_id)
    for (a0, b0), (a1, b1) in zip(rows, rows[1:], strict=False):
        assert a0 < b0 and a1 < b1, rows
        assert a1 >= b0 - 0.05, f"stretch transcribed twice: {rows}"
    stored = segments.between(stack.db, episode_id, 0.0, episode.duration).segments
    for earlier, later in zip(stored, stored[1:], strict=False):
        assert later.start >= earlier.end - 0.05, (earlier, later)
    whole = " ".join(s.text for s in stored)
    assert word_error_rate(episode.audio.words_between(0, 1e9), whole) <= 0.15, whole


def in_a_pause(audio: SpokenAudio, at: float) -> bool:
    """True when nothing is being said at ``at`` (between sentences, or outside them)."""
    return not any(s.start < at < s.end for s in audio.sentences)


def test_lookahead_starts_at_the_play_head(stack: Stack, garden_episode: Episode) -> None:
    episode_id = stack.add_episode(garden_episode)
    stack.play(episode_id, 9.5)  # in the middle of the second sentence
    stack.lookahead.follow(episode_id)
    start, end = stack.look_ahead_step() or (None, None)
    # the pause just before the play head: no word is cut at the start
    assert start is not None and 9.5 - 5.0 <= start <= 9.5, start
    assert in_a_pause(garden_episode.audio, start), start
    assert end is not None and end > 25.0 and in_a_pause(garden_episode.audio, end), end


def test_lookahead_follows_a_seek(stack: Stack, garden_episode: Episode) -> None:
    episode_id = stack.add_episode(garden_episode)
    stack.play(episode_id, 0.0)
    stack.lookahead.follow(episode_id)
    first = stack.look_ahead_step()
    assert first is not None and first[0] == 0.0
    stack.seek(45.0)
    after_seek = stack.look_ahead_step()
    assert after_seek is not None and 40.0 <= after_seek[0] <= 45.0, after_seek
    assert in_a_pause(garden_episode.audio, after_seek[0]), after_seek


def test_every_chunk_border_and_stored_segment_lies_in_a_pause(
    make_stack: Callable[..., Stack], garden_episode: Episode
) -> None:
    stack = make_stack(chunk_seconds=15.0)
    audio = garden_episode.audio
    episode_id = stack.add_episode(garden_episode)
    stack.play(episode_id, 9.5)  # mid-word: the first chunk's start must move
    chunks = stack.look_ahead_all(episode_id)
    assert len(chunks) >= 4, chunks
    for start, end in chunks:
        assert in_a_pause(audio, start) and in_a_pause(audio, end), (start, end, chunks)
    stored = segments.between(stack.db, episode_id, 0.0, garden_episode.duration).segments
    assert stored
    # Whisper's own times are off by up to ~0.6 s; a segment begun or ended by a
    # cut (a chunk border in a word) starts or ends deep inside a sentence
    for segment in stored:
        for at in (segment.start, segment.end):
            inside = [s for s in audio.sentences if s.start + 1.0 < at < s.end - 1.0]
            assert not inside, f"segment {segment} has a border inside {inside}"
    assert_transcribed_once(stack, episode_id, garden_episode)


def test_lookahead_after_seeking_back_fills_the_gap_once(
    stack: Stack, garden_episode: Episode
) -> None:
    episode_id = stack.add_episode(garden_episode)
    stack.play(episode_id, 0.0)
    stack.lookahead.follow(episode_id)
    stack.look_ahead_step()  # 0 .. ~28
    stack.seek(40.0)
    stack.look_ahead_step()  # 40 .. end
    stack.seek(5.0)
    stack.look_ahead_all(episode_id)  # the gap between them
    assert segments.covers(stack.db, episode_id, 0.0, garden_episode.duration)
    assert_transcribed_once(stack, episode_id, garden_episode)


def test_lookahead_resumes_after_restart_from_what_is_stored(
    make_stack: Callable[..., Stack], garden_episode: Episode
) -> None:
    first = make_stack()
    episode_id = first.add_episode(garden_episode)
    first.play(episode_id, 0.0)
    first.lookahead.follow(episode_id)
    done_before = first.look_ahead_step()
    assert done_before is not None
    # the next chunk is under way when the power goes
    interrupted = first.queue.claim()
    assert interrupted is not None and interrupted.kind == LOOKAHEAD
    first.db.close()

    second = make_stack()
    assert second.queue.resume_interrupted() == 1
    second.play(episode_id, 0.0)
    chunks = second.look_ahead_all(episode_id)
    assert chunks and chunks[0][0] == done_before[1], (done_before, chunks)
    assert first.asr.calls + second.asr.calls == len(_span_rows(second, episode_id))
    assert_transcribed_once(second, episode_id, garden_episode)


class HeldTranscriber:
    """Delegates to a real transcriber, but holds each call at its start until
    released, so a test can act while a chunk is being transcribed."""

    def __init__(self, inner: Transcriber) -> None:
        self.inner = inner
        self.name = inner.name
        self.holding = threading.Event()
        self._release = threading.Event()

    def transcribe(self, request: TranscribeRequest) -> Transcript:
        self._release.clear()
        self.holding.set()
        self._release.wait(60)
        self.holding.clear()
        return self.inner.transcribe(request)

    def release(self) -> None:
        self._release.set()

    def close(self) -> None:
        pass


def test_seek_storm_while_looking_ahead_keeps_the_transcript_consistent(
    make_stack: Callable[..., Stack], garden_episode: Episode
) -> None:
    stack = make_stack(chunk_seconds=15.0)
    held = HeldTranscriber(stack.asr.inner)
    stack.asr.inner = held
    episode_id = stack.add_episode(garden_episode)
    stack.play(episode_id, 0.0)
    stack.lookahead.follow(episode_id)
    stack.start()  # the worker thread runs the look-ahead as the daemon does
    stack.worker.notify()
    shuffle = random.Random(14)
    storms = 0
    while stack.waiting(LOOKAHEAD):
        if not held.holding.wait(0.1):
            continue  # between chunks
        seen = _span_rows(stack, episode_id)
        for _ in range(50):  # a storm of seeks while this chunk is transcribed
            stack.seek(shuffle.uniform(0.0, garden_episode.duration))
            stack.lookahead.next_chunk(stack.now)
        # the storm hit while the chunk was under way, before it stored anything
        assert held.holding.is_set() and _span_rows(stack, episode_id) == seen
        storms += 1
        held.release()
        wait_for(
            lambda seen=seen: _span_rows(stack, episode_id) != seen or not stack.waiting(LOOKAHEAD),
            60,
            what="the chunk under the storm to be stored",
        )
        assert storms < 30, "the look-ahead does not finish"
    assert storms >= 3, storms
    assert segments.covers(stack.db, episode_id, 0.0, garden_episode.duration)
    assert_transcribed_once(stack, episode_id, garden_episode)
    for start, end in _span_rows(stack, episode_id):
        assert in_a_pause(garden_episode.audio, start), (start, end)
        assert in_a_pause(garden_episode.audio, end), (start, end)

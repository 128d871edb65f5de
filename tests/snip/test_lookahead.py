"""The look-ahead: transcribes the playing episode ahead of the play head,
follows the listener's seeks, and picks up after a restart from what is stored
without transcribing any stretch twice."""

from __future__ import annotations

import random
from collections.abc import Callable

from earmark.snip.lookahead import KIND as LOOKAHEAD
from earmark.store import segments

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


def test_lookahead_starts_at_the_play_head(stack: Stack, garden_episode: Episode) -> None:
    episode_id = stack.add_episode(garden_episode)
    stack.play(episode_id, 12.0)
    stack.lookahead.follow(episode_id)
    start, end = stack.look_ahead_step() or (None, None)
    assert start == 12.0 and end is not None and end > 30.0


def test_lookahead_follows_a_seek(stack: Stack, garden_episode: Episode) -> None:
    episode_id = stack.add_episode(garden_episode)
    stack.play(episode_id, 0.0)
    stack.lookahead.follow(episode_id)
    first = stack.look_ahead_step()
    assert first is not None and first[0] == 0.0
    stack.seek(45.0)
    after_seek = stack.look_ahead_step()
    assert after_seek is not None and after_seek[0] == 45.0, after_seek


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


def test_seek_storm_while_looking_ahead_keeps_the_transcript_consistent(
    make_stack: Callable[..., Stack], garden_episode: Episode
) -> None:
    stack = make_stack(chunk_seconds=15.0)
    episode_id = stack.add_episode(garden_episode)
    stack.play(episode_id, 0.0)
    stack.lookahead.follow(episode_id)
    stack.start()  # the worker thread runs the look-ahead as the daemon does
    stack.worker.notify()
    shuffle = random.Random(14)
    for _ in range(6):
        seen = len(_span_rows(stack, episode_id))
        for _ in range(50):  # a storm of seeks while a chunk is transcribed
            stack.seek(shuffle.uniform(0.0, garden_episode.duration))
            stack.lookahead.next_chunk(stack.now)
        wait_for(
            lambda seen=seen: (
                len(_span_rows(stack, episode_id)) > seen or not stack.waiting(LOOKAHEAD)
            ),
            30,
            what="the next look-ahead chunk",
        )
    stack.seek(0.0)
    stack.lookahead.follow(episode_id)
    stack.worker.notify()
    wait_for(lambda: not stack.waiting(LOOKAHEAD), 60, what="the look-ahead to finish")
    assert segments.covers(stack.db, episode_id, 0.0, garden_episode.duration)
    assert_transcribed_once(stack, episode_id, garden_episode)

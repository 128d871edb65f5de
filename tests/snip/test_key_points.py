"""An episode's key points: made once the look-ahead has transcribed it to its
end, stored, and published retained on ``episode/<id>``; chosen from the
sentences that carry the episode, a minute apart, never an ad."""

from __future__ import annotations

import json
from pathlib import Path

from earmark.payloads import EpisodePayload
from earmark.store import key_points as stored_points
from earmark.store import outbox
from earmark.store.jobs import JobKind
from earmark.takeaways.base import Sentence
from earmark.takeaways.embeddings import Embedder
from earmark.takeaways.key_points import SPACING, key_points

from ..conftest import Episode
from .conftest import Stack

EVAL_SET = Path(__file__).parent.parent / "data" / "takeaways_eval.json"


def an_hour_of_talk() -> list[Sentence]:
    """The evaluation set's snips one after another: an hour of mixed talk."""
    sentences, at = [], 0.0
    for snip in json.loads(EVAL_SET.read_text())["snips"]:
        first = snip["sentences"][0]["start"]
        for s in snip["sentences"]:
            sentences.append(Sentence(s["text"], at + s["start"] - first, at + s["end"] - first))
        at = sentences[-1].end + 20.0
    return sentences


def test_key_points_are_spread_whole_sentences_in_the_episodes_order() -> None:
    sentences = an_hour_of_talk()
    points = key_points(sentences, "Curious Minds: a magazine of ideas", Embedder().embed)
    assert len(points) == 5
    times = [p.at for p in points]
    assert times == sorted(times)
    assert all(b - a >= SPACING for a, b in zip(times, times[1:], strict=False))
    starts = {round(s.start, 3) for s in sentences}
    assert all(p.at in starts for p in points)
    assert not any("brought to you by" in p.text.lower() for p in points)
    assert all(len(p.text.split()) >= 8 and p.text[-1] in ".!?…" for p in points)


def test_without_a_model_each_stretch_gives_its_fullest_sentence() -> None:
    sentences = an_hour_of_talk()
    points = key_points(sentences, "", embed=None)
    assert len(points) == 5
    length = sentences[-1].end
    slots = {min(int(p.at / (length / 5)), 4) for p in points}
    assert slots == {0, 1, 2, 3, 4}


def test_nothing_heard_clearly_makes_no_key_points() -> None:
    doubted = [Sentence("We planted beans in the garden this April.", 0.0, 3.0, doubted=True)]
    assert key_points(doubted, "", embed=None) == ()
    assert key_points([Sentence("Yes.", 0.0, 1.0)], "", embed=None) == ()


def test_an_episode_transcribed_to_its_end_gets_its_key_points_published(
    stack: Stack, garden_episode: Episode
) -> None:
    episode_id = stack.add_episode(garden_episode)
    stack.play(episode_id, 0.0)
    stack.look_ahead_all(episode_id)
    assert stack.waiting(JobKind.KEY_POINTS) == 1
    stack.lookahead.follow(episode_id)  # playing on: it is queued once
    job = stack.queue.claim(kinds=[JobKind.KEY_POINTS])
    assert job is not None and job.episode_id == episode_id
    stack.pipeline.key_points.run(job)

    points = stored_points.points(stack.db, episode_id)
    assert points, "no key points stored"
    spoken = " ".join(s.text for s in garden_episode.audio.sentences).lower()
    assert all(p["text"].split()[0].lower().strip(",.") in spoken for p in points)
    rows = [r for r in outbox.unsent(stack.db) if r.topic == f"episode/{episode_id}"]
    assert len(rows) == 1 and rows[0].retain
    payload = json.loads(rows[0].payload or b"{}")
    assert payload["schema"] == 1 and payload["key_points"] == points
    assert set(payload) == set(EpisodePayload.__dataclass_fields__)
    assert stack.waiting(JobKind.KEY_POINTS) == 0
    # transcribed again to the end (a restart): the points are not made twice
    stack.look_ahead_all(episode_id)
    assert stack.waiting(JobKind.KEY_POINTS) == 0

"""The command schema the speaker and the dashboard share (``earmark.payloads``):
each argument typed and bounded, every command the speaker runs listed, and the
listener's edits stored as versions that the pipeline's own writes respect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from earmark.actions import Action
from earmark.commands import ALIASES, Commands
from earmark.errors import EarmarkError
from earmark.payloads import (
    COMMANDS,
    MAX_COMMAND_BYTES,
    CommandError,
    HighlightPayload,
    check_command,
)
from earmark.snip.capture import Capturer
from earmark.snip.stages import SnipStore
from earmark.store.catalog import Catalog
from earmark.store.database import Database
from earmark.store.highlights import DONE, PENDING, Highlight, HighlightBook
from earmark.store.jobs import JobKind, JobQueue
from earmark.sync.remote import decode


def test_the_schema_lists_exactly_the_commands_the_speaker_runs() -> None:
    table = Commands(*([None] * 8)).table  # type: ignore[arg-type]
    runs = {*table, *ALIASES, *(action.value for action in Action)}
    assert set(COMMANDS) == runs


@pytest.mark.parametrize(
    ("name", "args", "error"),
    [
        ("explode", {}, "unknown command 'explode'"),
        ("seek", {}, "'seek' needs 'position'"),
        ("seek", {"position": "far"}, "'position' must be a number, got 'far'"),
        ("seek", {"position": True}, "'position' must be a number"),
        ("seek", {"position": float("nan")}, "'position' must be a number"),
        ("seek", {"position": -1}, "between 0 and None"),
        ("speed", {"value": 3.5}, "'value' must be between 0.5 and 3.0"),
        ("volume", {"value": 50, "colour": "red"}, "'volume' takes no argument 'colour'"),
        ("play", {"value": 1}, "'play' takes no argument 'value' (it takes: none)"),
        ("sleep", {"minutes": "later"}, "'minutes' must be a number, 'end', 'off'"),
        ("queue", {"op": "shuffle"}, "'op' must be one of list, add, remove, move"),
        ("queue", {"op": "add", "episode_id": 1.5}, "'episode_id' must be a whole number"),
        ("retry", {"job_id": 0}, "'job_id' must be between 1"),
        ("subscribe", {"url": "   "}, "'url' must be a non-empty string"),
        ("subscribe", {"url": "h" * 2049}, "'url' is longer than 2048 characters"),
        ("edit", {"highlight": "a", "tags": "garden"}, "'tags' must be a list"),
        ("edit", {"highlight": "a", "tags": ["x"] * 21}, "at most 20"),
        ("edit", {"highlight": "a", "tags": ["ok", 7]}, "'tags[1]' must be a non-empty string"),
        ("edit", {"highlight": "a", "note": "n" * 10_001}, "longer than 10000"),
        ("edit", {"highlight": "a", "deleted": 1}, "'deleted' must be true or false, got 1"),
        ("edit", {"highlight": "a" * 65}, "'highlight' is longer than 64"),
        ("edit", {"highlight": "a", "start": -1}, "'start' must be between 0"),
        ("edit", {"highlight": "a", "end": "later"}, "'end' must be a number, got 'later'"),
        ("listen", {}, "'listen' needs 'highlight'"),
        ("listen", {"highlight": "a", "at": 3}, "'listen' takes no argument 'at'"),
        ("listen", {"highlight": "a", "start": -3}, "'start' must be between 0"),
    ],
)
def test_a_wrong_argument_is_named(name: str, args: dict[str, Any], error: str) -> None:
    with pytest.raises(CommandError) as refused:
        check_command(name, args)
    assert error in str(refused.value)
    assert len(str(refused.value)) < 1500 and "\n" not in str(refused.value)


def test_arguments_come_back_typed() -> None:
    assert check_command("seek", {"position": 12}) == {"position": 12.0}
    assert check_command("sleep", {"minutes": "end"}) == {"minutes": "end"}
    assert check_command("queue", {"op": "move", "episode_id": 3, "index": 0}) == {
        "op": "move",
        "episode_id": 3,
        "index": 0,
    }
    # null is "not given", except where it clears something
    assert check_command("refresh", {"podcast": None}) == {}
    assert check_command("edit", {"highlight": " a ", "title": None, "note": ""}) == {
        "highlight": "a",
        "title": None,
        "note": "",
    }
    assert check_command("edit", {"highlight": "a", "tags": ["b", " c", "b"]})["tags"] == [
        "b",
        "c",
    ]


def test_a_payload_over_the_limit_is_refused_before_it_is_decoded() -> None:
    with pytest.raises(CommandError, match="at most 65,536"):
        decode(b"[" * (MAX_COMMAND_BYTES + 1))  # never parsed: it would nest too deep
    assert decode(b'{"value": 1}') == {"value": 1}


def _done(book: HighlightBook, title: str = "Compost needs air") -> Highlight:
    saved = book.add(
        Highlight(
            id=Highlight.new_id(),
            status=PENDING,
            pressed_at="2026-11-26T10:00:00Z",
            press_position=40.0,
            start=10.0,
            end=50.0,
        )
    )
    return book.update(saved.id, status=DONE, transcript="Compost needs air.", title=title)


def test_an_edit_is_one_version_and_the_summarizer_keeps_the_listeners_title(
    db: Database,
) -> None:
    book = HighlightBook(db, "testbox")
    done = _done(book)
    edited = book.edit(done.id, {"title": "Mine", "starred": True, "tags": ["a"]})
    assert edited.version == done.version + 1
    assert book.edit(done.id, {"starred": True}).version == edited.version  # no change
    # the takeaways stage writes its own title: the listener's stays, the rest lands
    remade = book.update(done.id, title="The summarizer's", takeaways=("new",))
    assert (remade.title, remade.takeaways, remade.starred) == ("Mine", ("new",), True)
    given_back = book.edit(done.id, {"title": ""})
    assert given_back.title == "Mine" and not given_back.title_edited
    assert book.update(done.id, title="The summarizer's").title == "The summarizer's"
    payloads = [HighlightPayload.from_json(p) for p in _queued(db)]
    assert [p.version for p in payloads] == list(range(1, payloads[-1].version + 1))
    assert payloads[-1].starred and payloads[-1].tags == ["a"]


def _queued(db: Database) -> list[bytes]:
    rows = db.query("SELECT payload FROM outbox WHERE topic = 'highlight' ORDER BY id")
    return [bytes(r["payload"]) for r in rows]


def test_a_deleted_highlight_leaves_the_listing_and_an_undo_brings_it_back(
    db: Database,
) -> None:
    book = HighlightBook(db, "testbox")
    older, newer = _done(book, "older"), _done(book, "newer")
    book.edit(newer.id, {"deleted": True})
    assert [h.id for h in book.latest()] == [older.id]
    assert book.with_transcript() == [older.id]
    book.edit(newer.id, {"deleted": False})
    assert {h.id for h in book.latest()} == {older.id, newer.id}


def test_an_edit_while_a_stage_works_does_not_supersede_it_but_a_longer_window_does(
    db: Database, tmp_path: Path
) -> None:
    book = HighlightBook(db, "testbox")
    queue = JobQueue(db)
    store = SnipStore(db, book, queue, Catalog(db), tmp_path)
    done = _done(book)
    assert book.regenerate([done.id]) == 1
    assert book.regenerate([done.id]) == 0  # one is waiting already
    job = queue.claim()
    assert job is not None and job.kind == JobKind.TAKEAWAYS
    book.edit(done.id, {"note": "later"})
    with db.transaction() as conn:
        assert not store.superseded(conn, job, done)
    book.extend(done.id, 70.0, JobKind.CLIP, "a second press")
    with db.transaction() as conn:
        assert store.superseded(conn, job, done)


def test_a_new_window_is_pending_with_its_clip_queued_again_in_the_same_commit(
    db: Database, tmp_path: Path
) -> None:
    book = HighlightBook(db, "testbox")
    done = book.edit(_done(book).id, {"title": "Mine"})
    assert book.regenerate([done.id]) == 1  # a stage still waiting for the old window
    moved = book.edit(done.id, {"start": 20.0, "end": 55.0})
    assert moved.version == done.version + 1
    assert (moved.status, moved.start, moved.end, moved.title) == (PENDING, 20.0, 55.0, "Mine")

    # what was committed: read back through a second connection to the file
    again = Database(tmp_path / "earmark.db")
    try:
        stored = HighlightBook(again, "testbox").get(done.id)
        jobs = JobQueue(again).list()
    finally:
        again.close()
    assert stored is not None and (stored.status, stored.start, stored.end) == (PENDING, 20, 55)
    assert [(j.kind, j.status) for j in jobs] == [("clip", "queued"), ("takeaways", "done")]
    assert jobs[1].last_error == "superseded by the listener's window"
    published = HighlightPayload.from_json(_queued(db)[-1])
    assert (published.version, published.status, published.start) == (moved.version, PENDING, 20)

    # the same window, as a payload rounds it, moves nothing and queues nothing
    assert book.edit(done.id, {"start": 20.0004, "end": 55.0}).version == moved.version
    assert len(JobQueue(db).list()) == 2


@pytest.mark.parametrize(
    ("start", "end", "duration", "error"),
    [
        (30.0, 30.0, None, "the window must end after it starts (start 30 s, end 30 s)"),
        (40.0, 20.0, None, "must end after it starts"),
        (0.0, 60.5, None, "a window of 60.5 s is longer than 60 s (snip.before + snip.after)"),
        (20.0, 75.0, 70.0, "the window ends at 75 s, after the episode's end at 70.0 s"),
    ],
)
def test_a_window_the_speaker_cannot_make_is_refused_in_one_line(
    db: Database, start: float | None, end: float | None, duration: float | None, error: str
) -> None:
    book = HighlightBook(db, "testbox")
    highlight = _done(book)  # 10-50 s
    with pytest.raises(EarmarkError) as refused:
        Capturer(book, 45.0, 15.0).moved(highlight, start, end, duration)
    assert error in str(refused.value) and "\n" not in str(refused.value)


def test_a_window_may_be_as_long_as_a_press_makes_it_or_as_the_highlight_already_is(
    db: Database,
) -> None:
    book = HighlightBook(db, "testbox")
    capture = Capturer(book, 45.0, 15.0)
    highlight = _done(book)  # 10-50 s
    assert capture.moved(highlight, 5.0, 65.0, 70.0) == (5.0, 65.0)
    assert capture.moved(highlight, None, 12.5, None) == (10.0, 12.5)
    # two presses made it 10-85 s: it may keep that length, not grow further
    longer = book.update(highlight.id, end=85.0)
    assert capture.moved(longer, 0.0, 75.0, None) == (0.0, 75.0)
    with pytest.raises(EarmarkError, match="longer than 75.0 s, as long as this highlight"):
        capture.moved(longer, 0.0, 75.5, None)

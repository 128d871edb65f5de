"""The command schema the speaker and the dashboard share (``earmark.payloads``):
each argument typed and bounded, every command the speaker runs listed, and the
listener's edits stored as versions that the pipeline's own writes respect."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from earmark.actions import Action
from earmark.commands import ALIASES, Commands
from earmark.payloads import (
    COMMANDS,
    MAX_COMMAND_BYTES,
    CommandError,
    HighlightPayload,
    check_command,
)
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

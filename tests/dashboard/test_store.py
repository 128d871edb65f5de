"""The dashboard's mirror: one row per highlight at its newest version, whatever
order versions arrive in, and search that takes the listener's words as words."""

from __future__ import annotations

from pathlib import Path

import pytest

from earmark.dashboard.schema import PayloadError, parse
from earmark.dashboard.store import MARK_CLOSE, MARK_OPEN, Filters, Mirror, page_cursor
from earmark.payloads import HighlightPayload

from .conftest import as_json, highlight


@pytest.fixture
def mirror(tmp_path: Path) -> Mirror:
    return Mirror(tmp_path / "dashboard.db")


def test_versions_apply_in_any_order_and_only_a_newer_one_changes_the_row(
    mirror: Mirror,
) -> None:
    assert mirror.apply(highlight(id="a", version=3, status="done", title="Third")) == "new"
    assert mirror.apply(highlight(id="a", version=1)) == "stale"
    assert mirror.apply(highlight(id="a", version=3, title="Again")) == "stale"
    assert mirror.apply(highlight(id="a", version=4, status="done", title="Fourth")) == "updated"
    stored = mirror.highlight("a")
    assert stored is not None and (stored.highlight.version, stored.highlight.title) == (
        4,
        "Fourth",
    )
    assert mirror.count() == 1


def test_search_finds_each_field_once_and_marks_the_match(mirror: Mirror) -> None:
    mirror.apply(highlight(id="t", title="Compost needs air", version=2))
    mirror.apply(highlight(id="k", takeaways=["Turn the heap weekly"], version=2))
    mirror.apply(highlight(id="n", note="ask about worms", version=2))
    mirror.apply(highlight(id="x", transcript="the worms do the work", version=2))
    found = mirror.highlights(Filters(query="worms"))
    assert {s.highlight.id for s in found} == {"n", "x"}
    note = next(s for s in found if s.highlight.id == "n")
    assert note.marked is not None
    assert note.marked["note"] == f"ask about {MARK_OPEN}worms{MARK_CLOSE}"
    # a newer version replaces what is searched
    mirror.apply(highlight(id="n", note="ask about slugs", version=3))
    assert {s.highlight.id for s in mirror.highlights(Filters(query="worms"))} == {"x"}
    # porter stemming and a prefix on the last word
    assert [s.highlight.id for s in mirror.highlights(Filters(query="turning"))] == ["k"]
    assert [s.highlight.id for s in mirror.highlights(Filters(query="comp"))] == ["t"]


def test_pages_of_highlights_pressed_in_the_same_millisecond_skip_none(
    mirror: Mirror,
) -> None:
    """Two speakers can press at the same moment: a page that ends between
    them must not lose the second to a cursor on the time alone."""
    same = "2026-11-26T10:00:00.000Z"
    for n in range(7):
        mirror.apply(highlight(id=f"h{n}", pressed_at=same, device_id=f"speaker{n % 2}"))
    mirror.apply(highlight(id="older", pressed_at="2026-11-26T09:59:59.999Z"))
    seen: list[str] = []
    before = None
    while page := mirror.highlights(Filters(), before=before, limit=3):
        seen += [s.highlight.id for s in page]
        before = page_cursor(page[-1].highlight)
    assert seen == [f"h{n}" for n in reversed(range(7))] + ["older"]


@pytest.mark.parametrize(
    "query", ['"', "AND", "a OR", "NEAR(x y)", "title:air", "*", "-", "^air", '")(']
)
def test_fts5_syntax_in_a_query_is_taken_as_words_not_as_syntax(mirror: Mirror, query: str) -> None:
    mirror.apply(highlight(id="t", title="Compost needs air"))
    mirror.highlights(Filters(query=query))  # no sqlite3.OperationalError


def test_filters_by_podcast_speaker_star_and_day(mirror: Mirror) -> None:
    mirror.apply(highlight(id="a", podcast="Garden", pressed_at="2026-11-20T10:00:00.000Z"))
    mirror.apply(highlight(id="b", podcast="Bread", device_id="hall", starred=True))
    mirror.apply(highlight(id="c", podcast="Garden", pressed_at="2026-11-26T23:59:59.000Z"))
    mirror.apply(highlight(id="d", podcast="Garden", deleted=True))

    def ids(**f: object) -> list[str]:
        return [s.highlight.id for s in mirror.highlights(Filters(**f))]  # type: ignore[arg-type]

    assert ids() == ["c", "b", "a"]  # newest first; the deleted one is not listed
    assert ids(podcast="Garden") == ["c", "a"]
    assert ids(device_id="hall") == ["b"]
    assert ids(starred=True) == ["b"]
    assert ids(since="2026-11-21", until="2026-11-26") == ["c", "b"]
    assert ids(until="2026-11-20") == ["a"]


def test_the_schema_refuses_wrong_types_and_sizes_with_one_line() -> None:
    good = highlight()
    assert parse(HighlightPayload, good.to_json()) == good
    cases = {
        b"{": "not JSON",
        b"[1]": "not a JSON object",
        as_json(good, schema=2): "schema 2 is not 1",
        as_json(good, version="2"): "'version' must be a number",
        as_json(good, version=1.5): "'version' must be a whole number",
        as_json(good, starred="yes"): "'starred' must be true or false",
        as_json(good, takeaways="one"): "'takeaways' must be a list",
        as_json(good, takeaways=["ok", 7]): "'takeaways[1]' must be a string",
        as_json(good, title="t" * 5000): "'title' is 5,000 characters, over 2,000",
        as_json(good, start=float("nan")): "'start' must be a finite number",
        b"{" + b" " * 600_000 + b"}": "over the 524,288 a payload may be",
    }
    for payload, reason in cases.items():
        with pytest.raises(PayloadError, match=None) as caught:
            parse(HighlightPayload, payload)
        assert reason in str(caught.value), (reason, str(caught.value))
        assert "\n" not in str(caught.value)
    missing = as_json(good)
    assert b'"podcast"' in missing
    with pytest.raises(PayloadError, match="'podcast' is missing"):
        parse(HighlightPayload, missing.replace(b'"podcast"', b'"podcast_"'))

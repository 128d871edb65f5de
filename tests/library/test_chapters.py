"""Chapters from Podcasting 2.0 JSON and from the audio file itself."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from earmark.errors import FeedError
from earmark.library.chapters import (
    Chapter,
    chapters_from_notes,
    embedded_chapters,
    fetch_chapters,
    parse_chapters_json,
    parse_podlove,
)
from earmark.library.fileserver import FileServer

from ..conftest import Episode


def chapters_json(*entries: object) -> str:
    return json.dumps({"version": "1.2.0", "chapters": list(entries)})


def test_json_chapters_are_read() -> None:
    data = chapters_json({"startTime": 0, "title": "Intro"}, {"startTime": 61.5, "title": "News"})
    assert parse_chapters_json(data) == [Chapter(0.0, "Intro"), Chapter(61.5, "News")]


def test_out_of_order_chapters_are_sorted() -> None:
    data = chapters_json(
        {"startTime": 300, "title": "C"},
        {"startTime": 0, "title": "A"},
        {"startTime": 120, "title": "B"},
    )
    assert [c.title for c in parse_chapters_json(data)] == ["A", "B", "C"]


def test_invalid_chapter_entries_are_dropped() -> None:
    data = chapters_json(
        {"startTime": 0, "title": "Kept"},
        {"title": "no start"},
        {"startTime": -5, "title": "negative"},
        {"startTime": "soon", "title": "not a number"},
        {"startTime": True, "title": "a boolean"},
        {"startTime": 30, "title": "hidden image change", "toc": False},
        "not an object",
        {"startTime": "90", "title": "  Numeric string  "},
        {"startTime": 90, "title": "same time, second"},
        {"startTime": 120},
    )
    assert parse_chapters_json(data) == [
        Chapter(0.0, "Kept"),
        Chapter(90.0, "Numeric string"),
        Chapter(120.0, ""),
    ]


@pytest.mark.parametrize(
    "data",
    [
        "{not json",
        '{"version": "1.2.0"}',
        '["a list"]',
        '{"chapters": "nope"}',
        b"\xff\xfe",
    ],
)
def test_malformed_chapters_are_a_one_line_error(data: str | bytes) -> None:
    with pytest.raises(FeedError) as error:
        parse_chapters_json(data, "https://t.example/1.json")
    message = str(error.value)
    assert "\n" not in message and "https://t.example/1.json" in message


def test_chapters_are_fetched_over_http(file_server: FileServer) -> None:
    (file_server.root / "c.json").write_text(chapters_json({"startTime": 5, "title": "Five"}))
    assert fetch_chapters(file_server.url("c.json"), timeout=5) == [Chapter(5.0, "Five")]


def test_missing_chapters_file_is_a_one_line_error(file_server: FileServer) -> None:
    with pytest.raises(FeedError, match=r"^cannot fetch chapters .*HTTP 404[^\n]*$"):
        fetch_chapters(file_server.url("missing.json"), timeout=5)


def test_embedded_chapters_are_read_from_the_mp3(garden_episode: Episode) -> None:
    found = embedded_chapters(garden_episode.path)
    assert [c.title for c in found] == [c.title for c in garden_episode.chapters]
    for got, made in zip(found, garden_episode.chapters, strict=True):
        assert got.start == pytest.approx(made.start, abs=0.01)


def test_audio_without_chapters_has_none(make_episode: Callable[..., Episode]) -> None:
    plain = make_episode(name="plain.mp3")
    assert embedded_chapters(plain.path) == []


def test_unreadable_audio_is_a_one_line_error(tmp_path: Path) -> None:
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"this is not audio")
    with pytest.raises(FeedError, match=r"^cannot read chapters of .*junk.mp3: [^\n]+$"):
        embedded_chapters(junk)


PODLOVE_XML = """<?xml version="1.0" encoding="UTF-8"?>
<psc:chapters version="1.2" xmlns:psc="http://podlove.org/simple-chapters">
  <psc:chapter start="00:00:00.000" title="Welcome"/>
  <psc:chapter start="8:26.250" title="Podlove &amp; WordPress" href="http://podlove.org/"/>
  <psc:chapter start="3:07" title="Introducing Podlove"/>
  <psc:chapter start="1:02:03.5" title="&lt;b&gt;Resumée&lt;/b&gt;"/>
  <psc:chapter start="soon" title="No time"/>
</psc:chapters>"""


def test_podlove_chapters_xml_is_read_in_normal_play_time() -> None:
    assert parse_podlove(PODLOVE_XML.encode()) == [
        Chapter(0.0, "Welcome"),
        Chapter(187.0, "Introducing Podlove"),
        Chapter(506.25, "Podlove & WordPress"),
        Chapter(3723.5, "Resumée"),
    ]


def test_podlove_chapters_json_is_read() -> None:
    data = json.dumps(
        [{"start": "00:00:00.000", "title": "Intro"}, {"start": "00:01:59.000", "title": "Podlove"}]
    )
    assert parse_podlove(data) == [Chapter(0.0, "Intro"), Chapter(119.0, "Podlove")]


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ("<html><body>Not chapters</body></html>", "no Podlove chapters"),
        ("<psc:chapters", "not valid Podlove chapters XML"),
        ('<!DOCTYPE x [<!ENTITY a "b">]><chapters/>', "DOCTYPE"),
        ('{"version": 1}', "no list of chapters"),
    ],
)
def test_unreadable_podlove_chapters_are_a_one_line_error(data: str, why: str) -> None:
    with pytest.raises(FeedError, match=why) as error:
        parse_podlove(data)
    assert "\n" not in str(error.value)


LENNY_NOTES = (
    "In this episode, we discuss:\n"
    "• Why most PMs ship too late\n"
    "—\n"
    "Where to find Shreyas:\n• X: https://x.com/shreyas\n\n"
    "In this episode, we cover:\n"
    "(00:00) Introduction to Shreyas\n"
    "(04:32) Why most PMs get prioritization wrong\n"
    "(18:10) The LNO framework\n"
    "(1:09:35) Lightning round\n"
    "Referenced: at 3:30 pm we recorded a bonus\n"
)


def test_show_notes_timestamps_become_chapters() -> None:
    assert chapters_from_notes(LENNY_NOTES) == [
        Chapter(0.0, "Introduction to Shreyas"),
        Chapter(272.0, "Why most PMs get prioritization wrong"),
        Chapter(1090.0, "The LNO framework"),
        Chapter(4175.0, "Lightning round"),
    ]


@pytest.mark.parametrize(
    "notes",
    [
        "04:32 - First\n12:05 – Second",
        "[00:04:32] First\n[00:12:05] Second",
        "• 4:32 First\n• 12:05 Second",
        "<p>(04:32) First</p><p>(12:05) Second</p>",
        "<p>4:32 First<br>12:05 Second<br/></p>",
        "4:32 First &amp; more\n12:05 Second",
    ],
)
def test_show_notes_timestamps_are_read_in_every_shape(notes: str) -> None:
    assert [c.start for c in chapters_from_notes(notes)] == [272.0, 725.0]
    assert chapters_from_notes(notes)[1].title == "Second"


@pytest.mark.parametrize(
    "notes",
    [
        "(04:32) The only timestamp",
        "(12:05) Later first\n(04:32) Earlier second",
        "We met at 3:30 pm and again at 4:15 pm.\nThen at 5:00 we left.",
        "3:30 pm we met\n4:15 pm we left",
        "(04:99) Not a time\n(05:10) Next",
        "",
    ],
)
def test_show_notes_without_a_timestamp_list_have_no_chapters(notes: str) -> None:
    assert chapters_from_notes(notes) == []

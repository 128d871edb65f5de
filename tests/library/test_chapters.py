"""Chapters from Podcasting 2.0 JSON and from the audio file itself."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from earmark.errors import FeedError
from earmark.library.chapters import (
    Chapter,
    embedded_chapters,
    fetch_chapters,
    parse_chapters_json,
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

"""Markdown notes in a vault: one per episode, safe names, and the listener's own
writing kept whatever earmark rewrites."""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

import pytest

from earmark.export.base import Episode, ExportItem, TargetDown
from earmark.export.markdown import END, START, MarkdownExporter, safe_name
from earmark.store.highlights import DONE, Highlight

EPISODE = Episode(
    podcast="The Slow Garden",
    title="Compost: air & water",
    author="Ann",
    feed_url="http://127.0.0.1/feed.xml",
    url="http://127.0.0.1/garden.mp3",
    published_at="2026-11-20T06:00:00Z",
    artwork="http://127.0.0.1/art.jpg",
)


def _highlight(hid: str, start: float, **fields: object) -> Highlight:
    base = Highlight(
        id=hid,
        status=DONE,
        pressed_at="2026-11-26T10:00:00Z",
        press_position=start + 20,
        start=start,
        end=start + 30,
        title=f"Title {hid}",
        quote=f"Quote {hid}.",
        takeaways=(f"Takeaway {hid}",),
    )
    return replace(base, **fields)  # type: ignore[arg-type]


def _item(
    highlight: Highlight, siblings: list[Highlight], episode: Episode = EPISODE
) -> ExportItem:
    return ExportItem(
        highlight, episode, tuple(siblings), link=f"http://dash/highlights/{highlight.id}"
    )


def test_a_note_per_episode_with_front_matter_and_the_highlights_in_order(tmp_path: Path) -> None:
    vault = MarkdownExporter(tmp_path)
    early, late = _highlight("a", 10.0), _highlight("b", 95.0, note="ask Ann", tags=("soil",))
    name = vault.export(_item(late, [early, late]), None)
    assert name == "The Slow Garden - Compost- air & water.md"
    text = (tmp_path / name).read_text()
    assert text.startswith('---\npodcast: "The Slow Garden"\nepisode: "Compost: air & water"\n')
    assert 'url: "http://127.0.0.1/garden.mp3"' in text and 'date: "2026-11-20"' in text
    assert text.index("### Title a") < text.index("### Title b")
    assert "[1:35](http://dash/highlights/b)" in text  # reopens the snip on the dashboard
    assert "> Quote b." in text and "- Takeaway b" in text and "**Note:** ask Ann" in text
    assert "#soil" in text


def test_a_second_export_rewrites_only_between_the_markers(tmp_path: Path) -> None:
    vault = MarkdownExporter(tmp_path)
    first = _highlight("a", 10.0)
    name = vault.export(_item(first, [first]), None)
    path = tmp_path / name
    mine_above = "My own thoughts before.\n"
    mine_below = "\nAnd after, with [[links]].\n"
    text = path.read_text()
    text = text.replace(START, mine_above + START).rstrip("\n") + "\n" + mine_below
    text = text.replace('podcast: "The Slow Garden"', 'podcast: "The Slow Garden"\nrating: 5')
    path.write_text(text)
    edited = replace(first, title="A better title", version=2)
    second = _highlight("b", 50.0)
    assert vault.export(_item(edited, [edited, second]), name) == name
    after = path.read_text()
    assert mine_above in after and mine_below in after and "rating: 5" in after
    assert "### A better title" in after and "### Title b" in after
    assert "### Title a" not in after
    assert after.count(START) == 1 and after.count(END) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == [name]  # one note, no scratch left


def test_markers_the_listener_deleted_put_ours_at_the_end_and_keep_theirs(tmp_path: Path) -> None:
    vault = MarkdownExporter(tmp_path)
    h = _highlight("a", 10.0)
    name = vault.export(_item(h, [h]), None)
    (tmp_path / name).write_text("All mine now.\n")
    vault.export(_item(h, [h]), name)
    text = (tmp_path / name).read_text()
    assert text.startswith("All mine now.\n") and "### Title a" in text


def test_a_deleted_highlight_leaves_the_note(tmp_path: Path) -> None:
    vault = MarkdownExporter(tmp_path)
    a, b = _highlight("a", 10.0), _highlight("b", 50.0)
    name = vault.export(_item(b, [a, b]), None)
    vault.remove(_item(replace(b, deleted=True), [a]), name)
    text = (tmp_path / name).read_text()
    assert "### Title a" in text and "### Title b" not in text


@pytest.mark.parametrize(
    ("title", "expected"),
    [
        ('What? "Why" <not>: a/b\\c|d*', "What- -Why- -not-- a-b-c-d-"),
        ("CON", "_CON"),
        ("trailing dots...", "trailing dots"),
        ("tab\tand\nnewline", "tab and newline"),
        ("", "episode"),
    ],
)
def test_file_names_are_safe_on_every_system(title: str, expected: str) -> None:
    assert safe_name(title) == expected


def test_a_very_long_title_is_capped_and_stays_the_same_name(tmp_path: Path) -> None:
    long = replace(EPISODE, title="ö" * 400)
    h = _highlight("a", 1.0)
    vault = MarkdownExporter(tmp_path)
    name = vault.export(_item(h, [h], long), None)
    assert len(name.encode()) <= 255
    assert vault.export(_item(h, [h], long), None) == name


def test_another_episode_with_the_same_safe_name_gets_its_own_note(tmp_path: Path) -> None:
    vault = MarkdownExporter(tmp_path)
    h = _highlight("a", 1.0)
    one = vault.export(_item(h, [h]), None)
    other_episode = replace(EPISODE, title="Compost/ air & water", url="http://127.0.0.1/2.mp3")
    two = vault.export(_item(h, [h], other_episode), None)
    assert one != two and (tmp_path / one).exists() and (tmp_path / two).exists()


def test_hostile_text_stays_text(tmp_path: Path) -> None:
    vault = MarkdownExporter(tmp_path)
    h = _highlight("a", 1.0, title="<script>x</script> [[Secret]] ![e](http://x)", note="a\n# b")
    text = (tmp_path / vault.export(_item(h, [h]), None)).read_text()
    assert "<script>" not in text and "[[Secret]]" not in text and "\n# b" not in text


def test_a_missing_or_read_only_folder_is_one_clear_error(tmp_path: Path) -> None:
    h = _highlight("a", 1.0)
    with pytest.raises(TargetDown, match="does not exist"):
        MarkdownExporter(tmp_path / "not-mounted").export(_item(h, [h]), None)
    # a folder earmark may not write to: its own (not as root), or one of the
    # kernel's, which refuses every writer
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o500)
    try:
        folder = locked if not os.access(locked, os.W_OK) else Path("/sys/kernel")
        with pytest.raises(TargetDown, match="read-only|cannot write the note"):
            MarkdownExporter(folder).export(_item(h, [h]), None)
    finally:
        locked.chmod(0o700)

"""Everything out as JSON, CSV or Markdown; the JSON into a new box with every
highlight at its version and its clip (moving house)."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest

from earmark.single_instance import InstanceLock
from earmark.store.catalog import Catalog, EpisodeRecord
from earmark.store.database import Database
from earmark.store.highlights import DONE, PENDING, Highlight, HighlightBook

from ..daemon_process import earmark


def _old_box(data: Path) -> list[Highlight]:
    db = Database(data / "earmark.db")
    catalog = Catalog(db)
    podcast = catalog.save_podcast("http://feeds.local/garden.xml", "The Slow Garden")
    with db.transaction() as conn:
        ids = catalog.save_episodes(
            conn, podcast, [EpisodeRecord("garden-1", "Compost", "http://x/1.mp3")]
        )
    book = HighlightBook(db, "oldbox")
    clip = data / "clips" / "clip.opus"
    clip.parent.mkdir(parents=True)
    clip.write_bytes(b"OggS fake opus bytes")
    made = []
    for n, title in enumerate(("=SUM(A1)", "Turn the pile")):
        h = book.add(
            Highlight(
                id=Highlight.new_id(),
                status=PENDING,
                pressed_at=f"2026-11-2{n}T10:00:00Z",
                press_position=40.0,
                start=10.0 + n,
                end=50.0,
                episode_id=ids["garden-1"],
                podcast_title="The Slow Garden",
                episode_title="Compost",
            )
        )
        h = book.update(
            h.id, status=DONE, title=title, takeaways=("air", "water"), clip_path=str(clip)
        )
        made.append(book.edit(h.id, {"note": "mine", "tags": ["soil"]}))
    db.close()
    return made


def test_json_moves_every_highlight_with_its_version_and_clip_to_a_new_box(
    write_config: Callable[..., Path], tmp_path: Path, data_dir: Path
) -> None:
    made = _old_box(data_dir)
    old = write_config({"device_id": "oldbox"})
    archive = tmp_path / "archive.json"
    result = earmark(old, "export", "--format", "json", "--output", str(archive))
    assert result.returncode == 0, result.stderr
    document = json.loads(archive.read_text())
    assert document["kind"] == "earmark archive" and len(document["highlights"]) == 2
    new_data = tmp_path / "newbox"
    new_data.mkdir()
    new = write_config({"device_id": "newbox", "data_dir": str(new_data)}, name="new.yaml")
    result = earmark(new, "import", str(archive))
    assert result.returncode == 0, result.stderr
    assert "2 of 2 highlights imported" in result.stdout
    db = Database(new_data / "earmark.db", read_only=True)
    book = HighlightBook(db, "newbox")
    for h in made:
        moved = book.get(h.id)
        assert moved is not None
        assert (moved.version, moved.title, moved.note, moved.tags) == (
            h.version,
            h.title,
            "mine",
            ("soil",),
        )
        assert moved.clip_path and Path(moved.clip_path).read_bytes() == b"OggS fake opus bytes"
        assert moved.episode_id is None  # not subscribed here: the titles carry it
    db.close()
    again = earmark(new, "import", str(archive))
    assert "0 of 2 highlights imported (2 already here)" in again.stdout


def test_import_waits_for_the_speaker_to_stop_and_refuses_what_is_no_archive(
    write_config: Callable[..., Path], tmp_path: Path, data_dir: Path
) -> None:
    _old_box(data_dir)
    config = write_config()
    archive = tmp_path / "a.json"
    assert earmark(config, "export", "-o", str(archive)).returncode == 0
    with InstanceLock(data_dir):
        held = earmark(config, "import", str(archive))
    assert held.returncode != 0 and "earmark" in held.stderr and "\n" not in held.stderr.strip()
    for text, said in (
        ("not json", "is not JSON"),
        ('{"kind": "something else"}', "is not an earmark archive"),
        ('{"kind": "earmark archive", "schema": 9}', "archive schema 9"),
        ('{"kind": "earmark archive", "schema": 1, "highlights": [{"x": 1}]}', "malformed"),
    ):
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        result = earmark(config, "import", str(bad))
        assert result.returncode != 0 and said in result.stderr, result.stderr


def test_csv_is_safe_in_a_spreadsheet_and_markdown_groups_by_episode(
    write_config: Callable[..., Path], data_dir: Path
) -> None:
    _old_box(data_dir)
    config = write_config()
    table = earmark(config, "export", "--format", "csv").stdout
    rows = list(csv.DictReader(io.StringIO(table)))
    assert [r["title"] for r in rows] == ["'=SUM(A1)", "Turn the pile"]
    assert rows[1]["takeaways"] == "air | water" and rows[1]["tags"] == "soil"
    notes = earmark(config, "export", "--format", "markdown", "--podcast", "the slow garden")
    assert notes.stdout.count('podcast: "The Slow Garden"') == 1
    assert "### Turn the pile" in notes.stdout and "- air" in notes.stdout
    none = earmark(config, "export", "--format", "csv", "--podcast", "Other").stdout
    assert none.strip().count("\n") == 0  # the header only


@pytest.mark.parametrize(
    ("since", "count"), [("2000-01-01T00:00:00Z", 2), ("2999-01-01T00:00:00Z", 0)]
)
def test_since_keeps_only_what_changed_after(
    write_config: Callable[..., Path], data_dir: Path, since: str, count: int
) -> None:
    _old_box(data_dir)
    result = earmark(write_config(), "export", "--since", since)
    assert len(json.loads(result.stdout)["highlights"]) == count

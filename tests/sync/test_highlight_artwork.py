"""A published highlight names its episode and carries its artwork, so the
dashboard can group highlights by episode and show the cover without ever
opening the speaker's database."""

from __future__ import annotations

from earmark.payloads import HighlightPayload
from earmark.store.catalog import Catalog, EpisodeRecord
from earmark.store.database import Database
from earmark.store.highlights import PENDING, Highlight, HighlightBook
from earmark.sync.relay import resync


def _published(db: Database) -> list[HighlightPayload]:
    rows = db.query("SELECT payload FROM outbox WHERE topic = 'highlight' ORDER BY id")
    return [HighlightPayload.from_json(bytes(r["payload"])) for r in rows]


def _snip(book: HighlightBook, episode_id: int | None) -> Highlight:
    return book.add(
        Highlight(
            id=Highlight.new_id(),
            status=PENDING,
            pressed_at="2026-11-26T10:00:00Z",
            press_position=40.0,
            start=10.0,
            end=50.0,
            episode_id=episode_id,
        )
    )


def test_the_episode_image_wins_then_the_podcast_image_then_none(db: Database) -> None:
    catalog = Catalog(db)
    podcast = catalog.save_podcast("https://feeds.example/garden", "Garden", image_url="p.jpg")
    with db.transaction() as conn:
        ids = catalog.save_episodes(
            conn,
            podcast,
            [
                EpisodeRecord("own", "Compost", "https://x/1.mp3", image_url="e.jpg"),
                EpisodeRecord("plain", "Soil", "https://x/2.mp3"),
            ],
        )
    book = HighlightBook(db, "testbox")
    own, plain, loose = _snip(book, ids["own"]), _snip(book, ids["plain"]), _snip(book, None)
    published = {p.id: p for p in _published(db)}
    assert (published[own.id].artwork, published[own.id].episode_id) == ("e.jpg", ids["own"])
    assert (published[plain.id].artwork, published[plain.id].episode_id) == (
        "p.jpg",
        ids["plain"],
    )
    assert (published[loose.id].artwork, published[loose.id].episode_id) == (None, None)
    # a resync publishes the same fields again
    with db.transaction() as conn:
        conn.execute("DELETE FROM outbox")
    assert resync(book, {})["queued"] == 3
    assert {p.id: p.artwork for p in _published(db)} == {
        own.id: "e.jpg",
        plain.id: "p.jpg",
        loose.id: None,
    }

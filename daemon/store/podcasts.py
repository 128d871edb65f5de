"""Subscriptions as the store keeps them: which feeds, when each is refreshed
next, what its server last said (validators, the last error), and the counts
`earmark podcasts` shows."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from earmark.store.database import Database, utc_now


@dataclass(frozen=True)
class StoredPodcast:
    id: int
    feed_url: str
    title: str
    author: str
    description: str
    image_url: str | None
    language: str | None
    subscribed: bool
    etag: str | None
    last_modified: str | None
    refreshed_at: str | None  # the last refresh that reached the server and was read
    attempted_at: str | None
    last_error: str | None
    refresh_due: float | None  # unix time; None = due now
    gone: bool
    episodes: int = 0
    unplayed: int = 0
    downloaded: int = 0


@dataclass(frozen=True)
class PodcastDetails:
    """What a feed says about its podcast, ready to store."""

    title: str
    author: str = ""
    description: str = ""
    image_url: str | None = None
    language: str | None = None
    link: str | None = None
    podcast_guid: str | None = None
    explicit: bool | None = None


_SELECT = (
    "SELECT p.*,"
    " (SELECT count(*) FROM episodes e WHERE e.podcast_id = p.id) AS n_episodes,"
    " (SELECT count(*) FROM episodes e WHERE e.podcast_id = p.id AND e.played = 0) AS n_unplayed,"
    " (SELECT count(*) FROM episodes e WHERE e.podcast_id = p.id"
    "  AND e.local_path IS NOT NULL) AS n_downloaded"
    " FROM podcasts p"
)


def _podcast(row: sqlite3.Row) -> StoredPodcast:
    return StoredPodcast(
        id=row["id"],
        feed_url=row["feed_url"],
        title=row["title"],
        author=row["author"],
        description=row["description"],
        image_url=row["image_url"],
        language=row["language"],
        subscribed=bool(row["subscribed"]),
        etag=row["etag"],
        last_modified=row["last_modified"],
        refreshed_at=row["refreshed_at"],
        attempted_at=row["attempted_at"],
        last_error=row["last_error"],
        refresh_due=row["refresh_due"],
        gone=bool(row["gone"]),
        episodes=row["n_episodes"],
        unplayed=row["n_unplayed"],
        downloaded=row["n_downloaded"],
    )


class Podcasts:
    def __init__(self, db: Database) -> None:
        self.db = db

    def subscribe(self, feed_url: str, title: str = "") -> int:
        """Subscribe to ``feed_url`` (again), due for a refresh now; its id."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO podcasts (feed_url, title, added_at) VALUES (?, ?, ?)"
                " ON CONFLICT(feed_url) DO UPDATE SET subscribed = 1, refresh_due = NULL,"
                " gone = 0",
                (feed_url, title, utc_now()),
            )
            row = conn.execute("SELECT id FROM podcasts WHERE feed_url = ?", (feed_url,)).fetchone()
        return int(row[0])

    def forget(self, podcast_id: int) -> None:
        """Remove a podcast that was never stored (its first fetch failed)."""
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM podcasts WHERE id = ?", (podcast_id,))

    def unsubscribe(self, podcast_id: int) -> None:
        """Stop refreshing; the podcast and its episodes stay for the highlights."""
        with self.db.transaction() as conn:
            conn.execute("UPDATE podcasts SET subscribed = 0 WHERE id = ?", (podcast_id,))

    def get(self, podcast_id: int) -> StoredPodcast | None:
        rows = self.db.query(f"{_SELECT} WHERE p.id = ?", (podcast_id,))
        return _podcast(rows[0]) if rows else None

    def by_url(self, feed_url: str) -> StoredPodcast | None:
        rows = self.db.query(f"{_SELECT} WHERE p.feed_url = ?", (feed_url,))
        return _podcast(rows[0]) if rows else None

    def all(self, subscribed_only: bool = True) -> list[StoredPodcast]:
        where = " WHERE p.subscribed = 1" if subscribed_only else ""
        rows = self.db.query(f"{_SELECT}{where} ORDER BY lower(p.title), p.id")
        return [_podcast(r) for r in rows]

    def find(self, words: str) -> list[StoredPodcast]:
        """Subscribed podcasts named by ``words``: an id, a feed URL, or part of a title."""
        text = words.strip()
        if text.isdigit():
            found = self.get(int(text))
            return [found] if found is not None else []
        return [
            p
            for p in self.all()
            if p.feed_url == text or text.casefold() in (p.title or p.feed_url).casefold()
        ]

    def due(self, now: float) -> list[StoredPodcast]:
        rows = self.db.query(
            f"{_SELECT} WHERE p.subscribed = 1 AND p.gone = 0"
            " AND (p.refresh_due IS NULL OR p.refresh_due <= ?) ORDER BY p.refresh_due, p.id",
            (now,),
        )
        return [_podcast(r) for r in rows]

    def next_due(self) -> float | None:
        rows = self.db.query(
            "SELECT min(coalesce(refresh_due, 0)) FROM podcasts WHERE subscribed = 1 AND gone = 0"
        )
        return None if not rows or rows[0][0] is None else float(rows[0][0])

    def save_details(
        self, conn: sqlite3.Connection, podcast_id: int, details: PodcastDetails
    ) -> None:
        conn.execute(
            "UPDATE podcasts SET title = ?, author = ?, description = ?, image_url = ?,"
            " language = ?, link = ?, podcast_guid = ?, explicit = ? WHERE id = ?",
            (
                details.title,
                details.author,
                details.description,
                details.image_url,
                details.language,
                details.link,
                details.podcast_guid,
                None if details.explicit is None else int(details.explicit),
                podcast_id,
            ),
        )

    def refreshed(
        self,
        conn: sqlite3.Connection,
        podcast_id: int,
        etag: str | None,
        last_modified: str | None,
        due: float,
    ) -> None:
        """The server answered and what it said is stored (or was unchanged)."""
        now = utc_now()
        conn.execute(
            "UPDATE podcasts SET etag = ?, last_modified = ?, refreshed_at = ?, attempted_at = ?,"
            " last_error = NULL, refresh_due = ?, gone = 0 WHERE id = ?",
            (etag, last_modified, now, now, due, podcast_id),
        )

    def failed(self, podcast_id: int, error: str, due: float, gone: bool = False) -> None:
        """The refresh failed: say why in one line; everything stored stays."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE podcasts SET attempted_at = ?, last_error = ?, refresh_due = ?,"
                " gone = ? WHERE id = ?",
                (utc_now(), error, due, int(gone), podcast_id),
            )

    def moved(self, conn: sqlite3.Connection, podcast_id: int, feed_url: str) -> bool:
        """The feed moved for good (301/308, itunes:new-feed-url); False when another
        subscription already has that address."""
        taken = conn.execute(
            "SELECT 1 FROM podcasts WHERE feed_url = ? AND id != ?", (feed_url, podcast_id)
        ).fetchone()
        if taken:
            return False
        conn.execute("UPDATE podcasts SET feed_url = ? WHERE id = ?", (feed_url, podcast_id))
        return True

"""Podcasts, episodes and playback positions as the box has stored them."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass

from earmark.store.database import Database, utc_now


@dataclass(frozen=True)
class StoredEpisode:
    id: int
    podcast_id: int
    podcast_title: str
    guid: str
    title: str
    enclosure_url: str
    published_at: str | None
    duration: float | None
    local_path: str | None
    transcript_url: str | None
    transcript_type: str | None
    chapters: tuple[tuple[float, str], ...]
    played: bool
    # the podcast's language as its feed names it ("de"); None when it names none
    language: str | None = None

    @property
    def source(self) -> str:
        """What the player opens: the downloaded file, else the stream."""
        return self.local_path or self.enclosure_url


_EPISODE_SELECT = (
    "SELECT e.*, p.title AS podcast_title, p.language AS podcast_language"
    " FROM episodes e JOIN podcasts p ON p.id = e.podcast_id"
)


def _episode(row: sqlite3.Row) -> StoredEpisode:
    chapters = tuple(
        (float(c["start"]), str(c["title"])) for c in json.loads(row["chapters_json"] or "[]")
    )
    return StoredEpisode(
        id=row["id"],
        podcast_id=row["podcast_id"],
        podcast_title=row["podcast_title"],
        guid=row["guid"],
        title=row["title"],
        enclosure_url=row["enclosure_url"],
        published_at=row["published_at"],
        duration=row["duration"],
        local_path=row["local_path"],
        transcript_url=row["transcript_url"],
        transcript_type=row["transcript_type"],
        chapters=chapters,
        played=bool(row["played"]),
        language=row["podcast_language"],
    )


class Catalog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def save_podcast(
        self,
        feed_url: str,
        title: str,
        author: str = "",
        description: str = "",
        image_url: str | None = None,
        language: str | None = None,
    ) -> int:
        """Insert or refresh a podcast; ``language`` is the code its feed names."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO podcasts (feed_url, title, author, description, image_url, language,"
                " added_at, refreshed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(feed_url) DO UPDATE SET title=excluded.title,"
                " author=excluded.author, description=excluded.description,"
                " image_url=excluded.image_url, language=excluded.language,"
                " refreshed_at=excluded.refreshed_at",
                (feed_url, title, author, description, image_url, language, utc_now(), utc_now()),
            )
            row = conn.execute("SELECT id FROM podcasts WHERE feed_url = ?", (feed_url,)).fetchone()
        return int(row[0])

    def save_episode(
        self,
        podcast_id: int,
        guid: str,
        title: str,
        enclosure_url: str,
        *,
        enclosure_type: str = "",
        description: str = "",
        published_at: str | None = None,
        duration: float | None = None,
        chapters_url: str | None = None,
        transcript_url: str | None = None,
        transcript_type: str | None = None,
    ) -> int:
        """Insert or refresh an episode from its feed; keeps what the box learned
        itself (download, chapters, played)."""
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO episodes (podcast_id, guid, title, description, published_at,"
                " enclosure_url, enclosure_type, duration, chapters_url, transcript_url,"
                " transcript_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                " ON CONFLICT(podcast_id, guid) DO UPDATE SET title=excluded.title,"
                " description=excluded.description, published_at=excluded.published_at,"
                " enclosure_url=excluded.enclosure_url, enclosure_type=excluded.enclosure_type,"
                " duration=coalesce(excluded.duration, duration),"
                " chapters_url=excluded.chapters_url, transcript_url=excluded.transcript_url,"
                " transcript_type=excluded.transcript_type",
                (
                    podcast_id,
                    guid,
                    title,
                    description,
                    published_at,
                    enclosure_url,
                    enclosure_type,
                    duration,
                    chapters_url,
                    transcript_url,
                    transcript_type,
                ),
            )
            row = conn.execute(
                "SELECT id FROM episodes WHERE podcast_id = ? AND guid = ?", (podcast_id, guid)
            ).fetchone()
        return int(row[0])

    def set_download(self, episode_id: int, local_path: str | None) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE episodes SET local_path = ? WHERE id = ?", (local_path, episode_id)
            )

    def set_chapters(self, episode_id: int, chapters: list[tuple[float, str]]) -> None:
        data = json.dumps([{"start": s, "title": t} for s, t in chapters])
        with self.db.transaction() as conn:
            conn.execute("UPDATE episodes SET chapters_json = ? WHERE id = ?", (data, episode_id))

    def set_podcast_speed(self, podcast_id: int, speed: float | None) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE podcasts SET speed = ? WHERE id = ?", (speed, podcast_id))

    def podcast_speed(self, podcast_id: int) -> float | None:
        rows = self.db.query("SELECT speed FROM podcasts WHERE id = ?", (podcast_id,))
        return float(rows[0][0]) if rows and rows[0][0] is not None else None

    def mark_played(self, episode_id: int, played: bool = True) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE episodes SET played = ? WHERE id = ?", (int(played), episode_id))

    def episode(self, episode_id: int) -> StoredEpisode | None:
        rows = self.db.query(f"{_EPISODE_SELECT} WHERE e.id = ?", (episode_id,))
        return _episode(rows[0]) if rows else None

    def episodes(self, unplayed_only: bool = False) -> list[StoredEpisode]:
        where = "WHERE e.played = 0" if unplayed_only else ""
        rows = self.db.query(f"{_EPISODE_SELECT} {where} ORDER BY e.published_at DESC, e.id DESC")
        return [_episode(r) for r in rows]

    def save_position(self, episode_id: int, position: float, duration: float | None) -> None:
        with self.db.transaction() as conn:
            conn.execute(
                "INSERT INTO playback_positions (episode_id, position, duration, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT(episode_id) DO UPDATE SET"
                " position=excluded.position, duration=excluded.duration,"
                " updated_at=excluded.updated_at",
                (episode_id, position, duration, utc_now()),
            )

    def position(self, episode_id: int) -> float:
        rows = self.db.query(
            "SELECT position FROM playback_positions WHERE episode_id = ?", (episode_id,)
        )
        return float(rows[0][0]) if rows else 0.0

    def last_played(self, finished_too: bool = False) -> StoredEpisode | None:
        """The episode listened to most recently (unfinished only, unless ``finished_too``)."""
        where = "" if finished_too else " WHERE e.played = 0"
        rows = self.db.query(
            f"{_EPISODE_SELECT} JOIN playback_positions pp ON pp.episode_id = e.id"
            f"{where} ORDER BY pp.updated_at DESC LIMIT 1"
        )
        return _episode(rows[0]) if rows else None


class UpNextTable:
    """The queue's order and current episode, saved whenever it changes."""

    def __init__(self, db: Database) -> None:
        self.db = db

    def save(self, episode_ids: list[int], current: int | None) -> None:
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM up_next")
            conn.executemany(
                "INSERT INTO up_next (slot, episode_id, current) VALUES (?, ?, ?)",
                [(i, e, int(i == current)) for i, e in enumerate(episode_ids)],
            )

    def load(self) -> tuple[list[int], int | None]:
        rows = self.db.query("SELECT episode_id, current FROM up_next ORDER BY slot")
        ids = [int(r["episode_id"]) for r in rows]
        current = next((i for i, r in enumerate(rows) if r["current"]), None)
        return ids, current

"""Podcasts, episodes and playback positions as the box has stored them."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any

from earmark.store.database import Database, utc_now

log = logging.getLogger(__name__)

# a position save runs on the event loop and the next one makes it good: it
# waits this long for a lock, not the store's ten seconds
POSITION_SAVE_WAIT = 0.5


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
    description: str = ""
    enclosure_type: str = ""
    enclosure_length: int | None = None
    chapters_url: str | None = None
    chapters_source: str | None = None
    season: int | None = None
    number: int | None = None
    image_url: str | None = None
    in_feed: bool = True
    downloaded_url: str | None = None
    last_error: str | None = None

    @property
    def source(self) -> str:
        """What the player opens: the downloaded file, else the stream."""
        return self.local_path or self.enclosure_url


@dataclass(frozen=True)
class EpisodeRecord:
    """One episode as its feed describes it, ready to store."""

    guid: str
    title: str
    enclosure_url: str
    enclosure_type: str = ""
    enclosure_length: int | None = None
    description: str = ""
    published_at: str | None = None
    duration: float | None = None
    chapters_url: str | None = None
    transcript_url: str | None = None
    transcript_type: str | None = None
    season: int | None = None
    number: int | None = None
    explicit: bool | None = None
    image_url: str | None = None
    soundbites: tuple[dict[str, Any], ...] = ()
    persons: tuple[dict[str, Any], ...] = ()


@dataclass(frozen=True)
class ListenedPosition:
    """Where an episode was stopped, with what names it to other devices."""

    feed_url: str
    enclosure_url: str
    guid: str
    position: float
    duration: float | None
    updated_at: str  # ISO UTC


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
        description=row["description"],
        enclosure_type=row["enclosure_type"],
        enclosure_length=row["enclosure_length"],
        chapters_url=row["chapters_url"],
        chapters_source=row["chapters_source"],
        season=row["season"],
        number=row["number"],
        image_url=row["image_url"],
        in_feed=bool(row["in_feed"]),
        downloaded_url=row["downloaded_url"],
        last_error=row["last_error"],
    )


class Catalog:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._positions_refused = False  # the store refused the last position save

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
        """Insert or refresh one episode (see ``save_episodes``)."""
        record = EpisodeRecord(
            guid,
            title,
            enclosure_url,
            enclosure_type=enclosure_type,
            description=description,
            published_at=published_at,
            duration=duration,
            chapters_url=chapters_url,
            transcript_url=transcript_url,
            transcript_type=transcript_type,
        )
        with self.db.transaction() as conn:
            return self.save_episodes(conn, podcast_id, [record])[guid]

    def save_episodes(
        self, conn: sqlite3.Connection, podcast_id: int, records: Sequence[EpisodeRecord]
    ) -> dict[str, int]:
        """Insert or refresh episodes from their feed, keyed by GUID, in one
        transaction; keeps what the box learned itself (download, chapters,
        played). Returns each GUID's episode id."""
        conn.executemany(
            "INSERT INTO episodes (podcast_id, guid, title, description, published_at,"
            " enclosure_url, enclosure_type, enclosure_length, duration, chapters_url,"
            " transcript_url, transcript_type, season, number, explicit, image_url,"
            " soundbites_json, persons_json, in_feed)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)"
            " ON CONFLICT(podcast_id, guid) DO UPDATE SET title=excluded.title,"
            " description=excluded.description, published_at=excluded.published_at,"
            " enclosure_url=excluded.enclosure_url, enclosure_type=excluded.enclosure_type,"
            " enclosure_length=excluded.enclosure_length,"
            " duration=coalesce(excluded.duration, duration),"
            " chapters_url=excluded.chapters_url, transcript_url=excluded.transcript_url,"
            " transcript_type=excluded.transcript_type, season=excluded.season,"
            " number=excluded.number, explicit=excluded.explicit, image_url=excluded.image_url,"
            " soundbites_json=excluded.soundbites_json, persons_json=excluded.persons_json,"
            " in_feed=1",
            [
                (
                    podcast_id,
                    r.guid,
                    r.title,
                    r.description,
                    r.published_at,
                    r.enclosure_url,
                    r.enclosure_type,
                    r.enclosure_length,
                    r.duration,
                    r.chapters_url,
                    r.transcript_url,
                    r.transcript_type,
                    r.season,
                    r.number,
                    None if r.explicit is None else int(r.explicit),
                    r.image_url,
                    json.dumps(list(r.soundbites)) if r.soundbites else None,
                    json.dumps(list(r.persons)) if r.persons else None,
                )
                for r in records
            ],
        )
        rows = conn.execute(
            "SELECT guid, id FROM episodes WHERE podcast_id = ?", (podcast_id,)
        ).fetchall()
        return {str(r[0]): int(r[1]) for r in rows}

    def left_feed(self, conn: sqlite3.Connection, podcast_id: int, kept: Collection[int]) -> int:
        """Mark the podcast's episodes not in ``kept`` as gone from its feed (never
        deleted: positions and highlights stay attached); how many are marked."""
        rows = conn.execute(
            "SELECT id FROM episodes WHERE podcast_id = ? AND in_feed = 1", (podcast_id,)
        ).fetchall()
        gone = [(int(r[0]),) for r in rows if int(r[0]) not in kept]
        conn.executemany("UPDATE episodes SET in_feed = 0 WHERE id = ?", gone)
        return len(gone)

    def set_download(
        self, episode_id: int, local_path: str | None, from_url: str | None = None
    ) -> None:
        """The episode's downloaded file (None: deleted) and the enclosure URL it came from."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE episodes SET local_path = ?, downloaded_url = ?, downloaded_at = ?,"
                " last_error = NULL WHERE id = ?",
                (
                    local_path,
                    from_url if local_path else None,
                    utc_now() if local_path else None,
                    episode_id,
                ),
            )

    def set_episode_error(self, episode_id: int, error: str | None) -> None:
        with self.db.transaction() as conn:
            conn.execute("UPDATE episodes SET last_error = ? WHERE id = ?", (error, episode_id))

    def set_chapters(
        self, episode_id: int, chapters: Sequence[tuple[float, str]], source: str | None = None
    ) -> None:
        """The episode's chapters and where they came from (podcast:chapters,
        podlove, id3, notes)."""
        with self.db.transaction() as conn:
            conn.execute(
                "UPDATE episodes SET chapters_json = ?, chapters_source = ? WHERE id = ?",
                (_chapters_json(chapters), source, episode_id),
            )

    def offer_chapters(
        self,
        conn: sqlite3.Connection,
        episode_id: int,
        chapters: Sequence[tuple[float, str]],
        source: str,
    ) -> None:
        """Store chapters from the feed itself (show notes, inline Podlove) unless
        the episode has chapters from another source already."""
        conn.execute(
            "UPDATE episodes SET chapters_json = ?, chapters_source = ? WHERE id = ?"
            " AND (chapters_source IS NULL OR chapters_source = ?)"
            " AND (chapters_json IS NULL OR chapters_source IS NOT NULL)",
            (_chapters_json(chapters), source, episode_id, source),
        )

    def guids(self, conn: sqlite3.Connection, podcast_id: int) -> set[str]:
        rows = conn.execute("SELECT guid FROM episodes WHERE podcast_id = ?", (podcast_id,))
        return {str(r[0]) for r in rows}

    def downloaded(self, unsubscribed_only: bool = False) -> list[StoredEpisode]:
        """Episodes with a downloaded file (only unsubscribed podcasts', if asked)."""
        where = " AND p.subscribed = 0" if unsubscribed_only else ""
        rows = self.db.query(f"{_EPISODE_SELECT} WHERE e.local_path IS NOT NULL{where}")
        return [_episode(r) for r in rows]

    def kept_for_listening(self, since: str) -> set[int]:
        """Episodes with highlights, or partly played since ``since`` (ISO UTC)."""
        rows = self.db.query(
            "SELECT episode_id FROM highlights WHERE episode_id IS NOT NULL"
            " UNION SELECT pp.episode_id FROM playback_positions pp"
            " JOIN episodes e ON e.id = pp.episode_id"
            " WHERE e.played = 0 AND pp.position > 0 AND pp.updated_at >= ?",
            (since,),
        )
        return {int(r[0]) for r in rows}

    def last_listened(self) -> dict[int, str]:
        """When each episode's position was last saved (ISO UTC)."""
        rows = self.db.query("SELECT episode_id, updated_at FROM playback_positions")
        return {int(r[0]): str(r[1]) for r in rows}

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

    def episode_named(self, url: str, podcast: str, title: str) -> StoredEpisode | None:
        """An episode by what another speaker knows of it: its URL, else its
        podcast's title and its own (when exactly one episode has both)."""
        if url:
            rows = self.db.query(
                f"{_EPISODE_SELECT} WHERE e.enclosure_url = ? OR e.downloaded_url = ?"
                " ORDER BY e.id LIMIT 1",
                (url, url),
            )
            if rows:
                return _episode(rows[0])
        if podcast and title:
            rows = self.db.query(
                f"{_EPISODE_SELECT} WHERE p.title = ? AND e.title = ? LIMIT 2", (podcast, title)
            )
            if len(rows) == 1:
                return _episode(rows[0])
        return None

    def episodes(
        self, unplayed_only: bool = False, podcast_id: int | None = None
    ) -> list[StoredEpisode]:
        """The subscribed podcasts' episodes (or one podcast's, subscribed or not),
        newest first."""
        where = ["p.subscribed = 1"] if podcast_id is None else ["e.podcast_id = ?"]
        if unplayed_only:
            where.append("e.played = 0")
        params = () if podcast_id is None else (podcast_id,)
        rows = self.db.query(
            f"{_EPISODE_SELECT} WHERE {' AND '.join(where)}"
            " ORDER BY e.published_at DESC, e.id DESC",
            params,
        )
        return [_episode(r) for r in rows]

    def save_position(
        self, episode_id: int, position: float, duration: float | None, played: bool = False
    ) -> bool:
        """Remember where the listener is (and that the episode was heard to its
        end); whether it was saved. Saved every few seconds, so a store that
        refuses a write (a full disk, a failing card, a lock held too long) only
        skips saves, said once and once more when they work again: playing goes
        on, and the next save that works catches up."""
        try:
            with self.db.transaction(wait=POSITION_SAVE_WAIT) as conn:
                conn.execute(
                    "INSERT INTO playback_positions (episode_id, position, duration, updated_at)"
                    " VALUES (?, ?, ?, ?) ON CONFLICT(episode_id) DO UPDATE SET"
                    " position=excluded.position, duration=excluded.duration,"
                    " updated_at=excluded.updated_at",
                    (episode_id, position, duration, utc_now()),
                )
                if played:
                    conn.execute("UPDATE episodes SET played = 1 WHERE id = ?", (episode_id,))
        except sqlite3.Error as exc:  # DiskFullError is one
            if not self._positions_refused:
                log.error(
                    "position not saved episode=%d position=%.1f: %s", episode_id, position, exc
                )
            self._positions_refused = True
            return False
        if self._positions_refused:
            log.info("position saved again episode=%d position=%.1f", episode_id, position)
            self._positions_refused = False
        return True

    def duration(self, episode_id: int) -> float | None:
        """How long the episode is: as the player measured it, else as its feed says;
        None when neither knows."""
        rows = self.db.query(
            "SELECT coalesce(pp.duration, e.duration) FROM episodes e"
            " LEFT JOIN playback_positions pp ON pp.episode_id = e.id WHERE e.id = ?",
            (episode_id,),
        )
        found = rows[0][0] if rows else None
        return float(found) if found else None

    def position(self, episode_id: int) -> float:
        rows = self.db.query(
            "SELECT position FROM playback_positions WHERE episode_id = ?", (episode_id,)
        )
        return float(rows[0][0]) if rows else 0.0

    def positions_since(self, since: str | None) -> list[ListenedPosition]:
        """Every stored position saved at or after ``since`` (ISO UTC, as ``utc_now``
        writes it; all when None), oldest first."""
        rows = self.db.query(
            "SELECT p.feed_url, e.enclosure_url, e.guid, pp.position,"
            " coalesce(pp.duration, e.duration) AS duration, pp.updated_at"
            " FROM playback_positions pp JOIN episodes e ON e.id = pp.episode_id"
            " JOIN podcasts p ON p.id = e.podcast_id"
            " WHERE ? IS NULL OR pp.updated_at >= ? ORDER BY pp.updated_at, pp.episode_id",
            (since, since),
        )
        return [
            ListenedPosition(
                r["feed_url"],
                r["enclosure_url"],
                r["guid"],
                float(r["position"]),
                None if r["duration"] is None else float(r["duration"]),
                r["updated_at"],
            )
            for r in rows
        ]

    def find_episode(self, feed_url: str, enclosure_url: str, guid: str | None) -> int | None:
        """The episode another device names: by its enclosure URL (in the podcast of
        ``feed_url`` first), else by its GUID within that podcast."""
        rows = self.db.query(
            "SELECT e.id FROM episodes e JOIN podcasts p ON p.id = e.podcast_id"
            " WHERE e.enclosure_url = ? ORDER BY p.feed_url = ? DESC, e.id DESC LIMIT 1",
            (enclosure_url, feed_url),
        )
        if not rows and guid:
            rows = self.db.query(
                "SELECT e.id FROM episodes e JOIN podcasts p ON p.id = e.podcast_id"
                " WHERE p.feed_url = ? AND e.guid = ? LIMIT 1",
                (feed_url, guid),
            )
        return int(rows[0][0]) if rows else None

    def save_position_from_elsewhere(
        self, episode_id: int, position: float, duration: float | None, updated_at: str
    ) -> bool:
        """Store a position another device saved at ``updated_at`` (ISO UTC), unless
        the stored one is as new or newer; whether it was stored."""
        with self.db.transaction() as conn:
            cursor = conn.execute(
                "INSERT INTO playback_positions (episode_id, position, duration, updated_at)"
                " VALUES (?, ?, ?, ?) ON CONFLICT(episode_id) DO UPDATE SET"
                " position=excluded.position,"
                " duration=coalesce(excluded.duration, playback_positions.duration),"
                " updated_at=excluded.updated_at"
                " WHERE playback_positions.updated_at < excluded.updated_at",
                (episode_id, position, duration, updated_at),
            )
            return cursor.rowcount > 0

    def last_played(self, finished_too: bool = False) -> StoredEpisode | None:
        """The episode listened to most recently (unfinished only, unless ``finished_too``)."""
        where = "" if finished_too else " WHERE e.played = 0"
        rows = self.db.query(
            f"{_EPISODE_SELECT} JOIN playback_positions pp ON pp.episode_id = e.id"
            f"{where} ORDER BY pp.updated_at DESC LIMIT 1"
        )
        return _episode(rows[0]) if rows else None


def _chapters_json(chapters: Sequence[tuple[float, str]]) -> str:
    return json.dumps([{"start": s, "title": t} for s, t in chapters])


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

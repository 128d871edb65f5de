"""Episode transcripts: segments with word timings, in episode time.

Filled by any source (publisher, look-ahead, snips) and read by every snip of
the episode, so nothing is transcribed twice.
"""

from __future__ import annotations

import json
import sqlite3

from earmark.store.database import Database
from earmark.transcribe.base import Segment, Transcript, Word


def save(conn: sqlite3.Connection, episode_id: int, transcript: Transcript) -> int:
    """Store ``transcript``'s segments, replacing stored ones they overlap from the
    same or a worse source (whisper replaces nothing from the publisher)."""
    count = 0
    for seg in transcript.segments:
        if not seg.text.strip():
            continue
        overlap = conn.execute(
            "SELECT count(*) FROM transcript_segments WHERE episode_id = ? AND start < ? "
            'AND "end" > ? AND source = ?',
            (episode_id, seg.end, seg.start, "publisher"),
        ).fetchone()[0]
        if overlap and transcript.source != "publisher":
            continue
        conn.execute(
            'DELETE FROM transcript_segments WHERE episode_id = ? AND start < ? AND "end" > ? '
            "AND source != 'publisher'",
            (episode_id, seg.end - 0.05, seg.start + 0.05),
        )
        conn.execute(
            'INSERT INTO transcript_segments (episode_id, start, "end", text, words_json, source,'
            " model, low_confidence) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                episode_id,
                seg.start,
                seg.end,
                seg.text.strip(),
                json.dumps([[round(w.start, 3), round(w.end, 3), w.text] for w in seg.words]),
                transcript.source,
                transcript.model,
                int(seg.low_confidence or any(w.low_confidence for w in seg.words)),
            ),
        )
        count += 1
    return count


def between(
    db: Database, episode_id: int, start: float, end: float, source: str | None = None
) -> Transcript:
    """The stored segments that overlap [start, end], in order (only those from
    ``source``, when it is given); a low-confidence segment's words are marked so."""
    only = " AND source = ?" if source is not None else ""
    rows = db.query(
        'SELECT start, "end", text, words_json, source, model, low_confidence'
        ' FROM transcript_segments WHERE episode_id = ? AND "end" > ? AND start < ?'
        f"{only} ORDER BY start",
        (episode_id, start, end, *(() if source is None else (source,))),
    )
    segments = tuple(
        Segment(
            r["start"],
            r["end"],
            r["text"],
            tuple(
                Word(float(a), float(b), str(t), bool(r["low_confidence"]))
                for a, b, t in json.loads(r["words_json"])
            ),
            bool(r["low_confidence"]),
        )
        for r in rows
    )
    source = rows[0]["source"] if rows else ""
    model = rows[0]["model"] if rows else ""
    return Transcript(segments=segments, source=source, model=model)


def mark_transcribed(
    conn: sqlite3.Connection, episode_id: int, start: float, end: float, source: str
) -> None:
    conn.execute(
        'INSERT INTO transcribed_spans (episode_id, start, "end", source) VALUES (?, ?, ?, ?)',
        (episode_id, start, end, source),
    )


def has_source(db: Database, episode_id: int, source: str) -> bool:
    """True when some stretch of the episode was transcribed from ``source``."""
    rows = db.query(
        "SELECT 1 FROM transcribed_spans WHERE episode_id = ? AND source = ? LIMIT 1",
        (episode_id, source),
    )
    return bool(rows)


def spans(db: Database, episode_id: int, source: str | None = None) -> list[tuple[float, float]]:
    """The transcribed stretches of the episode (from ``source`` only, when it is
    given), merged, in order."""
    only = " AND source = ?" if source is not None else ""
    rows = db.query(
        f'SELECT start, "end" FROM transcribed_spans WHERE episode_id = ?{only} ORDER BY start',
        (episode_id, *(() if source is None else (source,))),
    )
    merged: list[tuple[float, float]] = []
    for start, end in rows:
        if merged and start <= merged[-1][1] + 0.05:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def covers(
    db: Database, episode_id: int, start: float, end: float, source: str | None = None
) -> bool:
    """True when [start, end] lies inside what has been transcribed (from ``source``)."""
    return any(a <= start + 0.05 and b >= end - 0.05 for a, b in spans(db, episode_id, source))

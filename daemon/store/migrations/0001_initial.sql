-- earmark's first schema. Never edit a landed migration: add the next number.

CREATE TABLE podcasts (
    id          INTEGER PRIMARY KEY,
    feed_url    TEXT NOT NULL UNIQUE,
    title       TEXT NOT NULL DEFAULT '',
    author      TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    image_url   TEXT,
    speed       REAL,                       -- per-podcast default speed; NULL = player default
    added_at    TEXT NOT NULL,
    refreshed_at TEXT
);

CREATE TABLE episodes (
    id              INTEGER PRIMARY KEY,
    podcast_id      INTEGER NOT NULL REFERENCES podcasts(id) ON DELETE CASCADE,
    guid            TEXT NOT NULL,
    title           TEXT NOT NULL DEFAULT '',
    description     TEXT NOT NULL DEFAULT '',
    published_at    TEXT,
    enclosure_url   TEXT NOT NULL,
    enclosure_type  TEXT NOT NULL DEFAULT '',
    duration        REAL,
    local_path      TEXT,                   -- the downloaded file, when there is one
    chapters_url    TEXT,
    chapters_json   TEXT,                   -- [{"start": s, "title": t}, ...]
    transcript_url  TEXT,                   -- the publisher's transcript (Podcasting 2.0)
    transcript_type TEXT,
    played          INTEGER NOT NULL DEFAULT 0,
    UNIQUE (podcast_id, guid)
);

CREATE TABLE playback_positions (
    episode_id  INTEGER PRIMARY KEY REFERENCES episodes(id) ON DELETE CASCADE,
    position    REAL NOT NULL,
    duration    REAL,
    updated_at  TEXT NOT NULL
);

CREATE TABLE highlights (
    id              TEXT PRIMARY KEY,       -- uuid4 hex, stable across devices
    version         INTEGER NOT NULL DEFAULT 1,
    episode_id      INTEGER REFERENCES episodes(id) ON DELETE SET NULL,
    podcast_title   TEXT NOT NULL DEFAULT '',
    episode_title   TEXT NOT NULL DEFAULT '',
    source_url      TEXT NOT NULL DEFAULT '', -- what was playing: a local path or a stream URL
    status          TEXT NOT NULL,          -- pending, clipped, transcribed, done, failed
    input_source    TEXT NOT NULL DEFAULT '', -- button, headphones, cli, mqtt
    pressed_at      TEXT NOT NULL,          -- UTC ISO-8601
    press_position  REAL NOT NULL,
    start           REAL NOT NULL,
    "end"           REAL NOT NULL,
    transcript      TEXT,
    transcript_source TEXT,
    title           TEXT,
    takeaways_json  TEXT,
    clip_path       TEXT,
    clip_seconds    REAL,
    error           TEXT,
    updated_at      TEXT NOT NULL
);
CREATE INDEX highlights_episode ON highlights(episode_id);

CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY,
    kind        TEXT NOT NULL,              -- clip, transcribe, lookahead, ...
    highlight_id TEXT REFERENCES highlights(id) ON DELETE CASCADE,
    episode_id  INTEGER REFERENCES episodes(id) ON DELETE CASCADE,
    priority    INTEGER NOT NULL DEFAULT 0, -- lower runs first: snips before look-ahead
    status      TEXT NOT NULL DEFAULT 'queued', -- queued, running, done, failed
    attempts    INTEGER NOT NULL DEFAULT 0,
    run_after   REAL NOT NULL DEFAULT 0,    -- unix time; backoff pushes it forward
    last_error  TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);
CREATE INDEX jobs_ready ON jobs(status, priority, run_after);

CREATE TABLE outbox (
    id          INTEGER PRIMARY KEY,
    topic       TEXT NOT NULL,              -- relative to earmark/<device_id>/
    payload     BLOB,
    payload_file TEXT,                      -- large payloads (clips) are read from here
    qos         INTEGER NOT NULL DEFAULT 1,
    retain      INTEGER NOT NULL DEFAULT 0,
    created_at  TEXT NOT NULL,
    sent_at     TEXT
);
CREATE INDEX outbox_unsent ON outbox(sent_at, id);

CREATE TABLE transcript_segments (
    id          INTEGER PRIMARY KEY,
    episode_id  INTEGER NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
    start       REAL NOT NULL,
    "end"       REAL NOT NULL,
    text        TEXT NOT NULL,
    words_json  TEXT NOT NULL DEFAULT '[]', -- [[start, end, word], ...]
    source      TEXT NOT NULL,              -- publisher, faster-whisper, wyoming, openai
    model       TEXT NOT NULL DEFAULT ''
);
CREATE INDEX transcript_segments_episode ON transcript_segments(episode_id, start);

-- which stretches of an episode have been transcribed (speech or not), so silence
-- is not transcribed again and a snip knows whether its window is covered
CREATE TABLE transcribed_spans (
    id          INTEGER PRIMARY KEY,
    episode_id  INTEGER NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
    start       REAL NOT NULL,
    "end"       REAL NOT NULL,
    source      TEXT NOT NULL
);
CREATE INDEX transcribed_spans_episode ON transcribed_spans(episode_id, start);

-- Exports: each highlight in each target (a vault, Readwise, Notion) once.

-- an export job names its target; other jobs leave it NULL
ALTER TABLE jobs ADD COLUMN target TEXT;

-- what each target holds of each highlight: the id it gave the item (written in
-- the same transaction as the job's completion, so a crash cannot lose it and
-- make a second item), and the version it holds
CREATE TABLE exports (
    target           TEXT NOT NULL,
    highlight_id     TEXT NOT NULL REFERENCES highlights(id) ON DELETE CASCADE,
    external_id      TEXT,
    exported_version INTEGER NOT NULL,
    removed          INTEGER NOT NULL DEFAULT 0,
    exported_at      TEXT NOT NULL,
    PRIMARY KEY (target, highlight_id)
);

-- a target whose token was refused waits here, untried, until its settings change
CREATE TABLE export_targets (
    target      TEXT PRIMARY KEY,
    parked      TEXT,          -- why, in one line; NULL when it runs
    settings    TEXT NOT NULL, -- a fingerprint of its settings when parked
    changed_at  TEXT NOT NULL
);

-- the "up next" queue, in order; `current` marks the episode being listened to
CREATE TABLE up_next (
    slot        INTEGER PRIMARY KEY,
    episode_id  INTEGER NOT NULL REFERENCES episodes(id) ON DELETE CASCADE,
    current     INTEGER NOT NULL DEFAULT 0
);

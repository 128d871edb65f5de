-- An episode's key points, made once the look-ahead has transcribed all of it.

CREATE TABLE episode_key_points (
    episode_id  INTEGER PRIMARY KEY REFERENCES episodes(id) ON DELETE CASCADE,
    summarizer  TEXT NOT NULL,              -- what chose them: "minilm 1"
    points_json TEXT NOT NULL,              -- [{"text": ..., "at": seconds}, ...]
    made_at     TEXT NOT NULL
);

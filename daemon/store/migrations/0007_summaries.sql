-- Takeaways with their quote and the summarizer that wrote them; every summary a
-- highlight was given is kept, so a regenerated or refined one never loses the last.

ALTER TABLE highlights ADD COLUMN quote TEXT;
ALTER TABLE highlights ADD COLUMN quote_at REAL;         -- seconds into the episode
ALTER TABLE highlights ADD COLUMN summarizer TEXT;       -- "minilm 1", "llm qwen2.5:1.5b"
ALTER TABLE highlights ADD COLUMN summary_fallback TEXT; -- why it is not the configured one

CREATE TABLE summaries (
    id              INTEGER PRIMARY KEY,
    highlight_id    TEXT NOT NULL REFERENCES highlights(id) ON DELETE CASCADE,
    version         INTEGER NOT NULL,       -- the highlight's version that carried it
    backend         TEXT NOT NULL,
    backend_version TEXT NOT NULL,
    title           TEXT,
    quote           TEXT,
    quote_at        REAL,
    takeaways_json  TEXT NOT NULL,
    fallback_reason TEXT,
    created_at      TEXT NOT NULL
);
CREATE INDEX summaries_by_highlight ON summaries (highlight_id, version);

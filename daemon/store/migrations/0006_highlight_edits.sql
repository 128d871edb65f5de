-- The listener's own changes to a highlight, made on the dashboard or the CLI and
-- published as new versions: the speaker stays the one source of truth.

ALTER TABLE highlights ADD COLUMN note TEXT NOT NULL DEFAULT '';
ALTER TABLE highlights ADD COLUMN starred INTEGER NOT NULL DEFAULT 0;
ALTER TABLE highlights ADD COLUMN tags_json TEXT;
-- 1: deleted by the listener; kept (and published) so an undo is one more version
ALTER TABLE highlights ADD COLUMN deleted INTEGER NOT NULL DEFAULT 0;
-- 1: the title is the listener's; the summarizer never overwrites it
ALTER TABLE highlights ADD COLUMN title_edited INTEGER NOT NULL DEFAULT 0;

-- resync --since reads highlights by the time they changed
CREATE INDEX highlights_updated_at ON highlights (updated_at);

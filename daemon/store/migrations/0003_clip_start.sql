-- where in the episode the kept audio of a highlight begins (its clip may hold
-- more than the final, sentence-snapped window)
ALTER TABLE highlights ADD COLUMN clip_start REAL;

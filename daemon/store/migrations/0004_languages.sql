-- the language a podcast's feed names (RSS <language>, "de-DE" stored as "de");
-- NULL when the feed names none
ALTER TABLE podcasts ADD COLUMN language TEXT;
-- why a highlight has no transcript (its podcast's language is one the model
-- cannot transcribe, or nothing was heard with confidence); NULL = none missing
ALTER TABLE highlights ADD COLUMN transcript_unavailable TEXT;
-- the passages of its transcript heard with low confidence: ["...", ...]
ALTER TABLE highlights ADD COLUMN low_confidence_json TEXT;
-- a segment the recogniser doubted (faster-whisper's avg_logprob / no_speech_prob)
ALTER TABLE transcript_segments ADD COLUMN low_confidence INTEGER NOT NULL DEFAULT 0;

-- The library of a real household: subscriptions managed on the speaker, feeds
-- refreshed on their own schedule with conditional GET, episodes that leave a
-- feed kept, downloads chosen and retired by policy, Podcasting 2.0 metadata.

-- 0: unsubscribed; the podcast and its episodes stay so highlights keep their links
ALTER TABLE podcasts ADD COLUMN subscribed INTEGER NOT NULL DEFAULT 1;
-- the validators of the last full answer, sent back as If-None-Match / If-Modified-Since
ALTER TABLE podcasts ADD COLUMN etag TEXT;
ALTER TABLE podcasts ADD COLUMN last_modified TEXT;
-- the last refresh attempt, its one-line error (NULL when it went well)
ALTER TABLE podcasts ADD COLUMN attempted_at TEXT;
ALTER TABLE podcasts ADD COLUMN last_error TEXT;
-- unix time of the next scheduled refresh (jittered); NULL = due now
ALTER TABLE podcasts ADD COLUMN refresh_due REAL;
-- 1: the server said 410 Gone; not refreshed on schedule any more
ALTER TABLE podcasts ADD COLUMN gone INTEGER NOT NULL DEFAULT 0;
ALTER TABLE podcasts ADD COLUMN podcast_guid TEXT;
ALTER TABLE podcasts ADD COLUMN link TEXT;
ALTER TABLE podcasts ADD COLUMN explicit INTEGER;

ALTER TABLE episodes ADD COLUMN enclosure_length INTEGER;
ALTER TABLE episodes ADD COLUMN season INTEGER;
ALTER TABLE episodes ADD COLUMN number INTEGER;
ALTER TABLE episodes ADD COLUMN explicit INTEGER;
ALTER TABLE episodes ADD COLUMN image_url TEXT;
-- podcast:soundbite [{"start", "duration", "title"}], podcast:person [{"name", "role", ...}]
ALTER TABLE episodes ADD COLUMN soundbites_json TEXT;
ALTER TABLE episodes ADD COLUMN persons_json TEXT;
-- 0: the item left its feed; kept (positions and highlights stay attached)
ALTER TABLE episodes ADD COLUMN in_feed INTEGER NOT NULL DEFAULT 1;
-- the enclosure URL the downloaded file came from: a new URL for a known GUID
-- (re-uploaded audio) is fetched again
ALTER TABLE episodes ADD COLUMN downloaded_url TEXT;
ALTER TABLE episodes ADD COLUMN downloaded_at TEXT;
-- where the stored chapters came from: podcast:chapters, podlove, id3, notes
ALTER TABLE episodes ADD COLUMN chapters_source TEXT;
-- the last one-line error of fetching this episode's audio, chapters or transcript
ALTER TABLE episodes ADD COLUMN last_error TEXT;
CREATE INDEX episodes_podcast ON episodes(podcast_id, published_at);

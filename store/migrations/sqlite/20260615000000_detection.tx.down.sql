DROP INDEX IF EXISTS events_silence_id_idx;

--bun:split

ALTER TABLE events DROP COLUMN silence_id;

--bun:split

DROP TABLE IF EXISTS silences;

--bun:split

DROP TABLE IF EXISTS rules;

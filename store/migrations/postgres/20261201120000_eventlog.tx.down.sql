CREATE INDEX IF NOT EXISTS events_event_type_timestamp_idx ON events (event_type, timestamp);

--bun:split

CREATE INDEX IF NOT EXISTS events_source_timestamp_idx ON events (source, timestamp);

--bun:split

ALTER TABLE incidents DROP COLUMN max_event_severity;

--bun:split

DROP TABLE IF EXISTS outbox;

--bun:split

DROP TABLE IF EXISTS detector_state;

--bun:split

DROP INDEX IF EXISTS events_seq_idx;

--bun:split

ALTER TABLE events DROP COLUMN IF EXISTS seq;

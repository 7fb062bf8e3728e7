ALTER TABLE incidents DROP COLUMN max_event_severity;

--bun:split

DROP TABLE IF EXISTS outbox;

--bun:split

DROP TABLE IF EXISTS detector_state;

--bun:split

DROP INDEX IF EXISTS events_seq_idx;

--bun:split

ALTER TABLE events DROP COLUMN seq;

-- Retention (see store/retention.go): what the housekeeping runs deleted, for /metrics,
-- and the indexes its deletes search by. Post-mortems already live in their own table
-- (postmortems, keyed by incident), so they outlive the incident row they describe.

-- One row per kind of record (events, incidents, timeline, actions, notifications,
-- postmortems): how many the housekeeping runs have deleted in all, and when last.
CREATE TABLE IF NOT EXISTS retention_totals (
    kind        TEXT    NOT NULL PRIMARY KEY,
    deleted     BIGINT  NOT NULL DEFAULT 0,
    last_run_at TEXT
);

--bun:split

CREATE INDEX IF NOT EXISTS postmortems_generated_at_idx ON postmortems (generated_at);

--bun:split

CREATE INDEX IF NOT EXISTS incidents_resolved_at_idx ON incidents (resolved_at) WHERE resolved_at IS NOT NULL;

-- Remediation actions run for incidents (idempotent on key), post-mortems, and the
-- escalation level reached by each incident.
ALTER TABLE incidents ADD COLUMN escalation_level INTEGER NOT NULL DEFAULT 0;

--bun:split

ALTER TABLE incidents ADD COLUMN escalation_name TEXT NOT NULL DEFAULT '';

--bun:split

CREATE TABLE IF NOT EXISTS actions (
    key          TEXT PRIMARY KEY,
    incident_id  TEXT NOT NULL,
    action       TEXT NOT NULL,
    attempt      INTEGER NOT NULL,
    status       TEXT NOT NULL,
    output       TEXT NOT NULL DEFAULT '',
    exit_code    INTEGER NOT NULL DEFAULT 0,
    duration_ms  INTEGER NOT NULL DEFAULT 0,
    actor        TEXT NOT NULL DEFAULT '',
    approved_by  TEXT NOT NULL DEFAULT '',
    error        TEXT NOT NULL DEFAULT '',
    at           TEXT NOT NULL
);

--bun:split

CREATE INDEX IF NOT EXISTS actions_incident_idx ON actions (incident_id, at);

--bun:split

CREATE TABLE IF NOT EXISTS postmortems (
    incident_id  TEXT PRIMARY KEY,
    markdown     TEXT NOT NULL,
    generated_at TEXT NOT NULL
);

-- Remediation actions run for incidents (idempotent on key), post-mortems, and the
-- escalation level reached by each incident.
ALTER TABLE incidents ADD COLUMN escalation_level bigint NOT NULL DEFAULT 0;

--bun:split

ALTER TABLE incidents ADD COLUMN escalation_name text NOT NULL DEFAULT '';

--bun:split

CREATE TABLE IF NOT EXISTS actions (
    key          text PRIMARY KEY,
    incident_id  text NOT NULL,
    action       text NOT NULL,
    attempt      bigint NOT NULL,
    status       text NOT NULL,
    output       text NOT NULL DEFAULT '',
    exit_code    bigint NOT NULL DEFAULT 0,
    duration_ms  bigint NOT NULL DEFAULT 0,
    actor        text NOT NULL DEFAULT '',
    approved_by  text NOT NULL DEFAULT '',
    error        text NOT NULL DEFAULT '',
    at           timestamptz NOT NULL
);

--bun:split

CREATE INDEX IF NOT EXISTS actions_incident_idx ON actions (incident_id, at);

--bun:split

CREATE TABLE IF NOT EXISTS postmortems (
    incident_id  text PRIMARY KEY,
    markdown     text NOT NULL,
    generated_at timestamptz NOT NULL
);

-- Mahavishnu read model and event store, SQLite dialect.
-- Times are TEXT in the fixed-width UTC form 2006-01-02T15:04:05.000000Z (see store/time.go),
-- so string order is time order. JSON columns are TEXT holding a JSON document.
-- There are no foreign keys from events/timeline to incidents on purpose: the detector may
-- attach events, and activities may write timeline entries, before the incident row exists.

CREATE TABLE IF NOT EXISTS events (
    event_id       TEXT    NOT NULL PRIMARY KEY,
    timestamp      TEXT    NOT NULL,
    received_at    TEXT    NOT NULL,
    event_type     TEXT    NOT NULL,
    source         TEXT    NOT NULL,
    severity       TEXT    NOT NULL,
    message        TEXT    NOT NULL DEFAULT '',
    metadata       TEXT,
    correlation_id TEXT    NOT NULL DEFAULT '',
    component      TEXT    NOT NULL DEFAULT '',
    incident_id    TEXT
);

--bun:split

CREATE INDEX IF NOT EXISTS events_timestamp_idx ON events (timestamp);

--bun:split

CREATE INDEX IF NOT EXISTS events_incident_id_idx ON events (incident_id);

--bun:split

CREATE INDEX IF NOT EXISTS events_event_type_timestamp_idx ON events (event_type, timestamp);

--bun:split

CREATE INDEX IF NOT EXISTS events_source_timestamp_idx ON events (source, timestamp);

--bun:split

CREATE TABLE IF NOT EXISTS incidents (
    incident_id         TEXT    NOT NULL PRIMARY KEY,
    incident_type       TEXT    NOT NULL,
    severity            TEXT    NOT NULL,
    status              TEXT    NOT NULL,
    title               TEXT    NOT NULL DEFAULT '',
    description         TEXT    NOT NULL DEFAULT '',
    rule_id             TEXT    NOT NULL DEFAULT '',
    fingerprint         TEXT    NOT NULL,
    source              TEXT    NOT NULL DEFAULT '',
    detected_at         TEXT    NOT NULL,
    first_event_at      TEXT,
    last_event_at       TEXT,
    acknowledged_at     TEXT,
    acknowledged_by     TEXT    NOT NULL DEFAULT '',
    assigned_to         TEXT    NOT NULL DEFAULT '',
    resolved_at         TEXT,
    resolved_by         TEXT    NOT NULL DEFAULT '',
    resolution_notes    TEXT    NOT NULL DEFAULT '',
    closed_at           TEXT,
    closed_by           TEXT    NOT NULL DEFAULT '',
    event_count         INTEGER NOT NULL DEFAULT 0,
    affected_components TEXT    NOT NULL DEFAULT '[]',
    mttd_seconds        REAL,
    mtta_seconds        REAL,
    mttr_seconds        REAL,
    mttr_breached       INTEGER NOT NULL DEFAULT 0,
    workflow_id         TEXT    NOT NULL DEFAULT '',
    run_id              TEXT    NOT NULL DEFAULT '',
    updated_at          TEXT    NOT NULL,
    -- version grows with every workflow change; an upsert never writes an older one.
    version             INTEGER    NOT NULL DEFAULT 0
);

--bun:split

CREATE INDEX IF NOT EXISTS incidents_fingerprint_idx ON incidents (fingerprint);

--bun:split

CREATE INDEX IF NOT EXISTS incidents_status_idx ON incidents (status);

--bun:split

CREATE INDEX IF NOT EXISTS incidents_severity_idx ON incidents (severity);

--bun:split

CREATE INDEX IF NOT EXISTS incidents_detected_at_idx ON incidents (detected_at);

--bun:split

CREATE TABLE IF NOT EXISTS timeline (
    id          INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    incident_id TEXT    NOT NULL,
    at          TEXT    NOT NULL,
    kind        TEXT    NOT NULL,
    actor       TEXT    NOT NULL DEFAULT '',
    message     TEXT    NOT NULL DEFAULT '',
    "key"       TEXT    NOT NULL DEFAULT ''
);

--bun:split

CREATE INDEX IF NOT EXISTS timeline_incident_at_idx ON timeline (incident_id, at, id);

--bun:split

CREATE UNIQUE INDEX IF NOT EXISTS timeline_incident_key_idx ON timeline (incident_id, "key") WHERE "key" <> '';

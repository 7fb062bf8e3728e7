-- On call (issue 11): people, schedules with their overrides, and heartbeats.

-- people: the responders; name is the identity tokens are issued to.
CREATE TABLE IF NOT EXISTS people (
    name        TEXT NOT NULL PRIMARY KEY,
    email       TEXT NOT NULL DEFAULT '',
    slack_user  TEXT NOT NULL DEFAULT '',
    chat_handle TEXT NOT NULL DEFAULT '',
    phone       TEXT NOT NULL DEFAULT '',
    time_zone   TEXT NOT NULL DEFAULT '',
    role        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL
);

--bun:split

CREATE INDEX IF NOT EXISTS people_slack_user_idx ON people (slack_user);

--bun:split

-- schedules: layers is the JSON array of oncall.Layer.
CREATE TABLE IF NOT EXISTS schedules (
    name       TEXT NOT NULL PRIMARY KEY,
    layers     TEXT NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL
);

--bun:split

CREATE TABLE IF NOT EXISTS schedule_overrides (
    override_id TEXT NOT NULL PRIMARY KEY,
    schedule    TEXT NOT NULL REFERENCES schedules (name) ON DELETE CASCADE,
    layer       INTEGER NOT NULL,
    person      TEXT NOT NULL,
    from_at     TEXT NOT NULL,
    to_at       TEXT NOT NULL,
    created_by  TEXT NOT NULL DEFAULT '',
    created_at  TEXT NOT NULL
);

--bun:split

CREATE INDEX IF NOT EXISTS schedule_overrides_schedule_idx ON schedule_overrides (schedule, to_at);

--bun:split

-- heartbeats: each is one long-running workflow; the row is its definition and the state
-- the workflow last wrote (last ping, next deadline, state, the incident it opened).
CREATE TABLE IF NOT EXISTS heartbeats (
    name             TEXT NOT NULL PRIMARY KEY,
    every_ms         INTEGER NOT NULL,
    grace_ms         INTEGER NOT NULL,
    severity         TEXT NOT NULL,
    escalation       TEXT NOT NULL DEFAULT '',
    state            TEXT NOT NULL,
    last_ping_at     TEXT,
    next_deadline_at TEXT,
    incident_id      TEXT NOT NULL DEFAULT '',
    created_by       TEXT NOT NULL DEFAULT '',
    created_at       TEXT NOT NULL,
    updated_at       TEXT NOT NULL
);

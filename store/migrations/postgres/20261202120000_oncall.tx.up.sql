-- On call (issue 11): people, schedules with their overrides, and heartbeats.

-- people: the responders; name is the identity tokens are issued to.
CREATE TABLE IF NOT EXISTS people (
    name        text NOT NULL PRIMARY KEY,
    email       text NOT NULL DEFAULT '',
    slack_user  text NOT NULL DEFAULT '',
    chat_handle text NOT NULL DEFAULT '',
    phone       text NOT NULL DEFAULT '',
    time_zone   text NOT NULL DEFAULT '',
    role        text NOT NULL,
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL
);

--bun:split

CREATE INDEX IF NOT EXISTS people_slack_user_idx ON people (slack_user);

--bun:split

-- schedules: layers is the JSON array of oncall.Layer.
CREATE TABLE IF NOT EXISTS schedules (
    name       text NOT NULL PRIMARY KEY,
    layers     jsonb NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL
);

--bun:split

CREATE TABLE IF NOT EXISTS schedule_overrides (
    override_id text NOT NULL PRIMARY KEY,
    schedule    text NOT NULL REFERENCES schedules (name) ON DELETE CASCADE,
    layer       integer NOT NULL,
    person      text NOT NULL,
    from_at     timestamptz NOT NULL,
    to_at       timestamptz NOT NULL,
    created_by  text NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL
);

--bun:split

CREATE INDEX IF NOT EXISTS schedule_overrides_schedule_idx ON schedule_overrides (schedule, to_at);

--bun:split

-- heartbeats: each is one long-running workflow; the row is its definition and the state
-- the workflow last wrote (last ping, next deadline, state, the incident it opened).
CREATE TABLE IF NOT EXISTS heartbeats (
    name             text NOT NULL PRIMARY KEY,
    every_ms         bigint NOT NULL,
    grace_ms         bigint NOT NULL,
    severity         text NOT NULL,
    escalation       text NOT NULL DEFAULT '',
    state            text NOT NULL,
    last_ping_at     timestamptz,
    next_deadline_at timestamptz,
    incident_id      text NOT NULL DEFAULT '',
    created_by       text NOT NULL DEFAULT '',
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL
);

-- Detection rules, silences (maintenance windows) and the silence mark on events,
-- PostgreSQL dialect. Times are timestamptz; JSON columns are jsonb.

-- rules: the detection rules, seeded from the configured rules on first start and changed
-- with `incidents rules ...`. definition is the whole schemas.Rule as JSON; enabled repeats
-- its "enabled" for queries.
CREATE TABLE IF NOT EXISTS rules (
    rule_id    text        NOT NULL PRIMARY KEY,
    position   integer     NOT NULL,
    enabled    boolean     NOT NULL,
    definition jsonb       NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    updated_by text        NOT NULL DEFAULT ''
);

--bun:split

CREATE TABLE IF NOT EXISTS silences (
    silence_id text        NOT NULL PRIMARY KEY,
    matchers   jsonb       NOT NULL,
    starts_at  timestamptz NOT NULL,
    ends_at    timestamptz NOT NULL,
    comment    text        NOT NULL DEFAULT '',
    created_by text        NOT NULL,
    created_at timestamptz NOT NULL,
    expired_by text        NOT NULL DEFAULT ''
);

--bun:split

CREATE INDEX IF NOT EXISTS silences_ends_at_idx ON silences (ends_at);

--bun:split

-- The silence that muted an event: stored, never detected.
ALTER TABLE events ADD COLUMN IF NOT EXISTS silence_id text;

--bun:split

CREATE INDEX IF NOT EXISTS events_silence_id_idx ON events (silence_id) WHERE silence_id IS NOT NULL;

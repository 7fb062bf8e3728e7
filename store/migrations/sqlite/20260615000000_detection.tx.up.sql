-- Detection rules, silences (maintenance windows) and the silence mark on events, SQLite
-- dialect. Times are TEXT in the fixed-width UTC form of store/time.go; JSON columns are
-- TEXT holding a JSON document.

-- rules: the detection rules, seeded from the configured rules on first start and changed
-- with `incidents rules ...`. definition is the whole schemas.Rule as JSON; enabled repeats
-- its "enabled" for queries.
CREATE TABLE IF NOT EXISTS rules (
    rule_id    TEXT    NOT NULL PRIMARY KEY,
    position   INTEGER NOT NULL,
    enabled    INTEGER NOT NULL,
    definition TEXT    NOT NULL,
    created_at TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    updated_by TEXT    NOT NULL DEFAULT ''
);

--bun:split

CREATE TABLE IF NOT EXISTS silences (
    silence_id TEXT NOT NULL PRIMARY KEY,
    matchers   TEXT NOT NULL,
    starts_at  TEXT NOT NULL,
    ends_at    TEXT NOT NULL,
    comment    TEXT NOT NULL DEFAULT '',
    created_by TEXT NOT NULL,
    created_at TEXT NOT NULL,
    expired_by TEXT NOT NULL DEFAULT ''
);

--bun:split

CREATE INDEX IF NOT EXISTS silences_ends_at_idx ON silences (ends_at);

--bun:split

-- The silence that muted an event: stored, never detected.
ALTER TABLE events ADD COLUMN silence_id TEXT;

--bun:split

CREATE INDEX IF NOT EXISTS events_silence_id_idx ON events (silence_id) WHERE silence_id IS NOT NULL;

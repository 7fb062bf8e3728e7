-- Access control (issue 10): API tokens (only their SHA-256 is kept), dashboard sessions
-- (only the SHA-256 of the session ID is kept) and the audit log of every write and every
-- denied attempt.
CREATE TABLE IF NOT EXISTS api_tokens (
    token_id     TEXT PRIMARY KEY,
    name         TEXT NOT NULL,
    role         TEXT NOT NULL,
    hash         TEXT NOT NULL UNIQUE,
    created_by   TEXT NOT NULL DEFAULT '',
    created_at   TEXT NOT NULL,
    expires_at   TEXT,
    revoked_at   TEXT,
    last_used_at TEXT
);

--bun:split

CREATE INDEX IF NOT EXISTS api_tokens_name_idx ON api_tokens (name);

--bun:split

-- token_id is the token the session was opened with ('' for the config's api.token).
CREATE TABLE IF NOT EXISTS sessions (
    hash        TEXT PRIMARY KEY,
    token_id    TEXT NOT NULL,
    name        TEXT NOT NULL,
    role        TEXT NOT NULL,
    csrf        TEXT NOT NULL,
    created_at  TEXT NOT NULL,
    expires_at  TEXT NOT NULL
);

--bun:split

CREATE INDEX IF NOT EXISTS sessions_expires_idx ON sessions (expires_at);

--bun:split

-- result is allowed, denied or failed; status is the HTTP status answered.
CREATE TABLE IF NOT EXISTS audit_log (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    at            TEXT NOT NULL,
    actor         TEXT NOT NULL DEFAULT '',
    role          TEXT NOT NULL DEFAULT '',
    authenticated INTEGER NOT NULL DEFAULT 0,
    via           TEXT NOT NULL DEFAULT '',
    action        TEXT NOT NULL,
    target        TEXT NOT NULL DEFAULT '',
    incident_id   TEXT NOT NULL DEFAULT '',
    remote_addr   TEXT NOT NULL DEFAULT '',
    result        TEXT NOT NULL,
    status        INTEGER NOT NULL DEFAULT 0,
    detail        TEXT NOT NULL DEFAULT ''
);

--bun:split

CREATE INDEX IF NOT EXISTS audit_log_at_idx ON audit_log (at);

--bun:split

CREATE INDEX IF NOT EXISTS audit_log_incident_idx ON audit_log (incident_id, at);

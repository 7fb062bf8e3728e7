-- Notification throttling shared by every worker process (see store/notify_limits.go):
-- one row per (incident, channel, kind) for deduplication, one row per channel for its
-- rate limit. Rows are written inside one transaction per send decision.

-- sent_at is the last accepted send; reserved_at and token mark a send in flight.
CREATE TABLE IF NOT EXISTS notify_throttle (
    incident_id  TEXT NOT NULL,
    channel      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    sent_at      TEXT,
    reserved_at  TEXT,
    token        TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (incident_id, channel, kind)
);

--bun:split

CREATE INDEX IF NOT EXISTS notify_throttle_sent_idx ON notify_throttle (sent_at);

--bun:split

-- tat is the channel's theoretical arrival time (generic cell rate algorithm); NULL is a
-- full bucket.
CREATE TABLE IF NOT EXISTS notify_rate_limits (
    channel  TEXT PRIMARY KEY,
    tat      TEXT
);

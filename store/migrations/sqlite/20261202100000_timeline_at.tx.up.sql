CREATE INDEX IF NOT EXISTS timeline_at_idx ON timeline (at, id);

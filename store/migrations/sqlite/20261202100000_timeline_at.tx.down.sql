DROP INDEX IF EXISTS timeline_at_idx;

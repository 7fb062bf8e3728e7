DROP INDEX IF EXISTS incidents_resolved_at_idx;

--bun:split

DROP INDEX IF EXISTS postmortems_generated_at_idx;

--bun:split

DROP TABLE IF EXISTS retention_totals;

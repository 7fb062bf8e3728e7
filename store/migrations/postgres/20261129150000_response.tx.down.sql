DROP TABLE IF EXISTS postmortems;

--bun:split

DROP TABLE IF EXISTS actions;

--bun:split

ALTER TABLE incidents DROP COLUMN escalation_name;

--bun:split

ALTER TABLE incidents DROP COLUMN escalation_level;

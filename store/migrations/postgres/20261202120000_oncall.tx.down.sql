DROP TABLE IF EXISTS heartbeats;

--bun:split

DROP TABLE IF EXISTS schedule_overrides;

--bun:split

DROP TABLE IF EXISTS schedules;

--bun:split

DROP TABLE IF EXISTS people;

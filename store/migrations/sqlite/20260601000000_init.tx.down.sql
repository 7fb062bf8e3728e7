DROP TABLE IF EXISTS timeline;

--bun:split

DROP TABLE IF EXISTS incidents;

--bun:split

DROP TABLE IF EXISTS events;

DROP TABLE IF EXISTS notify_rate_limits;

--bun:split

DROP TABLE IF EXISTS notify_throttle;

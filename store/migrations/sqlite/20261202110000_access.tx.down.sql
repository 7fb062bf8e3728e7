DROP TABLE IF EXISTS audit_log;

--bun:split

DROP TABLE IF EXISTS sessions;

--bun:split

DROP TABLE IF EXISTS api_tokens;

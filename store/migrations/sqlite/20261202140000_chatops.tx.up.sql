-- Slack threads (issue 12): the first Web API message of each incident, whose ts every
-- later message of the incident replies to, and which chat.update rewrites when the
-- incident is acknowledged, resolved or an approval decided.
CREATE TABLE IF NOT EXISTS slack_threads (
    incident_id  TEXT PRIMARY KEY,
    channel      TEXT NOT NULL,
    ts           TEXT NOT NULL
);

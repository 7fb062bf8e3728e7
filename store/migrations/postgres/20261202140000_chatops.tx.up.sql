-- Slack threads (issue 12): the first Web API message of each incident, whose ts every
-- later message of the incident replies to, and which chat.update rewrites when the
-- incident is acknowledged, resolved or an approval decided.
CREATE TABLE IF NOT EXISTS slack_threads (
    incident_id  text PRIMARY KEY,
    channel      text NOT NULL,
    ts           text NOT NULL
);

// Package notify sends incident notifications: the Message every channel renders, the
// Notifier interface each channel implements (one subpackage per channel: notify/slack,
// notify/pagerduty, notify/email, notify/webhook), the log channel, the Router that picks
// channels by severity, the Throttle that limits how often a channel is used, and the
// Service that puts them together for the worker.
//
// # The worker's router
//
// A Service turns each notification the incident workflow asks for (a Request) into a
// Message with its links (dashboard, Temporal Web UI), names its channels (an escalation
// level's, or those routed by severity) and sends it to one channel at a time through the
// Throttle. It takes plain inputs (channels by name, severities per channel, a Throttle,
// link bases); the CLI builds them from the config.
//
// # Routing
//
// A Router holds one Route per channel with the severities it receives (the config's
// notify_on_severity). With the shipped defaults this gives the quickstart's table:
//
//	LOW      -> log
//	MEDIUM   -> log, Slack
//	HIGH     -> log, Slack
//	CRITICAL -> log, PagerDuty, Slack
//
// A channel may also decline kinds it has no use for (KindFilter): PagerDuty only handles
// opened/escalated (trigger), acknowledged (acknowledge), resolved (resolve) and test.
//
// # Errors
//
// Every channel error is an *Error carrying the channel name, the HTTP status or SMTP code
// when there was an answer, and whether retrying is worth it (Retryable); RetryAfter gives
// the receiver's requested delay (HTTP Retry-After). A send the Throttle held back returns
// an error matching ErrSuppressed: not a failure, but something to record.
//
// Errors never contain secrets: webhook URLs, routing keys and passwords are scrubbed from
// the messages, and a scrubbed error does not unwrap to the original one (whose text
// net/http builds from the URL), so nothing reaches logs or the Temporal history.
//
// # Throttling
//
// Throttle.Wrap limits a channel to one notification per (incident, channel, kind) within
// an interval and to a per-channel rate (the generic cell rate algorithm, see Rate). Sends
// it holds back are counted (Stats) and reported as ErrSuppressed; a failed send does not
// count as sent, so a retry goes through. A send in flight holds its key for at most
// DefaultInFlight, so a worker that dies mid-send does not block the retry.
//
// The windows and rates live in a ThrottleState: MemoryState for one process, or the
// store's (built by the CLI over store.AdmitNotification) so that every worker process
// sharing the database honours one limit. notifytest.TestThrottleState checks an
// implementation against the contract.
//
// # Wire formats
//
//   - slack: an incoming-webhook POST of a Block Kit message (header, a section with
//     severity/status/type/incident fields, link buttons to the dashboard and the Temporal
//     UI, a context line). Acknowledge and resolve are posted as new messages.
//   - pagerduty: Events API v2 (trigger, acknowledge, resolve) with dedup_key = incident ID.
//   - email: SMTP (STARTTLS required by default), text/plain with a text/html alternative,
//     subject "[SEVERITY] title (incident ID)".
//   - webhook: a JSON POST of the Message plus "version": 1. With a secret, the request
//     carries X-Mahavishnu-Timestamp (Unix seconds) and X-Mahavishnu-Signature:
//     sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>; see webhook.Verify.
package notify

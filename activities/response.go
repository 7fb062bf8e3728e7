package activities

import (
	"time"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// Notification kinds.
const (
	NotifyOpened            = "opened"
	NotifyAcknowledged      = "acknowledged"
	NotifyEscalated         = "escalated"
	NotifyResolved          = "resolved"
	NotifyMTTRBreached      = "mttr_breached"
	NotifyApprovalRequested = "approval_requested"
	NotifyApprovalExpired   = "approval_expired"
	NotifyReminder          = "reminder"
)

// NotifyInput asks for one notification about the incident.
type NotifyInput struct {
	Incident schemas.Incident `json:"incident"`
	Kind     string           `json:"kind"`
	Text     string           `json:"text"`
	// At is when the workflow asked for the notification (stable across retries).
	At time.Time `json:"at"`
	// Channels, when set, are the channels of an escalation level; otherwise the
	// channels are routed by the incident's severity.
	Channels []string `json:"channels,omitempty"`
	Targets  []string `json:"targets,omitempty"`
	// Action is the remediation action an approval request or expiry is about; the
	// throttle keeps one window per action.
	Action string `json:"action,omitempty"`
	// People are paged on their own channels (issue 11): Slack mentions, their email.
	People []schemas.Contact `json:"people,omitempty"`
	// Key identifies this notification: a retried activity never sends it twice to a
	// channel that already has it.
	Key string `json:"key"`
	// MaxAttempts is the activity's retry limit: at the last attempt, failures are
	// recorded on the timeline instead of being retried.
	MaxAttempts int32 `json:"max_attempts"`
}

// NotifyResult says what happened per channel.
type NotifyResult struct {
	Sent       []string `json:"sent,omitempty"`
	Failed     []string `json:"failed,omitempty"`
	Suppressed []string `json:"suppressed,omitempty"`
}

// ActionInput asks to run one remediation action for the incident.
type ActionInput struct {
	Incident   schemas.Incident `json:"incident"`
	Action     string           `json:"action"`
	Actor      string           `json:"actor"`
	ApprovedBy string           `json:"approved_by,omitempty"`
	// Attempt numbers runs of the same action on the incident; with the incident and
	// action it forms the idempotency key.
	Attempt int  `json:"attempt"`
	DryRun  bool `json:"dry_run,omitempty"`
}

package notify

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// Kind says what happened to the incident that a Message reports.
type Kind string

const (
	// KindOpened reports a newly detected incident.
	KindOpened Kind = "opened"
	// KindAcknowledged reports that a responder acknowledged the incident.
	KindAcknowledged Kind = "acknowledged"
	// KindEscalated reports that the acknowledgement target was missed.
	KindEscalated Kind = "escalated"
	// KindResolved reports that the incident was resolved.
	KindResolved Kind = "resolved"
	// KindMTTRBreached reports that the MTTR target passed without resolution.
	KindMTTRBreached Kind = "mttr_breached"
	// KindApprovalRequested reports a remediation action waiting for approval.
	KindApprovalRequested Kind = "approval_requested"
	// KindApprovalExpired reports an approval that did not arrive in time.
	KindApprovalExpired Kind = "approval_expired"
	// KindReminder reminds the assignee of a stable incident that waits to be resolved.
	KindReminder Kind = "reminder"
	// KindTest is a test message sent by `incidents notify test`.
	KindTest Kind = "test"
)

// Kinds lists every kind.
var Kinds = []Kind{KindOpened, KindAcknowledged, KindEscalated, KindResolved, KindMTTRBreached,
	KindApprovalRequested, KindApprovalExpired, KindReminder, KindTest}

// Valid reports whether k is one of Kinds.
func (k Kind) Valid() bool {
	for _, known := range Kinds {
		if k == known {
			return true
		}
	}
	return false
}

// Label is the kind in words, for headlines: "Incident opened", "Resolved"...
func (k Kind) Label() string {
	switch k {
	case KindOpened:
		return "Incident opened"
	case KindAcknowledged:
		return "Acknowledged"
	case KindEscalated:
		return "Escalated"
	case KindResolved:
		return "Resolved"
	case KindMTTRBreached:
		return "MTTR target breached"
	case KindApprovalRequested:
		return "Approval requested"
	case KindApprovalExpired:
		return "Approval expired"
	case KindReminder:
		return "Reminder"
	case KindTest:
		return "Test notification"
	}
	return string(k)
}

// Links point responders at the incident.
type Links struct {
	// Dashboard is the incident's page on the Mahavishnu dashboard.
	Dashboard string `json:"dashboard,omitempty"`
	// TemporalUI is the incident workflow's history in the Temporal Web UI.
	TemporalUI string `json:"temporal_ui,omitempty"`
}

// Field is one extra name/value pair shown with the message.
type Field struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// Message is one notification about one incident. Its JSON form is the webhook format.
type Message struct {
	IncidentID string           `json:"incident_id"`
	Kind       Kind             `json:"kind"`
	Title      string           `json:"title"`
	Type       string           `json:"incident_type"`
	Severity   schemas.Severity `json:"severity"`
	Status     schemas.Status   `json:"status,omitempty"`
	// Source is the affected service or host (PagerDuty's payload.source).
	Source string `json:"source,omitempty"`
	// Text is the body: what happened and what to do, in plain text.
	Text string `json:"text,omitempty"`
	// Action is the remediation action an approval request or expiry is about, if any.
	// It is part of the throttle's key, and interactive channels (Slack Web API) offer
	// Approve and Reject for it.
	Action string `json:"action,omitempty"`
	// Actor is who caused this message (the acknowledger, the resolver...), if anyone.
	Actor  string    `json:"actor,omitempty"`
	At     time.Time `json:"at"`
	Links  Links     `json:"links"`
	Fields []Field   `json:"fields,omitempty"`
	// Recipients are the people this message pages (an escalation to people): Slack
	// mentions them, email goes to their addresses too, a webhook receives their contacts.
	Recipients []schemas.Contact `json:"recipients,omitempty"`
}

// Validate checks the fields every channel relies on; a channel returns the result as a
// non-retryable error.
func (m Message) Validate() error {
	var errs []error
	if strings.TrimSpace(m.IncidentID) == "" {
		errs = append(errs, errors.New("message.incident_id: is required"))
	}
	if !m.Kind.Valid() {
		errs = append(errs, fmt.Errorf("message.kind: unknown kind %q", m.Kind))
	}
	if !m.Severity.Valid() {
		errs = append(errs, fmt.Errorf("message.severity: invalid severity %q", m.Severity))
	}
	if strings.TrimSpace(m.Title) == "" {
		errs = append(errs, errors.New("message.title: is required"))
	}
	if m.Status != "" {
		if _, err := schemas.ParseStatus(string(m.Status)); err != nil {
			errs = append(errs, fmt.Errorf("message.status: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Time returns At, or now when At is zero.
func (m Message) Time() time.Time {
	if m.At.IsZero() {
		return time.Now().UTC()
	}
	return m.At
}

// Subject is the one-line summary every channel uses: "[SEVERITY] title (incident ID)".
func (m Message) Subject() string {
	return fmt.Sprintf("[%s] %s (%s)", strings.ToUpper(string(m.Severity)), OneLine(m.Title, 0), m.IncidentID)
}

// NewTestMessage returns the message `incidents notify test` sends: kind test, severity
// low, with an incident ID that names it as a test and cannot clash with a real one.
func NewTestMessage(now time.Time) Message {
	now = now.UTC()
	return Message{
		IncidentID: schemas.IncidentIDPrefix + "test_" + now.Format("20060102T150405Z"),
		Kind:       KindTest,
		Title:      "Mahavishnu test notification",
		Type:       "test",
		Severity:   schemas.SeverityLow,
		Status:     schemas.StatusDetected,
		Source:     "mahavishnu",
		Text:       "This is a test message from `mahavishnu incidents notify test`. No action is needed.",
		At:         now,
	}
}

// OneLine collapses every run of whitespace (newlines included) to one space and, when
// max > 0, cuts the result to at most max runes, ending it with "…" when cut. It keeps
// user text from breaking headers and one-line formats.
func OneLine(s string, max int) string {
	return Truncate(strings.Join(strings.Fields(s), " "), max)
}

// Truncate cuts s to at most max runes, ending it with "…" when cut; max <= 0 keeps s.
func Truncate(s string, max int) string {
	if max <= 0 || utf8.RuneCountInString(s) <= max {
		return s
	}
	runes := []rune(s)
	return string(runes[:max-1]) + "…"
}

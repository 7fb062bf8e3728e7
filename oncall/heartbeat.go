package oncall

import (
	"fmt"
	"time"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// Heartbeat states.
const (
	// HeartbeatWaiting: no ping yet since it was created or resumed; the first deadline runs.
	HeartbeatWaiting = "waiting"
	// HeartbeatUp: pinged in time.
	HeartbeatUp = "up"
	// HeartbeatMissed: the deadline passed without a ping; an incident is open.
	HeartbeatMissed = "missed"
	// HeartbeatPaused: not watched.
	HeartbeatPaused = "paused"
)

// Heartbeat is a dead-man's switch: a job pings it at least every Every (plus Grace), or
// a heartbeat_missed incident opens.
type Heartbeat struct {
	Name     string           `json:"name"`
	Every    time.Duration    `json:"every"`
	Grace    time.Duration    `json:"grace"`
	Severity schemas.Severity `json:"severity"`
	// Escalation names an escalation policy (escalation.policies); "" is the default policy.
	Escalation   string     `json:"escalation,omitempty"`
	State        string     `json:"state"`
	LastPingAt   *time.Time `json:"last_ping_at,omitempty"`
	NextDeadline *time.Time `json:"next_deadline,omitempty"`
	// IncidentID is the incident the last miss opened.
	IncidentID string    `json:"incident_id,omitempty"`
	CreatedBy  string    `json:"created_by,omitempty"`
	CreatedAt  time.Time `json:"created_at"`
	UpdatedAt  time.Time `json:"updated_at"`
}

// Validate checks a heartbeat definition and sets the default severity (high).
func (h *Heartbeat) Validate() error {
	if err := ValidName("name", h.Name); err != nil {
		return err
	}
	if h.Every < time.Second {
		return fmt.Errorf("every: must be at least 1s, got %s", h.Every)
	}
	if h.Grace < 0 {
		return fmt.Errorf("grace: must not be negative, got %s", h.Grace)
	}
	if h.Severity == "" {
		h.Severity = schemas.SeverityHigh
	}
	if !h.Severity.Valid() {
		return fmt.Errorf("severity: want low, medium, high or critical, got %q", h.Severity)
	}
	if h.State == "" {
		h.State = HeartbeatWaiting
	}
	return nil
}

// Fingerprint is what the heartbeat's incidents are grouped by.
func (h *Heartbeat) Fingerprint() string { return "heartbeat:" + h.Name }

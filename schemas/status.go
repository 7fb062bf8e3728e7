package schemas

import "fmt"

// Status is the stage an incident is in. It follows the response stages; acknowledgement
// and assignment are fields, not statuses.
type Status string

const (
	// StatusDetected is set when the detector opens the incident.
	StatusDetected Status = "detected"
	// StatusAssessing is set while the Assess stage runs.
	StatusAssessing Status = "assessing"
	// StatusContaining is set while the Contain stage runs.
	StatusContaining Status = "containing"
	// StatusInvestigating is set while the Investigate stage runs.
	StatusInvestigating Status = "investigating"
	// StatusRemediating is set while the Remediate stage runs.
	StatusRemediating Status = "remediating"
	// StatusRecovering is set while the incident waits to be stable and resolved.
	StatusRecovering Status = "recovering"
	// StatusResolved is set once the incident is resolved; the post-mortem follows.
	StatusResolved Status = "resolved"
	// StatusClosed is set by an explicit close after resolution.
	StatusClosed Status = "closed"
)

// Statuses lists every status in lifecycle order.
var Statuses = []Status{StatusDetected, StatusAssessing, StatusContaining, StatusInvestigating,
	StatusRemediating, StatusRecovering, StatusResolved, StatusClosed}

// StatusActive is the list filter meaning "not resolved and not closed"; it is never stored.
const StatusActive = "active"

// Active reports whether the incident still needs a response (not resolved, not closed).
func (s Status) Active() bool { return s != StatusResolved && s != StatusClosed }

// ParseStatus parses a stored status name.
func ParseStatus(s string) (Status, error) {
	for _, st := range Statuses {
		if string(st) == s {
			return st, nil
		}
	}
	return "", fmt.Errorf("invalid status %q: want one of detected, assessing, containing, investigating, remediating, recovering, resolved, closed", s)
}

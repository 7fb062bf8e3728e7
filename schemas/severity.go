// Package schemas is the shared contract of Mahavishnu: events, incidents, rules, the
// incident workflow's names and IDs. It imports nothing of ours.
package schemas

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Severity is how bad an event or incident is. The zero value is invalid.
type Severity string

const (
	// SeverityLow is logged only.
	SeverityLow Severity = "low"
	// SeverityMedium goes to Slack and the log.
	SeverityMedium Severity = "medium"
	// SeverityHigh goes to Slack and the log and asks for an immediate response.
	SeverityHigh Severity = "high"
	// SeverityCritical pages (PagerDuty), goes to Slack and the log.
	SeverityCritical Severity = "critical"
)

// Severities lists every severity from least to most severe.
var Severities = []Severity{SeverityLow, SeverityMedium, SeverityHigh, SeverityCritical}

// ParseSeverity parses a severity case-insensitively.
func ParseSeverity(s string) (Severity, error) {
	sev := Severity(strings.ToLower(strings.TrimSpace(s)))
	if sev.Rank() == 0 {
		return "", fmt.Errorf("invalid severity %q: want one of low, medium, high, critical", s)
	}
	return sev, nil
}

// Rank orders severities: low=1 ... critical=4; 0 for an invalid value.
func (s Severity) Rank() int {
	switch s {
	case SeverityLow:
		return 1
	case SeverityMedium:
		return 2
	case SeverityHigh:
		return 3
	case SeverityCritical:
		return 4
	}
	return 0
}

// Valid reports whether s is one of the four severities.
func (s Severity) Valid() bool { return s.Rank() > 0 }

// Max returns the more severe of s and o.
func (s Severity) Max(o Severity) Severity {
	if o.Rank() > s.Rank() {
		return o
	}
	return s
}

// UnmarshalJSON accepts any letter case ("HIGH", "High", "high"); "" stays unset for
// the caller to default or reject.
func (s *Severity) UnmarshalJSON(b []byte) error {
	var raw string
	if err := json.Unmarshal(b, &raw); err != nil {
		return fmt.Errorf("severity must be a string")
	}
	if raw == "" {
		*s = ""
		return nil
	}
	sev, err := ParseSeverity(raw)
	if err != nil {
		return err
	}
	*s = sev
	return nil
}

// UnmarshalText accepts any letter case; used by YAML and flag decoding.
func (s *Severity) UnmarshalText(b []byte) error {
	sev, err := ParseSeverity(string(b))
	if err != nil {
		return err
	}
	*s = sev
	return nil
}

package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// SilenceIDPrefix starts every silence ID.
const SilenceIDPrefix = "sil_"

// Silence is a maintenance window: while it is active, events matching all its matchers are
// stored and counted as silenced (Event.SilencedBy) but never reach the detector, so they
// open no incident and count towards none.
type Silence struct {
	ID       string           `json:"id"`
	Matchers []SilenceMatcher `json:"matchers"`
	StartsAt time.Time        `json:"starts_at"`
	EndsAt   time.Time        `json:"ends_at"`
	Comment  string           `json:"comment"`
	// CreatedBy names who created the silence.
	CreatedBy string    `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	// ExpiredBy names who expired the silence early ("" when it ran its course).
	ExpiredBy string `json:"expired_by,omitempty"`
}

// SilenceMatcher is one "key=value" condition of a silence. Key is an event field
// (event_type, source, component, severity) or a metadata key; a dotted key reaches into
// nested metadata objects ("labels.team" for an Alertmanager alert's label). The value
// matches exactly (severity case-insensitively).
type SilenceMatcher struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// String returns "key=value".
func (m SilenceMatcher) String() string { return m.Key + "=" + m.Value }

var silenceKeyPattern = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$`)

// ParseSilenceMatcher parses "key=value".
func ParseSilenceMatcher(s string) (SilenceMatcher, error) {
	key, value, ok := strings.Cut(s, "=")
	if !ok {
		return SilenceMatcher{}, fmt.Errorf("%q: want key=value, e.g. source=api", s)
	}
	m := SilenceMatcher{Key: strings.TrimSpace(key), Value: value}
	if err := m.validate(); err != nil {
		return SilenceMatcher{}, fmt.Errorf("%q: %w", s, err)
	}
	return m, nil
}

func (m SilenceMatcher) validate() error {
	switch {
	case !silenceKeyPattern.MatchString(m.Key):
		return fmt.Errorf("key: want letters, digits, '_', '-' or '.' (e.g. source, labels.team), got %q", m.Key)
	case m.Value == "":
		return errors.New("value: must not be empty")
	case len(m.Value) > MaxNameLen:
		return fmt.Errorf("value: longer than %d characters", MaxNameLen)
	case m.Key == "severity":
		if _, err := ParseSeverity(m.Value); err != nil {
			return fmt.Errorf("value: %w", err)
		}
	}
	return nil
}

// Validate checks the silence; errors name the field.
func (s *Silence) Validate() error {
	if len(s.Matchers) == 0 {
		return errors.New("matchers: at least one key=value matcher is required (a silence never mutes everything)")
	}
	for i, m := range s.Matchers {
		if err := m.validate(); err != nil {
			return fmt.Errorf("matchers[%d]: %w", i, err)
		}
	}
	switch {
	case s.StartsAt.IsZero():
		return errors.New("starts_at: is required")
	case !s.EndsAt.After(s.StartsAt):
		return errors.New("ends_at: must be after starts_at")
	case strings.TrimSpace(s.CreatedBy) == "":
		return errors.New("created_by: is required")
	case len(s.Comment) > MaxMessageLen:
		return fmt.Errorf("comment: longer than %d characters", MaxMessageLen)
	}
	return nil
}

// ActiveAt reports whether the silence mutes events at t: StartsAt <= t < EndsAt.
func (s *Silence) ActiveAt(t time.Time) bool {
	return !t.Before(s.StartsAt) && t.Before(s.EndsAt)
}

// Matches reports whether ev satisfies every matcher (it does not look at the time).
func (s *Silence) Matches(ev *Event) bool {
	if len(s.Matchers) == 0 {
		return false
	}
	for _, m := range s.Matchers {
		if !m.Matches(ev) {
			return false
		}
	}
	return true
}

// Matches reports whether ev has the matcher's value at its key.
func (m SilenceMatcher) Matches(ev *Event) bool {
	switch m.Key {
	case "event_type", "type":
		return ev.EventType == m.Value
	case "source":
		return ev.Source == m.Value
	case "component":
		return ev.Component == m.Value
	case "severity":
		return strings.EqualFold(string(ev.Severity), m.Value)
	case "correlation_id":
		return ev.CorrelationID == m.Value
	}
	v, ok := metadataValue(ev.Metadata, strings.TrimPrefix(m.Key, "metadata."))
	return ok && v == m.Value
}

// metadataValue finds key in md: first as a top-level key, then as a dotted path into
// nested objects. Scalars are compared in their JSON text form without quotes.
func metadataValue(md map[string]any, key string) (string, bool) {
	if md == nil {
		return "", false
	}
	if v, ok := md[key]; ok {
		return scalarString(v)
	}
	cur := md
	parts := strings.Split(key, ".")
	for i, p := range parts {
		v, ok := cur[p]
		if !ok {
			return "", false
		}
		if i == len(parts)-1 {
			return scalarString(v)
		}
		if cur, ok = v.(map[string]any); !ok {
			return "", false
		}
	}
	return "", false
}

func scalarString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case bool:
		return strconv.FormatBool(v), true
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64), true
	case json.Number:
		return v.String(), true
	case int:
		return strconv.Itoa(v), true
	case int64:
		return strconv.FormatInt(v, 10), true
	}
	return "", false
}

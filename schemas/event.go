package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Field length limits for ingested events. They bound storage and keep a hostile sender
// from filling the database through one event.
const (
	MaxIDLen       = 128
	MaxNameLen     = 256
	MaxMessageLen  = 8192
	MaxMetadataLen = 16384
	// MaxClockSkew is how far in the future an event's timestamp may be. Windows run on
	// event time, so a far-future timestamp would hold a window open.
	MaxClockSkew = 5 * time.Minute
)

// Event is one operational event: an error, a service down, a memory alarm...
type Event struct {
	// EventID is unique per event; generated when absent.
	EventID string `json:"event_id"`
	// Timestamp is when the event happened; defaults to the time it was received.
	Timestamp time.Time `json:"timestamp"`
	// EventType says what happened ("error", "service_down", ...). Required.
	EventType string `json:"event_type"`
	// Source is the service or host that reported it. Required.
	Source string `json:"source"`
	// Severity defaults to medium.
	Severity Severity `json:"severity"`
	// Message is free text for responders.
	Message string `json:"message,omitempty"`
	// Metadata is any extra JSON object.
	Metadata map[string]any `json:"metadata,omitempty"`
	// CorrelationID ties related events together across systems.
	CorrelationID string `json:"correlation_id,omitempty"`
	// Component is the affected part of the system; defaults to Source.
	Component string `json:"component,omitempty"`
	// IncidentID is set once the event is attached to an incident (read model only).
	IncidentID string `json:"incident_id,omitempty"`
	// SilencedBy is the ID of the silence that muted the event: it was stored but never
	// reached the detector (read model only).
	SilencedBy string `json:"silenced_by,omitempty"`
}

// FieldError says which field of which event was wrong.
type FieldError struct {
	// Index is the position in a batch, or -1 for a single event.
	Index   int    `json:"index"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

func (e *FieldError) Error() string {
	if e.Index >= 0 {
		return fmt.Sprintf("events[%d].%s: %s", e.Index, e.Field, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Field, e.Message)
}

// wireEvent is the accepted JSON form: "type" is an alias of "event_type" (the quickstart's
// symptom examples use it), timestamps may be RFC 3339 strings or Unix seconds.
type wireEvent struct {
	EventID       *string         `json:"event_id"`
	Timestamp     json.RawMessage `json:"timestamp"`
	EventType     *string         `json:"event_type"`
	Type          *string         `json:"type"`
	Source        *string         `json:"source"`
	Severity      json.RawMessage `json:"severity"`
	Message       *string         `json:"message"`
	Metadata      json.RawMessage `json:"metadata"`
	CorrelationID *string         `json:"correlation_id"`
	Component     *string         `json:"component"`
}

// DecodeEvent decodes one event object strictly: unknown fields and wrong types are
// reported as a FieldError naming the field. It does not apply defaults; call Normalize.
func DecodeEvent(raw json.RawMessage, index int) (Event, error) {
	var w wireEvent
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return Event{}, decodeFieldError(err, index)
	}
	if dec.More() {
		return Event{}, &FieldError{Index: index, Field: "(event)", Message: "trailing data after the event object"}
	}
	var ev Event
	str := func(p *string) string {
		if p == nil {
			return ""
		}
		return *p
	}
	ev.EventID = str(w.EventID)
	ev.EventType = str(w.EventType)
	if w.Type != nil {
		if w.EventType != nil && *w.EventType != *w.Type {
			return Event{}, &FieldError{Index: index, Field: "type", Message: "conflicts with event_type; send one of them"}
		}
		ev.EventType = *w.Type
	}
	ev.Source = str(w.Source)
	ev.Message = str(w.Message)
	ev.CorrelationID = str(w.CorrelationID)
	ev.Component = str(w.Component)
	if len(w.Timestamp) > 0 && string(w.Timestamp) != "null" {
		ts, err := parseTimestamp(w.Timestamp)
		if err != nil {
			return Event{}, &FieldError{Index: index, Field: "timestamp", Message: err.Error()}
		}
		ev.Timestamp = ts
	}
	if len(w.Severity) > 0 && string(w.Severity) != "null" {
		if err := json.Unmarshal(w.Severity, &ev.Severity); err != nil {
			return Event{}, &FieldError{Index: index, Field: "severity", Message: err.Error()}
		}
	}
	if len(w.Metadata) > 0 && string(w.Metadata) != "null" {
		if len(w.Metadata) > MaxMetadataLen {
			return Event{}, &FieldError{Index: index, Field: "metadata", Message: fmt.Sprintf("longer than %d bytes", MaxMetadataLen)}
		}
		if err := json.Unmarshal(w.Metadata, &ev.Metadata); err != nil || ev.Metadata == nil {
			return Event{}, &FieldError{Index: index, Field: "metadata", Message: "must be a JSON object"}
		}
	}
	return ev, nil
}

func parseTimestamp(raw json.RawMessage) (time.Time, error) {
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			return time.Time{}, fmt.Errorf("want an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", s)
		}
		return ts.UTC(), nil
	}
	var secs float64
	if err := json.Unmarshal(raw, &secs); err == nil {
		sec := int64(secs)
		return time.Unix(sec, int64((secs-float64(sec))*1e9)).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("want an RFC 3339 string or Unix seconds")
}

func decodeFieldError(err error, index int) error {
	var typeErr *json.UnmarshalTypeError
	msg := err.Error()
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			field = "(event)"
		}
		return &FieldError{Index: index, Field: field, Message: fmt.Sprintf("must be a JSON %s", jsonKind(typeErr.Type.Kind().String()))}
	case strings.HasPrefix(msg, "json: unknown field "):
		field := strings.Trim(strings.TrimPrefix(msg, "json: unknown field "), `"`)
		if field == "" {
			return &FieldError{Index: index, Field: "(event)", Message: `unknown field "" (put extra data in metadata)`}
		}
		return &FieldError{Index: index, Field: field, Message: "unknown field (put extra data in metadata)"}
	}
	return &FieldError{Index: index, Field: "(event)", Message: "not a valid JSON object: " + msg}
}

func jsonKind(goKind string) string {
	switch goKind {
	case "ptr", "string":
		return "string"
	case "map", "struct":
		return "object"
	case "slice":
		return "array"
	}
	return goKind
}

// Normalize fills the defaults (ID, timestamp, severity, component) and validates. newID
// is called only when the event has no ID.
func (e *Event) Normalize(now time.Time, newID func() string, index int) error {
	e.EventID = strings.TrimSpace(e.EventID)
	e.EventType = strings.TrimSpace(e.EventType)
	e.Source = strings.TrimSpace(e.Source)
	e.Component = strings.TrimSpace(e.Component)
	if e.EventID == "" {
		e.EventID = newID()
	}
	if e.Timestamp.IsZero() {
		e.Timestamp = now
	}
	e.Timestamp = e.Timestamp.UTC()
	if e.Timestamp.After(now.Add(MaxClockSkew)) {
		return &FieldError{Index: index, Field: "timestamp", Message: fmt.Sprintf("%s is more than %s in the future", e.Timestamp.Format(time.RFC3339), MaxClockSkew)}
	}
	if e.Severity == "" {
		e.Severity = SeverityMedium
	}
	if e.Component == "" {
		e.Component = e.Source
	}
	return e.Validate(index)
}

// Validate checks required fields and limits.
func (e *Event) Validate(index int) error {
	fe := func(field, msg string) error { return &FieldError{Index: index, Field: field, Message: msg} }
	switch {
	case e.EventType == "":
		return fe("event_type", "is required")
	case e.Source == "":
		return fe("source", "is required")
	case len(e.EventID) > MaxIDLen:
		return fe("event_id", fmt.Sprintf("longer than %d characters", MaxIDLen))
	case len(e.EventType) > MaxNameLen:
		return fe("event_type", fmt.Sprintf("longer than %d characters", MaxNameLen))
	case len(e.Source) > MaxNameLen:
		return fe("source", fmt.Sprintf("longer than %d characters", MaxNameLen))
	case len(e.Component) > MaxNameLen:
		return fe("component", fmt.Sprintf("longer than %d characters", MaxNameLen))
	case len(e.CorrelationID) > MaxIDLen:
		return fe("correlation_id", fmt.Sprintf("longer than %d characters", MaxIDLen))
	case len(e.Message) > MaxMessageLen:
		return fe("message", fmt.Sprintf("longer than %d characters", MaxMessageLen))
	case !e.Severity.Valid():
		return fe("severity", "want one of low, medium, high, critical")
	}
	return nil
}

// DecodeEvents accepts one event object, a JSON array of events, or {"events": [...]}.
// A batch is all-or-nothing: the first bad item is returned as a FieldError with its index.
func DecodeEvents(body []byte) ([]Event, error) {
	trimmed := strings.TrimSpace(string(body))
	if trimmed == "" {
		return nil, &FieldError{Index: -1, Field: "(body)", Message: "empty body: send an event object, an array of events, or {\"events\": [...]}"}
	}
	var items []json.RawMessage
	switch trimmed[0] {
	case '[':
		if err := json.Unmarshal([]byte(trimmed), &items); err != nil {
			return nil, &FieldError{Index: -1, Field: "(body)", Message: "not a valid JSON array: " + err.Error()}
		}
	case '{':
		var envelope map[string]json.RawMessage
		if err := json.Unmarshal([]byte(trimmed), &envelope); err != nil {
			return nil, &FieldError{Index: -1, Field: "(body)", Message: "not a valid JSON object: " + err.Error()}
		}
		if batch, ok := envelope["events"]; ok && len(envelope) == 1 {
			if err := json.Unmarshal(batch, &items); err != nil {
				return nil, &FieldError{Index: -1, Field: "events", Message: "must be a JSON array of event objects"}
			}
		} else {
			ev, err := DecodeEvent(json.RawMessage(trimmed), -1)
			if err != nil {
				return nil, err
			}
			return []Event{ev}, nil
		}
	default:
		return nil, &FieldError{Index: -1, Field: "(body)", Message: "send an event object, an array of events, or {\"events\": [...]}"}
	}
	if len(items) == 0 {
		return nil, &FieldError{Index: -1, Field: "events", Message: "empty batch"}
	}
	events := make([]Event, 0, len(items))
	for i, raw := range items {
		ev, err := DecodeEvent(raw, i)
		if err != nil {
			return nil, err
		}
		events = append(events, ev)
	}
	return events, nil
}

// EventsCount says "1 event" or "N events".
func EventsCount(n int) string {
	if n == 1 {
		return "1 event"
	}
	return fmt.Sprintf("%d events", n)
}

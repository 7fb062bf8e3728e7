package detector

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

var t0 = time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)

// ev builds a normalized event at t0+at.
func ev(id, typ, source, msg string, at time.Duration) schemas.Event {
	return schemas.Event{EventID: id, Timestamp: t0.Add(at), EventType: typ, Source: source,
		Component: source, Severity: schemas.SeverityMedium, Message: msg}
}

// series builds n events of one type from one source, step apart, with IDs prefix-0...
func series(prefix string, n int, step time.Duration, typ, source, msg string) []schemas.Event {
	out := make([]schemas.Event, n)
	for i := range out {
		out[i] = ev(fmt.Sprintf("%s-%d", prefix, i), typ, source, msg, time.Duration(i)*step)
	}
	return out
}

func newDetector(t *testing.T, rules []schemas.Rule, opts Options) *Detector {
	t.Helper()
	d, err := New(rules, opts)
	require.NoError(t, err)
	return d
}

func feed(d *Detector, events []schemas.Event) []Action {
	var out []Action
	for i := range events {
		out = d.Observe(&events[i], out)
	}
	return out
}

func ofKind(actions []Action, k ActionKind) []Action {
	var out []Action
	for _, a := range actions {
		if a.Kind == k {
			out = append(out, a)
		}
	}
	return out
}

func ids(events []schemas.Event) []string {
	out := make([]string, len(events))
	for i := range events {
		out[i] = events[i].EventID
	}
	return out
}

// customRule is a small rule for option tests: threshold 3 "error" events within 60s.
func customRule(mod func(r *schemas.Rule)) []schemas.Rule {
	r := schemas.Rule{ID: "custom", Name: "Custom", IncidentType: "custom", Severity: schemas.SeverityHigh,
		Enabled: true, Threshold: 3, WindowSeconds: 60, EventTypes: []string{"error"}}
	if mod != nil {
		mod(&r)
	}
	return []schemas.Rule{r}
}

func ruleByID(t *testing.T, rules []schemas.Rule, id string) *schemas.Rule {
	t.Helper()
	for i := range rules {
		if rules[i].ID == id {
			return &rules[i]
		}
	}
	require.Failf(t, "no rule", "rule %q not found", id)
	return nil
}

package schemas

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestParseSilenceMatcher(t *testing.T) {
	tests := []struct {
		in      string
		want    SilenceMatcher
		wantErr string
	}{
		{in: "source=api", want: SilenceMatcher{Key: "source", Value: "api"}},
		{in: "labels.team=pay=ments", want: SilenceMatcher{Key: "labels.team", Value: "pay=ments"}},
		{in: " component =db 1", want: SilenceMatcher{Key: "component", Value: "db 1"}},
		{in: "severity=HIGH", want: SilenceMatcher{Key: "severity", Value: "HIGH"}},
		{in: "source", wantErr: `"source": want key=value, e.g. source=api`},
		{in: "source=", wantErr: `"source=": value: must not be empty`},
		{in: "=api", wantErr: `"=api": key: want letters, digits, '_', '-' or '.' (e.g. source, labels.team), got ""`},
		{in: "a b=c", wantErr: `"a b=c": key: want letters, digits, '_', '-' or '.' (e.g. source, labels.team), got "a b"`},
		{in: "severity=urgent", wantErr: `"severity=urgent": value: invalid severity "urgent": want one of low, medium, high, critical`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := ParseSilenceMatcher(tt.in)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestSilenceMatches(t *testing.T) {
	ev := &Event{EventType: "error", Source: "api", Component: "api-7", Severity: SeverityHigh, CorrelationID: "c1",
		Metadata: map[string]any{"region": "eu", "code": float64(503), "canary": true, "labels": map[string]any{"team": "payments"}}}
	tests := []struct {
		name     string
		matchers []string
		want     bool
	}{
		{"event type", []string{"event_type=error"}, true},
		{"type alias", []string{"type=error"}, true},
		{"source and component", []string{"source=api", "component=api-7"}, true},
		{"every matcher must hold", []string{"source=api", "component=api-8"}, false},
		{"severity any case", []string{"severity=HIGH"}, true},
		{"other severity", []string{"severity=low"}, false},
		{"correlation id", []string{"correlation_id=c1"}, true},
		{"metadata string", []string{"region=eu"}, true},
		{"metadata prefix", []string{"metadata.region=eu"}, true},
		{"metadata number", []string{"code=503"}, true},
		{"metadata bool", []string{"canary=true"}, true},
		{"nested metadata", []string{"labels.team=payments"}, true},
		{"nested mismatch", []string{"labels.team=search"}, false},
		{"missing key", []string{"zone=a"}, false},
		{"values are exact", []string{"source=API"}, false},
		{"object is not a value", []string{"labels=payments"}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := Silence{}
			for _, m := range tt.matchers {
				sm, err := ParseSilenceMatcher(m)
				require.NoError(t, err)
				s.Matchers = append(s.Matchers, sm)
			}
			require.Equal(t, tt.want, s.Matches(ev))
		})
	}
	require.False(t, (&Silence{}).Matches(ev), "a silence without matchers mutes nothing")
}

func TestSilenceValidateAndActive(t *testing.T) {
	start := time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)
	valid := func() Silence {
		return Silence{Matchers: []SilenceMatcher{{Key: "source", Value: "api"}}, StartsAt: start,
			EndsAt: start.Add(time.Hour), CreatedBy: "alice"}
	}
	tests := []struct {
		name    string
		change  func(*Silence)
		wantErr string
	}{
		{"valid", func(*Silence) {}, ""},
		{"no matchers", func(s *Silence) { s.Matchers = nil }, "matchers: at least one key=value matcher is required (a silence never mutes everything)"},
		{"bad matcher", func(s *Silence) { s.Matchers[0].Value = "" }, "matchers[0]: value: must not be empty"},
		{"no start", func(s *Silence) { s.StartsAt = time.Time{} }, "starts_at: is required"},
		{"ends before start", func(s *Silence) { s.EndsAt = start }, "ends_at: must be after starts_at"},
		{"no author", func(s *Silence) { s.CreatedBy = " " }, "created_by: is required"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := valid()
			tt.change(&s)
			err := s.Validate()
			if tt.wantErr == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tt.wantErr)
		})
	}
	s := valid()
	require.False(t, s.ActiveAt(start.Add(-time.Nanosecond)))
	require.True(t, s.ActiveAt(start))
	require.True(t, s.ActiveAt(start.Add(59*time.Minute)))
	require.False(t, s.ActiveAt(start.Add(time.Hour)), "ends_at is exclusive")
}

package notify

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

func validMessage() Message {
	return Message{
		IncidentID: "inc_abc123", Kind: KindOpened, Title: "Database down", Type: "database_down",
		Severity: schemas.SeverityCritical, Status: schemas.StatusDetected,
		At: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
	}
}

func TestMessageValidate(t *testing.T) {
	tests := []struct {
		name   string
		change func(m *Message)
		want   string
	}{
		{name: "valid", change: func(*Message) {}},
		{name: "no incident", change: func(m *Message) { m.IncidentID = " " }, want: "message.incident_id: is required"},
		{name: "bad kind", change: func(m *Message) { m.Kind = "exploded" }, want: `message.kind: unknown kind "exploded"`},
		{name: "bad severity", change: func(m *Message) { m.Severity = "urgent" }, want: `message.severity: invalid severity "urgent"`},
		{name: "no title", change: func(m *Message) { m.Title = "" }, want: "message.title: is required"},
		{name: "bad status", change: func(m *Message) { m.Status = "sleeping" }, want: `message.status: invalid status "sleeping"`},
		{name: "empty status is fine", change: func(m *Message) { m.Status = "" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := validMessage()
			tt.change(&m)
			err := m.Validate()
			if tt.want == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestKindsAreValidAndLabelled(t *testing.T) {
	for _, k := range Kinds {
		require.True(t, k.Valid(), k)
		require.NotEqual(t, string(k), k.Label(), "kind %s has no label", k)
	}
	require.False(t, Kind("nope").Valid())
}

func TestSubjectIsOneLine(t *testing.T) {
	m := validMessage()
	m.Title = "Database\r\ndown\tagain"
	require.Equal(t, "[CRITICAL] Database down again (inc_abc123)", m.Subject())
}

func TestOneLineAndTruncate(t *testing.T) {
	tests := []struct {
		in   string
		max  int
		want string
	}{
		{"a  b\n\nc", 0, "a b c"},
		{"abcdef", 4, "abc…"},
		{"abcd", 4, "abcd"},
		{"ééééé", 3, "éé…"},
		{"", 3, ""},
	}
	for _, tt := range tests {
		require.Equal(t, tt.want, OneLine(tt.in, tt.max), "OneLine(%q, %d)", tt.in, tt.max)
	}
}

func TestNewTestMessageIsValid(t *testing.T) {
	now := time.Date(2025, 3, 1, 12, 30, 5, 0, time.FixedZone("x", 3600))
	m := NewTestMessage(now)
	require.NoError(t, m.Validate())
	require.Equal(t, "inc_test_20250301T113005Z", m.IncidentID)
	require.Equal(t, KindTest, m.Kind)
	require.Equal(t, now.UTC(), m.Time())
}

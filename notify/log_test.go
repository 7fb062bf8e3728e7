package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

func TestLogChannel(t *testing.T) {
	tests := []struct {
		name      string
		severity  schemas.Severity
		kind      Kind
		wantLevel string
	}{
		{"critical opened", schemas.SeverityCritical, KindOpened, "ERROR"},
		{"high escalated", schemas.SeverityHigh, KindEscalated, "WARN"},
		{"medium opened", schemas.SeverityMedium, KindOpened, "INFO"},
		{"low opened", schemas.SeverityLow, KindOpened, "INFO"},
		{"critical resolved", schemas.SeverityCritical, KindResolved, "INFO"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			l := NewLog(newJSONLogger(&buf))
			m := validMessage()
			m.Severity, m.Kind = tt.severity, tt.kind
			m.Actor = "alice"
			m.Links.Dashboard = "http://127.0.0.1:8080/incidents/inc_abc123"
			m.Fields = []Field{{Name: "events", Value: "12"}}
			receipt, err := l.Send(context.Background(), m)
			require.NoError(t, err)
			require.Equal(t, Receipt{Channel: ChannelLog, Response: "logged"}, receipt)

			var rec map[string]any
			require.NoError(t, json.Unmarshal(buf.Bytes(), &rec))
			require.Equal(t, tt.wantLevel, rec["level"])
			require.Equal(t, "inc_abc123", rec["incident_id"])
			require.Equal(t, string(tt.kind), rec["kind"])
			require.Equal(t, string(tt.severity), rec["severity"])
			require.Equal(t, "alice", rec["actor"])
			require.Equal(t, "12", rec["field.events"])
			require.Equal(t, m.Links.Dashboard, rec["dashboard_url"])
		})
	}
}

func TestLogChannelRejectsInvalidMessage(t *testing.T) {
	var buf bytes.Buffer
	err := NewLog(newJSONLogger(&buf)).Notify(context.Background(), Message{Kind: KindOpened})
	require.ErrorContains(t, err, "message.incident_id: is required")
	require.False(t, Retryable(err))
	require.Empty(t, buf.String())
}

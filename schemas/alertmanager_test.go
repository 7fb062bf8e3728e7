package schemas

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// amPayload is a real Alertmanager v0.27 notification with two alerts, trimmed.
const amPayload = `{
  "receiver": "mahavishnu",
  "status": "firing",
  "alerts": [
    {
      "status": "firing",
      "labels": {"alertname": "HighErrorRate", "service": "checkout", "instance": "checkout-7:9090",
                 "job": "checkout", "severity": "critical", "event_type": "error"},
      "annotations": {"summary": "5xx above 5%", "description": "checkout returns 500 on 7% of requests"},
      "startsAt": "2026-01-02T15:00:00.000Z",
      "endsAt": "0001-01-01T00:00:00Z",
      "generatorURL": "http://prometheus:9090/graph?g0.expr=...",
      "fingerprint": "c4f8a1b2d3e4f5a6"
    },
    {
      "status": "resolved",
      "labels": {"alertname": "NodeDown", "instance": "db-2:9100", "severity": "warning"},
      "annotations": {"description": "db-2 unreachable"},
      "startsAt": "2026-01-02T14:00:00Z",
      "endsAt": "2026-01-02T14:30:00Z",
      "fingerprint": "0a1b2c3d4e5f6071"
    }
  ],
  "groupLabels": {"alertname": "HighErrorRate"},
  "commonLabels": {},
  "commonAnnotations": {},
  "externalURL": "http://alertmanager:9093",
  "version": "4",
  "groupKey": "{}:{alertname=\"HighErrorRate\"}",
  "truncatedAlerts": 0,
  "someFutureField": {"x": 1}
}`

func TestDecodeAlertmanager(t *testing.T) {
	events, err := DecodeAlertmanager([]byte(amPayload))
	require.NoError(t, err)
	require.Len(t, events, 2)

	fire := events[0]
	require.Equal(t, "error", fire.EventType, "labels.event_type wins over alertname")
	require.Equal(t, "checkout", fire.Source, "service wins over job and instance")
	require.Equal(t, "checkout-7:9090", fire.Component)
	require.Equal(t, SeverityCritical, fire.Severity)
	require.Equal(t, "5xx above 5%: checkout returns 500 on 7% of requests", fire.Message)
	require.Equal(t, "c4f8a1b2d3e4f5a6", fire.CorrelationID)
	require.True(t, strings.HasPrefix(fire.EventID, "am_"))
	require.True(t, fire.Timestamp.IsZero(), "timed on receipt")
	require.Equal(t, "c4f8a1b2d3e4f5a6", fire.Metadata["fingerprint"])
	require.Equal(t, "firing", fire.Metadata["alert_status"])
	require.Equal(t, "HighErrorRate", fire.Metadata["alertname"])
	require.Equal(t, "2026-01-02T15:00:00.000Z", fire.Metadata["starts_at"])
	require.NotContains(t, fire.Metadata, "ends_at", "the zero time means not set")
	require.Equal(t, "mahavishnu", fire.Metadata["receiver"])
	require.Equal(t, "http://alertmanager:9093", fire.Metadata["external_url"])
	require.Equal(t, "checkout", fire.Metadata["labels"].(map[string]any)["job"])
	require.Equal(t, "5xx above 5%", fire.Metadata["annotations"].(map[string]any)["summary"])

	res := events[1]
	require.Equal(t, "resolved", res.EventType)
	require.True(t, IsRecoveryEvent(res.EventType))
	require.Equal(t, "NodeDown", res.Metadata["alert_event_type"])
	require.Equal(t, "db-2:9100", res.Source, "instance is the last source label")
	require.Equal(t, "db-2:9100", res.Component)
	require.Equal(t, SeverityMedium, res.Severity, "warning maps to medium")
	require.Equal(t, "resolved: db-2 unreachable", res.Message)

	for i := range events {
		require.NoError(t, events[i].Normalize(time.Now(), func() string { return "x" }, i))
	}

	again, err := DecodeAlertmanager([]byte(amPayload))
	require.NoError(t, err)
	require.Equal(t, events[0].EventID, again[0].EventID, "a re-sent notification has the same event IDs")
	require.NotEqual(t, events[0].EventID, events[1].EventID)
}

func TestDecodeAlertmanagerMinimal(t *testing.T) {
	events, err := DecodeAlertmanager([]byte(`{"alerts":[{"status":"FIRING","labels":{"alertname":"Watchdog"}}]}`))
	require.NoError(t, err)
	require.Len(t, events, 1)
	ev := events[0]
	require.Equal(t, "Watchdog", ev.EventType)
	require.Equal(t, AlertmanagerSource, ev.Source)
	require.Equal(t, AlertmanagerSource, ev.Component)
	require.Equal(t, SeverityMedium, ev.Severity)
	require.Equal(t, "Watchdog", ev.Message)
	require.Empty(t, ev.CorrelationID)

	// The group status applies to alerts without one.
	events, err = DecodeAlertmanager([]byte(`{"status":"resolved","alerts":[{"labels":{"alertname":"A","job":"j"}}]}`))
	require.NoError(t, err)
	require.Equal(t, "resolved", events[0].EventType)
	require.Equal(t, "j", events[0].Source)
}

func TestDecodeAlertmanagerErrors(t *testing.T) {
	long := strings.Repeat("x", MaxNameLen+1)
	tests := []struct {
		name, body string
		wantField  string
		wantErr    string
	}{
		{"not json", `{`, "(body)", ""},
		{"array", `[]`, "(body)", ""},
		{"wrong version", `{"version":"3","alerts":[]}`, "version", `version: payload version "3" is not supported: want "4"`},
		{"version not a string", `{"version":4,"alerts":[]}`, "version", "version: must be a JSON string"},
		{"no alerts", `{"version":"4"}`, "alerts", "alerts: is required"},
		{"alerts not an array", `{"alerts":{}}`, "alerts", "alerts: must be a JSON array"},
		{"empty alerts", `{"alerts":[]}`, "alerts", "alerts: empty: the payload carries no alert"},
		{"alert not an object", `{"alerts":[1]}`, "alerts[0]", "alerts[0]: must be a JSON object"},
		{"labels not strings", `{"alerts":[{"status":"firing","labels":{"alertname":"A"}},{"status":"firing","labels":{"alertname":1}}]}`,
			"alerts[1].labels", "alerts[1].labels: must be a JSON object of string values"},
		{"bad status", `{"alerts":[{"status":"pending","labels":{"alertname":"A"}}]}`, "alerts[0].status", `alerts[0].status: want firing or resolved, got "pending"`},
		{"no status", `{"alerts":[{"labels":{"alertname":"A"}}]}`, "alerts[0].status", "alerts[0].status: is required (firing or resolved)"},
		{"no name", `{"alerts":[{"status":"firing","labels":{"job":"x"}}]}`, "alerts[0].labels", "alerts[0].labels: needs an alertname or event_type label"},
		{"long service", `{"alerts":[{"status":"firing","labels":{"alertname":"A","service":"` + long + `"}}]}`,
			"alerts[0].labels.service", "alerts[0].labels.service: longer than 256 characters"},
		{"startsAt not a string", `{"alerts":[{"status":"firing","labels":{"alertname":"A"},"startsAt":5}]}`,
			"alerts[0].startsAt", "alerts[0].startsAt: must be a JSON string"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := DecodeAlertmanager([]byte(tt.body))
			var fe *FieldError
			require.ErrorAs(t, err, &fe)
			require.Equal(t, tt.wantField, fe.Field)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
			}
		})
	}
}

func TestDecodeAlertmanagerBoundsMetadata(t *testing.T) {
	alert := map[string]any{"status": "firing", "labels": map[string]string{"alertname": "Big"},
		"annotations": map[string]string{"runbook": strings.Repeat("r", MaxMetadataLen)}}
	body, err := json.Marshal(map[string]any{"alerts": []any{alert}})
	require.NoError(t, err)
	events, err := DecodeAlertmanager(body)
	require.NoError(t, err)
	require.NotContains(t, events[0].Metadata, "annotations", "oversized annotations are dropped")

	alert["labels"] = map[string]string{"alertname": "Big", "blob": strings.Repeat("b", MaxMetadataLen)}
	body, err = json.Marshal(map[string]any{"alerts": []any{alert}})
	require.NoError(t, err)
	_, err = DecodeAlertmanager(body)
	require.EqualError(t, err, "alerts[0].labels: the alert's labels are larger than 16384 bytes")
}

func TestAlertSeverity(t *testing.T) {
	for in, want := range map[string]Severity{
		"critical": SeverityCritical, "PAGE": SeverityCritical, "high": SeverityHigh, "error": SeverityHigh,
		"major": SeverityHigh, "warning": SeverityMedium, "Warn": SeverityMedium, "info": SeverityLow,
		"none": SeverityLow, "": SeverityMedium, "whatever": SeverityMedium,
	} {
		require.Equal(t, want, AlertSeverity(in), in)
	}
}

func TestTruncateKeepsRunes(t *testing.T) {
	require.Equal(t, "ab", truncate("ab", 5))
	require.Equal(t, "a", truncate("aé", 2), "é is two bytes: cut whole")
	require.Equal(t, "aé", truncate("aéb", 3))
}

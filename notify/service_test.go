package notify

import (
	"bytes"
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// testService builds a Service over the seed's default routes (log: all, Slack: medium
// and up, PagerDuty: critical) plus an email channel reachable by name only.
func testService(t *testing.T, th *Throttle) (*Service, map[string]*recorder) {
	t.Helper()
	recs := map[string]*recorder{
		ChannelLog: {name: ChannelLog}, ChannelSlack: {name: ChannelSlack}, ChannelEmail: {name: ChannelEmail},
	}
	pager := &pagerLike{recorder{name: ChannelPagerDuty}}
	svc, err := NewService(ServiceConfig{
		Channels: map[string]Notifier{ChannelLog: recs[ChannelLog], ChannelSlack: recs[ChannelSlack],
			ChannelEmail: recs[ChannelEmail], ChannelPagerDuty: pager},
		Severities: map[string][]schemas.Severity{
			ChannelLog:       schemas.Severities,
			ChannelSlack:     mustSeverities(t, "critical", "high", "medium"),
			ChannelPagerDuty: mustSeverities(t, "critical"),
		},
		Throttle: th,
		Links: LinkConfig{DashboardURL: "http://dash.example", IncidentPath: "/incidents/",
			TemporalUIURL: "http://temporal.example", Namespace: "default"},
		Now: newFakeClock().Now,
	})
	require.NoError(t, err)
	recs[ChannelPagerDuty] = &pager.recorder
	return svc, recs
}

func testRequest(sev schemas.Severity, kind Kind) Request {
	return Request{
		Incident: schemas.Incident{IncidentID: "inc_abc123", Title: "Database down", IncidentType: "database_down",
			Severity: sev, Status: schemas.StatusDetected, Source: "db-1", WorkflowID: "incident/db/db-1", RunID: "run-1"},
		Kind: kind, Text: "db-1 is down", At: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
	}
}

func TestServiceRoutesBySeverity(t *testing.T) {
	svc, _ := testService(t, nil)
	require.Equal(t, []string{"log", "email", "pagerduty", "slack"}, svc.Channels(), "the log first, then by name")
	tests := []struct {
		severity schemas.Severity
		kind     Kind
		want     []string
	}{
		{schemas.SeverityLow, KindOpened, []string{"log"}},
		{schemas.SeverityMedium, KindOpened, []string{"log", "slack"}},
		{schemas.SeverityHigh, KindOpened, []string{"log", "slack"}},
		{schemas.SeverityCritical, KindOpened, []string{"log", "pagerduty", "slack"}},
		{schemas.SeverityCritical, KindReminder, []string{"log", "slack"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.severity)+"/"+string(tt.kind), func(t *testing.T) {
			require.Equal(t, tt.want, svc.Route(testRequest(tt.severity, tt.kind)))
		})
	}
}

func TestServiceRoutesEscalationChannels(t *testing.T) {
	svc, _ := testService(t, nil)
	r := testRequest(schemas.SeverityLow, KindEscalated)
	r.Channels = []string{"email", "sms", "log", "email"}
	require.Equal(t, []string{"log", "email"}, svc.Route(r), "configured channels only, the log always, once each")
}

func TestServiceMessage(t *testing.T) {
	svc, _ := testService(t, nil)
	r := testRequest(schemas.SeverityHigh, KindEscalated)
	r.Targets = []string{"alice", "bob"}
	r.Incident.AssignedTo = "carol"
	require.Equal(t, Message{
		IncidentID: "inc_abc123", Kind: KindEscalated, Title: "Database down", Type: "database_down",
		Severity: schemas.SeverityHigh, Status: schemas.StatusDetected, Source: "db-1", Text: "db-1 is down",
		At: r.At,
		Links: Links{Dashboard: "http://dash.example/incidents/inc_abc123",
			TemporalUI: "http://temporal.example/namespaces/default/workflows/incident%2Fdb%2Fdb-1/run-1/history"},
		Fields: []Field{{Name: "Escalated to", Value: "alice, bob"}, {Name: "Assigned to", Value: "carol"}},
	}, svc.Message(r))

	r.At = time.Time{}
	require.Equal(t, newFakeClock().Now(), svc.Message(r).At, "a request without a time is sent now")

	bare, err := NewService(ServiceConfig{Links: LinkConfig{DashboardURL: "http://h:1", IncidentPath: "/api/v1/incidents/"}})
	require.NoError(t, err)
	require.Equal(t, Links{Dashboard: "http://h:1/api/v1/incidents/inc_abc123"}, bare.Message(r).Links, "no Temporal UI link without its URL")
}

func TestServiceSend(t *testing.T) {
	ctx := context.Background()
	th, err := NewThrottle(ThrottleConfig{Interval: time.Hour, Now: newFakeClock().Now, Logger: newJSONLogger(&bytes.Buffer{})})
	require.NoError(t, err)
	svc, recs := testService(t, th)
	r := testRequest(schemas.SeverityCritical, KindOpened)

	require.NoError(t, svc.Send(ctx, ChannelSlack, r))
	require.Equal(t, 1, recs[ChannelSlack].count())
	require.Equal(t, "http://dash.example/incidents/inc_abc123", recs[ChannelSlack].got[0].Links.Dashboard)
	require.ErrorIs(t, svc.Send(ctx, ChannelSlack, r), ErrSuppressed, "channels are behind the throttle")

	err = svc.Send(ctx, "sms", r)
	require.EqualError(t, err, `channel "sms": channel "sms" is not configured`)
	require.False(t, Retryable(err))

	require.Equal(t, Stats{Sent: 1, Suppressed: 1}, svc.Stats()[ChannelSlack])
	require.Contains(t, svc.Stats(), ChannelEmail, "every channel is counted")
	unthrottled, _ := testService(t, nil)
	require.Nil(t, unthrottled.Stats())
}

func TestNewServiceErrors(t *testing.T) {
	_, err := NewService(ServiceConfig{
		Channels:   map[string]Notifier{"slack": &recorder{name: "webhook"}},
		Severities: map[string][]schemas.Severity{"pagerduty": {schemas.SeverityCritical}},
	})
	require.EqualError(t, err, `channel "pagerduty" has severities but is not configured`+"\n"+`channel "slack": notifier is named "webhook"`)
	_, err = NewService(ServiceConfig{
		Channels:   map[string]Notifier{"slack": &recorder{name: "slack"}},
		Severities: map[string][]schemas.Severity{"slack": {"urgent"}},
	})
	require.EqualError(t, err, `route 0 (channel "slack"): invalid severity "urgent"`)
}

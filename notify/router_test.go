package notify

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// pagerLike handles only what PagerDuty handles.
type pagerLike struct{ recorder }

func (p *pagerLike) Handles(k Kind) bool {
	return k == KindOpened || k == KindEscalated || k == KindAcknowledged || k == KindResolved || k == KindTest
}

func mustSeverities(t *testing.T, list ...string) []schemas.Severity {
	t.Helper()
	sevs, err := ParseSeverities("notify_on_severity", list)
	require.NoError(t, err)
	return sevs
}

// TestRouteMatchesQuickstart builds the routes from the seed's defaults (Slack: critical,
// high, medium; PagerDuty: critical; log: everything) and checks the quick reference card.
func TestRouteMatchesQuickstart(t *testing.T) {
	router, err := NewRouter(
		Route{Notifier: NewLog(nil), Severities: schemas.Severities},
		Route{Notifier: &pagerLike{recorder{name: ChannelPagerDuty}}, Severities: mustSeverities(t, "critical")},
		Route{Notifier: &recorder{name: ChannelSlack}, Severities: mustSeverities(t, "CRITICAL", "high", "Medium")},
	)
	require.NoError(t, err)
	tests := []struct {
		severity schemas.Severity
		kind     Kind
		want     []string
	}{
		{schemas.SeverityLow, KindOpened, []string{"log"}},
		{schemas.SeverityMedium, KindOpened, []string{"log", "slack"}},
		{schemas.SeverityHigh, KindOpened, []string{"log", "slack"}},
		{schemas.SeverityCritical, KindOpened, []string{"log", "pagerduty", "slack"}},
		{schemas.SeverityCritical, KindResolved, []string{"log", "pagerduty", "slack"}},
		{schemas.SeverityCritical, KindReminder, []string{"log", "slack"}},
		{schemas.SeverityCritical, KindMTTRBreached, []string{"log", "slack"}},
	}
	for _, tt := range tests {
		t.Run(string(tt.severity)+"/"+string(tt.kind), func(t *testing.T) {
			m := validMessage()
			m.Severity, m.Kind = tt.severity, tt.kind
			var got []string
			for _, n := range router.Route(m) {
				got = append(got, n.Name())
			}
			require.Equal(t, tt.want, got)
		})
	}
	require.Equal(t, []string{"log", "pagerduty", "slack"}, router.Channels())
}

func TestRouterNotifierByName(t *testing.T) {
	email := &recorder{name: ChannelEmail}
	router, err := NewRouter(Route{Notifier: email}) // no severities: reachable by name only
	require.NoError(t, err)
	got, ok := router.Notifier(ChannelEmail)
	require.True(t, ok)
	require.Same(t, email, got)
	_, ok = router.Notifier(ChannelSlack)
	require.False(t, ok)
	require.Empty(t, router.Route(validMessage()))
}

func TestNewRouterErrors(t *testing.T) {
	tests := []struct {
		name   string
		routes []Route
		want   string
	}{
		{"nil notifier", []Route{{}}, "route 0: notifier is nil"},
		{"duplicate", []Route{{Notifier: &recorder{name: "slack"}}, {Notifier: &recorder{name: "slack"}}}, `route 1: channel "slack" is routed twice`},
		{"bad severity", []Route{{Notifier: &recorder{name: "slack"}, Severities: []schemas.Severity{"urgent"}}}, `route 0 (channel "slack"): invalid severity "urgent"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewRouter(tt.routes...)
			require.EqualError(t, err, tt.want)
		})
	}
}

func TestParseSeverities(t *testing.T) {
	got, err := ParseSeverities("k", []string{"High", "critical", "high"})
	require.NoError(t, err)
	require.Equal(t, []schemas.Severity{schemas.SeverityHigh, schemas.SeverityCritical}, got)
	_, err = ParseSeverities("incident_response.notifications.slack.notify_on_severity", []string{"urgent"})
	require.EqualError(t, err, `incident_response.notifications.slack.notify_on_severity: invalid severity "urgent": want one of low, medium, high, critical`)
}

func TestSendAndFunc(t *testing.T) {
	var got Message
	n := Func("custom", func(_ context.Context, m Message) error { got = m; return nil })
	receipt, err := Send(context.Background(), n, validMessage())
	require.NoError(t, err)
	require.Equal(t, Receipt{Channel: "custom"}, receipt)
	require.Equal(t, "inc_abc123", got.IncidentID)
	require.True(t, Handles(n, KindReminder))
}

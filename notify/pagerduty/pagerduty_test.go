package pagerduty_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/notify/notifytest"
	"github.com/mahavishnu/mahavishnu/notify/pagerduty"
	"github.com/mahavishnu/mahavishnu/schemas"
)

const routingKey = "pdsecretroutingkey00000000000042"

func message(kind notify.Kind, sev schemas.Severity) notify.Message {
	return notify.Message{
		IncidentID: "inc_7f3a", Kind: kind, Title: "Database down", Type: "database_down",
		Severity: sev, Status: schemas.StatusAssessing, Source: "db-1.prod", Text: "no heartbeat for 90s",
		Actor: "alice", At: time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC),
		Links:  notify.Links{Dashboard: "http://127.0.0.1:8080/incidents/inc_7f3a", TemporalUI: "http://127.0.0.1:8233/x/history"},
		Fields: []notify.Field{{Name: "events", Value: "12"}},
	}
}

func newNotifier(t *testing.T, rcv *notifytest.Receiver) *pagerduty.Notifier {
	t.Helper()
	n, err := pagerduty.New(pagerduty.Config{RoutingKey: routingKey, EventsURL: rcv.URL() + notifytest.PagerDutyPath})
	require.NoError(t, err)
	return n
}

type event struct {
	RoutingKey  string `json:"routing_key"`
	EventAction string `json:"event_action"`
	DedupKey    string `json:"dedup_key"`
	Payload     *struct {
		Summary       string         `json:"summary"`
		Source        string         `json:"source"`
		Severity      string         `json:"severity"`
		Timestamp     string         `json:"timestamp"`
		Class         string         `json:"class"`
		CustomDetails map[string]any `json:"custom_details"`
	} `json:"payload"`
	Links []struct {
		Href string `json:"href"`
	} `json:"links"`
}

func TestSendEvents(t *testing.T) {
	long := message(notify.KindOpened, schemas.SeverityCritical)
	long.Title = strings.Repeat("very long title ", 100)
	tests := []struct {
		name         string
		msg          notify.Message
		wantAction   string
		wantSeverity string
		wantSummary  string
	}{
		{"critical opened triggers", message(notify.KindOpened, schemas.SeverityCritical), "trigger", "critical", "[CRITICAL] Database down (inc_7f3a)"},
		{"high escalated triggers", message(notify.KindEscalated, schemas.SeverityHigh), "trigger", "error", "Escalated: [HIGH] Database down (inc_7f3a)"},
		{"medium maps to warning", message(notify.KindOpened, schemas.SeverityMedium), "trigger", "warning", "[MEDIUM] Database down (inc_7f3a)"},
		{"low maps to info", message(notify.KindOpened, schemas.SeverityLow), "trigger", "info", "[LOW] Database down (inc_7f3a)"},
		{"summary is cut to 1024", long, "trigger", "critical", ""},
		{"acknowledged acknowledges", message(notify.KindAcknowledged, schemas.SeverityCritical), "acknowledge", "", ""},
		{"resolved resolves", message(notify.KindResolved, schemas.SeverityCritical), "resolve", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := notifytest.NewPagerDuty(t)
			receipt, err := newNotifier(t, rcv).Send(context.Background(), tt.msg)
			require.NoError(t, err)
			require.Equal(t, http.StatusAccepted, receipt.Code)
			require.Contains(t, receipt.Response, `"message":"Event processed"`)
			require.Contains(t, receipt.Response, `"dedup_key":"inc_7f3a"`)

			reqs := rcv.Requests()
			require.Len(t, reqs, 1)
			require.NoError(t, reqs[0].Invalid)
			var ev event
			require.NoError(t, json.Unmarshal(reqs[0].Body, &ev))
			require.Equal(t, routingKey, ev.RoutingKey)
			require.Equal(t, tt.wantAction, ev.EventAction)
			require.Equal(t, "inc_7f3a", ev.DedupKey)
			if tt.wantAction != "trigger" {
				require.Nil(t, ev.Payload, "acknowledge and resolve carry no payload")
				return
			}
			require.Equal(t, tt.wantSeverity, ev.Payload.Severity)
			require.LessOrEqual(t, len([]rune(ev.Payload.Summary)), pagerduty.MaxSummary)
			if tt.wantSummary != "" {
				require.Equal(t, tt.wantSummary, ev.Payload.Summary)
			}
			require.Equal(t, "db-1.prod", ev.Payload.Source)
			require.Equal(t, "2025-03-01T12:00:00Z", ev.Payload.Timestamp)
			require.Equal(t, "database_down", ev.Payload.Class)
			require.Equal(t, map[string]any{
				"incident_id": "inc_7f3a", "incident_type": "database_down", "severity": string(tt.msg.Severity),
				"kind": string(tt.msg.Kind), "status": "assessing", "text": "no heartbeat for 90s", "actor": "alice",
				"dashboard_url": tt.msg.Links.Dashboard, "temporal_ui_url": tt.msg.Links.TemporalUI, "events": "12",
			}, ev.Payload.CustomDetails)
			require.Len(t, ev.Links, 2)
		})
	}
}

func TestSendTestTriggersAndResolves(t *testing.T) {
	rcv := notifytest.NewPagerDuty(t)
	m := notify.NewTestMessage(time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC))
	receipt, err := newNotifier(t, rcv).Send(context.Background(), m)
	require.NoError(t, err)
	require.Contains(t, receipt.Response, "(test alert resolved)")
	reqs := rcv.Requests()
	require.Len(t, reqs, 2)
	var actions []string
	for _, r := range reqs {
		require.NoError(t, r.Invalid)
		var ev event
		require.NoError(t, json.Unmarshal(r.Body, &ev))
		require.Equal(t, m.IncidentID, ev.DedupKey)
		actions = append(actions, ev.EventAction)
	}
	require.Equal(t, []string{"trigger", "resolve"}, actions)
	var ev event
	require.NoError(t, json.Unmarshal(reqs[0].Body, &ev))
	require.Equal(t, "mahavishnu", ev.Payload.Source, "the configured default source")
}

func TestKindsNotForPagerDuty(t *testing.T) {
	rcv := notifytest.NewPagerDuty(t)
	n := newNotifier(t, rcv)
	for _, k := range []notify.Kind{notify.KindReminder, notify.KindMTTRBreached, notify.KindApprovalRequested, notify.KindApprovalExpired} {
		require.False(t, n.Handles(k), k)
		err := n.Notify(context.Background(), message(k, schemas.SeverityCritical))
		require.ErrorContains(t, err, fmt.Sprintf("kind %q is not sent to PagerDuty", k))
		require.False(t, notify.Retryable(err))
	}
	require.Empty(t, rcv.Requests())
}

func TestSendClassifiesAnswers(t *testing.T) {
	invalid := `{"status":"invalid event","message":"Event object is invalid","errors":["Length of 'routing_key' is incorrect (should be 32 characters)"]}`
	tests := []struct {
		name       string
		reply      notifytest.Reply
		retryable  bool
		retryAfter time.Duration
		wantErr    string
	}{
		{"rate limited", notifytest.Reply{Code: 429, Header: http.Header{"Retry-After": {"30"}}}, true, 30 * time.Second, `channel "pagerduty": HTTP 429`},
		{"server error", notifytest.Reply{Code: 500, Body: "oops"}, true, 0, "HTTP 500: oops"},
		{"bad gateway", notifytest.Reply{Code: 502}, true, 0, "HTTP 502"},
		{"invalid event", notifytest.Reply{Code: 400, Body: invalid}, false, 0,
			"HTTP 400: Event object is invalid: Length of 'routing_key' is incorrect (should be 32 characters)"},
		{"not found", notifytest.Reply{Code: 404, Body: "not found"}, false, 0, "HTTP 404: not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rcv := notifytest.NewPagerDuty(t)
			rcv.Reply(tt.reply)
			n := newNotifier(t, rcv)
			err := n.Notify(context.Background(), message(notify.KindOpened, schemas.SeverityCritical))
			require.ErrorContains(t, err, tt.wantErr)
			require.Equal(t, tt.retryable, notify.Retryable(err))
			require.Equal(t, tt.retryAfter, notify.RetryAfter(err))
			notifytest.RequireNoSecret(t, err, routingKey)
			require.NoError(t, n.Notify(context.Background(), message(notify.KindOpened, schemas.SeverityCritical)), "the retry succeeds")
		})
	}
}

func TestSecretNeverLeaks(t *testing.T) {
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	echo := notifytest.NewPagerDuty(t)
	echo.Reply(notifytest.Reply{Code: 400, Body: `{"status":"invalid event","message":"Event object is invalid","errors":["unknown routing_key ` + routingKey + `"]}`})
	closed, err := pagerduty.New(pagerduty.Config{RoutingKey: routingKey, EventsURL: "http://" + notifytest.ClosedPort(t) + "/v2/enqueue"})
	require.NoError(t, err)
	tests := []struct {
		name      string
		n         *pagerduty.Notifier
		ctx       context.Context
		retryable bool
	}{
		{"connection refused", closed, context.Background(), true},
		{"cancelled", newNotifier(t, notifytest.NewPagerDuty(t)), cancelled, false},
		{"answer echoes the key", newNotifier(t, echo), context.Background(), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.n.Notify(tt.ctx, message(notify.KindOpened, schemas.SeverityCritical))
			require.Error(t, err)
			require.Equal(t, tt.retryable, notify.Retryable(err))
			notifytest.RequireNoSecret(t, err, routingKey)
		})
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  pagerduty.Config
		want string
	}{
		{"no key", pagerduty.Config{}, "pagerduty.service_key: is required (the Events API v2 routing key)"},
		{"short key", pagerduty.Config{RoutingKey: "short-secret-key"},
			"pagerduty.service_key: want a 32-character Events API v2 routing key, got 16 characters (value not shown: it is a secret)"},
		{"bad url", pagerduty.Config{RoutingKey: routingKey, EventsURL: "events.pagerduty.com"},
			`pagerduty.events_url: want an http:// or https:// URL, got "events.pagerduty.com"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := pagerduty.New(tt.cfg)
			require.EqualError(t, err, tt.want)
		})
	}
	cfg := pagerduty.Config{RoutingKey: routingKey}
	require.NotContains(t, fmt.Sprintf("%v %+v %#v", cfg, cfg, cfg), routingKey)
}

func TestSeverityMapping(t *testing.T) {
	require.Equal(t, "critical", pagerduty.Severity(schemas.SeverityCritical))
	require.Equal(t, "error", pagerduty.Severity(schemas.SeverityHigh))
	require.Equal(t, "warning", pagerduty.Severity(schemas.SeverityMedium))
	require.Equal(t, "info", pagerduty.Severity(schemas.SeverityLow))
}

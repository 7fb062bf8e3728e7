package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/activities"
	"github.com/mahavishnu/mahavishnu/config"
	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/notify/notifytest"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
	"github.com/mahavishnu/mahavishnu/store/storetest"
)

func testNotifyInput(sev schemas.Severity) activities.NotifyInput {
	return activities.NotifyInput{
		Incident: schemas.Incident{IncidentID: "inc_abc123", Title: "Database down", IncidentType: "database_down",
			Severity: sev, Status: schemas.StatusDetected, WorkflowID: "wf", RunID: "run"},
		Kind: activities.NotifyOpened, Text: "down", Key: "opened",
	}
}

// TestNotificationsFromConfig checks the translation of the config into the notify.Service:
// configured channels with their severities, unconfigured ones left out, links.
func TestNotificationsFromConfig(t *testing.T) {
	cfg := config.Default()
	cfg.IncidentResponse.Notifications.Slack.WebhookURL = "http://127.0.0.1:1/hook" // PagerDuty stays without a key
	notes, err := newNotifications(cfg, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)))
	require.NoError(t, err)
	var _ activities.Notifications = notes

	require.Equal(t, []string{"log", "slack"}, notes.Route(testNotifyInput(schemas.SeverityCritical)))
	require.Equal(t, []string{"log"}, notes.Route(testNotifyInput(schemas.SeverityLow)))
	esc := testNotifyInput(schemas.SeverityLow)
	esc.Channels = []string{"slack", "pagerduty"}
	require.Equal(t, []string{"log", "slack"}, notes.Route(esc), "an escalation level's configured channels")

	require.NoError(t, notes.Send(context.Background(), notify.ChannelLog, testNotifyInput(schemas.SeverityLow)))
	require.False(t, notify.Retryable(notes.Send(context.Background(), notify.ChannelPagerDuty, testNotifyInput(schemas.SeverityLow))))
	require.Equal(t, notify.Stats{Sent: 1}, notes.Stats()[notify.ChannelLog])
	require.Equal(t, notes.Stats(), notes.throttle.Stats())
}

func TestNotificationLinks(t *testing.T) {
	cfg := config.Default()
	cfg.API.Listen = "0.0.0.0:9090"
	require.Equal(t, notify.LinkConfig{DashboardURL: "http://127.0.0.1:9090", IncidentPath: "/incidents/",
		TemporalUIURL: "http://127.0.0.1:8233", Namespace: "default"}, notificationLinks(cfg))

	cfg.IncidentResponse.Dashboard.Enabled = false
	cfg.Temporal.Address = "temporal:7233"
	cfg.IncidentResponse.Notifications.DashboardURL = "https://incidents.example.com/"
	cfg.IncidentResponse.Notifications.TemporalUIURL = "https://temporal.example.com/"
	require.Equal(t, notify.LinkConfig{DashboardURL: "https://incidents.example.com", IncidentPath: "/api/v1/incidents/",
		TemporalUIURL: "https://temporal.example.com", Namespace: "default"}, notificationLinks(cfg))

	cfg.IncidentResponse.Notifications.TemporalUIURL = ""
	require.Empty(t, notificationLinks(cfg).TemporalUIURL, "a cluster's Temporal UI is linked only when configured")
}

// sharedStores opens the same database twice, as two worker processes would: a SQLite
// file, or a fresh PostgreSQL schema (dropped at cleanup) on the test server.
func sharedStores(t *testing.T, dialect string) (*store.Store, *store.Store) {
	t.Helper()
	dbURL, dataDir := "sqlite:///incidents.db", t.TempDir()
	if dialect == store.DialectPostgres {
		dbURL = testPostgresSchema(t)
	}
	open := func() *store.Store {
		st, err := store.Open(context.Background(), dbURL, dataDir)
		require.NoError(t, err)
		t.Cleanup(func() { require.NoError(t, st.Close()) })
		return st
	}
	return open(), open()
}

// testPostgresSchema creates a uniquely named schema on the test PostgreSQL
// (MAHAVISHNU_TEST_POSTGRES_URL, else postgres@127.0.0.1:5432/test) and returns a URL
// whose connections use it. PostgreSQL is required: the test fails when it is unreachable.
func testPostgresSchema(t *testing.T) string {
	t.Helper()
	return storetest.NewSchema(t, "cli_test").URL
}

// TestStoreThrottleState runs the ThrottleState contract over the store, each handle a
// separate connection pool onto one database.
func TestStoreThrottleState(t *testing.T) {
	for _, dialect := range []string{store.DialectSQLite, store.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			notifytest.TestThrottleState(t, func(t *testing.T) (notify.ThrottleState, notify.ThrottleState) {
				a, b := sharedStores(t, dialect)
				return storeThrottleState{a}, storeThrottleState{b}
			})
		})
	}
}

// TestNotificationsShareStoreLimits: two workers' notification routers over one store
// send an incident's notification once and honour one channel rate limit between them.
func TestNotificationsShareStoreLimits(t *testing.T) {
	for _, dialect := range []string{store.DialectSQLite, store.DialectPostgres} {
		t.Run(dialect, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			hook := notifytest.NewWebhook(t, "", time.Now)
			cfg := config.Default()
			cfg.IncidentResponse.Notifications.Slack.Enabled = false
			cfg.IncidentResponse.Notifications.PagerDuty.Enabled = false
			cfg.IncidentResponse.Notifications.Webhook.Enabled = true
			cfg.IncidentResponse.Notifications.Webhook.URL = config.Secret(hook.URL())
			cfg.IncidentResponse.Notifications.RateLimitPerMinute = 3 // burst 3
			logger := slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil))
			st1, st2 := sharedStores(t, dialect)
			w1, err := newNotificationsWithStore(cfg, logger, st1)
			require.NoError(t, err)
			w2, err := newNotificationsWithStore(cfg, logger, st2)
			require.NoError(t, err)

			in := func(id string) activities.NotifyInput {
				in := testNotifyInput(schemas.SeverityHigh)
				in.Incident.IncidentID = id
				return in
			}
			require.Equal(t, []string{"log", "webhook"}, w1.Route(in("inc_1")))
			require.NoError(t, w1.Send(ctx, notify.ChannelWebhook, in("inc_1")))
			require.ErrorIs(t, w2.Send(ctx, notify.ChannelWebhook, in("inc_1")), notify.ErrSuppressed, "sent by the other worker")

			// Both workers at once, each with its own incidents: 3 go out between them.
			var wg sync.WaitGroup
			errs := make([]error, 8)
			for i := range errs {
				w := []*notifications{w1, w2}[i%2]
				wg.Go(func() { errs[i] = w.Send(ctx, notify.ChannelWebhook, in(fmt.Sprintf("inc_%d", i+2))) })
			}
			wg.Wait()
			sent := 0
			for _, err := range errs {
				var se *notify.SuppressedError
				if err == nil {
					sent++
				} else {
					require.ErrorAs(t, err, &se)
					require.Equal(t, notify.ReasonRateLimited, se.Reason)
				}
			}
			require.Equal(t, 2, sent, "a burst of 3 per channel across both workers, one used by inc_1")
			require.Len(t, hook.Requests(), 3)
			s1, s2 := w1.Stats()[notify.ChannelWebhook], w2.Stats()[notify.ChannelWebhook]
			require.Equal(t, uint64(3), s1.Sent+s2.Sent)
			require.Equal(t, uint64(7), s1.Suppressed+s2.Suppressed)
		})
	}
}

func TestNewNotificationsWithoutStore(t *testing.T) {
	notes, err := newNotificationsWithStore(config.Default(), slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), nil)
	require.NoError(t, err)
	require.NoError(t, notes.Send(context.Background(), notify.ChannelLog, testNotifyInput(schemas.SeverityLow)))
}

// TestApprovalRequestsOfTwoActionsBothNotify: service_down asks for restart_service and
// rollback in the same instant; with the store's throttle both go out (the key holds the
// action), while a repeat of one is held back.
func TestApprovalRequestsOfTwoActionsBothNotify(t *testing.T) {
	ctx := context.Background()
	hook := notifytest.NewWebhook(t, "", time.Now)
	cfg := config.Default()
	cfg.IncidentResponse.Notifications.Slack.Enabled = false
	cfg.IncidentResponse.Notifications.PagerDuty.Enabled = false
	cfg.IncidentResponse.Notifications.Webhook.Enabled = true
	cfg.IncidentResponse.Notifications.Webhook.URL = config.Secret(hook.URL())
	st, _ := sharedStores(t, store.DialectSQLite)
	n, err := newNotificationsWithStore(cfg, slog.New(slog.NewTextHandler(&bytes.Buffer{}, nil)), st)
	require.NoError(t, err)
	request := func(action string) activities.NotifyInput {
		in := testNotifyInput(schemas.SeverityHigh)
		in.Kind, in.Action, in.Key = activities.NotifyApprovalRequested, action, "approval/"+action
		in.Text = "approval needed to run " + action
		return in
	}
	require.NoError(t, n.Send(ctx, notify.ChannelWebhook, request("restart_service")))
	require.NoError(t, n.Send(ctx, notify.ChannelWebhook, request("rollback")))
	require.ErrorIs(t, n.Send(ctx, notify.ChannelWebhook, request("rollback")), notify.ErrSuppressed)
	require.Len(t, hook.Requests(), 2)
}

// pagerDutyAPIKeyOnly is the quickstart's Step 1: PagerDuty with api_key and no service_key.
const pagerDutyAPIKeyOnly = `
incident_response:
  notifications:
    pagerduty:
      enabled: true
      api_key: "u+abcdefghijklmnopqrst"
`

// runCLIWithConfig runs a command with extra YAML in the config (and a fake API).
func runCLIWithConfig(t *testing.T, f *fakeAPI, yaml string, args ...string) (string, string, error) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "mahavishnu.yaml")
	body := fmt.Sprintf("data_dir: %q\napi:\n  listen: %q\n", dir, strings.TrimPrefix(srv.URL, "http://")) + yaml
	require.NoError(t, os.WriteFile(cfg, []byte(body), 0o600))
	prev := cli.OsExiter
	cli.OsExiter = func(int) {}
	t.Cleanup(func() { cli.OsExiter = prev })
	var out, errOut bytes.Buffer
	app := NewApp(Options{Stdout: &out, Stderr: &errOut})
	err := Run(context.Background(), app, append([]string{"mahavishnu", "--config", cfg}, args...))
	return out.String(), errOut.String(), err
}

// TestPagerDutyAPIKeyAloneIsReported: api_key alone pages nothing; the start-up log,
// `incidents status` and `notify test --channel pagerduty` say that paging needs
// service_key, and the key's value is never shown.
func TestPagerDutyAPIKeyAloneIsReported(t *testing.T) {
	const want = "paging needs service_key, the Events API v2 integration key"
	cfg := config.Default()
	cfg.IncidentResponse.Notifications.PagerDuty.Enabled = true
	cfg.IncidentResponse.Notifications.PagerDuty.APIKey = "u+abcdefghijklmnopqrst"
	cfg.IncidentResponse.Notifications.PagerDuty.ServiceKey = ""
	var log bytes.Buffer
	chans, _, err := channels(cfg, slog.New(slog.NewTextHandler(&log, nil)), nil)
	require.NoError(t, err)
	require.NotContains(t, chans, notify.ChannelPagerDuty)
	require.Contains(t, log.String(), want, "said at start")

	_, _, err = runCLIWithConfig(t, &fakeAPI{}, pagerDutyAPIKeyOnly, "incidents", "notify", "test", "--channel", "pagerduty")
	require.ErrorContains(t, err, "--channel pagerduty: api_key is set but "+want)

	f := &fakeAPI{answers: map[string]any{"GET /healthz": map[string]any{"status": "ok"}}}
	out, _, _ := runCLIWithConfig(t, f, pagerDutyAPIKeyOnly, "incidents", "status")
	require.Contains(t, out, want)
	require.NotContains(t, out, "abcdefghijklmnopqrst")
	out, _, _ = runCLIWithConfig(t, f, pagerDutyAPIKeyOnly, "incidents", "status", "--output", "json")
	var rep statusReport
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.True(t, slices.ContainsFunc(rep.Notices, func(n string) bool { return strings.Contains(n, want) }), rep.Notices)

	// With service_key it pages, and nothing is reported.
	cfg.IncidentResponse.Notifications.PagerDuty.ServiceKey = "0123456789abcdef0123456789abcdef"
	for _, n := range cfg.IncidentResponse.Notifications.Notices() {
		require.NotContains(t, n, "pagerduty")
	}
}

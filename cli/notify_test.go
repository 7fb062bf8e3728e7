package cli

import (
	"bytes"
	"context"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/activities"
	"github.com/mahavishnu/mahavishnu/config"
	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/schemas"
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

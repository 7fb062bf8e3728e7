package config

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"

	"github.com/mahavishnu/mahavishnu/schemas"
)

const shippedFile = "../settings/mahavishnu.yaml"

// env returns a lookupEnv function over m.
func env(m map[string]string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		v, ok := m[name]
		return v, ok
	}
}

func TestDefaultIsValid(t *testing.T) {
	c := Default()
	require.NoError(t, c.Validate())
	require.True(t, c.IncidentResponse.Enabled)
	require.Equal(t, 10000, c.IncidentResponse.Detection.MaxEvents)
	require.Equal(t, []string{"restart_service", "rollback"}, c.IncidentResponse.Remediation.RequireApprovalFor)
	require.Equal(t, "127.0.0.1:8080", c.API.Listen)
	require.Equal(t, "sqlite:///incidents.db", c.DatabaseURL())
	require.Equal(t, schemas.DefaultTaskQueue, c.Temporal.TaskQueue)
	require.True(t, c.Embedded())
}

func TestShippedFileEqualsDefault(t *testing.T) {
	c, err := Load(shippedFile, env(nil))
	require.NoError(t, err)
	require.Equal(t, Default(), c)
}

// The shipped file spells out every key, and incident_response holds exactly the seed's
// keys plus mttr_target_minutes.
func TestShippedFileHasEveryKey(t *testing.T) {
	data, err := os.ReadFile(shippedFile)
	require.NoError(t, err)
	var doc yaml.Node
	require.NoError(t, yaml.Unmarshal(data, &doc))
	var leaves []string
	var walk func(n *yaml.Node, prefix string)
	walk = func(n *yaml.Node, prefix string) {
		if nodesByPath()[prefix].opaque {
			return // a subtree such as remediation.actions
		}
		if n.Kind != yaml.MappingNode {
			leaves = append(leaves, prefix)
			return
		}
		for i := 0; i < len(n.Content); i += 2 {
			walk(n.Content[i+1], strings.TrimPrefix(prefix+"."+n.Content[i].Value, "."))
		}
	}
	walk(doc.Content[0], "")
	require.Equal(t, Default().Keys(), leaves)

	seed := []string{
		"enabled", "auto_remediation", "auto_resolution",
		"detection.check_interval_seconds", "detection.event_retention_seconds", "detection.max_events",
		"remediation.safe_actions_only", "remediation.require_approval_for", "remediation.approval_timeout_seconds",
		"notifications.slack.enabled", "notifications.slack.webhook_url", "notifications.slack.notify_on_severity",
		"notifications.pagerduty.enabled", "notifications.pagerduty.api_key", "notifications.pagerduty.service_key",
		"notifications.pagerduty.notify_on_severity",
		"notifications.email.enabled", "notifications.email.smtp_server", "notifications.email.smtp_port",
		"notifications.email.from_address",
		// ours:
		"detection.attach_signal_interval",
		"notifications.pagerduty.events_url", "notifications.email.to", "notifications.email.smtp_username",
		"notifications.email.smtp_password", "notifications.email.tls_policy", "notifications.email.notify_on_severity",
		"notifications.webhook.enabled", "notifications.webhook.url", "notifications.webhook.secret",
		"notifications.webhook.notify_on_severity", "notifications.throttle_seconds",
		"notifications.rate_limit_per_minute", "notifications.dashboard_url", "notifications.temporal_ui_url",
		"dashboard.enabled", "dashboard.port", "dashboard.refresh_interval_seconds",
		"retention.resolved_incidents_days", "retention.event_history_days", "retention.postmortems_days",
		// ours:
		"retention.schedule",
		"mttr_target_minutes", "reminder_interval_minutes",
		"escalation.ack_targets_minutes.critical", "escalation.ack_targets_minutes.high",
		"escalation.ack_targets_minutes.medium", "escalation.ack_targets_minutes.low",
		"escalation.repeat", // issue 11
		// issue 12:
		"notifications.slack.bot_token", "notifications.slack.channel", "notifications.slack.api_url",
		"notifications.slack.signing_secret",
		"notifications.teams.enabled", "notifications.teams.webhook_url", "notifications.teams.notify_on_severity",
		"notifications.mattermost.enabled", "notifications.mattermost.webhook_url",
		"notifications.mattermost.notify_on_severity",
	}
	var inBlock []string
	for _, k := range leaves {
		if rest, ok := strings.CutPrefix(k, "incident_response."); ok {
			inBlock = append(inBlock, rest)
		}
	}
	require.ElementsMatch(t, seed, inBlock)
}

func TestLoadPathResolution(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)

	c, err := Load("", env(nil))
	require.NoError(t, err, "no settings file: defaults only")
	require.Equal(t, Default(), c)

	_, err = Load("missing.yaml", env(nil))
	require.EqualError(t, err, "config: open missing.yaml: no such file or directory")

	require.NoError(t, os.MkdirAll("settings", 0o755))
	require.NoError(t, os.WriteFile(DefaultPath, []byte("data_dir: /var/lib/mahavishnu\n"), 0o600))
	c, err = Load("", env(nil))
	require.NoError(t, err)
	require.Equal(t, "/var/lib/mahavishnu", c.DataDir)
}

func TestLoadPartialFileKeepsDefaults(t *testing.T) {
	c, err := Load("testdata/partial.yaml", env(nil))
	require.NoError(t, err)

	want := Default()
	want.IncidentResponse.AutoResolution = true
	want.IncidentResponse.Notifications.Email.Enabled = true
	want.API.Listen = "0.0.0.0:9000"
	want.Database.URL = "postgres://incidents:pw@db:5432/incidents?sslmode=disable"
	want.Temporal.Address = "temporal.internal:7233"
	require.Equal(t, want, c)
	require.False(t, c.Embedded())
	require.Equal(t, "temporal.internal:7233", c.TemporalHostPort())
}

func TestLoadEmptyFile(t *testing.T) {
	c, err := Load("testdata/empty.yaml", env(nil))
	require.NoError(t, err)
	require.Equal(t, Default(), c)
}

func TestKeys(t *testing.T) {
	keys := Default().Keys()
	require.Len(t, keys, 81) // main's 71 + 10 of issue 12
	require.Equal(t, "incident_response.enabled", keys[0])
	require.Equal(t, "temporal.embedded.ui_port", keys[len(keys)-1])
	for _, k := range []string{
		"incident_response.detection.max_events",
		"incident_response.notifications.pagerduty.service_key",
		"data_dir", "rules_file", "api.listen", "api.token", "database.url",
		"temporal.address", "temporal.namespace", "temporal.task_queue", "temporal.embedded.frontend_port",
	} {
		require.Contains(t, keys, k)
	}

	envNames := map[string]string{}
	for _, k := range keys {
		name := EnvName(k)
		require.NotContains(t, envNames, name, "env var %s names both %s and %s", name, envNames[name], k)
		envNames[name] = k
	}
	for _, a := range envAliases {
		require.Contains(t, keys, a.key, "alias %s", a.env)
		require.NotContains(t, envNames, a.env, "alias %s shadows a key's own variable", a.env)
	}
}

func TestDataDirAbs(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	wd, err := os.Getwd()
	require.NoError(t, err)

	tests := []struct{ dataDir, want string }{
		{"./data", filepath.Join(wd, "data")},
		{"/var/lib/mahavishnu", "/var/lib/mahavishnu"},
		{"~/mahavishnu", filepath.Join(home, "mahavishnu")},
		{"~", home},
	}
	for _, tt := range tests {
		t.Run(tt.dataDir, func(t *testing.T) {
			c := Default()
			c.DataDir = tt.dataDir
			got, err := c.DataDirAbs()
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestChannelHelpers(t *testing.T) {
	n := Default().IncidentResponse.Notifications
	require.False(t, n.Slack.Configured(), "enabled without a webhook URL")
	require.False(t, n.PagerDuty.Configured(), "enabled without a service key")
	require.False(t, n.Email.Configured(), "disabled")

	n.Slack.WebhookURL = "https://hooks.slack.com/services/T/B/x"
	n.PagerDuty.APIKey = "api"
	require.True(t, n.Slack.Configured())
	require.False(t, n.PagerDuty.Configured(), "an api_key alone cannot page")
	n.PagerDuty.ServiceKey = "routing"
	n.Email.Enabled = true
	require.True(t, n.PagerDuty.Configured())
	require.False(t, n.Email.Configured(), "no recipients")
	n.Email.To = []string{"oncall@example.com"}
	require.True(t, n.Email.Configured())
	require.False(t, n.Webhook.Configured())
	n.Webhook.Enabled, n.Webhook.URL = true, "https://hooks.example.com/x"
	require.True(t, n.Webhook.Configured())
	require.Equal(t, "smtp.example.com:587", n.Email.SMTPAddr())

	for _, sev := range schemas.Severities {
		require.Equal(t, sev != schemas.SeverityLow, n.Slack.Notifies(sev), "slack %s", sev)
		require.Equal(t, sev == schemas.SeverityCritical, n.PagerDuty.Notifies(sev), "pagerduty %s", sev)
	}
	n.Slack.NotifyOnSeverity = []string{"LOW"}
	require.True(t, n.Slack.Notifies(schemas.SeverityLow), "severities are case-insensitive")

	r := Default().IncidentResponse.Remediation
	require.True(t, r.RequiresApproval("rollback"))
	require.False(t, r.RequiresApproval("clear_cache"))
}

func TestDocsListEveryKey(t *testing.T) {
	data, err := os.ReadFile("../docs/configuration.md")
	require.NoError(t, err)
	rows := map[string][]string{} // key -> cells
	for line := range strings.Lines(string(data)) {
		cells := strings.Split(strings.TrimSpace(line), "|")
		if len(cells) < 5 || !strings.HasPrefix(strings.TrimSpace(cells[1]), "`") {
			continue
		}
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		key := strings.Trim(cells[1], "`")
		require.NotContains(t, rows, key, "docs list %s twice", key)
		rows[key] = cells[2:]
	}

	c := Default()
	keys := c.Keys()
	documented := slices.Sorted(maps.Keys(rows))
	require.ElementsMatch(t, keys, documented, "docs/configuration.md must list exactly the config keys")
	for _, key := range keys {
		v, err := Get(c, key)
		require.NoError(t, err)
		require.Equal(t, "`"+docDefault(v)+"`", rows[key][0], "default of %s", key)
		var vars []string
		for _, name := range EnvVars(key) {
			vars = append(vars, "`"+name+"`")
		}
		require.Equal(t, strings.Join(vars, ", "), rows[key][1], "env vars of %s", key)
	}
}

// docDefault formats a default value as docs/configuration.md shows it.
func docDefault(v any) string {
	switch v := v.(type) {
	case Secret:
		return docDefault(v.Value())
	case string:
		if v == "" {
			return `""`
		}
		return v
	case []string:
		return "[" + strings.Join(v, ", ") + "]"
	}
	return fmt.Sprint(v)
}

// TestNotificationNotices: an enabled channel that sends nothing is reported; PagerDuty
// with api_key alone says that paging needs service_key.
func TestNotificationNotices(t *testing.T) {
	cfg := Default()
	n := &cfg.IncidentResponse.Notifications
	n.Slack.WebhookURL = "https://hooks.slack.test/x"
	n.PagerDuty.APIKey = "u+rest-token"
	require.Equal(t, []string{"notifications.pagerduty: api_key is set but paging needs service_key, the Events API v2 integration key " +
		"of a PagerDuty service (PAGERDUTY_SERVICE_KEY); api_key (a REST API token) cannot page: nothing is paged until service_key is set"},
		n.Notices())
	n.PagerDuty.APIKey = ""
	require.Contains(t, n.Notices()[0], "notifications.pagerduty: enabled without service_key")
	n.PagerDuty.ServiceKey = "0123456789abcdef0123456789abcdef"
	require.Empty(t, n.Notices())
	n.PagerDuty.Enabled, n.PagerDuty.ServiceKey = false, ""
	require.Empty(t, n.Notices(), "a disabled channel is not a problem")
	n.Webhook.Enabled = true
	require.Equal(t, []string{"notifications.webhook: enabled without url: nothing is sent until it is set"}, n.Notices())
}

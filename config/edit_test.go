package config

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSetInFile(t *testing.T) {
	data, err := os.ReadFile(shippedFile)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "mahavishnu.yaml")
	require.NoError(t, os.WriteFile(path, data, 0o600))
	noEnv := func(string) (string, bool) { return "", false }

	full, err := SetInFile(path, "auto_remediation", "false")
	require.NoError(t, err)
	require.Equal(t, "incident_response.auto_remediation", full)
	full, err = SetInFile(path, "detection.max_events", "500")
	require.NoError(t, err)
	require.Equal(t, "incident_response.detection.max_events", full)
	_, err = SetInFile(path, "notifications.slack.notify_on_severity", "critical, high")
	require.NoError(t, err)
	_, err = SetInFile(path, "api.listen", "127.0.0.1:9090")
	require.NoError(t, err)

	c, err := Load(path, noEnv)
	require.NoError(t, err)
	require.False(t, c.IncidentResponse.AutoRemediation)
	require.Equal(t, 500, c.IncidentResponse.Detection.MaxEvents)
	require.Equal(t, []string{"critical", "high"}, c.IncidentResponse.Notifications.Slack.NotifyOnSeverity)
	require.Equal(t, "127.0.0.1:9090", c.API.Listen)
	require.True(t, c.IncidentResponse.Enabled, "other keys are kept")
	edited, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Contains(t, string(edited), "# Requires manual approval", "comments are kept")
	info, err := os.Stat(path)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the file keeps its mode")
}

func TestSetInFileRefusesBadValuesAndKeepsTheFile(t *testing.T) {
	data, err := os.ReadFile(shippedFile)
	require.NoError(t, err)
	path := filepath.Join(t.TempDir(), "mahavishnu.yaml")
	require.NoError(t, os.WriteFile(path, data, 0o644))
	for key, value := range map[string]string{
		"auto_remediation":                       "maybe",
		"detection.max_events":                   "lots",
		"no_such_key":                            "1",
		"escalation.levels":                      "x",
		"temporal.embedded.ui_port":              "70000",
		"notifications.slack.notify_on_severity": "urgent",
	} {
		_, err := SetInFile(path, key, value)
		require.Error(t, err, "%s=%s", key, value)
	}
	after, err := os.ReadFile(path)
	require.NoError(t, err)
	require.Equal(t, string(data), string(after))
}

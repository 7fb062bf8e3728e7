package config

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestGet(t *testing.T) {
	c := Default()
	c.API.Token = "tok"
	tests := []struct {
		key     string
		want    any
		wantErr string
	}{
		{key: "auto_remediation", want: true},
		{key: "incident_response.auto_remediation", want: true},
		{key: " Auto_Remediation ", want: true},
		{key: "detection.max_events", want: 10000},
		{key: "remediation.require_approval_for", want: []string{"restart_service", "rollback"}},
		{key: "notifications", want: Default().IncidentResponse.Notifications},
		{key: "dashboard", want: DashboardConfig{Enabled: true, Port: 8080, RefreshIntervalSeconds: 30}},
		{key: "data_dir", want: "./data"},
		{key: "api.listen", want: "127.0.0.1:8080"},
		{key: "api.token", want: Secret("tok")},
		{key: "temporal.embedded", want: EmbeddedTemporalConfig{FrontendPort: 7233, UIPort: 8233}},
		{key: "", want: *c},
		{key: "nope", wantErr: `unknown key "nope"`},
		{key: "incident_response.api.listen", wantErr: `unknown key "incident_response.api.listen"`},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, err := Get(c, tt.key)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestGetReturnsACopy(t *testing.T) {
	c := Default()
	got, err := Get(c, "remediation.require_approval_for")
	require.NoError(t, err)
	got.([]string)[0] = "changed"
	require.Equal(t, Default(), c)
}

func TestSet(t *testing.T) {
	tests := []struct {
		key, value string
		getKey     string
		want       any
		wantErr    string
	}{
		{key: "auto_remediation", value: "false", want: false},
		{key: "incident_response.auto_resolution", value: "yes", want: true},
		{key: "detection.max_events", value: "42", want: 42},
		{key: "remediation.require_approval_for", value: "rollback", want: []string{"rollback"}},
		{key: "api.token", value: "abc", want: Secret("abc")},
		{key: "temporal.address", value: "temporal:7233", want: "temporal:7233"},
		{key: "max_events", wantErr: `unknown key "max_events"`},
		{key: "detection.max_events", value: "lots", wantErr: `incident_response.detection.max_events: want an integer, got "lots"`},
		{key: "dashboard.port", value: "70000", wantErr: `incident_response.dashboard.port: want a port number 1-65535, got 70000`},
		{key: "retention.schedule", value: "0 3 * * *", want: "0 3 * * *"},
		{key: "retention.schedule", value: "30m", want: "30m"},
		{key: "retention.schedule", value: "hourly",
			wantErr: `incident_response.retention.schedule: want a duration such as 1h or a five-field cron expression such as "0 3 * * *", got "hourly"`},
		{key: "retention.schedule", value: "10s", wantErr: `incident_response.retention.schedule: want a duration from 1m to 744h, got "10s"`},
		{key: "notifications.slack.notify_on_severity", value: "critical,urgent",
			wantErr: `incident_response.notifications.slack.notify_on_severity: invalid severity "urgent": want one of low, medium, high, critical`},
		{key: "notifications", value: "x",
			wantErr: "incident_response.notifications: is a section, not a value; set one of its keys, e.g. incident_response.notifications.slack.enabled"},
		{key: "", value: "x", wantErr: "top level: is a section, not a value; set one of its keys, e.g. incident_response.enabled"},
	}
	for _, tt := range tests {
		t.Run(tt.key+"="+tt.value, func(t *testing.T) {
			c := Default()
			err := Set(c, tt.key, tt.value)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				require.Equal(t, Default(), c, "a failed Set leaves the config unchanged")
				return
			}
			require.NoError(t, err)
			got, err := Get(c, tt.key)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

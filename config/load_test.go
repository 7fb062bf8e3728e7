package config

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestEnvOverrides(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		key  string
		want any
	}{
		{"string", map[string]string{"MAHAVISHNU_API_LISTEN": "0.0.0.0:9090"}, "api.listen", "0.0.0.0:9090"},
		{"int", map[string]string{"MAHAVISHNU_INCIDENT_RESPONSE_DETECTION_MAX_EVENTS": "500"}, "detection.max_events", 500},
		{"int with spaces", map[string]string{"MAHAVISHNU_TEMPORAL_EMBEDDED_UI_PORT": " 9233 "}, "temporal.embedded.ui_port", 9233},
		{"bool yes", map[string]string{"MAHAVISHNU_INCIDENT_RESPONSE_AUTO_RESOLUTION": "yes"}, "auto_resolution", true},
		{"bool 0", map[string]string{"MAHAVISHNU_INCIDENT_RESPONSE_DASHBOARD_ENABLED": "0"}, "dashboard.enabled", false},
		{"bool FALSE", map[string]string{"MAHAVISHNU_INCIDENT_RESPONSE_NOTIFICATIONS_SLACK_ENABLED": "FALSE"}, "notifications.slack.enabled", false},
		{"list", map[string]string{"MAHAVISHNU_INCIDENT_RESPONSE_REMEDIATION_REQUIRE_APPROVAL_FOR": "rollback, scale_up,"}, "remediation.require_approval_for", []string{"rollback", "scale_up"}},
		{"empty list", map[string]string{"MAHAVISHNU_INCIDENT_RESPONSE_REMEDIATION_REQUIRE_APPROVAL_FOR": ""}, "remediation.require_approval_for", []string{}},
		{"secret", map[string]string{"MAHAVISHNU_API_TOKEN": "tok-123"}, "api.token", Secret("tok-123")},
		{"seed enabled", map[string]string{"MAHAVISHNU_INCIDENT_ENABLED": "false"}, "enabled", false},
		{"seed auto remediation", map[string]string{"MAHAVISHNU_INCIDENT_AUTO_REMEDIATION": "no"}, "auto_remediation", false},
		{"seed slack", map[string]string{"SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/x"}, "notifications.slack.webhook_url", Secret("https://hooks.slack.com/services/T/B/x")},
		{"seed pagerduty api key", map[string]string{"PAGERDUTY_API_KEY": "pd-api"}, "notifications.pagerduty.api_key", Secret("pd-api")},
		{"seed pagerduty service key", map[string]string{"PAGERDUTY_SERVICE_KEY": "pd-svc"}, "notifications.pagerduty.service_key", Secret("pd-svc")},
		{"seed database", map[string]string{"INCIDENT_DATABASE_URL": "postgres://u:p@db/incidents"}, "database.url", Secret("postgres://u:p@db/incidents")},
		{"seed alias empty is ignored", map[string]string{"INCIDENT_DATABASE_URL": ""}, "database.url", Secret("sqlite:///incidents.db")},
		{"path name beats seed alias", map[string]string{
			"MAHAVISHNU_INCIDENT_ENABLED":          "false",
			"MAHAVISHNU_INCIDENT_RESPONSE_ENABLED": "true",
		}, "enabled", true},
		{"path name beats seed alias for secrets", map[string]string{
			"INCIDENT_DATABASE_URL":   "postgres://seed@db/x",
			"MAHAVISHNU_DATABASE_URL": "sqlite:///other.db",
		}, "database.url", Secret("sqlite:///other.db")},
		{"seed alias beats ${VAR} in file", map[string]string{
			"PAGERDUTY_SERVICE_KEY": "from-env",
		}, "notifications.pagerduty.service_key", Secret("from-env")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(shippedFile, env(tt.env))
			require.NoError(t, err)
			got, err := Get(c, tt.key)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestEnvOverridesFile(t *testing.T) {
	c, err := Load("testdata/partial.yaml", env(map[string]string{"MAHAVISHNU_API_LISTEN": "127.0.0.1:9999"}))
	require.NoError(t, err)
	require.Equal(t, "127.0.0.1:9999", c.API.Listen, "file says 0.0.0.0:9000")
}

// Every leaf key has a working MAHAVISHNU_<PATH> variable.
func TestEveryKeyHasEnvOverride(t *testing.T) {
	for _, key := range Default().Keys() {
		t.Run(key, func(t *testing.T) {
			before, err := Get(Default(), key)
			require.NoError(t, err)
			var raw string
			var want any
			switch v := before.(type) {
			case bool:
				raw, want = fmt.Sprint(!v), !v
			case int:
				raw, want = fmt.Sprint(v+7), v+7
			case string:
				raw, want = "value-of-"+key, "value-of-"+key
			case Secret:
				raw, want = "secret-of-"+key, Secret("secret-of-"+key)
			case []string:
				raw, want = "a, b", []string{"a", "b"}
			default:
				t.Fatalf("unexpected type %T", v)
			}
			c := Default()
			require.NoError(t, applyEnv(c, env(map[string]string{EnvName(key): raw})))
			got, err := Get(c, key)
			require.NoError(t, err)
			require.Equal(t, want, got)
			require.NotEqual(t, before, got)
		})
	}
}

func TestEnvErrors(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"bad int", map[string]string{"MAHAVISHNU_INCIDENT_RESPONSE_DETECTION_MAX_EVENTS": "lots"},
			`MAHAVISHNU_INCIDENT_RESPONSE_DETECTION_MAX_EVENTS: want an integer, got "lots"`},
		{"empty int", map[string]string{"MAHAVISHNU_TEMPORAL_EMBEDDED_UI_PORT": ""},
			`MAHAVISHNU_TEMPORAL_EMBEDDED_UI_PORT: want an integer, got ""`},
		{"bad seed bool", map[string]string{"MAHAVISHNU_INCIDENT_ENABLED": "maybe"},
			`MAHAVISHNU_INCIDENT_ENABLED: want a boolean (true/false/1/0/yes/no), got "maybe"`},
		{"two bad variables", map[string]string{
			"MAHAVISHNU_INCIDENT_AUTO_REMEDIATION":        "sure",
			"MAHAVISHNU_INCIDENT_RESPONSE_DASHBOARD_PORT": "80a",
		}, "MAHAVISHNU_INCIDENT_AUTO_REMEDIATION: want a boolean (true/false/1/0/yes/no), got \"sure\"\n" +
			`MAHAVISHNU_INCIDENT_RESPONSE_DASHBOARD_PORT: want an integer, got "80a"`},
		{"invalid after override", map[string]string{"MAHAVISHNU_INCIDENT_RESPONSE_DASHBOARD_PORT": "0"},
			`../settings/mahavishnu.yaml: incident_response.dashboard.port: want a port number 1-65535, got 0`},
		{"bad database scheme hides the password", map[string]string{"INCIDENT_DATABASE_URL": "mysql://root:hunter2@db/x"},
			`../settings/mahavishnu.yaml: database.url: unsupported scheme "mysql": want sqlite:// or postgres://`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Load(shippedFile, env(tt.env))
			require.EqualError(t, err, tt.want)
		})
	}
}

func TestLoadExpandsVariables(t *testing.T) {
	vars := map[string]string{
		"SLACK_PATH":      "T000/B000/abc",
		"SMTP_HOST":       "mail.internal\nenabled: true", // YAML structure in a value stays text
		"APPROVAL_ACTION": "scale_up",
		"APP":             "${NAMESPACE}", // not expanded twice
		"NAMESPACE":       "prod",
		"NOT_EXPANDED":    "x",
	}
	c, err := Load("testdata/expand.yaml", env(vars))
	require.NoError(t, err)

	tests := []struct {
		key  string
		want any
	}{
		{"notifications.slack.webhook_url", Secret("https://hooks.slack.com/services/T000/B000/abc")},
		{"notifications.email.smtp_server", "mail.internal\nenabled: true"},
		{"notifications.email.enabled", false},
		{"notifications.email.from_address", "$NOT_EXPANDED@example.com"},
		{"remediation.require_approval_for", []string{"scale_up", "rollback"}},
		{"data_dir", "/srv/${NAMESPACE}-data"},
		{"temporal.namespace", "${NAMESPACE:-default}"},
	}
	for _, tt := range tests {
		t.Run(tt.key, func(t *testing.T) {
			got, err := Get(c, tt.key)
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestLoadInvalidFiles(t *testing.T) {
	tests := []struct {
		file string
		want string
	}{
		{"unknown_key.yaml", `line 7: unknown key "incident_response.detection.chek_interval"`},
		{"unknown_top_key.yaml", `line 1: unknown key "incident_responce"`},
		{"bad_int.yaml", `line 3: incident_response.detection.max_events: want an integer, got "lots"`},
		{"bad_bool.yaml", `line 2: incident_response.enabled: want a boolean (true/false/1/0/yes/no), got "maybe"`},
		{"bad_list.yaml", `line 3: incident_response.remediation.require_approval_for: want a list, got a single value`},
		{"int_env_ref.yaml", `line 3: incident_response.dashboard.port: want an integer, got "${DASHBOARD_PORT}" ` +
			`(${VAR} is expanded in string values only; set MAHAVISHNU_INCIDENT_RESPONSE_DASHBOARD_PORT instead)`},
		{"section_scalar.yaml", `line 2: database: want a mapping of keys, got a single value`},
		{"duplicate_key.yaml", `line 3: duplicate key "api.listen" (first on line 2)`},
		{"bad_port.yaml", `incident_response.dashboard.port: want a port number 1-65535, got 70000`},
		{"bad_listen.yaml", `api.listen: want host:port (e.g. 127.0.0.1:8080), got "localhost"`},
		{"bad_severity.yaml", `incident_response.notifications.slack.notify_on_severity: invalid severity "urgent": want one of low, medium, high, critical`},
		{"bad_db_scheme.yaml", `database.url: unsupported scheme "mysql": want sqlite:// or postgres://`},
		{"bad_interval.yaml", `incident_response.detection.check_interval_seconds: must be positive, got 0`},
		{"bad_webhook.yaml", `incident_response.notifications.slack.webhook_url: want an http:// or https:// URL (value not shown: it is a secret)`},
		{"same_ports.yaml", `temporal.embedded.ui_port: must differ from temporal.embedded.frontend_port (7233)`},
		{"two_documents.yaml", `line 2: a config file holds one YAML document, found another`},
		{"syntax.yaml", `yaml: line 2: did not find expected key`},
		{"multiple.yaml", "incident_response.mttr_target_minutes: must be positive, got -5\ntemporal.namespace: is required"},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			path := "testdata/invalid/" + tt.file
			_, err := Load(path, env(nil))
			require.EqualError(t, err, path+": "+tt.want)
			require.NotContains(t, err.Error(), "hunter2")
		})
	}
}

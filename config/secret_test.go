package config

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func TestSecretsNeverPrint(t *testing.T) {
	secrets := map[string]string{
		"SLACK_WEBHOOK_URL":           "https://hooks.slack.com/services/T0/B0/slack-secret-1",
		"PAGERDUTY_API_KEY":           "pd-api-secret-2",
		"PAGERDUTY_SERVICE_KEY":       "pd-service-secret-3",
		"MAHAVISHNU_API_TOKEN":        "api-token-secret-4",
		"INCIDENT_DATABASE_URL":       "postgres://incidents:db-password-secret-5@db:5432/incidents",
		"MAHAVISHNU_INCIDENT_ENABLED": "true",
	}
	c, err := Load(shippedFile, env(secrets))
	require.NoError(t, err)
	require.Equal(t, "pd-service-secret-3", c.IncidentResponse.Notifications.PagerDuty.ServiceKey.Value())
	require.Equal(t, secrets["INCIDENT_DATABASE_URL"], c.DatabaseURL())

	notifications, err := Get(c, "notifications")
	require.NoError(t, err)
	token, err := Get(c, "api.token")
	require.NoError(t, err)
	whole, err := Get(c, "")
	require.NoError(t, err)

	render := map[string]func(v any) string{
		"%v":   func(v any) string { return fmt.Sprintf("%v", v) },
		"%+v":  func(v any) string { return fmt.Sprintf("%+v", v) },
		"%#v":  func(v any) string { return fmt.Sprintf("%#v", v) },
		"%s":   func(v any) string { return fmt.Sprintf("%s", v) },
		"%q":   func(v any) string { return fmt.Sprintf("%q", v) },
		"%x":   func(v any) string { return fmt.Sprintf("%x", v) },
		"%d":   func(v any) string { return fmt.Sprintf("%d", v) },
		"json": func(v any) string { out, err := json.Marshal(v); require.NoError(t, err); return string(out) },
		"yaml": func(v any) string { out, err := yaml.Marshal(v); require.NoError(t, err); return string(out) },
		"slog": func(v any) string {
			var buf bytes.Buffer
			slog.New(slog.NewJSONHandler(&buf, nil)).Info("config", "value", v)
			return buf.String()
		},
	}
	values := map[string]any{
		"*Config":       c,
		"Config":        *c,
		"Get(\"\")":     whole,
		"notifications": notifications,
		"api.token":     token,
		"database.url":  c.Database.URL,
	}
	for vname, v := range values {
		for rname, r := range render {
			t.Run(vname+" "+rname, func(t *testing.T) {
				out := strings.NewReplacer(`\u003c`, "<", `\u003e`, ">").Replace(r(v)) // JSON escapes < >
				for name, secret := range secrets {
					if name != "MAHAVISHNU_INCIDENT_ENABLED" {
						require.NotContains(t, out, secret)
					}
				}
				require.NotContains(t, out, "secret-")
				require.Contains(t, out, "<secret>")
			})
		}
	}
}

func TestSecretEmptyPrintsEmpty(t *testing.T) {
	var s Secret
	require.Equal(t, "", s.String())
	require.Equal(t, "", s.GoString())
	out, err := json.Marshal(s)
	require.NoError(t, err)
	require.Equal(t, `""`, string(out))
	require.Equal(t, "<secret>", Secret("x").String())
	require.Equal(t, "x", Secret("x").Value())
}

func TestRedactURL(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"sqlite:///incidents.db", "sqlite:///incidents.db"},
		{"postgres://incidents:hunter2@db:5432/incidents?sslmode=disable", "postgres://incidents:xxxxx@db:5432/incidents?sslmode=disable"},
		{"postgres://incidents@db/incidents", "postgres://incidents@db/incidents"},
		{"postgres://db/incidents?user=u&password=hunter2", "postgres://db/incidents?password=xxxxx&user=u"},
		{"postgres://u:hunter2@db:notaport/x", "<unparseable URL>"},
		{"host=db password=hunter2", "<unparseable URL>"},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			require.Equal(t, tt.want, RedactURL(tt.in))
		})
	}
}

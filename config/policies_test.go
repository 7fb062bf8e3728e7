package config

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// Named escalation policies (issue 11) load from the file and turn into the levels and
// repeat an incident runs with.
func TestEscalationPoliciesLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "m.yaml")
	require.NoError(t, os.WriteFile(path, []byte(`
incident_response:
  escalation:
    policies:
      backups:
        repeat: 2
        levels:
          - name: backup-owner
            schedules: [storage]
          - name: storage-lead
            people: [carol]
            channels: [email]
            delay_minutes: 30
`), 0o600))
	c, err := Load(path, env(nil))
	require.NoError(t, err)
	require.Len(t, c.IncidentResponse.Escalation.Levels, 3, "the default levels stay")
	got := c.IncidentResponse.Escalation.NamedPolicies()
	require.Equal(t, map[string]schemas.EscalationPolicy{"backups": {Repeat: 2, Levels: []schemas.EscalationLevel{
		{Name: "backup-owner", Schedules: []string{"storage"}},
		{Name: "storage-lead", People: []string{"carol"}, Channels: []string{"email"}, Delay: 30 * time.Minute},
	}}}, got)
	require.Empty(t, Default().IncidentResponse.Escalation.NamedPolicies())
}

func TestEscalationPoliciesValidate(t *testing.T) {
	c := Default()
	c.IncidentResponse.Escalation.Policies = map[string]EscalationPolicyConfig{
		"Bad Name": {Levels: []EscalationLevelConfig{{Name: "x", Channels: []string{"slack"}}}},
		"empty":    {},
		"backups": {Repeat: 101, Levels: []EscalationLevelConfig{
			{Name: "ok", Channels: []string{"slack"}},
			{Name: "", Channels: []string{"pager"}, DelayMinutes: -5},
			{Name: "nobody"},
		}},
	}
	c.IncidentResponse.Escalation.Levels[1].Channels = []string{"sms"}
	err := c.Validate()
	require.Error(t, err)
	for _, want := range []string{
		`incident_response.escalation.levels[1].channels: want slack, pagerduty, email, webhook, got "sms"`,
		`incident_response.escalation.policies.Bad Name: want a policy name like backups`,
		`incident_response.escalation.policies.empty.levels: a policy needs at least one level`,
		`incident_response.escalation.policies.backups.repeat: want 0 to 100, got 101`,
		`incident_response.escalation.policies.backups.levels[1].name: is required`,
		`incident_response.escalation.policies.backups.levels[1].delay_minutes: must not be negative, got -5`,
		`incident_response.escalation.policies.backups.levels[1].channels: want slack, pagerduty, email, webhook, got "pager"`,
		`incident_response.escalation.policies.backups.levels[2]: names no channels, schedules or people to reach`,
	} {
		require.Contains(t, err.Error(), want)
	}
	require.NotContains(t, err.Error(), "levels[0]")
}

// The keys set in the file only (maps, lists of mappings) are documented too.
func TestDocsListFileOnlyKeys(t *testing.T) {
	data, err := os.ReadFile("../docs/configuration.md")
	require.NoError(t, err)
	n := 0
	for _, node := range tree() {
		if node.opaque {
			n++
			require.Contains(t, string(data), "`"+node.path+"`", "docs/configuration.md must describe %s", node.path)
		}
	}
	require.Contains(t, string(data), "`incident_response.escalation.policies`")
	require.NotZero(t, n)
}

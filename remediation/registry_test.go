package remediation

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

func TestDefaultRegistry(t *testing.T) {
	reg, err := NewRegistry(nil)
	require.NoError(t, err)
	type row struct {
		id         string
		safe       bool
		risk       Risk
		configured bool
	}
	var got []row
	for _, a := range reg.All() {
		got = append(got, row{a.ID, a.Safe, a.Risk, a.Configured()})
		require.Equal(t, DefaultTimeout, a.Timeout, a.ID)
	}
	require.Equal(t, []row{
		{"clear_cache", true, RiskLow, false},
		{"kill_zombie_processes", true, RiskLow, true},
		{"restart_service", false, RiskMedium, false},
		{"rollback", false, RiskHigh, false},
		{"scale_up", true, RiskLow, false},
	}, got)
}

func TestUnconfiguredActionReportsNotConfigured(t *testing.T) {
	reg, err := NewRegistry(nil)
	require.NoError(t, err)
	for _, id := range []string{"clear_cache", "scale_up", "restart_service", "rollback"} {
		t.Run(id, func(t *testing.T) {
			a, ok := reg.Get(id)
			require.True(t, ok)
			res, err := a.Execute(context.Background(), sampleInput())
			require.ErrorIs(t, err, ErrNotConfigured)
			require.NotErrorIs(t, err, ErrFailed)
			require.Equal(t, Result{Action: id, Status: StatusNotConfigured, ExitCode: -1,
				Details: fmt.Sprintf("action %q has no executor configured: nothing was run", id)}, res)
			require.EqualError(t, err, fmt.Sprintf("action %q: remediation action not configured (configure incident_response.remediation.actions.%s)", id, id))

			dry, err := a.DryRun(sampleInput())
			require.ErrorIs(t, err, ErrNotConfigured)
			require.Equal(t, StatusNotConfigured, dry.Status)
		})
	}
}

func TestActionExecuteSetsActionID(t *testing.T) {
	reg, err := NewRegistry(map[string]ActionConfig{
		"scale_up": {Command: &CommandConfig{Argv: []string{helperPath(t), "{{.Action}}"},
			Env: map[string]Secret{helperEnv: "argv"}}},
	})
	require.NoError(t, err)
	a, _ := reg.Get("scale_up")
	in := sampleInput()
	in.Action = "something else"
	res, err := a.Execute(context.Background(), in)
	require.NoError(t, err)
	require.Equal(t, "scale_up", res.Action)
	var rep helperReport
	require.NoError(t, json.Unmarshal([]byte(res.Output), &rep))
	require.Equal(t, []string{"scale_up"}, rep.Args)

	dry, err := a.DryRun(in)
	require.NoError(t, err)
	require.Equal(t, "scale_up", dry.Action)
}

func TestRecommended(t *testing.T) {
	reg, err := NewRegistry(map[string]ActionConfig{
		"drain_node":   {Description: "Drain the node", IncidentTypes: []string{"memory_exhaustion"}},
		"flush_queues": {IncidentTypes: []string{"memory_exhaustion", "error_burst"}},
	})
	require.NoError(t, err)
	ids := func(actions []Action) []string {
		var out []string
		for _, a := range actions {
			out = append(out, a.ID)
		}
		return out
	}
	tests := []struct {
		name         string
		incidentType string
		ruleActions  []string
		want         []string
	}{
		{"rule order kept", "service_down", []string{"restart_service", "rollback"}, []string{"restart_service", "rollback"}},
		{"config adds", "memory_exhaustion", []string{"scale_up", "kill_zombie_processes"},
			[]string{"scale_up", "kill_zombie_processes", "drain_node", "flush_queues"}},
		{"each once", "error_burst", []string{"flush_queues", "clear_cache", "clear_cache"}, []string{"flush_queues", "clear_cache"}},
		{"notifications only", "ssl_expiry", nil, nil},
		{"unknown kept visible", "deadlock", []string{"kill_blockers"}, []string{"kill_blockers"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, ids(reg.Recommended(tt.incidentType, tt.ruleActions)))
		})
	}
	unknown := reg.Recommended("deadlock", []string{"kill_blockers"})[0]
	require.True(t, unknown.Unregistered)
	require.False(t, unknown.Safe)
	require.False(t, unknown.Configured())
	require.Equal(t, []string{"kill_blockers", "reboot"}, reg.Unknown([]string{"scale_up", "kill_blockers", "reboot", "kill_blockers"}))
}

func TestNewRegistryApplies(t *testing.T) {
	yes, no := true, false
	reg, err := NewRegistry(map[string]ActionConfig{
		"scale_up":        {TimeoutSeconds: 120, Command: &CommandConfig{Argv: []string{"kubectl", "scale", "deployment/{{.Component}}", "--replicas=5"}}},
		"clear_cache":     {Description: "Flush Redis", HTTP: &HTTPConfig{URL: "https://cache.internal/flush"}},
		"restart_service": {Risk: RiskHigh, Safe: &no},
		"purge_cdn":       {Risk: RiskLow, Safe: &yes, Builtin: ""},
		"reap":            {Builtin: BuiltinKillZombies},
	})
	require.NoError(t, err)
	check := func(id string, kind ExecutorKind, safe bool, risk Risk, timeout time.Duration, desc string) {
		t.Helper()
		a, ok := reg.Get(id)
		require.True(t, ok, id)
		require.Equal(t, kind, a.Kind, id)
		require.Equal(t, kind != KindNone, a.Configured(), id)
		require.Equal(t, safe, a.Safe, id)
		require.Equal(t, risk, a.Risk, id)
		require.Equal(t, timeout, a.Timeout, id)
		require.Equal(t, desc, a.Description, id)
	}
	check("scale_up", KindCommand, true, RiskLow, 120*time.Second, "Add capacity (replicas or workers)")
	check("clear_cache", KindHTTP, true, RiskLow, DefaultTimeout, "Flush Redis")
	check("restart_service", KindNone, false, RiskHigh, DefaultTimeout, "Restart the affected service")
	check("purge_cdn", KindNone, true, RiskLow, DefaultTimeout, "purge_cdn")
	check("reap", KindBuiltin, false, RiskMedium, DefaultTimeout, "reap")
	check("kill_zombie_processes", KindBuiltin, true, RiskLow, DefaultTimeout,
		"Find zombie processes and signal their parents (SIGCHLD) to reap them")
}

func TestNewRegistryErrors(t *testing.T) {
	yes := true
	tests := []struct {
		name    string
		configs map[string]ActionConfig
		want    string
	}{
		{"empty argv", map[string]ActionConfig{"scale_up": {Command: &CommandConfig{}}},
			"actions.scale_up.command.argv: must not be empty"},
		{"argv template", map[string]ActionConfig{"scale_up": {Command: &CommandConfig{Argv: []string{"kubectl", "{{.Replicas}}"}}}},
			"actions.scale_up.command.argv[1]: template: 1:2: executing \"argv[1]\" at <.Replicas>: can't evaluate field Replicas in type remediation.Input"},
		{"http url", map[string]ActionConfig{"clear_cache": {HTTP: &HTTPConfig{}}}, "actions.clear_cache.http.url: is required"},
		{"two executors", map[string]ActionConfig{"x": {Builtin: BuiltinKillZombies, HTTP: &HTTPConfig{URL: "http://a/"}}},
			"actions.x: set only one of command, http and builtin"},
		{"unknown builtin", map[string]ActionConfig{"x": {Builtin: "reboot"}},
			`actions.x.builtin: unknown built-in "reboot"; want kill_zombie_processes`},
		{"bad risk", map[string]ActionConfig{"x": {Risk: "extreme"}}, `actions.x.risk: want low, medium or high, got "extreme"`},
		{"safe and high risk", map[string]ActionConfig{"rollback": {Safe: &yes}},
			"actions.rollback.safe: a high-risk action cannot be safe; lower its risk or set safe: false"},
		{"timeout", map[string]ActionConfig{"x": {TimeoutSeconds: 3601}}, "actions.x.timeout_seconds: want 1-3600, got 3601"},
		{"negative timeout", map[string]ActionConfig{"x": {TimeoutSeconds: -1}}, "actions.x.timeout_seconds: want 1-3600, got -1"},
		{"incident type", map[string]ActionConfig{"x": {IncidentTypes: []string{"ok", " "}}},
			`actions.x.incident_types[1]: " ": must be non-empty without surrounding spaces`},
		{"bad id", map[string]ActionConfig{"Scale Up": {}},
			`actions."Scale Up": want 1-64 lower-case letters, digits, '_', '-' or '.', starting with a letter or digit`},
		{"all problems reported", map[string]ActionConfig{"b": {Risk: "x"}, "a": {Builtin: "y"}},
			"actions.a.builtin: unknown built-in \"y\"; want kill_zombie_processes\nactions.b.risk: want low, medium or high, got \"x\""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg, err := NewRegistry(tt.configs)
			require.EqualError(t, err, tt.want)
			require.Nil(t, reg)
		})
	}
}

func TestDecodeActionsYAML(t *testing.T) {
	got, err := DecodeActionsYAML([]byte(`
scale_up:
  timeout_seconds: 90
  command:
    argv: [kubectl, scale, "deployment/{{.Component}}", --replicas=5]
    env: {KUBECONFIG: /etc/kube/config}
restart_service:
  safe: false
  http:
    method: POST
    url: https://deploy.internal/restart
    headers: {Authorization: Bearer abc}
    expected_status: [202]
`))
	require.NoError(t, err)
	no := false
	require.Equal(t, map[string]ActionConfig{
		"scale_up": {TimeoutSeconds: 90, Command: &CommandConfig{
			Argv: []string{"kubectl", "scale", "deployment/{{.Component}}", "--replicas=5"},
			Env:  map[string]Secret{"KUBECONFIG": "/etc/kube/config"}}},
		"restart_service": {Safe: &no, HTTP: &HTTPConfig{Method: "POST", URL: "https://deploy.internal/restart",
			Headers: map[string]Secret{"Authorization": "Bearer abc"}, ExpectedStatus: []int{202}}},
	}, got)

	_, err = DecodeActionsYAML([]byte("scale_up:\n  comand:\n    argv: [x]\n"))
	require.EqualError(t, err, "actions: yaml: unmarshal errors:\n  line 2: field comand not found in type remediation.ActionConfig")
}

func TestSecretNeverPrints(t *testing.T) {
	cfg := HTTPConfig{URL: "https://x/", Headers: map[string]Secret{"Authorization": "Bearer s3cret"}}
	var logs bytes.Buffer
	slog.New(slog.NewTextHandler(&logs, nil)).Info("config", "http", cfg, "header", cfg.Headers["Authorization"])
	js, err := json.Marshal(cfg)
	require.NoError(t, err)
	ym, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	for _, s := range []string{
		fmt.Sprintf("%v %+v %#v %s %q %d", cfg, cfg, cfg, cfg.Headers["Authorization"], cfg.Headers["Authorization"], cfg.Headers["Authorization"]),
		string(ym), logs.String(),
	} {
		require.NotContains(t, s, "s3cret")
		require.Contains(t, s, "<secret>")
	}
	require.JSONEq(t, `{"url":"https://x/","headers":{"Authorization":"<secret>"}}`, string(js))
	require.Equal(t, "Bearer s3cret", cfg.Headers["Authorization"].Value())
	require.Equal(t, "", Secret("").String())
}

// TestDocsExample checks that the configuration examples in docs/remediation.md are valid
// and that the first configures every default action.
func TestDocsExample(t *testing.T) {
	doc, err := os.ReadFile("../docs/remediation.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)<!-- example-config -->\\s*```yaml\\n(.*?)```").FindAllSubmatch(doc, -1)
	require.Len(t, blocks, 2, "docs/remediation.md has two example-config yaml blocks")
	for i, m := range blocks {
		// The config loader expands ${VAR}; stand in for it.
		text := regexp.MustCompile(`\$\{[A-Z_][A-Z0-9_]*\}`).ReplaceAllString(string(m[1]), "example")
		var file struct {
			IncidentResponse struct {
				Remediation struct {
					SafeActionsOnly        bool                    `yaml:"safe_actions_only"`
					RequireApprovalFor     []string                `yaml:"require_approval_for"`
					ApprovalTimeoutSeconds int                     `yaml:"approval_timeout_seconds"`
					Actions                map[string]ActionConfig `yaml:"actions"`
				} `yaml:"remediation"`
			} `yaml:"incident_response"`
		}
		dec := yaml.NewDecoder(strings.NewReader(text))
		dec.KnownFields(true)
		require.NoError(t, dec.Decode(&file), "block %d", i)
		reg, err := NewRegistry(file.IncidentResponse.Remediation.Actions)
		require.NoError(t, err, "block %d", i)
		if i > 0 {
			continue
		}
		for _, a := range reg.All() {
			require.True(t, a.Configured(), "the example configures %s", a.ID)
			require.Contains(t, string(doc), "`"+a.ID+"`")
		}
	}
}

package remediation

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

func sampleInput() Input {
	return Input{IncidentID: "inc_01", IncidentType: "error_burst", Severity: schemas.SeverityHigh,
		Source: "api", Component: "api-gw", Action: "scale_up", Actor: "alice", IdempotencyKey: "remediation/inc_01/scale_up/1"}
}

func TestCommandArgvTemplating(t *testing.T) {
	tests := []struct {
		name string
		argv []string
		want []string
	}{
		{"literal", []string{"kubectl", "rollout", "status"}, []string{"kubectl", "rollout", "status"}},
		{"fields", []string{"kubectl", "scale", "deployment/{{.Component}}", "--replicas=5"},
			[]string{"kubectl", "scale", "deployment/api-gw", "--replicas=5"}},
		{"every field", []string{"x", "{{.IncidentID}}|{{.IncidentType}}|{{.Severity}}|{{.Source}}|{{.Component}}|{{.Action}}|{{.Actor}}|{{.IdempotencyKey}}"},
			[]string{"x", "inc_01|error_burst|high|api|api-gw|scale_up|alice|remediation/inc_01/scale_up/1"}},
		{"json func", []string{"x", "{{json .Source}}"}, []string{"x", `"api"`}},
		{"conditional", []string{"x", `{{if eq .Severity "high"}}--force{{end}}`}, []string{"x", "--force"}},
		{"empty element kept", []string{"x", `{{if eq .Severity "low"}}--force{{end}}`}, []string{"x", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex, err := NewCommandExecutor(CommandConfig{Argv: tt.argv}, time.Minute)
			require.NoError(t, err)
			got, err := ex.Argv(sampleInput())
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestCommandInjectionStaysInert runs a real program with hostile incident fields and
// checks that each arrives as one argument, byte for byte, and that nothing a shell would
// do (run a command substitution, chain a command) happened.
func TestCommandInjectionStaysInert(t *testing.T) {
	dir := t.TempDir()
	canary := filepath.Join(dir, "pwned")
	payloads := map[string]string{
		"semicolon":     "api; touch " + canary,
		"substitution":  "$(touch " + canary + ")",
		"backticks":     "`touch " + canary + "`",
		"newline":       "api\ntouch " + canary,
		"and":           "api && touch " + canary,
		"or pipe":       "api || touch " + canary + " | cat",
		"double quotes": `api" "--all`,
		"single quotes": `api' '--all`,
		"redirect":      "api > " + canary,
		"glob":          "*",
		"variable":      "$HOME ${PATH}",
		"leading dash":  "--kubeconfig=/etc/evil",
		"spaces":        "  a  b  ",
		"empty":         "",
	}
	for name, payload := range payloads {
		t.Run(name, func(t *testing.T) {
			ex := helperCommand(t, "argv", time.Minute, "--component={{.Component}}", "{{.Source}}", "{{.Component}}", "{{.IncidentID}}")
			in := sampleInput()
			in.Source, in.Component = payload, payload
			res, err := ex.Execute(context.Background(), in)
			if strings.HasPrefix(payload, "-") {
				// It would be an option of the program: refused, nothing runs.
				require.ErrorContains(t, err, "would be taken as an option")
				require.Empty(t, res.Output)
				return
			}
			require.NoError(t, err, res.Stderr)
			require.Equal(t, StatusSucceeded, res.Status)
			var rep helperReport
			require.NoError(t, json.Unmarshal([]byte(res.Output), &rep))
			require.Equal(t, []string{"--component=" + payload, payload, payload, "inc_01"}, rep.Args)
			env := envMap(rep.Env)
			require.Equal(t, payload, env["MAHAVISHNU_INCIDENT_SOURCE"])
			require.Equal(t, payload, env["MAHAVISHNU_INCIDENT_COMPONENT"])
			require.NoFileExists(t, canary)
		})
	}
}

// TestCommandInjectionWithPrintf checks the same with a standard program: printf prints
// each argument on its own line, so a hostile value stays one argument.
func TestCommandInjectionWithPrintf(t *testing.T) {
	dir := t.TempDir()
	canary := filepath.Join(dir, "pwned")
	ex, err := NewCommandExecutor(CommandConfig{Argv: []string{"/usr/bin/printf", "[%s]", "{{.Source}}", "{{.Component}}"}}, time.Minute)
	require.NoError(t, err)
	in := sampleInput()
	in.Source = "$(touch " + canary + "); `touch " + canary + "` && echo hi"
	in.Component = "a\nb 'c' \"d\""
	res, err := ex.Execute(context.Background(), in)
	require.NoError(t, err)
	require.Equal(t, "["+in.Source+"]["+in.Component+"]", res.Output)
	require.NoFileExists(t, canary)
}

func TestCommandNULInFieldIsReplaced(t *testing.T) {
	ex := helperCommand(t, "argv", time.Minute, "{{.Source}}")
	in := sampleInput()
	in.Source = "a\x00b"
	res, err := ex.Execute(context.Background(), in)
	require.NoError(t, err)
	var rep helperReport
	require.NoError(t, json.Unmarshal([]byte(res.Output), &rep))
	require.Equal(t, []string{"a\uFFFDb"}, rep.Args)
}

func TestCommandEnvironment(t *testing.T) {
	t.Setenv("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T/B/secret")
	t.Setenv("KEEP_ME", "kept")
	ex, err := NewCommandExecutor(CommandConfig{
		Argv:       []string{helperPath(t)},
		Env:        map[string]Secret{helperEnv: "argv", "EXTRA_TOKEN": "tok-123"},
		InheritEnv: []string{"KEEP_ME"},
	}, time.Minute)
	require.NoError(t, err)
	res, err := ex.Execute(context.Background(), sampleInput())
	require.NoError(t, err)
	var rep helperReport
	require.NoError(t, json.Unmarshal([]byte(res.Output), &rep))
	env := envMap(rep.Env)
	require.NotContains(t, env, "SLACK_WEBHOOK_URL")
	require.Equal(t, "kept", env["KEEP_ME"])
	require.Equal(t, "tok-123", env["EXTRA_TOKEN"])
	require.Equal(t, os.Getenv("PATH"), env["PATH"])
	for k, v := range map[string]string{
		"MAHAVISHNU_INCIDENT_ID": "inc_01", "MAHAVISHNU_INCIDENT_TYPE": "error_burst",
		"MAHAVISHNU_INCIDENT_SEVERITY": "high", "MAHAVISHNU_INCIDENT_SOURCE": "api",
		"MAHAVISHNU_INCIDENT_COMPONENT": "api-gw", "MAHAVISHNU_ACTION": "scale_up",
		"MAHAVISHNU_ACTOR": "alice", "MAHAVISHNU_IDEMPOTENCY_KEY": "remediation/inc_01/scale_up/1",
	} {
		require.Equal(t, v, env[k], k)
	}
}

func TestCommandExitCodeAndOutput(t *testing.T) {
	tests := []struct {
		code    string
		status  Status
		details string
	}{
		{"0", StatusSucceeded, "exit code 0"},
		{"3", StatusFailed, "exit status 3"},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			res, err := helperCommand(t, "exit", time.Minute, tt.code).Execute(context.Background(), sampleInput())
			require.Equal(t, tt.status, res.Status)
			require.Equal(t, "out", res.Output)
			require.Equal(t, "err", res.Stderr)
			require.Contains(t, res.Details, tt.details)
			require.Equal(t, res.Details+"\n--- output\nout\n--- stderr\nerr", res.Text())
			require.Positive(t, res.Duration)
			if tt.status == StatusSucceeded {
				require.NoError(t, err)
				require.Equal(t, 0, res.ExitCode)
				return
			}
			require.ErrorIs(t, err, ErrFailed)
			require.NotErrorIs(t, err, ErrTimeout)
			require.Equal(t, 3, res.ExitCode)
			require.Contains(t, err.Error(), "exit status 3")
		})
	}
}

func TestCommandOutputTruncated(t *testing.T) {
	res, err := helperCommand(t, "flood", time.Minute, "20000").Execute(context.Background(), sampleInput())
	require.NoError(t, err)
	want := strings.Repeat("o", MaxOutputBytes) + "\n[truncated 11808 bytes]"
	require.Equal(t, want, res.Output)
	require.Equal(t, strings.Repeat("e", MaxOutputBytes)+"\n[truncated 11808 bytes]", res.Stderr)
}

func TestCaptureKeepsValidUTF8(t *testing.T) {
	c := newCapture(4)
	_, err := c.Write([]byte("abc€"))
	require.NoError(t, err)
	require.Equal(t, "abc\uFFFD\n[truncated 2 bytes]", c.String())
}

func TestCommandTimeoutKillsProcess(t *testing.T) {
	for _, mode := range []string{"hang", "grandchild"} {
		t.Run(mode, func(t *testing.T) {
			res, err := helperCommand(t, mode, 300*time.Millisecond).Execute(context.Background(), sampleInput())
			require.ErrorIs(t, err, ErrTimeout)
			require.ErrorIs(t, err, ErrFailed)
			require.Equal(t, StatusFailed, res.Status)
			require.Equal(t, -1, res.ExitCode, "killed by a signal")
			require.Contains(t, res.Details, "killed after the 300ms timeout")
			require.Less(t, res.Duration, waitDelay, "the process group was killed, not waited for")
			if mode == "hang" {
				require.Equal(t, "started\n", res.Output)
			}
		})
	}
}

func TestCommandCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err := helperCommand(t, "hang", time.Minute).Execute(ctx, sampleInput())
	require.ErrorIs(t, err, ErrFailed)
	require.ErrorIs(t, err, context.Canceled)
	require.Equal(t, StatusFailed, res.Status)
}

func TestCommandProgramNotFound(t *testing.T) {
	ex, err := NewCommandExecutor(CommandConfig{Argv: []string{"/nonexistent/remediate"}}, time.Minute)
	require.NoError(t, err)
	res, err := ex.Execute(context.Background(), sampleInput())
	require.ErrorIs(t, err, ErrFailed)
	require.Equal(t, StatusFailed, res.Status)
	require.Equal(t, -1, res.ExitCode)
	require.Contains(t, res.Details, "could not run")
}

func TestCommandDryRunRunsNothing(t *testing.T) {
	file := filepath.Join(t.TempDir(), "ran")
	ex, err := NewCommandExecutor(CommandConfig{
		Argv: []string{helperPath(t), file, "{{.Component}}"},
		Env:  map[string]Secret{helperEnv: "touch", "API_TOKEN": "tok-secret"},
	}, 45*time.Second)
	require.NoError(t, err)
	in := sampleInput()
	in.Component = "a b;c"

	res, err := ex.DryRun(in)
	require.NoError(t, err)
	require.Equal(t, StatusDryRun, res.Status)
	require.Contains(t, res.Details, `would run ["`+helperPath(t)+`" "`+file+`" "a b;c"] (no shell)`)
	require.Contains(t, res.Details, "API_TOKEN")
	require.Contains(t, res.Details, "MAHAVISHNU_INCIDENT_ID")
	require.Contains(t, res.Details, "timeout 45s")
	require.NotContains(t, res.Details, "tok-secret")
	require.NoFileExists(t, file)

	_, err = ex.Execute(context.Background(), in)
	require.NoError(t, err)
	require.FileExists(t, file)
}

func TestNewCommandExecutorErrors(t *testing.T) {
	tests := []struct {
		name string
		cfg  CommandConfig
		want string
	}{
		{"no argv", CommandConfig{}, "argv: must not be empty"},
		{"empty program", CommandConfig{Argv: []string{""}}, "argv[0]: renders an empty program"},
		{"program renders empty", CommandConfig{Argv: []string{"{{/* nothing */}}", "x"}}, "argv[0]: renders an empty program"},
		{"program from a field", CommandConfig{Argv: []string{"/opt/bin/{{.Component}}"}},
			"argv[0]: the program must not depend on incident fields; pass them as arguments"},
		{"bad template", CommandConfig{Argv: []string{"x", "{{.Component"}}, "argv[1]: invalid template: 1: unclosed action"},
		{"unknown field", CommandConfig{Argv: []string{"x", "{{.Host}}"}},
			"argv[1]: template: 1:2: executing \"argv[1]\" at <.Host>: can't evaluate field Host in type remediation.Input"},
		{"bad env name", CommandConfig{Argv: []string{"x"}, Env: map[string]Secret{"A-B": "1"}}, "env.A-B: not a valid environment variable name"},
		{"reserved env", CommandConfig{Argv: []string{"x"}, Env: map[string]Secret{"MAHAVISHNU_INCIDENT_ID": "1"}},
			"env.MAHAVISHNU_INCIDENT_ID: MAHAVISHNU_* variables are reserved for the incident's fields"},
		{"bad inherit", CommandConfig{Argv: []string{"x"}, InheritEnv: []string{"OK", "no good"}},
			`inherit_env[1]: "no good" is not a valid environment variable name`},
		{"relative dir", CommandConfig{Argv: []string{"x"}, Dir: "tmp"}, `dir: must be an absolute path, got "tmp"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewCommandExecutor(tt.cfg, time.Minute)
			require.EqualError(t, err, tt.want)
		})
	}
}

// TestCommandEventValueNeverBecomesAnOption: a component or source starting with '-' is
// refused where it would be an option, and passes after a literal "--", per action;
// the configuration's own options still pass.
func TestCommandEventValueNeverBecomesAnOption(t *testing.T) {
	hostile := sampleInput()
	hostile.Component, hostile.Source = "--all", "-rf"
	tests := []struct {
		name    string
		argv    []string
		in      Input
		want    []string
		refused string
	}{
		{"component as operand before --", []string{"systemctl", "restart", "{{.Component}}"}, hostile, nil,
			`argv[2]: the incident's values render "--all", which starts with '-' and would be taken as an option`},
		{"source", []string{"redis-cli", "-h", "{{.Source}}", "FLUSHDB"}, hostile, nil, `argv[2]: the incident's values render "-rf"`},
		{"value glued to a field", []string{"x", "{{.Source}}{{.Component}}"}, hostile, nil, `argv[1]`},
		{"after --", []string{"systemctl", "restart", "--", "{{.Component}}"}, hostile, []string{"systemctl", "restart", "--", "--all"}, ""},
		{"inside the configuration's option", []string{"kubectl", "--namespace={{.Component}}", "get", "pods"}, hostile,
			[]string{"kubectl", "--namespace=--all", "get", "pods"}, ""},
		{"inside a path", []string{"kubectl", "rollout", "restart", "deployment/{{.Component}}"}, hostile,
			[]string{"kubectl", "rollout", "restart", "deployment/--all"}, ""},
		{"the configuration's conditional option", []string{"x", `{{if eq .Severity "high"}}--force{{end}}`}, hostile, []string{"x", "--force"}, ""},
		{"plain values pass", []string{"systemctl", "restart", "{{.Component}}"}, sampleInput(), []string{"systemctl", "restart", "api-gw"}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ex, err := NewCommandExecutor(CommandConfig{Argv: tt.argv}, time.Minute)
			require.NoError(t, err)
			got, err := ex.Argv(tt.in)
			if tt.refused != "" {
				require.ErrorContains(t, err, tt.refused)
				res, err := ex.Execute(context.Background(), tt.in)
				require.ErrorIs(t, err, ErrFailed)
				require.Equal(t, StatusFailed, res.Status, "nothing runs")
				dry, err := ex.DryRun(tt.in)
				require.Error(t, err)
				require.Equal(t, StatusFailed, dry.Status)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

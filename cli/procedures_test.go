package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	junit "github.com/joshdk/go-junit"
	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/config"
	"github.com/mahavishnu/mahavishnu/procedures"
)

// repoConfig is the shipped settings/mahavishnu.yaml with the shipped rules.
func repoConfig(t *testing.T) *config.Config {
	t.Helper()
	cfg, err := config.Load(filepath.Join("..", "settings", "mahavishnu.yaml"), func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	cfg.RulesFile = filepath.Join("..", "settings", "rules.yaml")
	return cfg
}

func testRunner(t *testing.T) *procedures.Runner {
	return &procedures.Runner{Config: repoConfig(t), Settings: incidentSettings}
}

// runScenario runs one scenario from YAML text.
func runScenario(t *testing.T, yamlText string) *procedures.Result {
	t.Helper()
	sc, err := procedures.Parse(t.Name()+".yaml", []byte(yamlText))
	require.NoError(t, err)
	return testRunner(t).Run(context.Background(), sc)
}

func report(t *testing.T, res *procedures.Result) string {
	var buf bytes.Buffer
	require.NoError(t, procedures.WriteText(&buf, []*procedures.Result{res}))
	return buf.String()
}

// TestProcedureExamples runs every shipped example scenario: they must all pass.
func TestProcedureExamples(t *testing.T) {
	files, err := procedures.Files([]string{filepath.Join("..", "procedures", "examples")})
	require.NoError(t, err)
	r := testRunner(t)
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			sc, err := procedures.Load(f)
			require.NoError(t, err)
			res := r.Run(context.Background(), sc)
			t.Log(report(t, res))
			require.True(t, res.Passed(), report(t, res))
		})
	}
}

// base is a scenario exercising every expectation kind; expect is filled in per test.
const base = `name: every expectation kind
config:
  overrides:
    incident_response:
      auto_remediation: true
      remediation: {approval_timeout_seconds: 300}
      escalation:
        ack_targets_minutes: {critical: 15}
        levels:
          - {name: primary, channels: [slack, pagerduty], targets: [alice]}
          - {name: secondary, channels: [slack, pagerduty], targets: [bob]}
          - {name: manager, channels: [slack], targets: [carol], delay_minutes: 30}
events:
  - {at: 0s, repeat: 5, every: 5s, event_type: service_down, source: auth_service, severity: critical}
responders:
  - at: 2m
    approve: {action: restart_service, by: alice}
  - at: 20m
    acknowledge: {by: alice}
  - at: 40m
    resolve: {by: alice, notes: restarted}
expect:
`

// kinds holds, per expectation kind, one that passes on base and a mutated copy that
// fails, with what its failure must say.
var kinds = []struct {
	kind, pass, fail   string
	expected, happened string
}{
	{"opened", `opened: {type: service_down, severity: critical, source: auth_service, within: 1m}`,
		`opened: {type: service_down, severity: high, within: 1m}`,
		"incident (type service_down, severity high) within +1m", "severity critical, not high"},
	{"stage", `stage: {name: remediate, within: 10s}`, `stage: {name: recover, within: 1m}`,
		"stage recover within +1m", "stage recover at +5m: not within +1m"},
	{"acknowledged", `acknowledged: {by: alice, at: 20m}`, `acknowledged: {by: bob, at: 20m}`,
		"acknowledgement (by bob) at +20m±1s", "acknowledged by alice at +20m (by alice, not bob)"},
	{"escalated", `escalated: {level: 1, name: secondary, channels: [pagerduty, slack], targets: [bob], at: 15m}`,
		`escalated: {level: 1, targets: [zed], at: 15m}`,
		"escalation to level 1 (targets zed) at +15m±1s", "level 1 (secondary) via log, slack, pagerduty to bob at +15m (zed not paged)"},
	{"escalated never", `escalated: {level: 2, never: true}`, `escalated: {level: 1, never: true}`,
		"no escalation to level 1", "level 1 (secondary) via log, slack, pagerduty to bob at +15m"},
	{"approval_requested", `approval_requested: {action: rollback, within: 10s}`, `approval_requested: {action: scale_up, within: 10s}`,
		"approval request for scale_up within +10s", "approval of restart_service requested at +0s (action restart_service, not scale_up)"},
	{"approval_expired", `approval_expired: {action: rollback, at: 5m}`, `approval_expired: {action: rollback, at: 3m}`,
		"expired approval of rollback at +3m±1s", "approval of rollback expired (no decision within the approval timeout) at +5m: not at +3m±1s"},
	{"action_run", `action_run: {action: restart_service, approved_by: alice, at: 2m}`,
		`action_run: {action: restart_service, approved_by: bob, at: 2m}`,
		"run of restart_service (approved_by bob) at +2m±1s", "(approved_by alice, not bob)"},
	{"notified", `notified: {channel: pagerduty, kind: opened, within: 10s}`, `notified: {channel: email, kind: opened, within: 10s}`,
		"notification (kind opened) sent to email within +10s", "opened to pagerduty at +0s (channel pagerduty, not email)"},
	{"resolved", `resolved: {by: alice, at: 40m}`, `resolved: {by: alice, at: 30m}`,
		"resolution (by alice) at +30m±1s", "resolved by alice at +40m: not at +30m±1s"},
	{"postmortem", `postmortem: {sections: [Summary, Timeline], contains: [restarted]}`, `postmortem: {sections: [Lessons learned]}`,
		"post-mortem with sections Lessons learned", "missing sections Lessons learned (has Summary, Impact"},
	{"mtta", `mtta: {equals: 20m}`, `mtta: {max: 10m}`, "MTTA <= 10m", "MTTA 20m"},
	{"mttr", `mttr: {min: 39m, max: 45m}`, `mttr: {max: 30m}`, "MTTR <= 30m", "MTTR 40m"},
}

func scenarioWith(expectations ...string) string {
	s := base
	for _, e := range expectations {
		s += "  - " + e + "\n"
	}
	return s
}

func TestProcedureExpectationKindsPass(t *testing.T) {
	var all []string
	for _, k := range kinds {
		all = append(all, k.pass)
	}
	res := runScenario(t, scenarioWith(all...))
	require.True(t, res.Passed(), report(t, res))
	require.Len(t, res.Checks, len(kinds))
	require.Len(t, res.Steps, 3)
}

func TestProcedureExpectationKindsFailWithMessage(t *testing.T) {
	for _, k := range kinds {
		t.Run(k.kind, func(t *testing.T) {
			res := runScenario(t, scenarioWith(k.pass, k.fail))
			require.False(t, res.Passed(), report(t, res))
			require.Len(t, res.Checks, 2)
			require.True(t, res.Checks[0].Passed, report(t, res))
			c := res.Checks[1]
			require.False(t, c.Passed)
			require.Equal(t, k.expected, c.Expected)
			require.Contains(t, c.Happened, k.happened)
			require.Equal(t, 24, c.Line, "the failing expectation's line")
			require.Contains(t, report(t, res), "FAIL  "+c.Name+" (line 24): expected "+k.expected+"; happened: ")
		})
	}
}

func TestProcedureUnknownFieldNamesFieldAndLine(t *testing.T) {
	_, err := procedures.Parse("bad.yaml", []byte(scenarioWith("resolved: {by: alice, whithin: 40m}")))
	require.EqualError(t, err, `bad.yaml: line 23: unknown field "whithin"`)
	_, err = procedures.Parse("bad.yaml", []byte("name: x\nevnts: []\n"))
	require.EqualError(t, err, `bad.yaml: line 2: unknown field "evnts"`)
}

func TestProcedureStepRefusal(t *testing.T) {
	late := strings.Replace(base, "responders:\n", "responders:\n  - at: 7m\n    approve: {action: rollback, by: bob}\n", 1)
	res := runScenario(t, late+"  - resolved: {by: alice}\n")
	require.False(t, res.Passed())
	require.Len(t, res.Steps, 4)
	require.False(t, res.Steps[0].Passed)
	require.Contains(t, res.Steps[0].Outcome, `refused: action "rollback" of incident`)
	require.Contains(t, res.Steps[0].Outcome, "is not pending approval (its request was expired by mahavishnu)")

	refused := strings.Replace(base, "responders:\n", "responders:\n  - at: 7m\n    approve: {action: rollback, by: bob}\n    refused: true\n", 1)
	res = runScenario(t, refused+"  - resolved: {by: alice}\n")
	require.True(t, res.Passed(), report(t, res))
	require.Contains(t, res.Steps[0].Outcome, "refused as expected")
}

// TestProceduresTestCommand runs `procedures test` as a user would: text and JSON output,
// the exit code and a JUnit report that a JUnit parser reads.
func TestProceduresTestCommand(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	require.NoError(t, os.WriteFile(good, []byte(scenarioWith(kinds[0].pass, kinds[2].pass)), 0o644))
	require.NoError(t, os.WriteFile(bad, []byte(scenarioWith(kinds[1].pass, kinds[9].fail)), 0o644))
	cfgPath := filepath.Join("..", "settings", "mahavishnu.yaml")
	run := func(args ...string) (string, int) {
		var out, errOut bytes.Buffer
		code := 0
		old := cli.OsExiter
		cli.OsExiter = func(c int) { code = c }
		defer func() { cli.OsExiter = old }()
		app := NewApp(Options{Stdout: &out, Stderr: &errOut})
		err := Run(context.Background(), app, append([]string{"mahavishnu", "--config", cfgPath, "procedures", "test"}, args...))
		if err != nil && code == 0 {
			code = 1
		}
		return out.String(), code
	}

	out, code := run(good)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "PASS  incident (type service_down, severity critical, source auth_service) within +1m: critical service_down incident")
	require.Contains(t, out, "1 scenarios: 1 passed, 0 failed")

	junitPath := filepath.Join(dir, "report.xml")
	out, code = run(dir, "--junit", junitPath)
	require.Equal(t, 1, code, out)
	require.Contains(t, out, "FAIL  resolution (by alice) (line 24): expected resolution (by alice) at +30m±1s; happened: resolved by alice at +40m: not at +30m±1s")
	require.Contains(t, out, "2 scenarios: 1 passed, 1 failed")

	suites, err := junit.IngestFile(junitPath)
	require.NoError(t, err)
	require.Len(t, suites, 2)
	var failed []junit.Test
	total := 0
	for _, s := range suites {
		total += len(s.Tests)
		for _, tc := range s.Tests {
			if tc.Status == junit.StatusFailed {
				failed = append(failed, tc)
			}
		}
	}
	require.Equal(t, 10, total, "3 steps and 2 checks per scenario")
	require.Len(t, failed, 1)
	require.Equal(t, "resolution (by alice) at +30m±1s", failed[0].Name)
	require.Contains(t, failed[0].Error.Error(), "happened: resolved by alice at +40m")

	out, code = run(good, "--output", "json")
	require.Equal(t, 0, code, out)
	var results []procedures.Result
	require.NoError(t, json.Unmarshal([]byte(out), &results))
	require.Len(t, results, 1)
	require.True(t, results[0].Passed())
	require.Len(t, results[0].Checks, 2)
}

// TestProcedurePaged checks escalated's paged (issue 11's escalation to people) on the
// on-call example: the secondary level fires after the rotation's handoff, so dave, not
// carol, is paged; the mutated copy expecting carol fails saying who was paged.
func TestProcedurePaged(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "procedures", "examples", "24_oncall_handoff.yaml"))
	require.NoError(t, err)
	const want = "paged: [dave], at: 15m}"
	require.Contains(t, string(data), want)
	res := runScenario(t, string(data))
	require.True(t, res.Passed(), report(t, res))

	mutated := strings.Replace(string(data), want, "paged: [carol], at: 15m}", 1)
	res = runScenario(t, mutated)
	require.False(t, res.Passed(), report(t, res))
	var failed []procedures.Check
	for _, c := range res.Checks {
		if !c.Passed {
			failed = append(failed, c)
		}
	}
	require.Len(t, failed, 1, report(t, res))
	c := failed[0]
	require.Equal(t, "escalation to level 1 (name secondary, channels pagerduty, slack) paging carol at +15m±1s", c.Expected)
	require.Equal(t, "none like it; instead level 0 (primary) via log, slack paging frank at +0s (level 0, not 1); "+
		"level 1 (secondary) via log, slack, pagerduty paging dave at +15m (paged dave, not carol)", c.Happened)

	// Nobody paged: the level names only targets, and paged: [] says nobody.
	nobody := strings.Replace(string(data), want, "paged: [], at: 15m}", 1)
	res = runScenario(t, nobody)
	require.Contains(t, report(t, res), "(paged dave, not nobody)")

	// Without the directory and schedules the level pages nobody it can find.
	noOnCall := string(data)[:strings.Index(string(data), "oncall:")] + string(data)[strings.Index(string(data), "events:"):]
	res = runScenario(t, noOnCall)
	require.False(t, res.Passed())
	require.Contains(t, report(t, res), "(paged nobody, not dave)")
}

func TestProcedureOnCallDecodedStrictly(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("..", "procedures", "examples", "24_oncall_handoff.yaml"))
	require.NoError(t, err)
	s := string(data)
	line := 1 + strings.Count(s[:strings.Index(s, "slack_user: UDAVE")], "\n")
	_, err = procedures.Parse("bad.yaml", []byte(strings.Replace(s, "slack_user: UDAVE", "slak_user: UDAVE", 1)))
	require.ErrorContains(t, err, fmt.Sprintf(`bad.yaml: line %d: unknown field "slak_user"`, line))
	_, err = procedures.Parse("bad.yaml", []byte(strings.Replace(s, `handoff: "mon 09:10", time_zone: UTC, start: 2025-12-29T09:10:00Z}
      overrides`, `handoff: "mon 09:10", time_zone: Mars/Olympus, start: 2025-12-29T09:10:00Z}
      overrides`, 1)))
	require.EqualError(t, err, `bad.yaml: oncall.schedules[0].layers[0].time_zone: unknown zone "Mars/Olympus"`)
	_, err = procedures.Parse("bad.yaml", []byte(strings.Replace(s, "{person: frank, from:", "{layer: 2, person: frank, from:", 1)))
	require.EqualError(t, err, `bad.yaml: oncall.schedules[0].overrides[0].layer: schedule payments-primary has layers 1 to 1, got 2`)
}

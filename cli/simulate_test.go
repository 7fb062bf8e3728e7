package cli

import (
	"bytes"
	"encoding/json"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// runReportAll runs reportAll in a CLI app and returns its output and exit code.
func runReportAll(t *testing.T, format string, runs []*simRun) (string, int) {
	t.Helper()
	var out bytes.Buffer
	app := &cli.App{Name: "mahavishnu", Writer: &out, ErrWriter: &out, ExitErrHandler: func(*cli.Context, error) {},
		Commands: []*cli.Command{{Name: "report", Action: func(c *cli.Context) error { return reportAll(c, format, runs) }}}}
	err := app.Run([]string{"mahavishnu", "report"})
	code := 0
	if ec, ok := err.(cli.ExitCoder); ok {
		code = ec.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return out.String(), code
}

// TestSimulateAllReportsSkippedAndFailed: with --type all, a scenario whose rule was
// deleted is reported as skipped (not left out), a skipped one does not fail the run, and
// an expected incident that did not open makes it exit non-zero.
func TestSimulateAllReportsSkippedAndFailed(t *testing.T) {
	rules := slices.DeleteFunc(schemas.DefaultRules(), func(r schemas.Rule) bool { return r.ID == "memory_exhaustion" })
	runs := allRuns(rules)
	require.Len(t, runs, len(scenarios), "every scenario is in the report")
	for _, run := range runs {
		if run.Skipped == "" {
			run.OK, run.FiredRules = true, []string{run.ExpectedRule}
			run.Incidents = []schemas.Incident{{IncidentID: "inc_" + run.ExpectedRule, Severity: schemas.SeverityHigh}}
		}
	}
	i := slices.IndexFunc(runs, func(r *simRun) bool { return r.Scenario == "memory_exhaustion" })
	require.GreaterOrEqual(t, i, 0)
	require.Equal(t, "no rule memory_exhaustion (deleted?)", runs[i].Skipped)

	out, code := runReportAll(t, outputTable, runs)
	require.Equal(t, 0, code, out)
	require.Contains(t, out, "skipped: no rule memory_exhaustion (deleted?)")
	require.Contains(t, out, "14 ok, 1 skipped, 0 failed.")

	// One expected incident did not open.
	runs[0].OK, runs[0].Incidents, runs[0].FiredRules = false, nil, []string{}
	out, code = runReportAll(t, outputTable, runs)
	require.Equal(t, 1, code)
	require.Contains(t, out, "FAILED: no incident")
	require.Contains(t, out, "13 ok, 1 skipped, 1 failed.")

	out, code = runReportAll(t, outputJSON, runs)
	require.Equal(t, 1, code)
	var rep struct {
		OK        bool           `json:"ok"`
		Counts    map[string]int `json:"counts"`
		Scenarios []simRun       `json:"scenarios"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rep))
	require.False(t, rep.OK)
	require.Equal(t, map[string]int{"ok": 13, "skipped": 1, "failed": 1}, rep.Counts)
	require.Equal(t, "failed", rep.Scenarios[0].Result)
	require.Equal(t, "skipped", rep.Scenarios[i].Result)
}

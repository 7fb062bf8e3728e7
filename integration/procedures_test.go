package integration

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/procedures"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// TestProceduresRecordThenTest records a real incident handled on the embedded server
// (detected, approved, acknowledged, resolved) as a scenario, and `procedures test` passes
// on it: the same config handles that incident the same way on the time-skipping server.
func TestProceduresRecordThenTest(t *testing.T) {
	e := newEnv(t, "")
	e.startManager(t)
	for i := 1; i <= 10; i++ {
		code, body := e.postEvents(t, errorEvent("billing", i))
		require.Equal(t, 202, code, "%v", body)
	}
	var inc schemas.Incident
	eventually(t, 30*time.Second, "the incident to wait for an approval", func() bool {
		incs := e.listIncidents(t)
		if len(incs) == 1 && incs[0].Status == schemas.StatusRemediating {
			inc = incs[0]
			return true
		}
		return false
	})
	id := inc.IncidentID
	e.mustRun(t, "incidents", "approve", id, "--action", "restart_service", "--by", "bob")
	e.mustRun(t, "incidents", "acknowledge", id, "--by", "alice")
	eventually(t, 30*time.Second, "the incident to reach recovering", func() bool {
		return e.getIncident(t, id).Status == schemas.StatusRecovering
	})
	e.mustRun(t, "incidents", "resolve", id, "--by", "alice", "--notes", "restarted billing")
	eventually(t, 30*time.Second, "the post-mortem", func() bool {
		_, err := e.run(t.Context(), "incidents", "postmortem", id)
		return err == nil
	})

	path := filepath.Join(e.dir, "recorded.yaml")
	out := e.mustRun(t, "procedures", "record", id, "-o", path)
	require.Contains(t, out, "Scenario of "+id+" written to "+path)
	sc, err := procedures.Load(path)
	require.NoError(t, err)
	require.Len(t, sc.Events, 10)
	kinds := map[string]int{}
	for _, x := range sc.Expect {
		kinds[x.Kind()]++
	}
	for _, k := range []string{"opened", "stage", "acknowledged", "approval_requested", "action_run", "notified", "resolved", "postmortem", "mtta", "mttr"} {
		require.NotZero(t, kinds[k], "recorded expectations of kind %s", k)
	}
	var steps []string
	for _, s := range sc.Responders {
		steps = append(steps, s.Describe())
	}
	require.Equal(t, []string{"approve restart_service by bob", "acknowledge by alice", "resolve by alice"}, steps)

	out, err = e.run(t.Context(), "procedures", "test", path)
	recorded, _ := os.ReadFile(path)
	require.NoError(t, err, "%s\nscenario:\n%s", out, recorded)
	require.Contains(t, out, "PASS  step")
	require.Contains(t, out, "PASS  run of restart_service (actor bob)")
	require.Contains(t, out, "1 scenarios: 1 passed, 0 failed")

	// A changed policy no longer handles it the same way: the test says so.
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	changed := append(data, []byte("config:\n  overrides:\n    incident_response:\n      auto_remediation: false\n")...)
	require.NoError(t, os.WriteFile(path, changed, 0o644))
	out, err = e.run(t.Context(), "procedures", "test", path)
	require.Error(t, err)
	require.Contains(t, out, "FAIL  run of clear_cache (actor mahavishnu)")
}

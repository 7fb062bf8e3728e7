package integration

import (
	"bytes"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// buildBinary builds cmd/mahavishnu once per test run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "mahavishnu-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "mahavishnu")
	out, err := exec.Command("go", "build", "-o", bin, "../cmd/mahavishnu").CombinedOutput()
	if err != nil {
		return "", &buildError{out: string(out), err: err}
	}
	return bin, nil
})

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

// process is `mahavishnu incidents start` as a separate OS process.
type process struct {
	cmd  *exec.Cmd
	out  *bytes.Buffer
	done chan error
}

func (e *env) startProcess(t *testing.T) *process {
	t.Helper()
	bin, err := buildBinary()
	require.NoError(t, err)
	p := &process{out: &bytes.Buffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, "--config", e.configPath, "incidents", "start", "--log-level", "warn")
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	require.NoError(t, p.cmd.Start())
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Kill()
			<-p.done
		}
	})
	e.waitHealthy(t, p.done)
	return p
}

// TestKill9KeepsIncidentAndTimer kills the manager with SIGKILL while an incident is open
// and its MTTR timer is running, starts it again on the same data directory, and checks
// that the incident carries on: same ID, events still attach to it, and the timer fires
// on time after the restart.
func TestKill9KeepsIncidentAndTimer(t *testing.T) {
	e := newEnv(t, "  mttr_target_minutes: 1\n")
	p := e.startProcess(t)

	for i := 1; i <= 10; i++ {
		code, body := e.postEvents(t, errorEvent("api", i))
		require.Equal(t, http.StatusAccepted, code, "%v", body)
	}
	var inc schemas.Incident
	// The incident waits in Remediate for a decision on restart_service.
	eventually(t, 30*time.Second, "the incident to reach remediating", func() bool {
		incs := e.listIncidents(t)
		if len(incs) == 1 && incs[0].Status == schemas.StatusRemediating {
			inc = incs[0]
			return true
		}
		return false
	})

	require.NoError(t, p.cmd.Process.Signal(syscall.SIGKILL))
	<-p.done
	require.Less(t, time.Since(inc.DetectedAt), time.Minute, "the MTTR timer must still be running when the manager dies")

	p = e.startProcess(t)
	incs := e.listIncidents(t)
	require.Len(t, incs, 1, "the incident survives the crash")
	require.Equal(t, inc.IncidentID, incs[0].IncidentID)
	require.True(t, incs[0].Status.Active())

	// Events after the restart attach to the same incident.
	code, _ := e.postEvents(t, errorEvent("api", 11))
	require.Equal(t, http.StatusAccepted, code)
	eventually(t, 20*time.Second, "the new event to attach", func() bool {
		return e.getIncident(t, inc.IncidentID).EventCount == 11
	})
	require.Len(t, e.listIncidents(t), 1)

	// The MTTR timer started before the crash fires one minute after detection.
	eventually(t, 90*time.Second, "the MTTR breach to be recorded", func() bool {
		got := e.getIncident(t, inc.IncidentID)
		return got.MTTRBreached
	})
	got := e.getIncident(t, inc.IncidentID)
	var breach schemas.TimelineEntry
	for _, en := range got.Timeline {
		if en.Kind == schemas.TimelineMTTRBreached {
			breach = en
		}
	}
	require.False(t, breach.At.IsZero())
	require.WithinDuration(t, inc.DetectedAt.Add(time.Minute), breach.At, 10*time.Second)

	require.Contains(t, e.mustRun(t, "incidents", "acknowledge", inc.IncidentID, "--by", "alice"), "acknowledged by alice")
	require.Contains(t, e.mustRun(t, "incidents", "resolve", inc.IncidentID, "--by", "alice", "--notes", "after restart"), "resolved")

	// SIGTERM stops the manager cleanly.
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case err := <-p.done:
		require.NoError(t, err, "output:\n%s", p.out.String())
	case <-time.After(30 * time.Second):
		t.Fatal("manager did not stop within 30s of SIGTERM")
	}
}

package workflows

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/mahavishnu/mahavishnu/activities"
	"github.com/mahavishnu/mahavishnu/oncall"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// TestHeartbeatMissedThenRecovered: no ping within every+grace opens a heartbeat_missed
// incident at the deadline; the next ping signals it recovered; pause stops the timer.
func TestHeartbeatMissedThenRecovered(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	var states []string
	var opened []activities.HeartbeatMissedInput
	env.OnActivity(a.RecordHeartbeat, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.HeartbeatStateInput) error {
		s := in.State
		if in.NextDeadline != nil {
			s += "@" + in.NextDeadline.Sub(t0).String()
		}
		states = append(states, s)
		return nil
	})
	env.OnActivity(a.OpenHeartbeatIncident, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.HeartbeatMissedInput) error {
		opened = append(opened, in)
		return nil
	})
	var recovered []schemas.Recovered
	env.OnSignalExternalWorkflow(mock.Anything, schemas.IncidentWorkflowID("heartbeat:backup"), "", schemas.SignalRecovered, mock.Anything).Return(
		func(_, _, _, _ string, arg any) error {
			recovered = append(recovered, arg.(schemas.Recovered))
			return nil
		})
	ping := func(after time.Duration) {
		env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalHeartbeatPing, HeartbeatPing{At: t0.Add(after)}) }, after)
	}
	ping(50 * time.Minute) // in time: next deadline 50m + 1h10m = 2h
	ping(3 * time.Hour)    // after the 2h deadline: recovers the incident
	env.RegisterDelayedCallback(func() { env.SignalWorkflow(SignalHeartbeatPause, nil) }, 3*time.Hour+time.Minute)
	env.RegisterDelayedCallback(func() { env.CancelWorkflow() }, 10*time.Hour) // paused: no further incident
	env.ExecuteWorkflow(HeartbeatWorkflow, HeartbeatInput{Heartbeat: oncall.Heartbeat{Name: "backup", Every: time.Hour, Grace: 10 * time.Minute}})
	require.True(t, env.IsWorkflowCompleted())

	require.Len(t, opened, 1)
	require.Equal(t, t0.Add(2*time.Hour), opened[0].Deadline, "missed at last ping + every + grace")
	require.Equal(t, schemas.SeverityHigh, opened[0].Heartbeat.Severity)
	require.Len(t, recovered, 1)
	require.Equal(t, "heartbeat backup", recovered[0].By)
	require.Equal(t, t0.Add(3*time.Hour), recovered[0].At)
	require.Equal(t, []string{"waiting@1h10m0s", "up@2h0m0s", "missed", "up@4h10m0s", "paused"}, states)
}

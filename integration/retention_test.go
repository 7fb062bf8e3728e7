package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
	"github.com/mahavishnu/mahavishnu/workflows"
)

// TestRetentionSchedule runs the manager on the real embedded server: it creates the
// housekeeping schedule (listed by the SDK's schedule client, as `temporal schedule list`
// and the Web UI's Schedules page list it), makes the namespace keep workflows as long as
// resolved incidents, and a triggered run deletes an old closed incident and post-mortem
// and reports the counts in its result, the log of the store and /metrics. A second start
// with another retention.schedule updates the same schedule.
func TestRetentionSchedule(t *testing.T) {
	e := newEnv(t, `  retention:
    resolved_incidents_days: 30
    schedule: "0 0 1 1 *"
`)
	ctx := context.Background()
	old := time.Now().UTC().Add(-60 * 24 * time.Hour)
	st, err := store.Open(ctx, "sqlite:///incidents.db", e.dir)
	require.NoError(t, err)
	for _, id := range []string{"inc_old_closed", "inc_old_open"} {
		inc := &schemas.Incident{IncidentID: id, IncidentType: "error_burst", Severity: schemas.SeverityHigh,
			Status: schemas.StatusClosed, Fingerprint: "error_burst/" + id, DetectedAt: old, ResolvedAt: &old, ClosedAt: &old, UpdatedAt: old}
		if id == "inc_old_open" {
			inc.Status, inc.ResolvedAt, inc.ClosedAt = schemas.StatusInvestigating, nil, nil
		}
		require.NoError(t, st.UpsertIncident(ctx, inc))
		require.NoError(t, st.AddTimeline(ctx, schemas.TimelineEntry{IncidentID: id, At: old, Kind: schemas.TimelineNote, Message: "old"}))
	}
	require.NoError(t, st.SavePostMortem(ctx, "inc_ancient", "# ancient", old.Add(-400*24*time.Hour)))
	require.NoError(t, st.Close())

	stop := e.startManager(t)
	tc, err := client.Dial(client.Options{HostPort: fmt.Sprintf("127.0.0.1:%d", e.frontendPort)})
	require.NoError(t, err)
	defer tc.Close()

	listed := func() []*client.ScheduleListEntry {
		it, err := tc.ScheduleClient().List(ctx, client.ScheduleListOptions{})
		require.NoError(t, err)
		var out []*client.ScheduleListEntry
		for it.HasNext() {
			s, err := it.Next()
			require.NoError(t, err)
			out = append(out, s)
		}
		return out
	}
	var entry *client.ScheduleListEntry
	eventually(t, 30*time.Second, "the housekeeping schedule in the schedule list", func() bool {
		for _, s := range listed() {
			if s.ID == schemas.HousekeepingScheduleID {
				entry = s
				return true
			}
		}
		return false
	})
	require.Equal(t, schemas.HousekeepingWorkflowType, entry.WorkflowType.Name)

	handle := tc.ScheduleClient().GetHandle(ctx, schemas.HousekeepingScheduleID)
	desc, err := handle.Describe(ctx)
	require.NoError(t, err)
	require.Equal(t, []string(nil), intervalsOf(desc))
	require.Len(t, desc.Schedule.Spec.Calendars, 1, "the cron expression, as the server stores it")

	ns, err := tc.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: "default"})
	require.NoError(t, err)
	require.Equal(t, 30*24*time.Hour, ns.Config.WorkflowExecutionRetentionTtl.AsDuration())

	// The dry run from the CLI counts and deletes nothing.
	out := e.mustRun(t, "incidents", "retention", "run", "--dry-run", "--output", "json")
	var dry struct {
		DryRun  bool                  `json:"dry_run"`
		Deleted store.RetentionCounts `json:"deleted"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &dry), out)
	require.True(t, dry.DryRun)
	require.Equal(t, store.RetentionCounts{Incidents: 1, Timeline: 1, Postmortems: 1}, dry.Deleted)

	// A run of the schedule deletes them.
	require.NoError(t, handle.Trigger(ctx, client.ScheduleTriggerOptions{}))
	var res workflows.HousekeepingResult
	eventually(t, 60*time.Second, "a completed housekeeping run", func() bool {
		d, err := handle.Describe(ctx)
		require.NoError(t, err)
		if len(d.Info.RecentActions) == 0 {
			return false
		}
		run := d.Info.RecentActions[0].StartWorkflowResult
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		return tc.GetWorkflow(cctx, run.WorkflowID, run.FirstExecutionRunID).Get(cctx, &res) == nil
	})
	require.Equal(t, store.RetentionCounts{Incidents: 1, Timeline: 1, Postmortems: 1}, res.Deleted)
	require.False(t, res.DryRun)

	list := e.listIncidents(t, "--limit", "10")
	require.Len(t, list, 1)
	require.Equal(t, "inc_old_open", list[0].IncidentID, "an open incident is never deleted")

	resp, err := http.Get("http://" + e.apiAddr + "/metrics")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.Contains(t, string(body), `mahavishnu_retention_deleted_total{kind="incidents"} 1`)
	require.Contains(t, string(body), `mahavishnu_retention_deleted_total{kind="postmortems"} 1`)

	// A restart with another schedule updates the same schedule, not a second one.
	stop()
	cfg := strings.Replace(readFile(t, e.configPath), `schedule: "0 0 1 1 *"`, `schedule: 2h`, 1)
	writeFile(t, e.configPath, cfg)
	e.startManager(t)
	eventually(t, 30*time.Second, "the schedule updated to every 2h", func() bool {
		d, err := handle.Describe(ctx)
		return err == nil && strings.Join(intervalsOf(d), ",") == "2h0m0s"
	})
	n := 0
	for _, s := range listed() {
		if s.ID == schemas.HousekeepingScheduleID {
			n++
		}
	}
	require.Equal(t, 1, n)
}

func intervalsOf(d *client.ScheduleDescription) []string {
	var out []string
	for _, iv := range d.Schedule.Spec.Intervals {
		out = append(out, iv.Every.String())
	}
	return out
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	return string(b)
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	require.NoError(t, os.WriteFile(path, []byte(content), 0o600))
}

package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// TestStatsAndGetFullBeyondTheOldCaps: `incidents stats` counts all of 10,500 incidents
// and `get --full` lists all 1,200 events of an incident.
func TestStatsAndGetFullBeyondTheOldCaps(t *testing.T) {
	r := dashboardRuntime(t, "")
	ctx := context.Background()
	st, err := r.Store(ctx)
	require.NoError(t, err)
	now := time.Now().UTC()
	incs := make([]schemas.Incident, 10_500)
	for i := range incs {
		incs[i] = schemas.Incident{IncidentID: fmt.Sprintf("inc_%05d", i), IncidentType: "error_burst", Severity: schemas.SeverityHigh,
			Status: schemas.StatusInvestigating, Fingerprint: fmt.Sprintf("f/%d", i), DetectedAt: now.Add(-time.Duration(i) * time.Second),
			WorkflowID: fmt.Sprintf("w/%d", i), UpdatedAt: now, MTTDSeconds: ptrTo(float64(i % 2))}
	}
	resolved := now
	incs[0].Status, incs[0].ResolvedAt = schemas.StatusResolved, &resolved // no workflow to ask for approvals
	require.NoError(t, st.InsertIncidents(ctx, incs))
	events := make([]schemas.Event, 1_200)
	ids := make([]string, len(events))
	for i := range events {
		events[i] = schemas.Event{EventID: fmt.Sprintf("ev_%04d", i), Timestamp: now, EventType: "error", Source: "api", Severity: schemas.SeverityHigh}
		ids[i] = events[i].EventID
	}
	_, err = st.InsertEvents(ctx, events, now)
	require.NoError(t, err)
	_, err = st.AttachEvents(ctx, "inc_00000", ids)
	require.NoError(t, err)

	run := func(args ...string) string {
		var out strings.Builder
		app := &cli.App{Name: "mahavishnu", Writer: &out, Commands: []*cli.Command{statsCommand(r), getCommand(r)}}
		require.NoError(t, app.RunContext(ctx, append([]string{"mahavishnu"}, args...)))
		return out.String()
	}
	var stats struct {
		All incidentStats `json:"all"`
	}
	require.NoError(t, json.Unmarshal([]byte(run("stats", "--output", "json")), &stats))
	require.Equal(t, 10_500, stats.All.Total)
	require.Equal(t, 10_499, stats.All.Active)
	require.InDelta(t, 0.5, *stats.All.MeanMTTD, 1e-9)

	var detail struct {
		Events []schemas.Event `json:"events"`
	}
	require.NoError(t, json.Unmarshal([]byte(run("get", "--full", "--output", "json", "inc_00000")), &detail))
	require.Len(t, detail.Events, 1_200)
}

func ptrTo[T any](v T) *T { return &v }

package integration

import (
	"context"
	"fmt"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// TestTemporalDown runs the manager in cluster mode against `mahavishnu temporal serve` in
// a process of its own, stops that server, and posts a burst that crosses error_burst's
// threshold (10 in 5 minutes): every event gets its 202 at once, /healthz keeps answering
// within 1 s and says "degraded" with the outbox holding the open, and the incident row is
// already in the store with all its events. When the server is back on the same data
// directory the workflow starts and the incident keeps every event of the burst.
func TestTemporalDown(t *testing.T) {
	const burst = 12
	source := "tdown-api"
	fingerprint := schemas.Fingerprint("error_burst", source)

	tdir := t.TempDir()
	port := freePortRange(t, 4)
	temporalAddr := fmt.Sprintf("127.0.0.1:%d", port)
	tp := startTemporalServe(t, tdir, port, 0)

	mdir := t.TempDir()
	apiAddr := fmt.Sprintf("127.0.0.1:%d", freePortRange(t, 1))
	cfg := clusterConfig(t, mdir, apiAddr, temporalAddr, "")
	m := startManagerChild(t, "manager (cluster mode)", cfg, apiAddr, nil, "")
	var h healthz
	eventually(t, 30*time.Second, "the manager to report ok", func() bool {
		code, got, err := getHealthz(apiAddr, time.Second)
		h = got
		return err == nil && code == http.StatusOK && got.Status == "ok"
	}, func() string { return h.String() })

	tp.terminate(t, 60*time.Second)
	downAt := time.Now()

	// The burst: one event per request, each acknowledged without a retry.
	ic := newIngestClient()
	addr := func() string { return apiAddr }
	for _, ev := range errorEvents("down", source, burst) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := ic.post(ctx, addr, []testEvent{ev})
		cancel()
		require.NoError(t, err)
	}
	require.Zero(t, ic.retries.Load(), "every event of the burst is acknowledged at once while Temporal is down")
	require.Len(t, ic.acceptedIDs(), burst)

	// /healthz answers within 1 s every time and turns degraded, with the open waiting in
	// the outbox. Keep Temporal down long enough for the dispatcher's calls to time out.
	degraded := false
	for time.Since(downAt) < 15*time.Second || !degraded {
		asked := time.Now()
		code, got, err := getHealthz(apiAddr, time.Second)
		require.NoError(t, err, "/healthz must answer within 1s while Temporal is down (%.1fs after it stopped)", time.Since(downAt).Seconds())
		require.Less(t, time.Since(asked), time.Second)
		h = got
		if got.Status == "degraded" && got.Outbox.Depth > 0 {
			if !degraded {
				t.Logf("degraded %.1fs after Temporal stopped: %s", time.Since(downAt).Seconds(), got)
			}
			degraded = true
			require.Equal(t, http.StatusServiceUnavailable, code, "degraded answers 503")
			require.Equal(t, "unreachable", got.Temporal, "%s", got)
			require.NotEmpty(t, got.Reasons)
			require.Equal(t, "ok", got.Store)
		} else {
			require.False(t, degraded, "health went back from degraded while Temporal is still down: %s", got)
		}
		require.Less(t, time.Since(downAt), 30*time.Second, "no degraded /healthz with outbox depth > 0 while Temporal is down; last: %s", h)
		time.Sleep(250 * time.Millisecond)
	}
	require.GreaterOrEqual(t, h.Outbox.PendingOpens, int64(1), "the open waits in the outbox: %s", h)

	// The detector opened the incident in the store and attached the whole burst.
	db := openSQLiteStore(t, filepath.Join(mdir, "incidents.db"))
	sources := map[string]bool{source: true}
	report := func() string {
		evs, err := db.events(context.Background())
		if err != nil {
			return err.Error()
		}
		incs, err := db.incidents(context.Background())
		if err != nil {
			return err.Error()
		}
		return attachReport(evs, incs, sources, true)
	}
	incident := func() storedIncident {
		for _, inc := range db.mustIncidents(t) {
			if inc.Fingerprint == fingerprint {
				return inc
			}
		}
		return storedIncident{}
	}
	eventually(t, 10*time.Second, "the incident row with all its events while Temporal is down",
		func() bool { return report() == "" }, report)
	inc := incident()
	require.Equal(t, burst, inc.EventCount)
	require.Equal(t, "detected", inc.Status)
	require.Empty(t, inc.RunID, "no workflow can have started while Temporal is down")

	// Temporal comes back on the same data directory: the workflow starts, the incident
	// keeps all its events, and the outbox drains.
	tp = startTemporalServe(t, tdir, port, 0)
	backAt := time.Now()
	eventually(t, 60*time.Second, "the incident's workflow to start after Temporal is back", func() bool {
		return incident().RunID != ""
	}, func() string { return fmt.Sprintf("%+v", incident()) })
	t.Logf("workflow started %.1fs after Temporal came back", time.Since(backAt).Seconds())
	eventually(t, 30*time.Second, "the outbox to drain and health to be ok", func() bool {
		code, got, err := getHealthz(apiAddr, time.Second)
		h = got
		return err == nil && code == http.StatusOK && got.Status == "ok" && got.Outbox.Depth == 0
	}, func() string { return h.String() })
	require.Empty(t, report())
	inc = incident()
	require.Equal(t, burst, inc.EventCount, "event_count == burst size")
	require.Equal(t, schemas.IncidentWorkflowID(fingerprint), inc.WorkflowID)

	tc, err := client.Dial(client.Options{HostPort: temporalAddr})
	require.NoError(t, err)
	defer tc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	desc, err := tc.DescribeWorkflowExecution(ctx, inc.WorkflowID, "")
	require.NoError(t, err)
	require.Equal(t, inc.RunID, desc.GetWorkflowExecutionInfo().GetExecution().GetRunId(), "the stored run is the workflow's run")
	require.Equal(t, enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING, desc.GetWorkflowExecutionInfo().GetStatus())

	m.terminate(t, 30*time.Second)
	tp.terminate(t, 60*time.Second)
}

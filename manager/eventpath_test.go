package manager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

func TestGroupCommitSharesOneTransactionAmongConcurrentCallers(t *testing.T) {
	tm := newTestManager(t, nil)
	ctx := context.Background()
	// Hold the store's one connection, so that the callers queue behind a commit the way
	// they do under load, whatever the scheduler does.
	conn, err := tm.st.DB.Conn(ctx)
	require.NoError(t, err)
	released := false
	release := func() {
		if !released {
			released = true
			require.NoError(t, conn.Close())
		}
	}
	t.Cleanup(release)
	const callers = 32
	var wg sync.WaitGroup
	ids := make([][]string, callers)
	errs := make([]error, callers)
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ids[i], errs[i] = tm.SubmitEvents(ctx, []schemas.Event{
				{EventType: "noise", Source: fmt.Sprintf("s%d", i)}, {EventType: "noise", Source: fmt.Sprintf("s%d", i)}})
		}()
	}
	// The committer took the first request(s) and waits for the connection; the rest queue.
	// Release once the queue has stopped growing for 100 ms.
	deadline := time.Now().Add(10 * time.Second)
	queued, since := 0, time.Now()
	for queued == 0 || time.Since(since) < 100*time.Millisecond {
		require.True(t, time.Now().Before(deadline), "callers did not queue: %d", queued)
		if n := len(tm.commit.requests); n != queued {
			queued, since = n, time.Now()
		}
		time.Sleep(time.Millisecond)
	}
	require.GreaterOrEqual(t, queued, callers/2)
	release()
	wg.Wait()
	for i := range callers {
		require.NoError(t, errs[i])
		require.Len(t, ids[i], 2)
	}
	require.EqualValues(t, 2, tm.commit.commits.Load(), "the first group's commit, then one for all that queued behind it")
	require.EqualValues(t, 2*callers, tm.commit.events.Load())
	n, err := tm.st.CountEvents(ctx, store.EventFilter{})
	require.NoError(t, err)
	require.Equal(t, 2*callers, n)
	head, err := tm.st.LogHead(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 2*callers, head, "sequence numbers are dense when nothing is re-sent")
}

func TestGroupCommitErrorReachesEveryCaller(t *testing.T) {
	tm := newTestManager(t, nil)
	require.NoError(t, tm.st.Close()) // the store goes away
	var wg sync.WaitGroup
	errs := make([]error, 8)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, errs[i] = tm.SubmitEvents(context.Background(), []schemas.Event{{EventType: "error", Source: "api"}})
		}()
	}
	wg.Wait()
	for _, err := range errs {
		var unavailable *UnavailableError
		require.ErrorAs(t, err, &unavailable)
	}
}

func TestCursorResumesWithoutCountingTwice(t *testing.T) {
	ctx := context.Background()
	tm := newTestManager(t, nil)
	tm.submit(t, 6, "error", "api") // below error_burst's 10
	require.Empty(t, tm.starts(t))
	cursor, err := tm.st.DetectorCursor(ctx)
	require.NoError(t, err)
	require.EqualValues(t, 6, cursor)
	tm.Close()

	// A new process: the 6 events are replayed into the windows, not detected again.
	m2, err := New(Options{Store: tm.st, Client: tm.tc, Now: func() time.Time { return tm.now }, Logger: slog.New(slog.DiscardHandler), Detector: true})
	require.NoError(t, err)
	t.Cleanup(m2.Close)
	require.NoError(t, m2.Rebuild(ctx))
	_, err = m2.SubmitEvents(ctx, events(3, "error", "api", tm.now))
	require.NoError(t, err)
	require.NoError(t, m2.Settle(ctx))
	require.Empty(t, tm.tc.starts(), "6 + 3 = 9 is still below the threshold")
	_, err = m2.SubmitEvents(ctx, events(1, "error", "api", tm.now))
	require.NoError(t, err)
	require.NoError(t, m2.Settle(ctx))
	require.Equal(t, []string{wfID("error_burst", "api")}, tm.tc.starts())

	incs, err := tm.st.ListIncidents(ctx, store.IncidentFilter{})
	require.NoError(t, err)
	require.Len(t, incs, 1)
	require.Equal(t, 10, incs[0].EventCount)
	attached, err := tm.st.CountEvents(ctx, store.EventFilter{IncidentID: incs[0].IncidentID})
	require.NoError(t, err)
	require.Equal(t, 10, attached)
}

func TestAttachmentsAreCoalescedIntoOneSignalPerInterval(t *testing.T) {
	ctx := context.Background()
	tm := newTestManager(t, nil)
	tm.submit(t, 10, "error", "api")
	require.Len(t, tm.starts(t), 1)
	// Five batches in the same interval after the opening: one row, no signal yet.
	for range 5 {
		tm.submit(t, 7, "error", "api")
		require.NoError(t, tm.Settle(ctx))
	}
	require.Zero(t, tm.tc.signalCount(wfID("error_burst", "api")), "within the interval of the opening")
	ob, err := tm.st.OutboxStats(ctx)
	require.NoError(t, err)
	require.Equal(t, 1, ob.Depth, "one waiting attach row for the incident")

	tm.now = tm.now.Add(DefaultAttachSignalInterval)
	require.NoError(t, tm.Settle(ctx))
	require.Equal(t, 1, tm.tc.signalCount(wfID("error_burst", "api")))
	got := tm.tc.lastSignal(wfID("error_burst", "api")).(schemas.EventsAttached)
	require.Equal(t, 45, got.EventCount, "absolute counters: 10 + 5 x 7")
	ob, err = tm.st.OutboxStats(ctx)
	require.NoError(t, err)
	require.Zero(t, ob.Depth)
}

func TestDispatcherRetriesUntilTemporalAccepts(t *testing.T) {
	tm := newTestManager(t, nil)
	tm.tc.failStarts(2, errors.New("connection refused"))
	tm.submit(t, 10, "error", "api")
	require.Empty(t, tm.starts(t), "the first attempt failed")
	inc := onlyIncident(t, tm.st)
	require.Equal(t, schemas.StatusDetected, inc.Status, "the incident is in the store while Temporal is away")
	require.Equal(t, 10, inc.EventCount)
	h := tm.outboxRows(t)
	require.Len(t, h, 1)
	require.Equal(t, 1, h[0].Attempts)
	require.Contains(t, h[0].LastError, "connection refused")

	tm.now = tm.now.Add(time.Second) // past the first backoff (at most 250ms)
	require.Empty(t, tm.starts(t), "the second attempt failed too")
	tm.now = tm.now.Add(2 * time.Second)
	require.Equal(t, []string{wfID("error_burst", "api")}, tm.starts(t))
	require.Empty(t, tm.outboxRows(t), "delivered rows are gone")
	require.GreaterOrEqual(t, tm.DetectionErrors(), int64(2))
}

func TestEndedIncidentsEventsCountTowardsANewOne(t *testing.T) {
	ctx := context.Background()
	tm := newTestManager(t, nil)
	tm.submit(t, 10, "error", "api")
	require.Len(t, tm.starts(t), 1)
	first := onlyIncident(t, tm.st)
	first.Status, first.Version = schemas.StatusResolved, 5
	now := tm.now
	first.ResolvedAt = &now
	require.NoError(t, tm.st.UpsertIncident(ctx, first)) // the workflow resolved it

	tm.now = tm.now.Add(time.Minute)
	tm.submit(t, 10, "error", "api")
	require.Len(t, tm.starts(t), 2, "the new burst opens a new incident")
	incs, err := tm.st.ListIncidents(ctx, store.IncidentFilter{Status: schemas.StatusActive})
	require.NoError(t, err)
	require.Len(t, incs, 1)
	require.NotEqual(t, first.IncidentID, incs[0].IncidentID)
	require.Equal(t, 10, incs[0].EventCount, "no event of the new burst went to the resolved incident")
	old, err := tm.st.GetIncident(ctx, first.IncidentID)
	require.NoError(t, err)
	require.Equal(t, 10, old.EventCount)
}

func TestSecondSQLiteDetectorIsRefused(t *testing.T) {
	tm := newTestManager(t, nil)
	m2, err := New(Options{Store: tm.st, Client: tm.tc, Logger: slog.New(slog.DiscardHandler), Detector: true})
	require.NoError(t, err)
	t.Cleanup(m2.Close)
	err = m2.Rebuild(context.Background())
	require.ErrorIs(t, err, ErrDetectorTaken)
	require.ErrorContains(t, err, "with SQLite only one detector may run")
}

func TestHealthAnswersFromTheSnapshot(t *testing.T) {
	tm := newTestManager(t, nil)
	block := make(chan struct{})
	tm.opts.TemporalHealth = func(ctx context.Context) error {
		select { // a Temporal that hangs
		case <-block:
		case <-ctx.Done():
		}
		return ctx.Err()
	}
	defer close(block)
	tm.submit(t, 3, "noise", "x")
	require.NoError(t, tm.Settle(context.Background()))
	tm.health.refresh(context.Background())
	h := tm.Health()
	require.Equal(t, HealthOK, h.Store)
	require.EqualValues(t, 3, h.Detector.Head)
	require.EqualValues(t, 3, h.Detector.Cursor)
	require.Zero(t, h.Detector.Lag)
	require.True(t, h.Detector.Active)

	tm.health.markTemporalUnreachable()
	tm.health.refresh(context.Background())
	h = tm.Health()
	require.Equal(t, HealthDegraded, h.Status)
	require.Contains(t, h.Reasons, "temporal unreachable")
}

// DetectionErrors counts the errors recorded since start.
func (m *Manager) DetectionErrors() int64 { return m.detectionErrors.Load() }

func events(n int, typ, source string, at time.Time) []schemas.Event {
	out := make([]schemas.Event, n)
	for i := range out {
		out[i] = schemas.Event{EventType: typ, Source: source, Timestamp: at.Add(time.Duration(i-n) * time.Second)}
	}
	return out
}

func onlyIncident(t *testing.T, st *store.Store) *schemas.Incident {
	t.Helper()
	incs, err := st.ListIncidents(context.Background(), store.IncidentFilter{})
	require.NoError(t, err)
	require.Len(t, incs, 1)
	return &incs[0]
}

func (tm *testManager) outboxRows(t *testing.T) []store.OutboxRow {
	t.Helper()
	rows, err := tm.st.DueOutbox(context.Background(), tm.now.Add(time.Hour), 100)
	require.NoError(t, err)
	return rows
}

var _ client.Client = (*fakeTemporal)(nil)

func TestTemporalBackDeliversWithoutWaitingForTheBackoff(t *testing.T) {
	tm := newTestManager(t, nil)
	tm.tc.failStarts(6, errors.New("connection refused"))
	tm.submit(t, 10, "error", "api")
	for range 6 { // the backoff grows while Temporal is away
		tm.now = tm.now.Add(20 * time.Second)
		require.Empty(t, tm.starts(t))
	}
	rows := tm.outboxRows(t)
	require.Equal(t, 6, rows[0].Attempts)
	tm.dispatch.temporalBack() // the health check sees Temporal again
	require.Equal(t, []string{wfID("error_burst", "api")}, tm.starts(t), "delivered at once, not after the backoff")
}

package manager

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// fakeTemporal records the workflow starts and signals the manager sends; any other
// client method panics (the embedded nil interface), so a test notices an unexpected call.
type fakeTemporal struct {
	client.Client
	mu       sync.Mutex
	started  []string // workflow IDs, in order
	signals  map[string]int
	payloads map[string]any
	// failing start calls left, and their error
	failN   int
	failErr error
}

// failStarts makes the next n SignalWithStartWorkflow calls fail with err.
func (f *fakeTemporal) failStarts(n int, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failN, f.failErr = n, err
}

func (f *fakeTemporal) signalCount(workflowID string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.signals[workflowID]
}

func (f *fakeTemporal) lastSignal(workflowID string) any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.payloads[workflowID]
}

func (f *fakeTemporal) SignalWithStartWorkflow(_ context.Context, workflowID, _ string, _ any,
	_ client.StartWorkflowOptions, _ any, _ ...any) (client.WorkflowRun, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failN > 0 {
		f.failN--
		return nil, f.failErr
	}
	f.started = append(f.started, workflowID)
	return fakeRun{id: workflowID}, nil
}

func (f *fakeTemporal) DescribeWorkflowExecution(context.Context, string, string) (*workflowservice.DescribeWorkflowExecutionResponse, error) {
	return nil, serviceerror.NewNotFound("no such workflow")
}

func (f *fakeTemporal) SignalWorkflow(_ context.Context, workflowID, _, _ string, arg any) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.signals == nil {
		f.signals, f.payloads = map[string]int{}, map[string]any{}
	}
	f.signals[workflowID]++
	f.payloads[workflowID] = arg
	return nil
}

func (f *fakeTemporal) starts() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.started...)
}

type fakeRun struct {
	client.WorkflowRun
	id string
}

func (r fakeRun) GetID() string { return r.id }

// testManager is a rebuilt manager over a fresh SQLite store and a fake Temporal, with a
// clock the test moves.
type testManager struct {
	*Manager
	st  *store.Store
	tc  *fakeTemporal
	now time.Time
}

var t0 = time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)

func newTestManager(t *testing.T, rules []schemas.Rule) *testManager {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:///incidents.db", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	tm := &testManager{st: st, tc: &fakeTemporal{}, now: t0}
	tm.Manager, err = New(Options{Store: st, Client: tm.tc, Rules: rules, Now: func() time.Time { return tm.now },
		Logger: slog.New(slog.DiscardHandler), Detector: true})
	require.NoError(t, err)
	t.Cleanup(tm.Close)
	require.NoError(t, tm.Rebuild(ctx))
	return tm
}

// starts detects what was stored and delivers the outbox, then lists the workflow starts.
func (tm *testManager) starts(t *testing.T) []string {
	t.Helper()
	require.NoError(t, tm.Settle(context.Background()))
	return tm.tc.starts()
}

// submit posts n events of one type and source, a second apart ending at the clock.
func (tm *testManager) submit(t *testing.T, n int, typ, source string) []string {
	t.Helper()
	events := make([]schemas.Event, n)
	for i := range events {
		events[i] = schemas.Event{EventType: typ, Source: source, Message: fmt.Sprintf("%s %d", typ, i),
			Timestamp: tm.now.Add(time.Duration(i-n) * time.Second)}
	}
	ids, err := tm.SubmitEvents(context.Background(), events)
	require.NoError(t, err)
	return ids
}

func wfID(rule, source string) string {
	return schemas.IncidentWorkflowID(schemas.Fingerprint(rule, source))
}

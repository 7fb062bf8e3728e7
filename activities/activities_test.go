package activities

import (
	"context"
	"errors"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/remediation"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

func newActivities(t *testing.T, actions map[string]remediation.ActionConfig) (*Activities, *store.Store) {
	t.Helper()
	st, err := store.Open(context.Background(), "sqlite:///incidents.db", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	reg, err := remediation.NewRegistry(actions)
	require.NoError(t, err)
	return &Activities{Store: st, Remediation: reg}, st
}

func incident() schemas.Incident {
	return schemas.Incident{IncidentID: "inc_0000000000000001", IncidentType: "error_burst", Severity: schemas.SeverityHigh,
		Status: schemas.StatusContaining, Title: "API Error Burst on api", RuleID: "error_burst", Fingerprint: "error_burst/api",
		Source: "api", DetectedAt: t0, WorkflowID: "incident/error_burst/api", Version: 3, AffectedComponents: []string{"api"}}
}

// run executes one activity the way a worker would.
func run(t *testing.T, a *Activities, fn any, in any, out any) error {
	t.Helper()
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestActivityEnvironment()
	env.RegisterActivity(a)
	val, err := env.ExecuteActivity(fn, in)
	if err == nil && out != nil {
		require.NoError(t, val.Get(out))
	}
	return err
}

func TestSyncIsIdempotent(t *testing.T) {
	a, st := newActivities(t, nil)
	ctx := context.Background()
	_, err := st.InsertEvents(ctx, []schemas.Event{
		{EventID: "e1", Timestamp: t0, EventType: "error", Source: "api", Severity: schemas.SeverityHigh},
		{EventID: "e2", Timestamp: t0, EventType: "error", Source: "api", Severity: schemas.SeverityHigh},
	}, t0)
	require.NoError(t, err)
	in := SyncInput{Incident: incident(), AttachEventIDs: []string{"e1", "e2"},
		Timeline: []schemas.TimelineEntry{{At: t0, Kind: schemas.TimelineDetected, Message: "detected", Key: "detected/1"}}}
	for range 2 {
		var res SyncResult
		require.NoError(t, run(t, a, a.Sync, in, &res))
		require.Equal(t, 2, res.EventCount)
	}
	timeline, err := st.Timeline(ctx, in.Incident.IncidentID)
	require.NoError(t, err)
	require.Len(t, timeline, 1)
	got, err := st.GetIncident(ctx, in.Incident.IncidentID)
	require.NoError(t, err)
	require.Equal(t, 2, got.EventCount)
}

// countingAction creates a new file in dir on every run, so runs can be counted.
func countingAction(dir string) remediation.ActionConfig {
	return remediation.ActionConfig{Command: &remediation.CommandConfig{Argv: []string{"/usr/bin/mktemp", "-p", dir, "run.XXXXXX"}}}
}

func runs(t *testing.T, dir string) int {
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	return len(entries)
}

func TestExecuteActionRunsOnceUnderRetry(t *testing.T) {
	dir := t.TempDir()
	a, st := newActivities(t, map[string]remediation.ActionConfig{"clear_cache": countingAction(dir)})
	in := ActionInput{Incident: incident(), Action: "clear_cache", Actor: "mahavishnu", Attempt: 1}
	var first, second schemas.ActionRecord
	require.NoError(t, run(t, a, a.ExecuteAction, in, &first))
	require.NoError(t, run(t, a, a.ExecuteAction, in, &second))
	require.Equal(t, schemas.ActionSucceeded, first.Status)
	require.Equal(t, first.Status, second.Status)
	require.Equal(t, 1, runs(t, dir), "a retried activity must not run the action again")

	in.Attempt = 2
	require.NoError(t, run(t, a, a.ExecuteAction, in, &second))
	require.Equal(t, 2, runs(t, dir), "a new attempt is a new run")

	// A run that started and never reported back is not repeated.
	in.Attempt = 3
	_, started, err := st.BeginAction(context.Background(), in.Incident.IncidentID, schemas.ActionRecord{Action: "clear_cache", Attempt: 3, At: t0})
	require.NoError(t, err)
	require.True(t, started)
	var rec schemas.ActionRecord
	require.NoError(t, run(t, a, a.ExecuteAction, in, &rec))
	require.Equal(t, schemas.ActionInterrupted, rec.Status)
	require.Equal(t, 2, runs(t, dir))
}

func TestExecuteActionNotConfigured(t *testing.T) {
	a, st := newActivities(t, nil)
	var rec schemas.ActionRecord
	require.NoError(t, run(t, a, a.ExecuteAction, ActionInput{Incident: incident(), Action: "scale_up", Actor: "alice", Attempt: 1}, &rec))
	require.Equal(t, schemas.ActionNotConfigured, rec.Status, "an action without an executor never reports success")
	timeline, err := st.Timeline(context.Background(), incident().IncidentID)
	require.NoError(t, err)
	require.Len(t, timeline, 1)
	require.Contains(t, timeline[0].Message, "scale_up not configured")
}

// fakeChannels fails the named channels once with the given error.
type fakeChannels struct {
	mu    sync.Mutex
	names []string
	fail  map[string]error
	sent  map[string]int
}

func (f *fakeChannels) Route(NotifyInput) []string { return f.names }

func (f *fakeChannels) Send(_ context.Context, ch string, _ NotifyInput) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if err, ok := f.fail[ch]; ok {
		delete(f.fail, ch)
		return err
	}
	f.sent[ch]++
	return nil
}

func TestNotifyRetriesOnlyWhatWasNotSent(t *testing.T) {
	a, st := newActivities(t, nil)
	ch := &fakeChannels{names: []string{"slack", "webhook"}, sent: map[string]int{},
		fail: map[string]error{"webhook": notify.Temporary("webhook", errors.New("HTTP 503"))}}
	a.Notifications = ch
	in := NotifyInput{Incident: incident(), Kind: NotifyOpened, Text: "opened", Key: "opened/1", MaxAttempts: 5}
	require.Error(t, run(t, a, a.Notify, in, nil), "a retryable failure is retried by Temporal")
	var res NotifyResult
	require.NoError(t, run(t, a, a.Notify, in, &res))
	require.Equal(t, map[string]int{"slack": 1, "webhook": 1}, ch.sent, "the retry only sends to the channel that missed it")
	require.ElementsMatch(t, []string{"slack", "webhook"}, res.Sent)
	timeline, err := st.Timeline(context.Background(), in.Incident.IncidentID)
	require.NoError(t, err)
	require.Len(t, timeline, 2)
}

func TestNotifyRecordsFailuresAndSuppression(t *testing.T) {
	a, st := newActivities(t, nil)
	ch := &fakeChannels{names: []string{"slack", "pagerduty", "email"}, sent: map[string]int{}, fail: map[string]error{
		"slack":     notify.Temporary("slack", errors.New("HTTP 500")),
		"pagerduty": notify.Permanent("pagerduty", errors.New("HTTP 400: invalid routing key")),
		"email":     &notify.SuppressedError{Channel: "email", Kind: "opened", Reason: "rate_limited"},
	}}
	a.Notifications = ch
	in := NotifyInput{Incident: incident(), Kind: NotifyOpened, Key: "opened/1", MaxAttempts: 1}
	var res NotifyResult
	require.NoError(t, run(t, a, a.Notify, in, &res), "at the last attempt failures are recorded, not returned")
	require.Equal(t, []string{"slack", "pagerduty"}, res.Failed)
	require.Equal(t, []string{"email"}, res.Suppressed)
	timeline, err := st.Timeline(context.Background(), in.Incident.IncidentID)
	require.NoError(t, err)
	kinds := map[string]string{}
	for _, e := range timeline {
		kinds[e.Actor] = e.Kind
	}
	require.Equal(t, map[string]string{"slack": schemas.TimelineNotifyFailed, "pagerduty": schemas.TimelineNotifyFailed,
		"email": schemas.TimelineNotifySkipped}, kinds)
}

func TestPostMortemStage(t *testing.T) {
	a, st := newActivities(t, nil)
	ctx := context.Background()
	events := []schemas.Event{}
	for i := range 12 {
		events = append(events, schemas.Event{EventID: "e" + string(rune('a'+i)), Timestamp: t0.Add(time.Duration(i*10) * time.Second),
			EventType: "error", Source: "api", Severity: schemas.SeverityHigh, Message: "GET /api/orders timeout"})
	}
	_, err := st.InsertEvents(ctx, events, t0)
	require.NoError(t, err)
	ids := make([]string, len(events))
	for i := range events {
		ids[i] = events[i].EventID
	}
	_, err = st.AttachEvents(ctx, incident().IncidentID, ids)
	require.NoError(t, err)
	inc := incident()
	resolved, mttr, mttd := t0.Add(30*time.Minute), 1800.0, 110.0
	inc.Status, inc.ResolvedAt, inc.ResolvedBy, inc.ResolutionNotes = schemas.StatusResolved, &resolved, "bob", "Fixed by scaling up"
	inc.MTTRSeconds, inc.MTTDSeconds, inc.EventCount = &mttr, &mttd, 12
	in := StageInput{Incident: inc, Stage: StagePostMortem,
		Ran:       []schemas.ActionRecord{{Action: "scale_up", Status: schemas.ActionSucceeded, Actor: "mahavishnu", DurationMS: 1200}},
		Approvals: []schemas.Approval{{Action: "restart_service", Status: schemas.ApprovalRejected, By: "carol", Reason: "peak traffic"}}}
	for range 2 {
		require.NoError(t, run(t, a, a.RunStage, in, nil))
	}
	md, _, err := st.PostMortem(ctx, inc.IncidentID)
	require.NoError(t, err)
	for _, want := range []string{"# Post-mortem: API Error Burst on api", "## Summary", "## Impact", "## Timeline",
		"## Root cause", "## Resolution", "Fixed by scaling up", "## Remediation actions", "## Follow-up items",
		"| MTTR (detection to resolution) | 30m0s |", "| MTTD (first event to detection) | 1m50s |", "- Total events: 12",
		"- Peak event rate: 6 events/minute", "| scale_up | succeeded | mahavishnu | none | 1.2s |",
		"| restart_service | approval rejected | - | carol | - | peak traffic |"} {
		require.Contains(t, md, want)
	}
	timeline, err := st.Timeline(ctx, inc.IncidentID)
	require.NoError(t, err)
	require.Len(t, timeline, 2, "started and finished once, though run twice")
	require.True(t, strings.HasPrefix(timeline[1].Message, "Post-Mortem finished: post-mortem written"))
}

func TestPeakRate(t *testing.T) {
	at := func(s int) schemas.Event { return schemas.Event{Timestamp: t0.Add(time.Duration(s) * time.Second)} }
	n, from := PeakRate([]schemas.Event{at(0), at(70), at(75), at(80), at(129), at(131), at(500)})
	require.Equal(t, 4, n, "70..129 is the busiest minute")
	require.Equal(t, t0.Add(70*time.Second), from)
	n, _ = PeakRate(nil)
	require.Zero(t, n)
}

func TestPostMortemTakesTheDetectorsLatestCounters(t *testing.T) {
	a, st := newActivities(t, nil)
	ctx := context.Background()
	inc := incident()
	resolved := t0.Add(10 * time.Minute)
	inc.Status, inc.ResolvedAt, inc.EventCount = schemas.StatusResolved, &resolved, 10
	stored := inc
	stored.EventCount, stored.Version = 12, 1 // the detector attached 2 more since the workflow heard
	require.NoError(t, st.UpsertIncident(ctx, &stored))
	require.NoError(t, run(t, a, a.RunStage, StageInput{Incident: inc, Stage: StagePostMortem}, nil))
	md, _, err := st.PostMortem(ctx, inc.IncidentID)
	require.NoError(t, err)
	require.Contains(t, md, "- Total events: 12")
	timeline, err := st.Timeline(ctx, inc.IncidentID)
	require.NoError(t, err)
	var late []string
	for _, e := range timeline {
		if e.Kind == schemas.TimelineEventsAdded {
			late = append(late, e.Message)
		}
	}
	require.Equal(t, []string{"+2 events (12 in all)"}, late)
	got, err := st.GetIncident(ctx, inc.IncidentID)
	require.NoError(t, err)
	require.Equal(t, 12, got.EventCount, "the workflow's older count never lowers the stored one")
}

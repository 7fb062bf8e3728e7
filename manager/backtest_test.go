package manager

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// storeEvents stores n normalized events of one type and source, step apart from start.
func storeEvents(t *testing.T, st *store.Store, prefix string, n int, start time.Time, step time.Duration, typ, source, msg string) {
	t.Helper()
	events := make([]schemas.Event, n)
	for i := range events {
		events[i] = schemas.Event{EventID: fmt.Sprintf("%s-%d", prefix, i), Timestamp: start.Add(time.Duration(i) * step),
			EventType: typ, Source: source, Component: source, Severity: schemas.SeverityMedium, Message: msg}
	}
	_, err := st.InsertEvents(context.Background(), events, start)
	require.NoError(t, err)
}

func TestBacktest(t *testing.T) {
	ctx := context.Background()
	tm := newTestManager(t, nil)
	st := tm.st
	storeEvents(t, st, "api", 25, t0, time.Second, "error", "api", "boom")
	storeEvents(t, st, "web", 5, t0, time.Second, "error", "web", "boom")
	// A second burst from api after a quiet window: a second incident.
	storeEvents(t, st, "api2", 10, t0.Add(20*time.Minute), time.Second, "error", "api", "boom")
	// Claimed by cache_failure: never error_burst.
	storeEvents(t, st, "redis", 12, t0, time.Second, "error", "checkout", "redis: connection refused")
	// Silenced.
	silenced := []schemas.Event{{EventID: "sil-1", Timestamp: t0, EventType: "error", Source: "batch", Component: "batch",
		Severity: schemas.SeverityMedium, SilencedBy: "sil_x"}}
	_, err := st.InsertEvents(ctx, silenced, t0)
	require.NoError(t, err)
	// A real incident of the rule in the period.
	require.NoError(t, st.UpsertIncident(ctx, &schemas.Incident{IncidentID: "inc_1", IncidentType: "error_burst", RuleID: "error_burst",
		Severity: schemas.SeverityHigh, Status: schemas.StatusResolved, Fingerprint: "error_burst/api", DetectedAt: t0.Add(10 * time.Second)}))

	rules := tm.Rules()
	res, err := Backtest(ctx, st, rules, BacktestOptions{RuleID: "error_burst", Since: t0.Add(-time.Hour)})
	require.NoError(t, err)
	require.Equal(t, 52, res.EventsReplayed)
	require.Equal(t, 1, res.EventsSilenced)
	require.Equal(t, 1, res.ActualIncidents)
	require.Equal(t, 10, res.Rule.Threshold)
	require.Equal(t, []BacktestIncident{
		{Fingerprint: "error_burst/api", GroupKey: "api", Severity: schemas.SeverityHigh, FirstEventAt: t0,
			DetectedAt: t0.Add(9 * time.Second), LastEventAt: t0.Add(24 * time.Second), Events: 25},
		{Fingerprint: "error_burst/api", GroupKey: "api", Severity: schemas.SeverityHigh, FirstEventAt: t0.Add(20 * time.Minute),
			DetectedAt: t0.Add(20*time.Minute + 9*time.Second), LastEventAt: t0.Add(20*time.Minute + 9*time.Second), Events: 10},
	}, res.Incidents)

	// Lower threshold: web fires too; claims still keep the redis errors out.
	res, err = Backtest(ctx, st, rules, BacktestOptions{RuleID: "error_burst", Since: t0.Add(-time.Hour), Threshold: 5})
	require.NoError(t, err)
	var keys []string
	for _, inc := range res.Incidents {
		keys = append(keys, inc.GroupKey)
	}
	require.Equal(t, []string{"api", "web", "api"}, keys)

	// A window shorter than the spacing of the events: nothing.
	storeEvents(t, st, "slow", 10, t0, 10*time.Second, "slow_request", "search", "took 5s")
	res, err = Backtest(ctx, st, rules, BacktestOptions{RuleID: "performance_degradation", Since: t0.Add(-time.Hour), WindowSeconds: 60})
	require.NoError(t, err)
	require.Empty(t, res.Incidents)
	res, err = Backtest(ctx, st, rules, BacktestOptions{RuleID: "performance_degradation", Since: t0.Add(-time.Hour)})
	require.NoError(t, err)
	require.Len(t, res.Incidents, 1)

	// Until bounds the replay.
	res, err = Backtest(ctx, st, rules, BacktestOptions{RuleID: "error_burst", Since: t0.Add(-time.Hour), Until: t0.Add(time.Minute)})
	require.NoError(t, err)
	require.Len(t, res.Incidents, 1)
}

func TestBacktestDisabledRuleAndErrors(t *testing.T) {
	ctx := context.Background()
	tm := newTestManager(t, nil)
	_, err := tm.UpdateRule(ctx, "deadlock", RulePatch{Enabled: ptr(false)}, "a")
	require.NoError(t, err)
	storeEvents(t, tm.st, "d", 1, t0, time.Second, "deadlock", "orders-db", "deadlock detected")
	res, err := Backtest(ctx, tm.st, tm.Rules(), BacktestOptions{RuleID: "deadlock", Since: t0.Add(-time.Hour)})
	require.NoError(t, err)
	require.True(t, res.Rule.Enabled)
	require.Len(t, res.Incidents, 1, "a disabled rule is tested as if enabled")

	_, err = Backtest(ctx, tm.st, tm.Rules(), BacktestOptions{RuleID: "nope"})
	require.ErrorIs(t, err, store.ErrNotFound)
	_, err = Backtest(ctx, tm.st, tm.Rules(), BacktestOptions{RuleID: "deadlock", Threshold: -1})
	var inv *InvalidError
	require.ErrorAs(t, err, &inv)
	require.Empty(t, tm.tc.starts(), "a backtest opens nothing")
}

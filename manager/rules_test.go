package manager

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

func ptr[T any](v T) *T { return &v }

func TestRulesAreSeededOnceAndStoredChangesSurviveRestart(t *testing.T) {
	ctx := context.Background()
	tm := newTestManager(t, nil)
	recs, err := tm.RuleRecords(ctx)
	require.NoError(t, err)
	require.Len(t, recs, 15)
	_, err = tm.UpdateRule(ctx, "error_burst", RulePatch{Threshold: ptr(3), WindowSeconds: ptr(600)}, "alice")
	require.NoError(t, err)

	// A restart seeds nothing over the stored rule.
	m2, err := New(Options{Store: tm.st, Client: tm.tc, Now: func() time.Time { return tm.now }, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.NoError(t, m2.Rebuild(ctx))
	r := m2.Rules()[indexOfRule(m2.Rules(), "error_burst")]
	require.Equal(t, 3, r.Threshold)
	require.Equal(t, 600, r.WindowSeconds)
	rec, err := m2.Rule(ctx, "error_burst")
	require.NoError(t, err)
	require.Equal(t, "alice", rec.UpdatedBy)
}

func TestUpdateRuleTakesEffectWithoutRestart(t *testing.T) {
	ctx := context.Background()
	tm := newTestManager(t, nil)
	tm.submit(t, 3, "error", "api")
	require.Empty(t, tm.starts(t), "3 errors are below the threshold of 10")

	rec, err := tm.UpdateRule(ctx, "error_burst", RulePatch{Threshold: ptr(3)}, "alice")
	require.NoError(t, err)
	require.Equal(t, 3, rec.Threshold)
	require.Equal(t, []string{wfID("error_burst", "api")}, tm.starts(t), "the lowered threshold fires at once")

	// Disable and enable.
	_, err = tm.UpdateRule(ctx, "deadlock", RulePatch{Enabled: ptr(false)}, "alice")
	require.NoError(t, err)
	tm.submit(t, 1, "deadlock", "orders-db")
	require.Len(t, tm.starts(t), 1, "a disabled rule opens nothing")
	_, err = tm.UpdateRule(ctx, "deadlock", RulePatch{Enabled: ptr(true)}, "alice")
	require.NoError(t, err)
	tm.submit(t, 1, "deadlock", "orders-db")
	require.Equal(t, wfID("deadlock", "orders-db"), tm.starts(t)[1])

	st := tm.Status()
	require.Equal(t, 15, st.Rules)
	require.Equal(t, 15, st.RulesEnabled)
}

// TestUpdateRuleCheckIntervalChangesThatRuleOnly: `rules update ID --check-interval N`
// changes the background re-evaluation period of that rule, not of the others, and the
// detect loop wakes for the next due rule.
func TestUpdateRuleCheckIntervalChangesThatRuleOnly(t *testing.T) {
	ctx := context.Background()
	tm := newTestManager(t, nil)
	require.NoError(t, tm.Settle(ctx))
	require.Equal(t, 30*time.Second, tm.loop.det.TickInterval(), "the shortest rule check interval")

	_, err := tm.UpdateRule(ctx, "deadlock", RulePatch{CheckIntervalSeconds: ptr(10)}, "bob")
	require.NoError(t, err)
	require.Len(t, tm.loop.rules, 1, "the detect loop is handed the changed rules")
	require.NoError(t, tm.Settle(ctx)) // applies them and re-evaluates every rule once
	det := tm.loop.det
	require.Equal(t, 10*time.Second, tm.checkInterval(det), "the loop wakes when deadlock is due")

	counts := func() map[string]uint64 { return det.RuleChecks() }
	before := counts()
	for i := 1; i <= 6; i++ { // one minute in steps of 10 s
		tm.now = tm.now.Add(10 * time.Second)
		det.TickDue(tm.now, nil)
	}
	after := counts()
	require.Equal(t, uint64(6), after["deadlock"]-before["deadlock"], "deadlock every 10 s")
	for _, r := range tm.Rules() {
		if r.ID == "deadlock" || !r.Enabled {
			continue
		}
		want := uint64(60 / r.CheckIntervalSeconds)
		require.Equal(t, want, after[r.ID]-before[r.ID], "%s keeps its own %ds", r.ID, r.CheckIntervalSeconds)
	}
}

func TestRuleChangeErrors(t *testing.T) {
	ctx := context.Background()
	tm := newTestManager(t, nil)
	custom := schemas.Rule{ID: "custom_rule", Name: "Custom Rule", IncidentType: "performance_degradation",
		Severity: schemas.SeverityHigh, Enabled: true, Threshold: 2, WindowSeconds: 300, EventTypes: []string{"custom_slow"}}
	tests := []struct {
		name    string
		do      func() error
		invalid string
	}{
		{"empty patch", func() error {
			_, err := tm.UpdateRule(ctx, "error_burst", RulePatch{}, "a")
			return err
		}, `rule "error_burst": nothing to change: give at least one setting`},
		{"zero threshold", func() error {
			_, err := tm.UpdateRule(ctx, "error_burst", RulePatch{Threshold: ptr(0)}, "a")
			return err
		}, `rules[0]: rule "error_burst": threshold: must be at least 1, got 0`},
		{"bad group_by", func() error {
			_, err := tm.UpdateRule(ctx, "error_burst", RulePatch{GroupBy: ptr("host")}, "a")
			return err
		}, `rules[0]: rule "error_burst": group_by: want source, component or event_type, got "host"`},
		{"duplicate id", func() error {
			r := custom
			r.ID = "deadlock"
			_, err := tm.CreateRule(ctx, r, "a")
			return err
		}, `rules[15]: rule "deadlock": id: duplicate of rules[13]`},
		{"claims itself", func() error {
			r := custom
			r.ID, r.Claims = "greedy", []string{"greedy"}
			_, err := tm.CreateRule(ctx, r, "a")
			return err
		}, `rules[15]: rule "greedy": claims[0]: a rule cannot claim itself`},
		{"no event types", func() error {
			r := custom
			r.EventTypes = nil
			_, err := tm.CreateRule(ctx, r, "a")
			return err
		}, `rules[15]: rule "custom_rule": event_types: list at least one event type`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			var inv *InvalidError
			require.ErrorAs(t, err, &inv)
			require.EqualError(t, err, tt.invalid)
		})
	}
	_, err := tm.UpdateRule(ctx, "nope", RulePatch{Threshold: ptr(2)}, "a")
	require.ErrorIs(t, err, store.ErrNotFound)
	rec, err := tm.Rule(ctx, "error_burst")
	require.NoError(t, err)
	require.Equal(t, 10, rec.Threshold, "refused changes leave the rule as it was")
}

func TestCreateRuleTakesEffectWithoutRestart(t *testing.T) {
	ctx := context.Background()
	tm := newTestManager(t, nil)
	custom := schemas.Rule{ID: "custom_rule", Name: "Custom Rule", IncidentType: "performance_degradation",
		Severity: schemas.SeverityHigh, Enabled: true, Threshold: 2, WindowSeconds: 300, EventTypes: []string{"custom_slow"},
		Actions: []string{}}
	rec, err := tm.CreateRule(ctx, custom, "bob")
	require.NoError(t, err)
	require.Equal(t, "bob", rec.UpdatedBy)
	tm.submit(t, 2, "custom_slow", "checkout")
	require.Equal(t, []string{wfID("custom_rule", "checkout")}, tm.starts(t))

	_, err = tm.CreateRule(ctx, custom, "bob")
	require.EqualError(t, err, `rules[16]: rule "custom_rule": id: duplicate of rules[15]`)

	// The periodic sync finds nothing to change: the detector runs what the store holds.
	before := tm.Rules()
	require.NoError(t, tm.loop.syncRules(ctx))
	require.Equal(t, before, tm.Rules())
}

func TestSyncRulesPicksUpAnotherProcessChange(t *testing.T) {
	ctx := context.Background()
	tm := newTestManager(t, nil)
	other, err := New(Options{Store: tm.st, Client: tm.tc, Now: func() time.Time { return tm.now }, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	require.NoError(t, other.Rebuild(ctx))
	_, err = other.UpdateRule(ctx, "memory_exhaustion", RulePatch{Threshold: ptr(7)}, "carol")
	require.NoError(t, err)

	require.Equal(t, 3, tm.Rules()[indexOfRule(tm.Rules(), "memory_exhaustion")].Threshold)
	require.NoError(t, tm.loop.syncRules(ctx))
	require.Equal(t, 7, tm.Rules()[indexOfRule(tm.Rules(), "memory_exhaustion")].Threshold)
}

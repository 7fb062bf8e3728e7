package detector

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

func TestRequireConsecutive(t *testing.T) {
	s := time.Second
	for _, tc := range []struct {
		name    string
		events  []schemas.Event
		wantIDs []string // nil: nothing opens
	}{
		{"a recovery in between breaks the run", []schemas.Event{
			ev("e1", "error", "api", "", 1*s), ev("e2", "error", "api", "", 2*s),
			ev("r", "recovery", "api", "", 3*s),
			ev("e3", "error", "api", "", 4*s), ev("e4", "error", "api", "", 5*s),
		}, nil},
		{"three after the recovery open", []schemas.Event{
			ev("e1", "error", "api", "", 1*s), ev("e2", "error", "api", "", 2*s),
			ev("r", "service_up", "api", "", 3*s),
			ev("e3", "error", "api", "", 4*s), ev("e4", "error", "api", "", 5*s), ev("e5", "error", "api", "", 6*s),
		}, []string{"e3", "e4", "e5"}},
		{"a recovery of another source does not break", []schemas.Event{
			ev("e1", "error", "api", "", 1*s), ev("e2", "error", "api", "", 2*s),
			ev("r", "ok", "billing", "", 3*s),
			ev("e3", "error", "api", "", 4*s),
		}, []string{"e1", "e2", "e3"}},
		{"a late event from before the recovery is ignored", []schemas.Event{
			ev("e1", "error", "api", "", 1*s), ev("e2", "error", "api", "", 2*s),
			ev("r", "resolved", "api", "", 3*s),
			ev("late", "error", "api", "", 2500*time.Millisecond),
			ev("e3", "error", "api", "", 4*s), ev("e4", "error", "api", "", 5*s),
		}, nil},
		{"a late recovery drops the events before it", []schemas.Event{
			ev("e1", "error", "api", "", 1*s), ev("e2", "error", "api", "", 3*s),
			ev("r", "recovery", "api", "", 2*s),
			ev("e3", "error", "api", "", 4*s), ev("e4", "error", "api", "", 5*s),
		}, []string{"e2", "e3", "e4"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDetector(t, customRule(func(r *schemas.Rule) { r.RequireConsecutive = true }), Options{})
			got := feed(d, tc.events)
			if tc.wantIDs == nil {
				require.Empty(t, got)
				return
			}
			require.Len(t, got, 1)
			require.Equal(t, tc.wantIDs, got[0].Events.EventIDs)
		})
	}

	t.Run("without the option a recovery changes nothing", func(t *testing.T) {
		d := newDetector(t, customRule(nil), Options{})
		got := feed(d, []schemas.Event{ev("e1", "error", "api", "", s), ev("r", "recovery", "api", "", 2*s),
			ev("e2", "error", "api", "", 3*s), ev("e3", "error", "api", "", 4*s)})
		require.Len(t, got, 1)
	})
}

func TestMinComponentsAffected(t *testing.T) {
	d := newDetector(t, customRule(func(r *schemas.Rule) { r.MinComponentsAffected = 2 }), Options{})
	events := series("e", 4, time.Second, "error", "api", "")
	events[3].Component = "api-db"
	require.Empty(t, feed(d, events[:3]), "three events of one component")
	got := feed(d, events[3:])
	require.Len(t, got, 1)
	require.Equal(t, ids(events), got[0].Events.EventIDs)
	require.Equal(t, []string{"api", "api-db"}, got[0].Events.Components)
}

func TestOutOfOrder(t *testing.T) {
	s := time.Second
	t.Run("placed by timestamp", func(t *testing.T) {
		d := newDetector(t, schemas.DefaultRules(), Options{})
		got := feed(d, []schemas.Event{
			ev("e4", "service_down", "auth", "", 4*s), ev("e1", "service_down", "auth", "", 1*s),
			ev("e3", "service_down", "auth", "", 3*s), ev("e0", "service_down", "auth", "", 0),
			ev("e2", "service_down", "auth", "", 2*s),
		})
		require.Len(t, got, 1)
		require.Equal(t, []string{"e0", "e1", "e2", "e3", "e4"}, got[0].Events.EventIDs)
		require.Equal(t, t0, got[0].Events.FirstAt)
		require.Equal(t, t0.Add(4*s), got[0].Events.LastAt)
	})
	t.Run("too late for the window is ignored, within it counts", func(t *testing.T) {
		d := newDetector(t, schemas.DefaultRules(), Options{})
		events := series("e", 4, s, "service_down", "auth", "")
		for i := range events {
			events[i].Timestamp = events[i].Timestamp.Add(100 * s)
		}
		require.Empty(t, feed(d, events))
		require.Empty(t, feed(d, []schemas.Event{ev("old", "service_down", "auth", "", 43*s)}), "at newest-60s")
		got := feed(d, []schemas.Event{ev("late", "service_down", "auth", "", 50*s)})
		require.Len(t, got, 1)
		require.Equal(t, "late", got[0].Events.EventIDs[0])
	})
	t.Run("older than the retention is ignored", func(t *testing.T) {
		d := newDetector(t, schemas.DefaultRules(), Options{Retention: 10 * time.Minute})
		require.Empty(t, d.Tick(t0.Add(15*time.Minute), nil))
		require.Empty(t, feed(d, []schemas.Event{ev("x", "ssl_error", "api", "", 5*time.Minute)}))
		require.Equal(t, uint64(1), d.Stats().IgnoredTooOld)
		require.Len(t, feed(d, []schemas.Event{ev("y", "ssl_error", "api", "", 6*time.Minute)}), 1)
	})
}

func TestMaxEvents(t *testing.T) {
	t.Run("one window never holds more than MaxEvents", func(t *testing.T) {
		d := newDetector(t, schemas.DefaultRules(), Options{MaxEvents: 4})
		require.Empty(t, feed(d, series("e", 20, time.Second, "error", "api", "boom")))
		st := d.Stats()
		require.Equal(t, 4, st.HeldEvents)
		require.Equal(t, uint64(16), st.DroppedMaxEvents)
	})
	t.Run("the bound is across windows and drops the oldest", func(t *testing.T) {
		d := newDetector(t, schemas.DefaultRules(), Options{MaxEvents: 5})
		events := series("a", 6, time.Second, "service_down", "a", "")
		require.Empty(t, feed(d, events[:4]))
		require.Empty(t, feed(d, []schemas.Event{ev("b", "service_down", "b", "", 4*time.Second)}))
		// Without the bound a's fifth event would open; a0 was dropped to make room.
		require.Empty(t, feed(d, events[4:5]))
		require.Equal(t, 5, d.Stats().HeldEvents)
		got := feed(d, events[5:6]) // drops a1: a2..a5 are four, still nothing
		require.Empty(t, got)
		require.Equal(t, uint64(2), d.Stats().DroppedMaxEvents)
	})
}

func TestTick(t *testing.T) {
	t.Run("expires entries and idle windows", func(t *testing.T) {
		d := newDetector(t, schemas.DefaultRules(), Options{})
		require.Empty(t, feed(d, series("e", 4, time.Second, "service_down", "auth", "")))
		require.Equal(t, 4, d.Stats().HeldEvents)
		require.Empty(t, d.Tick(t0.Add(61*time.Second), nil))
		st := d.Stats()
		require.Equal(t, 2, st.HeldEvents, "events at 0s and 1s are outside (1s, 61s]")
		require.Equal(t, 1, st.Windows)
		require.Empty(t, d.Tick(t0.Add(2*time.Hour), nil))
		require.Zero(t, d.Stats().Windows)
	})
	t.Run("an open fingerprint survives its window's removal", func(t *testing.T) {
		d := newDetector(t, schemas.DefaultRules(), Options{})
		require.Len(t, feed(d, []schemas.Event{ev("x", "deadlock", "db", "", 0)}), 1)
		d.Tick(t0.Add(2*time.Hour), nil)
		require.Zero(t, d.Stats().Windows)
		got := feed(d, []schemas.Event{ev("y", "deadlock", "db", "", 2*time.Hour)})
		require.Len(t, got, 1)
		require.Equal(t, ActionAttach, got[0].Kind)
	})
}

func TestSetRules(t *testing.T) {
	events := series("e", 5, time.Second, "service_down", "auth", "")
	t.Run("keeps the windows of unchanged rules", func(t *testing.T) {
		d := newDetector(t, schemas.DefaultRules(), Options{})
		require.Empty(t, feed(d, events[:4]))
		rules := schemas.DefaultRules()
		ruleByID(t, rules, "error_burst").Threshold = 15
		require.NoError(t, d.SetRules(rules))
		require.Len(t, feed(d, events[4:]), 1)
	})
	t.Run("a lowered threshold fires on the next Tick", func(t *testing.T) {
		d := newDetector(t, schemas.DefaultRules(), Options{})
		require.Empty(t, feed(d, events[:3]))
		rules := schemas.DefaultRules()
		ruleByID(t, rules, "service_down").Threshold = 3
		require.NoError(t, d.SetRules(rules))
		got := d.Tick(t0.Add(3*time.Second), nil)
		require.Len(t, got, 1)
		require.Equal(t, ids(events[:3]), got[0].Events.EventIDs)
		require.Equal(t, 3, got[0].Rule.Threshold)
	})
	t.Run("a changed selection or a disabled rule drops the windows", func(t *testing.T) {
		d := newDetector(t, schemas.DefaultRules(), Options{})
		require.Empty(t, feed(d, events[:4]))
		rules := schemas.DefaultRules()
		ruleByID(t, rules, "service_down").EventTypes = []string{"service_down", "down"}
		require.NoError(t, d.SetRules(rules))
		require.Zero(t, d.Stats().HeldEvents)
		ruleByID(t, rules, "service_down").Enabled = false
		require.NoError(t, d.SetRules(rules))
		require.Empty(t, feed(d, events))
		require.Len(t, d.Rules(), 15, "disabled rules are still listed")
	})
	t.Run("invalid rules change nothing", func(t *testing.T) {
		d := newDetector(t, schemas.DefaultRules(), Options{})
		rules := schemas.DefaultRules()
		ruleByID(t, rules, "deadlock").Threshold = 0
		require.EqualError(t, d.SetRules(rules), `detector: rules[13]: rule "deadlock": threshold: must be at least 1, got 0`)
		require.Equal(t, schemas.DefaultRules(), d.Rules())
	})
	t.Run("Action.Rule keeps the settings it fired with", func(t *testing.T) {
		d := newDetector(t, schemas.DefaultRules(), Options{})
		got := feed(d, events)
		require.Len(t, got, 1)
		rules := schemas.DefaultRules()
		ruleByID(t, rules, "service_down").Threshold = 50
		require.NoError(t, d.SetRules(rules))
		require.Equal(t, 5, got[0].Rule.Threshold)
	})
}

func TestRulesReturnsCopies(t *testing.T) {
	d := newDetector(t, schemas.DefaultRules(), Options{})
	rules := d.Rules()
	rules[0].EventTypes[0] = "changed"
	rules[0].Threshold = 1
	require.Equal(t, schemas.DefaultRules(), d.Rules())
}

func TestGroupBy(t *testing.T) {
	for _, tc := range []struct {
		groupBy string
		wantKey string
	}{{schemas.GroupByComponent, "disk"}, {schemas.GroupByEventType, "error"}, {"", "h1"}} {
		t.Run(tc.groupBy, func(t *testing.T) {
			d := newDetector(t, customRule(func(r *schemas.Rule) { r.GroupBy = tc.groupBy }), Options{})
			events := series("e", 3, time.Second, "error", "h1", "")
			for i := range events {
				events[i].Component = "disk"
			}
			if tc.groupBy != "" {
				events[1].Source = "h2" // same component and type, other source
			}
			got := feed(d, events)
			require.Len(t, got, 1)
			require.Equal(t, tc.wantKey, got[0].GroupKey)
		})
	}
}

func TestNewValidates(t *testing.T) {
	for _, tc := range []struct {
		name  string
		rules []schemas.Rule
		opts  Options
		want  string
	}{
		{"negative max events", nil, Options{MaxEvents: -1}, "detector: max_events: must not be negative, got -1"},
		{"negative retention", nil, Options{Retention: -time.Second}, "detector: event_retention: must not be negative, got -1s"},
		{"bad rule", customRule(func(r *schemas.Rule) { r.GroupBy = "host" }), Options{},
			`detector: rules[0]: rule "custom": group_by: want source, component or event_type, got "host"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := New(tc.rules, tc.opts)
			require.EqualError(t, err, tc.want)
		})
	}
}

func TestIgnoresEventsWithoutTimestamp(t *testing.T) {
	d := newDetector(t, schemas.DefaultRules(), Options{})
	e := ev("x", "deadlock", "db", "", 0)
	e.Timestamp = time.Time{}
	require.Empty(t, d.Observe(&e, nil))
	require.Empty(t, d.Observe(nil, nil))
	require.Equal(t, "open", ActionOpen.String())
	require.Equal(t, "attach", ActionAttach.String())
}

func TestObserveDoesNotAllocateWhenNothingFires(t *testing.T) {
	rules := append(schemas.DefaultRules(), customRule(func(r *schemas.Rule) {
		r.Threshold, r.WindowSeconds, r.RequireConsecutive, r.MinComponentsAffected = 1000, 3600, true, 2
	})...)
	for _, tc := range []struct {
		name string
		typ  string
		msg  string
		back bool // every other event of a source goes back before the previous one
	}{
		{"in order", "error", "boom", false},
		{"out of order", "error", "boom", true},
		{"keyword matched and claimed", "error", "Redis connection refused", true},
		{"recovery", "recovery", "", false},
		{"unmatched type", "heartbeat", "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := newDetector(t, rules, Options{MaxEvents: 8})
			e := ev("x", tc.typ, "api", tc.msg, 0)
			i, fired := 0, 0
			var out []Action
			step := func() {
				i++
				at := time.Duration(i) * time.Millisecond
				if tc.back && i%4 == 0 {
					at -= 3 * time.Millisecond
				}
				e.Timestamp = t0.Add(at)
				e.Source = [...]string{"api", "web"}[i%2]
				out = d.Observe(&e, out[:0])
				fired += len(out)
			}
			for range 100 { // create the windows and reach the steady state
				step()
			}
			require.Zero(t, testing.AllocsPerRun(1000, step))
			require.Zero(t, fired)
		})
	}
}

func TestTickInterval(t *testing.T) {
	d := newDetector(t, schemas.DefaultRules(), Options{})
	require.Equal(t, 30*time.Second, d.TickInterval())
	d = newDetector(t, customRule(nil), Options{})
	require.Equal(t, DefaultTickInterval, d.TickInterval())
	d = newDetector(t, customRule(nil), Options{CheckInterval: 5 * time.Second})
	require.Equal(t, 5*time.Second, d.TickInterval(), "a rule without check_interval_seconds takes Options.CheckInterval")
}

// TestTickDueReEvaluatesEachRuleAtItsOwnPeriod: TickDue re-evaluates only the rules whose
// check_interval_seconds has passed; a rule's window expires on its own schedule.
func TestTickDueReEvaluatesEachRuleAtItsOwnPeriod(t *testing.T) {
	rules := customRule(func(r *schemas.Rule) { r.CheckIntervalSeconds = 10 })
	slow := rules[0].Clone()
	slow.ID, slow.CheckIntervalSeconds = "slow_rule", 30
	rules = append(rules, slow)
	d := newDetector(t, rules, Options{})
	now := time.Unix(1_000_000, 0)
	d.Tick(now, nil) // both checked, both due again later
	require.Equal(t, map[string]uint64{rules[0].ID: 1, "slow_rule": 1}, d.RuleChecks())
	require.Equal(t, 10*time.Second, d.NextCheck(now))
	for i := 1; i <= 3; i++ {
		d.TickDue(now.Add(time.Duration(i)*10*time.Second), nil)
	}
	require.Equal(t, map[string]uint64{rules[0].ID: 4, "slow_rule": 2}, d.RuleChecks())

	// A changed period applies from the change; an unchanged one keeps its schedule.
	slow.CheckIntervalSeconds = 5
	require.NoError(t, d.SetRules([]schemas.Rule{rules[0], slow}))
	require.Equal(t, time.Duration(0), d.NextCheck(now.Add(30*time.Second)), "slow_rule is due at once with its new period")
	d.TickDue(now.Add(31*time.Second), nil)
	require.Equal(t, map[string]uint64{rules[0].ID: 4, "slow_rule": 3}, d.RuleChecks())
	require.Equal(t, 5*time.Second, d.NextCheck(now.Add(31*time.Second)))
}

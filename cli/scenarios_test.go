package cli

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/detector"
	"github.com/mahavishnu/mahavishnu/schemas"
)

var simNow = time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)

// Each scenario's events, as `simulate` posts them, open exactly their rule's incident at
// the rule's severity in the real detector with all default rules, from the scenario's
// source or any other; one event fewer opens nothing.
func TestScenariosOpenTheirRule(t *testing.T) {
	rules := schemas.DefaultRules()
	require.Len(t, scenarios, len(rules))
	for i, r := range rules {
		sc := scenarios[i]
		require.Equal(t, r.ID, sc.rule, "scenarios follow the rules' order")
		for _, source := range []string{"", "custom-source"} {
			t.Run(r.ID+"/"+source, func(t *testing.T) {
				d, err := detector.New(rules, detector.Options{})
				require.NoError(t, err)
				events := sc.events(r.Threshold, source, r.Severity, simNow)
				var acts []detector.Action
				for i := range events {
					events[i].EventID = fmt.Sprintf("e%d", i)
					acts = d.Observe(&events[i], acts)
				}
				require.Len(t, acts, 1, "%+v", acts)
				require.Equal(t, detector.ActionOpen, acts[0].Kind)
				require.Equal(t, r.ID, acts[0].Rule.ID)
				require.Equal(t, r.Severity, acts[0].Severity)
				require.Len(t, acts[0].Events.EventIDs, r.Threshold)

				d, err = detector.New(rules, detector.Options{})
				require.NoError(t, err)
				for i := range events[:r.Threshold-1] {
					require.Empty(t, d.Observe(&events[i], nil), "below the threshold")
				}
			})
		}
	}
}

// `simulate --type all` posts every scenario at once: each still opens its own rule.
func TestAllScenariosTogether(t *testing.T) {
	rules := schemas.DefaultRules()
	d, err := detector.New(rules, detector.Options{})
	require.NoError(t, err)
	var opened []string
	for si, sc := range scenarios {
		events := sc.events(rules[si].Threshold, "", rules[si].Severity, simNow)
		for i := range events {
			events[i].EventID = fmt.Sprintf("s%d-%d", si, i)
			for _, a := range d.Observe(&events[i], nil) {
				require.Equal(t, detector.ActionOpen, a.Kind)
				opened = append(opened, a.Rule.ID)
			}
		}
	}
	var want []string
	for _, r := range rules {
		want = append(want, r.ID)
	}
	require.Equal(t, want, opened)
}

func TestGenericScenario(t *testing.T) {
	r := schemas.Rule{ID: "custom", EventTypes: []string{"a", "b"}}
	events := genericScenario(r).events(3, "", schemas.SeverityLow, simNow)
	require.Equal(t, []string{"a", "b", "a"}, []string{events[0].EventType, events[1].EventType, events[2].EventType})
	require.Equal(t, "simulator", events[0].Source)
	require.Equal(t, simNow, events[2].Timestamp)
	require.Equal(t, simNow.Add(-2*time.Second), events[0].Timestamp)
}

package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

func TestSeedRulesKeepsStoredSettings(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		defaults := schemas.DefaultRules()
		added, err := s.SeedRules(ctx, defaults, base)
		require.NoError(t, err)
		require.Len(t, added, 15)

		got, err := s.Rules(ctx)
		require.NoError(t, err)
		require.Equal(t, withoutEmptyActions(defaults), got, "rules round-trip in their configured order")

		// A stored rule keeps its settings when the configuration seeds again.
		changed := defaults[0].Clone()
		changed.Threshold = 15
		changed.RequireConsecutive = true
		require.NoError(t, s.UpdateRule(ctx, changed, "alice", base.Add(time.Hour)))
		added, err = s.SeedRules(ctx, schemas.DefaultRules(), base.Add(2*time.Hour))
		require.NoError(t, err)
		require.Empty(t, added)
		rec, err := s.GetRule(ctx, "error_burst")
		require.NoError(t, err)
		require.Equal(t, 15, rec.Threshold)
		require.True(t, rec.RequireConsecutive)
		require.Equal(t, "alice", rec.UpdatedBy)
		require.Equal(t, stored(base), rec.CreatedAt)
		require.Equal(t, stored(base.Add(time.Hour)), rec.UpdatedAt)

		// A rule new in the configuration is added.
		extra := schemas.Rule{ID: "custom", Name: "Custom", IncidentType: "custom", Severity: schemas.SeverityLow,
			Enabled: true, Threshold: 2, WindowSeconds: 60, EventTypes: []string{"custom_event"}}
		added, err = s.SeedRules(ctx, append(schemas.DefaultRules(), extra), base)
		require.NoError(t, err)
		require.Equal(t, []string{"custom"}, added)
	})
}

func TestInsertAndUpdateRule(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, err := s.SeedRules(ctx, schemas.DefaultRules()[:2], base)
		require.NoError(t, err)
		r := schemas.Rule{ID: "custom_rule", Name: "Custom Rule", IncidentType: "performance_degradation",
			Severity: schemas.SeverityHigh, Enabled: true, Threshold: 10, WindowSeconds: 300, EventTypes: []string{"slow_request"}}
		require.NoError(t, s.InsertRule(ctx, r, "bob", base))
		require.ErrorIs(t, s.InsertRule(ctx, r, "bob", base), ErrExists)

		rules, err := s.Rules(ctx)
		require.NoError(t, err)
		require.Equal(t, []string{"error_burst", "service_down", "custom_rule"}, ruleIDs(rules), "a created rule comes last")

		r.Enabled = false
		require.NoError(t, s.UpdateRule(ctx, r, "bob", base))
		rec, err := s.GetRule(ctx, "custom_rule")
		require.NoError(t, err)
		require.False(t, rec.Enabled)

		missing := r
		missing.ID = "nope"
		require.ErrorIs(t, s.UpdateRule(ctx, missing, "bob", base), ErrNotFound)
		_, err = s.GetRule(ctx, "nope")
		require.ErrorIs(t, err, ErrNotFound)

		invalid := r
		invalid.Threshold = 0
		require.ErrorContains(t, s.UpdateRule(ctx, invalid, "bob", base), `rule "custom_rule": threshold: must be at least 1, got 0`)
		require.ErrorContains(t, s.InsertRule(ctx, schemas.Rule{ID: "Bad ID"}, "bob", base), "id: want 1-64 lower-case letters")
	})
}

func TestInsertRuleIntoEmptyTable(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		r := schemas.DefaultRules()[5]
		require.NoError(t, s.InsertRule(ctx, r, "bob", base))
		rules, err := s.Rules(ctx)
		require.NoError(t, err)
		require.Equal(t, withoutEmptyActions([]schemas.Rule{r}), rules)
	})
}

func ruleIDs(rules []schemas.Rule) []string {
	ids := make([]string, len(rules))
	for i, r := range rules {
		ids[i] = r.ID
	}
	return ids
}

// withoutEmptyActions sets empty action lists to nil, as JSON (omitempty) stores them.
func withoutEmptyActions(rules []schemas.Rule) []schemas.Rule {
	for i := range rules {
		if len(rules[i].Actions) == 0 {
			rules[i].Actions = nil
		}
	}
	return rules
}

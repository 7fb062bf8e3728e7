package schemas

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDefaultRulesMatchTheIssueTable(t *testing.T) {
	want := []struct {
		id        string
		sev       Severity
		threshold int
		window    int
		check     int
		types     []string
		actions   []string
	}{
		{"error_burst", SeverityHigh, 10, 300, 60, []string{"error", "api_error"}, []string{"clear_cache", "scale_up", "restart_service"}},
		{"service_down", SeverityCritical, 5, 60, 30, []string{"service_down", "service_unavailable"}, []string{"restart_service", "rollback"}},
		{"memory_exhaustion", SeverityCritical, 3, 120, 30, []string{"memory_high"}, []string{"scale_up", "kill_zombie_processes"}},
		{"database_failure", SeverityCritical, 5, 60, 30, []string{"database_error"}, []string{"scale_up"}},
		{"cache_failure", SeverityHigh, 5, 300, 60, []string{"cache_error"}, []string{"clear_cache"}},
		{"performance_degradation", SeverityMedium, 10, 300, 60, []string{"slow_request"}, []string{"scale_up", "clear_cache"}},
		{"disk_space_low", SeverityHigh, 3, 300, 60, []string{"disk_low", "disk_space_low"}, []string{}},
		{"workflow_failure_spike", SeverityHigh, 8, 300, 60, []string{"workflow_failed"}, []string{"clear_cache", "restart_service"}},
		{"quality_drop", SeverityMedium, 5, 600, 120, []string{"quality_failed", "quality_check_failed"}, []string{}},
		{"network_partition", SeverityCritical, 5, 60, 30, []string{"network_error"}, []string{}},
		{"resource_leak", SeverityMedium, 3, 300, 60, []string{"resource_leak"}, []string{"kill_zombie_processes"}},
		{"rate_limit", SeverityMedium, 10, 300, 60, []string{"rate_limit"}, []string{}},
		{"ssl_expiry", SeverityCritical, 1, 60, 30, []string{"ssl_error"}, []string{}},
		{"deadlock", SeverityHigh, 1, 60, 30, []string{"deadlock"}, []string{}},
		{"security_breach", SeverityCritical, 1, 60, 30, []string{"security_breach"}, []string{}},
	}
	rules := DefaultRules()
	require.NoError(t, ValidateRules(rules))
	require.Len(t, rules, len(want))
	for i, w := range want {
		r := rules[i]
		require.Equal(t, w.id, r.ID)
		require.Equal(t, w.id, r.IncidentType)
		require.Equal(t, w.sev, r.Severity, w.id)
		require.Equal(t, w.threshold, r.Threshold, w.id)
		require.Equal(t, w.window, r.WindowSeconds, w.id)
		require.Equal(t, w.check, r.CheckIntervalSeconds, w.id)
		require.Equal(t, w.types, r.EventTypes, w.id)
		require.Equal(t, w.actions, r.Actions, w.id)
		require.True(t, r.Enabled, w.id)
		require.Equal(t, GroupBySource, r.GroupBy, w.id)
		require.NotEmpty(t, r.Name, w.id)
		require.NotEmpty(t, r.Description, w.id)
		require.Contains(t, r.Runbook, "mahavishnu ", w.id)
	}
	// Fresh slices on every call.
	rules[0].EventTypes[0] = "changed"
	require.Equal(t, "error", DefaultRules()[0].EventTypes[0])
}

func TestRuleValidate(t *testing.T) {
	base := func() Rule {
		return Rule{ID: "r1", IncidentType: "t", Severity: SeverityHigh, Threshold: 1, WindowSeconds: 60, EventTypes: []string{"error"}}
	}
	for _, tc := range []struct {
		name string
		mod  func(r *Rule)
		want string
	}{
		{"bad id", func(r *Rule) { r.ID = "Bad ID" }, `rule "Bad ID": id: want 1-64 lower-case letters, digits, '_', '-' or '.'`},
		{"no type", func(r *Rule) { r.IncidentType = "" }, `rule "r1": type: is required`},
		{"bad severity", func(r *Rule) { r.Severity = "urgent" }, `rule "r1": severity: want one of low, medium, high, critical`},
		{"threshold", func(r *Rule) { r.Threshold = 0 }, `rule "r1": threshold: must be at least 1, got 0`},
		{"window", func(r *Rule) { r.WindowSeconds = 0 }, `rule "r1": time_window_seconds: must be at least 1, got 0`},
		{"check interval", func(r *Rule) { r.CheckIntervalSeconds = -1 }, `rule "r1": check_interval_seconds: must not be negative, got -1`},
		{"no event types", func(r *Rule) { r.EventTypes = nil }, `rule "r1": event_types: list at least one event type`},
		{"empty event type", func(r *Rule) { r.EventTypes = []string{"error", " "} }, `rule "r1": event_types[1]: " ": must be non-empty without surrounding spaces`},
		{"group by", func(r *Rule) { r.GroupBy = "host" }, `rule "r1": group_by: want source, component or event_type, got "host"`},
		{"min components", func(r *Rule) { r.MinComponentsAffected = -1 }, `rule "r1": min_components_affected: must not be negative, got -1`},
		{"min components by component", func(r *Rule) { r.MinComponentsAffected, r.GroupBy = 2, GroupByComponent },
			`rule "r1": min_components_affected: a rule grouped by component sees one component per group; group by source or event_type`},
		{"matcher without types", func(r *Rule) { r.Matchers = []Matcher{{MessageContains: []string{"x"}}} },
			`rule "r1": matchers[0].event_types: list at least one event type`},
		{"matcher without predicate", func(r *Rule) { r.Matchers = []Matcher{{EventTypes: []string{"error"}}} },
			`rule "r1": matchers[0].message_contains: set message_contains or source_contains (or move the types to the rule's event_types)`},
		{"matcher empty keyword", func(r *Rule) {
			r.Matchers = []Matcher{{EventTypes: []string{"error"}, MessageContains: []string{"a"}}, {EventTypes: []string{"e"}, SourceContains: []string{"db", "^$"}}}
		}, `rule "r1": matchers[1].source_contains[1]: keyword must not be empty`},
		{"claim not an id", func(r *Rule) { r.Claims = []string{"Error Burst"} }, `rule "r1": claims[0]: "Error Burst" is not a rule id`},
		{"claims itself", func(r *Rule) { r.Claims = []string{"x", "r1"} }, `rule "r1": claims[1]: a rule cannot claim itself`},
		{"empty action", func(r *Rule) { r.Actions = []string{""} }, `rule "r1": actions[0]: must not be empty`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := base()
			require.NoError(t, r.Validate())
			tc.mod(&r)
			require.EqualError(t, r.Validate(), tc.want)
		})
	}
}

func TestValidateRules(t *testing.T) {
	rule := func(id string, claims ...string) Rule {
		return Rule{ID: id, IncidentType: id, Severity: SeverityLow, Threshold: 1, WindowSeconds: 1,
			EventTypes: []string{"e"}, Claims: claims}
	}
	for _, tc := range []struct {
		name  string
		rules []Rule
		want  string
	}{
		{"ok, claims of unknown rules are inert", []Rule{rule("a", "b", "zzz"), rule("b")}, ""},
		{"invalid rule names its index", []Rule{rule("a"), rule("")}, `rules[1]: rule "": id: want 1-64 lower-case letters, digits, '_', '-' or '.'`},
		{"duplicate", []Rule{rule("a"), rule("b"), rule("a")}, `rules[2]: rule "a": id: duplicate of rules[0]`},
		{"claim cycle", []Rule{rule("a", "b"), rule("b", "c"), rule("c", "a")}, `rule "a": claims: cycle a -> b -> c -> a`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateRules(tc.rules)
			if tc.want == "" {
				require.NoError(t, err)
				return
			}
			require.EqualError(t, err, tc.want)
		})
	}
}

func TestRuleCloneIsDeep(t *testing.T) {
	r := DefaultRules()[4] // cache_failure: matchers, claims, actions
	c := r.Clone()
	require.Equal(t, r, c)
	c.Matchers[0].MessageContains[0] = "changed"
	c.Claims[0] = "changed"
	c.Actions[0] = "changed"
	c.EventTypes[0] = "changed"
	require.Equal(t, DefaultRules()[4], r)
}

func TestIsRecoveryEvent(t *testing.T) {
	for _, typ := range RecoveryEventTypes {
		require.True(t, IsRecoveryEvent(typ), typ)
	}
	for _, typ := range []string{"error", "OK", "recovered", ""} {
		require.False(t, IsRecoveryEvent(typ), typ)
	}
}

func TestGroupKey(t *testing.T) {
	ev := &Event{Source: "s", Component: "c", EventType: "t"}
	for groupBy, want := range map[string]string{"": "s", GroupBySource: "s", GroupByComponent: "c", GroupByEventType: "t"} {
		r := Rule{GroupBy: groupBy}
		require.Equal(t, want, r.GroupKey(ev), groupBy)
	}
	require.True(t, strings.HasPrefix(Fingerprint("r", "k"), "r/"))
}

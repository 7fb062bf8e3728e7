package config

import (
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

const shippedRules = "../settings/rules.yaml"

var update = flag.Bool("update", false, "rewrite settings/rules.yaml from schemas.DefaultRules")

// The shipped rules file holds exactly the built-in rules. Regenerate it after changing
// schemas.DefaultRules with: go test ./config/ -run TestShippedRulesFile -update
func TestShippedRulesFile(t *testing.T) {
	want, err := MarshalRules(schemas.DefaultRules())
	require.NoError(t, err)
	if *update {
		require.NoError(t, os.WriteFile(shippedRules, want, 0o644))
	}
	got, err := os.ReadFile(shippedRules)
	require.NoError(t, err)
	require.Equal(t, string(want), string(got), "settings/rules.yaml is stale: run go test ./config/ -run TestShippedRulesFile -update")

	rules, err := LoadRulesFile(shippedRules)
	require.NoError(t, err)
	require.Equal(t, emptyActionsAsNil(schemas.DefaultRules()), emptyActionsAsNil(rules))
}

func emptyActionsAsNil(rules []schemas.Rule) []schemas.Rule {
	for i := range rules {
		nilEmptyLists(&rules[i])
	}
	return rules
}

func TestConfigRules(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	custom := filepath.Join(dir, "custom.yaml")
	require.NoError(t, os.WriteFile(custom, []byte("rules:\n  - id: slow\n    severity: low\n    threshold: 3\n    time_window_seconds: 60\n    event_types: [slow_request]\n"), 0o600))

	c := Default()
	rules, err := c.Rules()
	require.NoError(t, err, "the default file is absent here: built-in rules")
	require.Equal(t, schemas.DefaultRules(), rules)

	c.RulesFile = ""
	rules, err = c.Rules()
	require.NoError(t, err)
	require.Len(t, rules, 15)

	c.RulesFile = custom
	rules, err = c.Rules()
	require.NoError(t, err)
	require.Equal(t, []schemas.Rule{{ID: "slow", IncidentType: "slow", Severity: schemas.SeverityLow, Enabled: true,
		Threshold: 3, WindowSeconds: 60, CheckIntervalSeconds: 60, EventTypes: []string{"slow_request"},
		GroupBy: schemas.GroupBySource}}, rules, "defaults fill the keys left out")

	c.RulesFile = filepath.Join(dir, "missing.yaml")
	_, err = c.Rules()
	require.ErrorContains(t, err, "rules_file: open "+c.RulesFile+": no such file or directory", "an explicit file must exist")
}

func TestRulesFileErrors(t *testing.T) {
	tests := []struct {
		name, yaml, want string
	}{
		{"empty", "", `empty file: want a list of rules under "rules:"`},
		{"not a mapping", "- id: x\n", `line 1: want a mapping with the key "rules"`},
		{"other top key", "rule: []\n", `line 1: unknown key "rule" (a rules file holds only "rules")`},
		{"rules not a list", "rules: 3\n", `line 1: rules: want a list of rules`},
		{"unknown key", "rules:\n  - id: a\n    treshold: 3\n", `line 3: rules[0]: unknown key "treshold"`},
		{"unknown matcher key", "rules:\n  - id: a\n    matchers:\n      - event_types: [error]\n        msg: [x]\n",
			`line 5: rules[0].matchers[0]: unknown key "msg"`},
		{"bad severity", "rules:\n  - id: a\n    severity: urgent\n", `invalid severity "urgent"`},
		{"bad type", "rules:\n  - id: a\n    threshold: lots\n", "line 2: rules[0]: yaml: unmarshal errors"},
		{"invalid rule", "rules:\n  - id: a\n    severity: low\n    threshold: 0\n",
			`line 2: rules[0]: rule "a": threshold: must be at least 1, got 0`},
		{"duplicate", "rules:\n" +
			"  - {id: a, severity: low, threshold: 1, time_window_seconds: 60, event_types: [x]}\n" +
			"  - {id: a, severity: low, threshold: 1, time_window_seconds: 60, event_types: [y]}\n",
			`rules[1]: rule "a": id: duplicate of rules[0]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := decodeRules([]byte(tt.yaml))
			require.ErrorContains(t, err, tt.want)
		})
	}
}

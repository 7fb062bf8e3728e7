package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// fakeAPI stands in for the manager's HTTP API: it records each request and answers
// with the canned body of its "METHOD path".
type fakeAPI struct {
	mu       sync.Mutex
	requests []string // "METHOD path body"
	answers  map[string]any
}

func (f *fakeAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	key := r.Method + " " + r.URL.Path
	f.mu.Lock()
	f.requests = append(f.requests, strings.TrimSpace(key+" "+string(body)))
	answer, ok := f.answers[key]
	f.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte(`{"error":"not found"}`))
		return
	}
	_ = json.NewEncoder(w).Encode(answer)
}

// runCLI runs a command against a fake API and an empty data dir; it returns stdout.
func runCLI(t *testing.T, f *fakeAPI, args ...string) (string, error) {
	t.Helper()
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "mahavishnu.yaml")
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, "data_dir: %q\napi:\n  listen: %q\n", dir, strings.TrimPrefix(srv.URL, "http://")), 0o600))
	prev := cli.OsExiter
	cli.OsExiter = func(int) {}
	t.Cleanup(func() { cli.OsExiter = prev })
	var out, errOut bytes.Buffer
	app := NewApp(Options{Stdout: &out, Stderr: &errOut})
	err := Run(context.Background(), app, append([]string{"mahavishnu", "--config", cfg}, args...))
	return out.String(), err
}

func errorBurst() store.RuleRecord {
	return store.RuleRecord{Rule: schemas.DefaultRules()[0]}
}

func TestRulesUpdateSendsOnlyTheGivenSettings(t *testing.T) {
	after := errorBurst()
	after.Threshold, after.RequireConsecutive = 15, true
	f := &fakeAPI{answers: map[string]any{"GET /api/v1/rules/error_burst": errorBurst(), "PATCH /api/v1/rules/error_burst": after}}
	out, err := runCLI(t, f, "incidents", "rules", "update", "error_burst", "--threshold", "15", "--require-consecutive", "--by", "alice")
	require.NoError(t, err)
	require.Equal(t, "Rule error_burst updated: threshold 10 -> 15, require_consecutive false -> true.\n", out)
	require.Equal(t, []string{"GET /api/v1/rules/error_burst",
		`PATCH /api/v1/rules/error_burst {"threshold":15,"require_consecutive":true,"by":"alice"}`}, f.requests)

	f.requests = nil
	_, err = runCLI(t, f, "incidents", "rules", "update", "error_burst", "--require-consecutive=false", "--time-window", "600",
		"--check-interval", "30", "--by", "bob")
	require.NoError(t, err)
	require.Equal(t, `PATCH /api/v1/rules/error_burst {"time_window_seconds":600,"check_interval_seconds":30,"require_consecutive":false,"by":"bob"}`, f.requests[1])

	_, err = runCLI(t, f, "incidents", "rules", "update", "error_burst")
	require.ErrorContains(t, err, "nothing to change")
	_, err = runCLI(t, f, "incidents", "rules", "update", "error_burst", "--severity", "urgent")
	require.ErrorContains(t, err, `--severity: invalid severity "urgent"`)
}

func TestRulesCreateFillsFromTheBuiltInType(t *testing.T) {
	f := &fakeAPI{answers: map[string]any{"POST /api/v1/rules": errorBurst()}}
	_, err := runCLI(t, f, "incidents", "rules", "create", "--id", "custom_rule", "--name", "Custom Rule",
		"--type", "performance_degradation", "--severity", "high", "--threshold", "10", "--by", "alice")
	require.NoError(t, err)
	require.Len(t, f.requests, 1)
	var req struct {
		Rule schemas.Rule `json:"rule"`
		By   string       `json:"by"`
	}
	require.NoError(t, json.Unmarshal([]byte(strings.TrimPrefix(f.requests[0], "POST /api/v1/rules ")), &req))
	require.Equal(t, "alice", req.By)
	perf := schemas.DefaultRules()[5]
	require.Equal(t, schemas.Rule{ID: "custom_rule", Name: "Custom Rule", IncidentType: "performance_degradation",
		Severity: schemas.SeverityHigh, Enabled: true, Threshold: 10, WindowSeconds: 300, CheckIntervalSeconds: 60,
		EventTypes: []string{"slow_request"}, GroupBy: "source", Description: perf.Description, Runbook: perf.Runbook,
		Actions: perf.Actions}, req.Rule)

	f.requests = nil
	_, err = runCLI(t, f, "incidents", "rules", "create", "--id", "queue_backlog", "--type", "queue_backlog", "--severity", "low",
		"--threshold", "3", "--time-window", "120", "--match", "queue_full", "--match", "queue_stalled")
	require.NoError(t, err)
	require.Contains(t, f.requests[0], `"event_types":["queue_full","queue_stalled"]`)
	require.Contains(t, f.requests[0], `"time_window_seconds":120`)

	_, err = runCLI(t, f, "incidents", "rules", "create", "--id", "x", "--type", "custom", "--severity", "low", "--threshold", "1")
	require.ErrorContains(t, err, `--match: name the event types the rule counts (no built-in rule has type "custom")`)
	_, err = runCLI(t, f, "incidents", "rules", "create", "--id", "Bad", "--type", "deadlock", "--severity", "low", "--threshold", "1")
	require.ErrorContains(t, err, `rule "Bad": id: want 1-64 lower-case letters`)
}

func TestRulesEnableDisableAndAPIErrors(t *testing.T) {
	rec := errorBurst()
	rec.Enabled = false
	f := &fakeAPI{answers: map[string]any{"POST /api/v1/rules/error_burst/disable": rec}}
	out, err := runCLI(t, f, "incidents", "rules", "disable", "error_burst", "--by", "alice")
	require.NoError(t, err)
	require.Equal(t, "Rule error_burst disabled.\n", out)
	require.Equal(t, []string{`POST /api/v1/rules/error_burst/disable {"by":"alice"}`}, f.requests)

	_, err = runCLI(t, f, "incidents", "rules", "enable", "nope")
	require.ErrorContains(t, err, "POST /api/v1/rules/nope/enable: not found (HTTP 404)")
}

func TestRulesReadsBeforeTheFirstStart(t *testing.T) {
	f := &fakeAPI{}
	out, err := runCLI(t, f, "incidents", "rules", "list")
	require.NoError(t, err)
	require.Regexp(t, `(?m)^error_burst\s+yes\s+HIGH\s+10\s+300s\s+60s\s+error,api_error\s+API Error Burst$`, out)
	require.Contains(t, out, notSeededNote)
	require.Len(t, strings.Split(strings.TrimSpace(out), "\n"), 17, "header, 15 rules, note")

	out, err = runCLI(t, f, "incidents", "rules", "show", "cache_failure")
	require.NoError(t, err)
	require.Regexp(t, `(?m)^Claims from:\s+error_burst$`, out)
	require.Contains(t, out, "Runbook:\n  Check cache status: mahavishnu cache status\n")
	_, err = runCLI(t, f, "incidents", "rules", "show", "nope")
	require.ErrorContains(t, err, "rule nope not found")

	out, err = runCLI(t, f, "incidents", "rules", "review", "-o", "json")
	require.NoError(t, err)
	var rev struct {
		Rules []struct {
			RuleID string   `json:"rule_id"`
			Flags  []string `json:"flags"`
		} `json:"rules"`
	}
	require.NoError(t, json.Unmarshal([]byte(out), &rev))
	require.Len(t, rev.Rules, 15)
	for _, r := range rev.Rules {
		require.Equal(t, []string{"silent"}, r.Flags, r.RuleID)
	}

	out, err = runCLI(t, f, "incidents", "test-rule", "error_burst", "--threshold", "3", "--since", "1h")
	require.NoError(t, err)
	require.Contains(t, out, "Backtest of error_burst (3 events within 300s per source) over 0 events")
	require.Contains(t, out, "It would have opened 0 incidents; it actually opened 0. Nothing was opened now.")
	_, err = runCLI(t, f, "incidents", "test-rule", "nope")
	require.ErrorContains(t, err, "rule nope not found")
	require.Empty(t, f.requests, "reads and backtests do not need the manager")
}

func TestSilencesCreateKeepsCommasInValues(t *testing.T) {
	f := &fakeAPI{answers: map[string]any{"POST /api/v1/silences": map[string]any{"id": "sil_1", "state": "active",
		"matchers": []schemas.SilenceMatcher{{Key: "source", Value: "api"}}}}}
	out, err := runCLI(t, f, "incidents", "silences", "create", "--match", "source=api", "--match", "labels.hosts=a,b",
		"--duration", "1d", "--comment", "db upgrade", "--created-by", "bob")
	require.NoError(t, err)
	require.Contains(t, out, "Silence sil_1 created (active): source=api, until")
	require.Equal(t, []string{`POST /api/v1/silences {"matchers":["source=api","labels.hosts=a,b"],"duration":"1d","comment":"db upgrade","created_by":"bob"}`}, f.requests)

	for args, want := range map[string]string{
		"--duration 2h":                      "--match: at least one key=value is required",
		"--match source --duration 2h":       `--match "source": want key=value`,
		"--match source=api --duration soon": `--duration: want a positive duration like 30m, 2h or 1d, got "soon"`,
	} {
		_, err := runCLI(t, f, append([]string{"incidents", "silences", "create"}, strings.Fields(args)...)...)
		require.ErrorContains(t, err, want, args)
	}
}

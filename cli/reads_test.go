package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/oncall"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// TestCLIReadsGoThroughTheAPIOnceTokensExist: every read command answers the same from
// the store (no token yet) and, once tokens exist, from a real API server with a viewer
// token; without a token each is refused with the API's 401, so none opened the store.
func TestCLIReadsGoThroughTheAPIOnceTokensExist(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	st, err := store.Open(ctx, "sqlite:///incidents.db", dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	now := time.Now().UTC().Truncate(time.Second)
	resolvedAt := now.Add(-time.Minute)
	inc := schemas.Incident{IncidentID: "inc_1", RuleID: "error_burst", Fingerprint: "error_burst/api", IncidentType: "error_burst", Severity: schemas.SeverityHigh,
		Status: schemas.StatusResolved, Title: "API errors", Source: "api", DetectedAt: now.Add(-time.Hour), ResolvedAt: &resolvedAt,
		WorkflowID: "incident/error_burst/api", RunID: "r1", Version: 1}
	require.NoError(t, st.SaveIncident(ctx, &inc,
		schemas.TimelineEntry{IncidentID: "inc_1", At: now.Add(-time.Hour), Kind: schemas.TimelinePaged, Actor: "escalation", Message: "paged alice"},
		schemas.TimelineEntry{IncidentID: "inc_1", At: now.Add(-30 * time.Minute), Kind: "acknowledged", Actor: "alice", Message: "acknowledged"}))
	inc2 := schemas.Incident{IncidentID: "inc_2", Fingerprint: "latency/db", IncidentType: "latency", Severity: schemas.SeverityMedium,
		Status: schemas.StatusInvestigating, Title: "DB slow", Source: "db", DetectedAt: now.Add(-10 * time.Minute),
		WorkflowID: "incident/latency/db", RunID: "r2", Version: 1}
	require.NoError(t, st.SaveIncident(ctx, &inc2))
	var events []schemas.Event
	for i := range 3 {
		events = append(events, schemas.Event{EventID: fmt.Sprintf("ev_%d", i), EventType: "error", Source: "api", Severity: schemas.SeverityHigh,
			Message: fmt.Sprintf("boom %d", i), Timestamp: now.Add(time.Duration(i-60) * time.Minute), IncidentID: "inc_1"})
	}
	_, err = st.InsertEvents(ctx, events, now)
	require.NoError(t, err)
	_, err = st.SeedRules(ctx, schemas.DefaultRules(), now)
	require.NoError(t, err)
	require.NoError(t, st.InsertSilence(ctx, schemas.Silence{ID: "sil_1", Matchers: []schemas.SilenceMatcher{{Key: "source", Value: "api"}},
		StartsAt: now.Add(-time.Hour), EndsAt: now.Add(24 * time.Hour), Comment: "deploy", CreatedBy: "alice", CreatedAt: now.Add(-time.Hour)}))
	for _, p := range []oncall.Person{{Name: "alice", Email: "alice@example.com"}, {Name: "bob", Email: "bob@example.com"}} {
		require.NoError(t, st.InsertPerson(ctx, p))
	}
	require.NoError(t, st.InsertSchedule(ctx, oncall.Schedule{Name: "payments", Layers: []oncall.Layer{{People: []string{"alice", "bob"},
		Rotation: oncall.Weekly, Every: 1, Handoff: "mon 09:00", TimeZone: "UTC", Start: time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)}}}))
	require.NoError(t, st.InsertHeartbeat(ctx, oncall.Heartbeat{Name: "nightly-backup", Every: 24 * time.Hour, Grace: time.Hour,
		Severity: schemas.SeverityHigh, State: "waiting", CreatedBy: "alice", CreatedAt: now, UpdatedAt: now}))

	run1 := schemas.ActionRecord{Action: "restart_service", Attempt: 1, Status: "running", Actor: "alice", ApprovedBy: "bob", At: now.Add(-40 * time.Minute)}
	_, _, err = st.BeginAction(ctx, "inc_1", run1)
	require.NoError(t, err)
	run1.Status, run1.DurationMS = "succeeded", 1200
	require.NoError(t, st.FinishAction(ctx, "inc_1", run1))
	require.NoError(t, st.SavePostMortem(ctx, "inc_1", "# Post-mortem of inc_1\n\nAPI errors.\n", now))

	m, err := manager.New(manager.Options{Store: st, Client: &updateRecorder{}, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	srv := httptest.NewServer(api.New(api.Options{Manager: m, Logger: slog.New(slog.DiscardHandler)}).Handler())
	t.Cleanup(srv.Close)
	cfg := filepath.Join(dir, "mahavishnu.yaml")
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, "data_dir: %q\napi:\n  listen: %q\n", dir, strings.TrimPrefix(srv.URL, "http://")), 0o600))
	prev := cli.OsExiter
	cli.OsExiter = func(int) {}
	t.Cleanup(func() { cli.OsExiter = prev })
	run := func(args ...string) (string, error) {
		var out, errOut bytes.Buffer
		err := Run(ctx, NewApp(Options{Stdout: &out, Stderr: &errOut}), append([]string{"mahavishnu", "--config", cfg}, args...))
		return out.String(), err
	}

	at := "2026-03-04T10:00:00Z"
	from, until := now.Add(-2*time.Hour).Format(time.RFC3339), now.Format(time.RFC3339)
	reads := []struct {
		name string
		args []string
		want string // a piece of the answer, so an empty answer cannot pass
	}{
		{"incidents list", []string{"incidents", "list", "--status", "resolved", "-o", "json"}, `"inc_1"`},
		{"incidents get", []string{"incidents", "get", "inc_1", "-o", "json"}, `"paged alice"`},
		{"incidents get --full", []string{"incidents", "get", "inc_1", "--full", "-o", "json"}, `"boom 2"`},
		{"incidents timeline", []string{"incidents", "timeline", "inc_1", "-o", "json"}, `"acknowledged"`},
		{"incidents events list", []string{"incidents", "events", "list", "--incident", "inc_1", "-o", "json"}, `"ev_1"`},
		{"incidents rules list", []string{"incidents", "rules", "list", "-o", "json"}, `"error_burst"`},
		{"incidents rules show", []string{"incidents", "rules", "show", "error_burst", "-o", "json"}, `"error_burst"`},
		{"incidents silences list", []string{"incidents", "silences", "list", "-o", "json"}, `"sil_1"`},
		{"people list", []string{"people", "list", "-o", "json"}, `"bob@example.com"`},
		{"people show", []string{"people", "show", "alice", "-o", "json"}, `"alice@example.com"`},
		{"oncall schedules list", []string{"oncall", "schedules", "list", "-o", "json"}, `"payments"`},
		{"oncall schedules show", []string{"oncall", "schedules", "show", "payments", "-o", "json"}, `"mon 09:00"`},
		{"oncall who", []string{"oncall", "who", "--at", at, "-o", "json"}, `"payments"`},
		{"oncall show", []string{"oncall", "show", "payments", "--from", at, "--days", "7", "-o", "json"}, `"alice"`},
		{"oncall override list", []string{"oncall", "override", "list", "-o", "json"}, `[]`},
		{"heartbeats list", []string{"heartbeats", "list", "-o", "json"}, `"nightly-backup"`},
		{"heartbeats show", []string{"heartbeats", "show", "nightly-backup", "-o", "json"}, `"nightly-backup"`},
		{"incidents history", []string{"incidents", "history", "--kind", "acknowledged", "--kind", "paged", "-o", "json"}, `"paged alice"`},
		{"incidents history --remediation", []string{"incidents", "history", "--remediation", "-o", "json"}, `"restart_service"`},
		{"incidents postmortem", []string{"incidents", "postmortem", "inc_1"}, "# Post-mortem of inc_1"},
		{"incidents test-rule", []string{"incidents", "test-rule", "error_burst", "--since", from, "--until", until, "-o", "json"}, `"events_replayed"`},
		{"incidents rules review", []string{"incidents", "rules", "review", "--since", from, "-o", "json"}, `"error_burst"`},
		{"procedures record", []string{"procedures", "record", "inc_1"}, "inc_1"},
		{"incidents stats", []string{"incidents", "stats", "--by-severity", "-o", "json"}, `"mttr`},
		{"incidents mitigate --list-actions", []string{"incidents", "mitigate", "inc_1", "--list-actions", "-o", "json"}, `"restart_service"`},
		{"incidents mitigate --dry-run", []string{"incidents", "mitigate", "inc_1", "--action", "restart_service", "--dry-run", "-o", "json"}, `"status"`},
		{"incidents watch", []string{"incidents", "watch", "--count", "1"}, "inc_2"},
	}
	clock := regexp.MustCompile(`(?m)^\d\d:\d\d:\d\d  `) // watch's lines start with the time of the look
	// status reports what it can: its incident counts come from the API once tokens exist.
	statusCounts := func(args ...string) map[string]int {
		out, err := run(append(args, "incidents", "status", "-o", "json")...)
		require.NoError(t, err)
		var rep struct {
			Incidents map[string]int `json:"incidents"`
		}
		require.NoError(t, json.Unmarshal([]byte(out), &rep))
		return rep.Incidents
	}
	countsFromStore := statusCounts()
	require.Equal(t, map[string]int{"investigating": 1, "resolved": 1}, countsFromStore)
	fromStore := map[string]string{}
	for _, rd := range reads {
		out, err := run(rd.args...)
		require.NoError(t, err, rd.name)
		require.Contains(t, out, rd.want, rd.name)
		fromStore[rd.name] = clock.ReplaceAllString(out, "")
	}

	viewer, err := run("tokens", "create", "--name", "vera", "--role", "viewer")
	require.NoError(t, err)
	viewer = strings.TrimSpace(viewer)

	for _, rd := range reads {
		t.Run(rd.name, func(t *testing.T) {
			out, err := run(append([]string{"--token", viewer}, rd.args...)...)
			require.NoError(t, err)
			require.Equal(t, fromStore[rd.name], clock.ReplaceAllString(out, ""), "the API's answer is the store's")

			out, err = run(rd.args...)
			require.ErrorContains(t, err, "HTTP 401", "without a token the read went to the API and was refused")
			require.ErrorContains(t, err, "--token")
			require.Empty(t, out)
		})
	}

	require.Equal(t, countsFromStore, statusCounts("--token", viewer))
	require.Empty(t, statusCounts(), "without a token the API refuses the counts")

	// The audit part of history needs an admin token; a viewer gets the timelines and a note.
	admin, err := run("tokens", "create", "--name", "root", "--role", "admin")
	require.NoError(t, err)
	out, err := run("--token", strings.TrimSpace(admin), "incidents", "history", "-o", "json")
	require.NoError(t, err)
	require.Contains(t, out, `"source": "audit"`)
	require.Contains(t, out, `"paged alice"`)
	var stdout, stderr bytes.Buffer
	require.NoError(t, Run(ctx, NewApp(Options{Stdout: &stdout, Stderr: &stderr}),
		[]string{"mahavishnu", "--config", cfg, "--token", viewer, "incidents", "history", "-o", "json"}))
	require.NotContains(t, stdout.String(), `"source": "audit"`)
	require.Contains(t, stdout.String(), `"paged alice"`)
	require.Contains(t, stderr.String(), "audit rows are left out")

	// The delete commands go through the API too: a viewer is refused, an admin deletes.
	_, err = run("--token", viewer, "people", "remove", "bob")
	require.ErrorContains(t, err, "403")
	_, err = st.GetPerson(ctx, "bob")
	require.NoError(t, err, "a refused remove changes nothing")
	out, err = run("--token", strings.TrimSpace(admin), "people", "remove", "bob")
	require.NoError(t, err)
	require.Equal(t, "Person bob removed.\n", out)
	_, err = st.GetPerson(ctx, "bob")
	require.ErrorIs(t, err, store.ErrNotFound)
	out, err = run("--token", strings.TrimSpace(admin), "oncall", "schedules", "delete", "payments")
	require.NoError(t, err)
	require.Equal(t, "Schedule payments deleted.\n", out)
	_, err = st.GetSchedule(ctx, "payments")
	require.ErrorIs(t, err, store.ErrNotFound)
}

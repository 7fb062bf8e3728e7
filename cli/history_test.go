package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/config"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// storeCLI is a data dir with a config and a store the test fills before running the CLI.
type storeCLI struct {
	cfgPath string
	st      *store.Store
}

func newStoreCLI(t *testing.T) *storeCLI {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "mahavishnu.yaml")
	require.NoError(t, os.WriteFile(path, fmt.Appendf(nil, "data_dir: %q\n", dir), 0o600))
	cfg, err := config.Load(path, func(string) (string, bool) { return "", false })
	require.NoError(t, err)
	dataDir, err := cfg.DataDirAbs()
	require.NoError(t, err)
	st, err := store.Open(context.Background(), cfg.DatabaseURL(), dataDir)
	require.NoError(t, err)
	t.Cleanup(func() { st.Close() })
	return &storeCLI{cfgPath: path, st: st}
}

func (s *storeCLI) run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	prev := cli.OsExiter
	cli.OsExiter = func(int) {}
	t.Cleanup(func() { cli.OsExiter = prev })
	var out, errOut bytes.Buffer
	app := NewApp(Options{Stdout: &out, Stderr: &errOut})
	err := Run(context.Background(), app, append([]string{"mahavishnu", "--config", s.cfgPath}, args...))
	return out.String(), err
}

// TestHistoryListsAllActivity: `history` without flags lists responder and system
// activity on every incident (who and when); --remediation narrows it to action runs.
func TestHistoryListsAllActivity(t *testing.T) {
	ctx := context.Background()
	s := newStoreCLI(t)
	t0 := time.Now().UTC().Add(-time.Hour).Truncate(time.Second)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	e := func(id string, m int, kind, actor, msg string) schemas.TimelineEntry {
		return schemas.TimelineEntry{IncidentID: id, At: at(m), Kind: kind, Actor: actor, Message: msg, Key: fmt.Sprintf("%s/%d", kind, m)}
	}
	require.NoError(t, s.st.AddTimeline(ctx,
		e("inc_a", 0, schemas.TimelineDetected, "mahavishnu", "HIGH incident detected"),
		e("inc_a", 1, schemas.TimelineEventsAdded, "mahavishnu", "5 events attached"),
		e("inc_a", 2, schemas.TimelineAcknowledged, "alice", "acknowledged by alice"),
		e("inc_a", 3, schemas.TimelineAssigned, "alice", "assigned to bob"),
		e("inc_a", 4, schemas.TimelineApprovalReq, "mahavishnu", "approval needed to run restart_service"),
		e("inc_a", 5, schemas.TimelineApproved, "carol", "restart_service approved by carol"),
		e("inc_a", 6, schemas.TimelineAction, "carol", "restart_service succeeded (approved by carol)"),
		e("inc_b", 7, schemas.TimelineRejected, "dave", "rollback rejected by dave: peak traffic"),
		e("inc_a", 8, schemas.TimelineNotified, "slack", "resolved notification sent to slack"),
		e("inc_a", 9, schemas.TimelineResolved, "bob", "resolved by bob"),
		e("inc_a", 10, schemas.TimelineClosed, "bob", "closed by bob"),
	))
	rec := schemas.ActionRecord{Action: "restart_service", Attempt: 1, Actor: "carol", ApprovedBy: "carol", At: at(6)}
	_, _, err := s.st.BeginAction(ctx, "inc_a", rec)
	require.NoError(t, err)
	rec.Status = schemas.ActionSucceeded
	require.NoError(t, s.st.FinishAction(ctx, "inc_a", rec))

	out, err := s.run(t, "incidents", "history", "--output", "json")
	require.NoError(t, err)
	var rows []historyRow
	require.NoError(t, json.Unmarshal([]byte(out), &rows))
	var got []string
	for _, r := range rows {
		got = append(got, r.IncidentID+" "+r.Kind+" "+r.Actor)
	}
	require.Equal(t, []string{
		"inc_a detected mahavishnu", "inc_a acknowledged alice", "inc_a assigned alice",
		"inc_a approval_requested mahavishnu", "inc_a approved carol", "inc_a action carol",
		"inc_b rejected dave", "inc_a notification_sent slack", "inc_a resolved bob", "inc_a closed bob",
	}, got, "every responder and system activity, oldest first, without the attachment counters")
	require.Equal(t, at(5), rows[4].At.UTC())

	out, err = s.run(t, "incidents", "history")
	require.NoError(t, err)
	require.Contains(t, out, "TIME")
	require.Contains(t, out, "rollback rejected by dave: peak traffic")

	out, err = s.run(t, "incidents", "history", "--last", "2", "--output", "json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal([]byte(out), &rows))
	require.Len(t, rows, 2)
	require.Equal(t, schemas.TimelineClosed, rows[1].Kind, "the latest")

	out, err = s.run(t, "incidents", "history", "--incident", "inc_b", "--output", "json")
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal([]byte(out), &rows))
	require.Len(t, rows, 1)

	out, err = s.run(t, "incidents", "history", "--remediation")
	require.NoError(t, err)
	require.Contains(t, out, "APPROVED BY")
	require.Contains(t, out, "restart_service")
	require.NotContains(t, out, "acknowledged")
}

// TestListActionsAndCreateUseTheStoredRule: mitigate --list-actions lists the actions of
// the incident's stored rule (edited or custom), and create takes a stored custom rule,
// like the dashboard; the built-in rule is the fallback.
func TestListActionsAndCreateUseTheStoredRule(t *testing.T) {
	ctx := context.Background()
	s := newStoreCLI(t)
	now := time.Now().UTC()
	custom := schemas.Rule{ID: "cache_stampede", Name: "Cache Stampede", IncidentType: "cache_stampede",
		Severity: schemas.SeverityHigh, Enabled: true, Threshold: 5, WindowSeconds: 60, CheckIntervalSeconds: 60,
		EventTypes: []string{"cache_miss"}, Actions: []string{"clear_cache", "restart_service"}}
	require.NoError(t, s.st.InsertRule(ctx, custom, "alice", now))
	edited := schemas.DefaultRules()[0] // error_burst
	edited.Actions = []string{"scale_up"}
	_, err := s.st.SeedRules(ctx, schemas.DefaultRules(), now)
	require.NoError(t, err)
	require.NoError(t, s.st.UpdateRule(ctx, edited, "bob", now))
	for _, inc := range []schemas.Incident{
		{IncidentID: "inc_custom00000001", RuleID: custom.ID, IncidentType: custom.IncidentType},
		{IncidentID: "inc_edited00000001", RuleID: edited.ID, IncidentType: edited.IncidentType},
	} {
		inc.Severity, inc.Status, inc.Title, inc.Source, inc.DetectedAt = schemas.SeverityHigh, schemas.StatusInvestigating, "t", "api", now
		inc.Fingerprint, inc.WorkflowID, inc.Version = "fp/"+inc.IncidentID, "wf/"+inc.IncidentID, 1
		require.NoError(t, s.st.UpsertIncident(ctx, &inc))
	}
	list := func(id string) []string {
		out, err := s.run(t, "incidents", "mitigate", id, "--list-actions", "--output", "json")
		require.NoError(t, err)
		var rows []actionRow
		require.NoError(t, json.Unmarshal([]byte(out), &rows))
		var ids []string
		for _, r := range rows {
			ids = append(ids, fmt.Sprintf("%s/%v", r.Action, r.Safe))
		}
		return ids
	}
	require.Equal(t, []string{"clear_cache/true", "restart_service/false"}, list("inc_custom00000001"), "the custom rule's actions")
	require.Equal(t, []string{"scale_up/true"}, list("inc_edited00000001"), "the edited rule's actions")

	rule, err := ruleForType(ctx, s.st, "cache_stampede")
	require.NoError(t, err)
	require.Equal(t, custom.Actions, rule.Actions, "create takes the stored custom rule")
	rule, err = ruleForType(ctx, s.st, edited.IncidentType)
	require.NoError(t, err)
	require.Equal(t, []string{"scale_up"}, rule.Actions, "and the edited one")
}

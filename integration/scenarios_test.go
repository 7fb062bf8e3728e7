package integration

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
	sdklog "go.temporal.io/sdk/log"

	"github.com/mahavishnu/mahavishnu/activities"
	"github.com/mahavishnu/mahavishnu/devserver"
	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/remediation"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
	"github.com/mahavishnu/mahavishnu/worker"
)

// scenarioEnv is the embedded server, a store and a worker shared by the scenario runs.
type scenarioEnv struct {
	st *store.Store
	tc client.Client
}

func newScenarioEnv(t *testing.T) *scenarioEnv {
	t.Helper()
	ctx := context.Background()
	dir := t.TempDir()
	srv, err := devserver.Start(ctx, devserver.Options{DataDir: dir, FrontendPort: freePortRange(t, 4)})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, srv.Stop()) })
	st, err := store.Open(ctx, "sqlite:///incidents.db", dir)
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })
	quiet := sdklog.NewStructuredLogger(slog.New(slog.NewTextHandler(io.Discard, nil)))
	tc, err := client.Dial(client.Options{HostPort: srv.FrontendAddress(), Logger: quiet})
	require.NoError(t, err)
	t.Cleanup(tc.Close)
	echo := func(msg string) remediation.ActionConfig {
		return remediation.ActionConfig{Command: &remediation.CommandConfig{Argv: []string{"/bin/echo", msg}}}
	}
	reg, err := remediation.NewRegistry(map[string]remediation.ActionConfig{
		"clear_cache": echo("cache cleared"), "scale_up": echo("scaled up"), "restart_service": echo("restarted {{.Component}}"),
	})
	require.NoError(t, err)
	w := worker.New(tc, schemas.DefaultTaskQueue, &activities.Activities{Store: st, Remediation: reg})
	require.NoError(t, w.Start())
	t.Cleanup(w.Stop)
	return &scenarioEnv{st: st, tc: tc}
}

// open submits a burst of errors from source through a manager with these settings and
// returns the incident it opened.
func (s *scenarioEnv) open(t *testing.T, source string, settings schemas.IncidentSettings) *schemas.Incident {
	t.Helper()
	m, err := manager.New(manager.Options{Store: s.st, Client: s.tc, Settings: settings, Detector: true})
	require.NoError(t, err)
	require.NoError(t, m.Rebuild(context.Background()))
	ctx, cancel := context.WithCancel(context.Background())
	m.Start(ctx)
	t.Cleanup(func() { cancel(); m.Close() })
	events := make([]schemas.Event, 10)
	for i := range events {
		events[i] = schemas.Event{EventType: "api_error", Source: source, Severity: schemas.SeverityHigh, Message: fmt.Sprintf("GET /api/orders timeout %d", i)}
	}
	_, err = m.SubmitEvents(context.Background(), events)
	require.NoError(t, err)
	var inc *schemas.Incident
	eventually(t, 30*time.Second, "the incident of "+source, func() bool {
		incs, err := s.st.ListIncidents(context.Background(), store.IncidentFilter{Status: schemas.StatusActive})
		require.NoError(t, err)
		for i := range incs {
			if incs[i].Source == source {
				inc = &incs[i]
				return true
			}
		}
		return false
	})
	return inc
}

func (s *scenarioEnv) incident(t *testing.T, id string) *schemas.Incident {
	inc, err := s.st.GetIncident(context.Background(), id)
	require.NoError(t, err)
	return inc
}

func (s *scenarioEnv) hasTimeline(t *testing.T, id, kind string) bool {
	entries, err := s.st.Timeline(context.Background(), id)
	require.NoError(t, err)
	for _, e := range entries {
		if e.Kind == kind {
			return true
		}
	}
	return false
}

// finished waits for the incident's workflow to complete and returns its result.
func (s *scenarioEnv) finished(t *testing.T, inc *schemas.Incident) schemas.Incident {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	var out schemas.Incident
	require.NoError(t, s.tc.GetWorkflow(ctx, inc.WorkflowID, "").Get(ctx, &out))
	return out
}

func baseSettings() schemas.IncidentSettings {
	return schemas.IncidentSettings{
		AutoRemediation: true, ApprovalTimeout: time.Hour, MTTRTarget: time.Hour,
		// As the default config: no unsafe action (restart_service) runs unattended.
		SafeActionsOnly: true, RequireApprovalFor: []string{"restart_service"},
		ActionCatalog: []schemas.ActionSpec{{ID: "clear_cache", Safe: true}, {ID: "scale_up", Safe: true}, {ID: "restart_service"}},
		AckTargets:    map[schemas.Severity]time.Duration{schemas.SeverityHigh: time.Hour},
	}
}

// TestScenarioPaths runs every path of the response procedure on the real embedded
// server with short timers; `make histories` records their histories for the replay test.
func TestScenarioPaths(t *testing.T) {
	s := newScenarioEnv(t)
	ctx := context.Background()
	ops := &manager.Ops{Store: s.st, Client: s.tc}
	record := map[string]string{}

	scenarios := []struct {
		name     string
		settings func(*schemas.IncidentSettings)
		drive    func(t *testing.T, inc *schemas.Incident) schemas.Incident
	}{
		{"approved", nil, func(t *testing.T, inc *schemas.Incident) schemas.Incident {
			_, err := ops.Approve(ctx, inc.IncidentID, "restart_service", "alice", "customer impact")
			require.NoError(t, err)
			eventually(t, 30*time.Second, "recovering", func() bool { return s.incident(t, inc.IncidentID).Status == schemas.StatusRecovering })
			_, err = ops.Resolve(ctx, inc.IncidentID, "alice", "restarted")
			require.NoError(t, err)
			out := s.finished(t, inc)
			recs, _, err := s.st.ListActions(ctx, inc.IncidentID, time.Time{}, 0)
			require.NoError(t, err)
			var ran []string
			for _, r := range recs {
				ran = append(ran, r.Action+":"+r.Status+":"+r.ApprovedBy)
			}
			require.Equal(t, []string{"clear_cache:succeeded:", "scale_up:succeeded:", "restart_service:succeeded:alice"}, ran)
			return out
		}},
		{"rejected", nil, func(t *testing.T, inc *schemas.Incident) schemas.Incident {
			_, err := ops.Reject(ctx, inc.IncidentID, "restart_service", "bob", "peak traffic")
			require.NoError(t, err)
			_, err = ops.Approve(ctx, inc.IncidentID, "restart_service", "carol", "")
			require.ErrorContains(t, err, "not pending approval")
			eventually(t, 30*time.Second, "recovering", func() bool { return s.incident(t, inc.IncidentID).Status == schemas.StatusRecovering })
			_, err = ops.Resolve(ctx, inc.IncidentID, "bob", "rode it out")
			require.NoError(t, err)
			return s.finished(t, inc)
		}},
		{"approval_expired", func(st *schemas.IncidentSettings) { st.ApprovalTimeout = 2 * time.Second }, func(t *testing.T, inc *schemas.Incident) schemas.Incident {
			eventually(t, 30*time.Second, "the approval to expire", func() bool { return s.hasTimeline(t, inc.IncidentID, schemas.TimelineApprovalExp) })
			_, err := ops.Approve(ctx, inc.IncidentID, "restart_service", "late", "")
			require.ErrorContains(t, err, "its request was expired")
			_, err = ops.Resolve(ctx, inc.IncidentID, "alice", "")
			require.NoError(t, err)
			return s.finished(t, inc)
		}},
		{"escalated", func(st *schemas.IncidentSettings) {
			st.ApprovalTimeout = time.Second
			st.AckTargets = map[schemas.Severity]time.Duration{schemas.SeverityHigh: 2 * time.Second}
			st.Escalation = []schemas.EscalationLevel{{Name: "on-call"}, {Name: "tech-lead"}, {Name: "engineering-manager", Delay: time.Second}}
		}, func(t *testing.T, inc *schemas.Incident) schemas.Incident {
			eventually(t, 30*time.Second, "escalation to level 2", func() bool { return s.incident(t, inc.IncidentID).EscalationLevel == 2 })
			_, err := ops.Acknowledge(ctx, inc.IncidentID, "manager")
			require.NoError(t, err)
			_, err = ops.Resolve(ctx, inc.IncidentID, "manager", "")
			require.NoError(t, err)
			out := s.finished(t, inc)
			require.Equal(t, "engineering-manager", out.EscalationName)
			return out
		}},
		{"mttr_breached", func(st *schemas.IncidentSettings) {
			st.ApprovalTimeout = time.Second
			st.MTTRTarget = 3 * time.Second
		}, func(t *testing.T, inc *schemas.Incident) schemas.Incident {
			eventually(t, 30*time.Second, "the MTTR breach", func() bool { return s.incident(t, inc.IncidentID).MTTRBreached })
			_, err := ops.Resolve(ctx, inc.IncidentID, "alice", "")
			require.NoError(t, err)
			out := s.finished(t, inc)
			require.True(t, out.MTTRBreached)
			return out
		}},
		{"auto_resolved", func(st *schemas.IncidentSettings) {
			st.ApprovalTimeout = time.Second
			st.AutoResolution = true
			st.StabilizationWindow = 2 * time.Second
		}, func(t *testing.T, inc *schemas.Incident) schemas.Incident {
			out := s.finished(t, inc)
			require.Equal(t, "mahavishnu", out.ResolvedBy)
			return out
		}},
		{"manually_resolved_closed_v2", nil, func(t *testing.T, inc *schemas.Incident) schemas.Incident {
			_, err := ops.Acknowledge(ctx, inc.IncidentID, "alice")
			require.NoError(t, err)
			_, err = ops.Assign(ctx, inc.IncidentID, "john.doe", "alice")
			require.NoError(t, err)
			rec, err := ops.Mitigate(ctx, inc.IncidentID, schemas.Mitigate{Action: "restart_service", Actor: "john.doe", ApprovedBy: "alice"})
			require.NoError(t, err)
			require.Equal(t, schemas.ActionSucceeded, rec.Status)
			_, err = ops.Update(ctx, inc.IncidentID, schemas.Update{By: "john.doe", Note: "restart helped"})
			require.NoError(t, err)
			_, err = ops.Resolve(ctx, inc.IncidentID, "john.doe", "Fixed by restarting")
			require.NoError(t, err)
			out := s.finished(t, inc)
			_, err = ops.Close(ctx, inc.IncidentID, "alice")
			require.NoError(t, err)
			md, _, err := s.st.PostMortem(ctx, inc.IncidentID)
			require.NoError(t, err)
			require.Contains(t, md, "| restart_service | succeeded | john.doe | alice |")
			return out
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			settings := baseSettings()
			if sc.settings != nil {
				sc.settings(&settings)
			}
			inc := s.open(t, "svc-"+sc.name, settings)
			eventually(t, 30*time.Second, "the approval request", func() bool {
				return s.hasTimeline(t, inc.IncidentID, schemas.TimelineApprovalReq)
			})
			out := sc.drive(t, inc)
			require.Equal(t, schemas.StatusResolved, out.Status)
			require.True(t, s.hasTimeline(t, inc.IncidentID, schemas.TimelineStageFinished))
			record[historyPrefix+sc.name] = inc.WorkflowID
		})
	}
	recordHistoriesFrom(t, s.tc, record)
}

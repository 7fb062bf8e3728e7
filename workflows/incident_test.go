package workflows

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"github.com/stretchr/testify/suite"
	"go.temporal.io/sdk/log"
	"go.temporal.io/sdk/testsuite"

	"github.com/mahavishnu/mahavishnu/activities"
	"github.com/mahavishnu/mahavishnu/schemas"
)

var t0 = time.Date(2026, 11, 29, 12, 0, 0, 0, time.UTC)

type IncidentSuite struct {
	suite.Suite
	testsuite.WorkflowTestSuite
	env      *testsuite.TestWorkflowEnvironment
	syncs    []activities.SyncInput
	stages   []activities.StageInput
	notified []activities.NotifyInput
	ran      []activities.ActionInput
	ranAt    []time.Time
	updates  int
	// actionDelay is how long (workflow time) each ExecuteAction takes.
	actionDelay time.Duration
}

func TestIncidentWorkflow(t *testing.T) { suite.Run(t, new(IncidentSuite)) }

func (s *IncidentSuite) SetupSuite() {
	s.SetLogger(log.NewStructuredLogger(slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))))
}

func (s *IncidentSuite) SetupTest() {
	s.env = s.NewTestWorkflowEnvironment()
	s.env.SetStartTime(t0)
	s.syncs, s.stages, s.notified, s.ran, s.ranAt, s.actionDelay = nil, nil, nil, nil, nil, 0
	s.env.OnActivity(a.Notify, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.NotifyInput) (activities.NotifyResult, error) {
			s.notified = append(s.notified, in)
			return activities.NotifyResult{Sent: []string{"slack"}}, nil
		}).Maybe()
	s.env.OnActivity(a.ExecuteAction, mock.Anything, mock.Anything).Return(
		func(ctx context.Context, in activities.ActionInput) (schemas.ActionRecord, error) {
			s.ran = append(s.ran, in)
			s.ranAt = append(s.ranAt, s.env.Now())
			return schemas.ActionRecord{Action: in.Action, Attempt: in.Attempt, Status: schemas.ActionSucceeded,
				Actor: in.Actor, ApprovedBy: in.ApprovedBy}, nil
		}).AfterFn(func() time.Duration { return s.actionDelay }).Maybe()
	attached := map[string]bool{}
	s.env.OnActivity(a.Sync, mock.Anything, mock.Anything).Return(func(_ context.Context, in activities.SyncInput) (activities.SyncResult, error) {
		s.syncs = append(s.syncs, in)
		for _, id := range in.AttachEventIDs {
			attached[id] = true // like the store: an event attaches once
		}
		return activities.SyncResult{EventCount: len(attached)}, nil
	})
	s.env.OnActivity(a.RunStage, mock.Anything, mock.Anything).Return(
		func(_ context.Context, in activities.StageInput) (activities.StageResult, error) {
			s.stages = append(s.stages, in)
			if in.Stage == activities.StageAssess {
				return activities.StageResult{Summary: "ok", Components: []string{"api-gw"}}, nil
			}
			return activities.StageResult{Summary: "ok"}, nil
		})
}

func (s *IncidentSuite) AfterTest(_, _ string) { s.env.AssertExpectations(s.T()) }

func input() schemas.IncidentInput {
	return schemas.IncidentInput{
		IncidentID:   "inc_0123456789abcdef",
		Fingerprint:  schemas.Fingerprint("error_burst", "api"),
		RuleID:       "error_burst",
		IncidentType: "error_burst",
		Severity:     schemas.SeverityHigh,
		Title:        "API Error Burst on api",
		Source:       "api",
		DetectedAt:   t0,
		Actions:      []string{"clear_cache"},
		Events: schemas.AttachEvents{
			EventIDs: []string{"e1", "e2"}, FirstAt: t0.Add(-90 * time.Second), LastAt: t0,
			Components: []string{"api"}, Severity: schemas.SeverityHigh,
		},
	}
}

// update sends an update at the given offset and records its outcome.
type updateResult struct {
	inc      schemas.Incident
	err      error
	rejected error
	done     bool
}

func (s *IncidentSuite) updateAt(after time.Duration, name string, arg any) *updateResult {
	res := &updateResult{}
	s.updates++
	id := fmt.Sprintf("%s-%d", name, s.updates)
	s.env.RegisterDelayedCallback(func() {
		s.env.UpdateWorkflow(name, id, &testsuite.TestUpdateCallback{
			OnReject: func(err error) { res.rejected, res.done = err, true },
			OnAccept: func() {},
			OnComplete: func(v any, err error) {
				res.done, res.err = true, err
				if inc, ok := v.(schemas.Incident); ok {
					res.inc = inc
				}
			},
		}, arg)
	}, after)
	return res
}

func (s *IncidentSuite) result() schemas.Incident {
	s.Require().True(s.env.IsWorkflowCompleted())
	s.Require().NoError(s.env.GetWorkflowError())
	var inc schemas.Incident
	s.Require().NoError(s.env.GetWorkflowResult(&inc))
	return inc
}

func (s *IncidentSuite) timelineKinds() []string {
	var kinds []string
	for _, in := range s.syncs {
		for _, e := range in.Timeline {
			kinds = append(kinds, e.Kind)
		}
	}
	return kinds
}

func (s *IncidentSuite) entry(kind string) schemas.TimelineEntry {
	for _, in := range s.syncs {
		for _, e := range in.Timeline {
			if e.Kind == kind {
				return e
			}
		}
	}
	s.FailNow("no timeline entry of kind " + kind)
	return schemas.TimelineEntry{}
}

func (s *IncidentSuite) TestAcknowledgeAssignResolve() {
	ack := s.updateAt(time.Minute, schemas.UpdateAcknowledge, schemas.Acknowledge{By: "alice"})
	asg := s.updateAt(2*time.Minute, schemas.UpdateAssign, schemas.Assign{To: "john.doe", By: "alice"})
	res := s.updateAt(10*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "john.doe", Notes: "Fixed by scaling up"})
	s.env.ExecuteWorkflow(IncidentWorkflow, input())

	inc := s.result()
	s.Require().True(ack.done && asg.done && res.done)
	s.Require().NoError(ack.err)
	s.Require().Equal("alice", ack.inc.AcknowledgedBy)
	s.Require().Equal(schemas.StatusResolved, inc.Status)
	s.Require().Equal("alice", inc.AcknowledgedBy)
	s.Require().Equal(t0.Add(time.Minute), *inc.AcknowledgedAt)
	s.Require().Equal("john.doe", inc.AssignedTo)
	s.Require().Equal("Fixed by scaling up", inc.ResolutionNotes)
	s.Require().Equal(t0.Add(10*time.Minute), *inc.ResolvedAt)
	s.Require().InDelta(600, *inc.MTTRSeconds, 0.001)
	s.Require().InDelta(60, *inc.MTTASeconds, 0.001)
	s.Require().InDelta(90, *inc.MTTDSeconds, 0.001)
	s.Require().Equal(2, inc.EventCount)
	s.Require().Equal([]string{"api", "api-gw"}, inc.AffectedComponents)
	s.Require().False(inc.MTTRBreached)
	s.Require().NotContains(s.timelineKinds(), schemas.TimelineMTTRBreached)
	s.Require().Equal([]string{"e1", "e2"}, s.syncs[0].AttachEventIDs, "the opening write attaches the start events")

	var stages []activities.Stage
	for _, st := range s.stages {
		stages = append(stages, st.Stage)
	}
	s.Require().Equal([]activities.Stage{activities.StageAssess, activities.StageContain, activities.StageInvestigate,
		activities.StageRemediate, activities.StageRecover, activities.StagePostMortem}, stages)
	s.Require().Equal(schemas.StatusAssessing, s.stages[0].Incident.Status)
	s.Require().Equal(schemas.StatusResolved, s.stages[5].Incident.Status)

	// Versions written never go backwards, so the store can drop stale snapshots.
	var last int64
	for _, in := range s.syncs {
		s.Require().Greater(in.Incident.Version, last)
		last = in.Incident.Version
	}
}

func (s *IncidentSuite) TestMTTRBreachRecordedWhenTimerFires() {
	s.updateAt(75*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "bob"})
	s.env.ExecuteWorkflow(IncidentWorkflow, input())

	inc := s.result()
	s.Require().True(inc.MTTRBreached)
	breach := s.entry(schemas.TimelineMTTRBreached)
	s.Require().Equal(t0.Add(schemas.DefaultMTTRTarget), breach.At)
	s.Require().Equal(SystemActor, breach.Actor)
	s.Require().Equal(t0.Add(75*time.Minute), *inc.ResolvedAt, "a breach does not end the incident")
}

func (s *IncidentSuite) TestConfiguredMTTRTarget() {
	in := input()
	in.Settings.MTTRTarget = 5 * time.Minute
	s.updateAt(6*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "bob"})
	s.env.ExecuteWorkflow(IncidentWorkflow, in)
	s.Require().True(s.result().MTTRBreached)
	s.Require().Equal(t0.Add(5*time.Minute), s.entry(schemas.TimelineMTTRBreached).At)
}

func (s *IncidentSuite) TestAcknowledgeTwiceIsRejected() {
	first := s.updateAt(time.Minute, schemas.UpdateAcknowledge, schemas.Acknowledge{By: "alice"})
	second := s.updateAt(2*time.Minute, schemas.UpdateAcknowledge, schemas.Acknowledge{By: "bob"})
	empty := s.updateAt(3*time.Minute, schemas.UpdateAssign, schemas.Assign{To: " "})
	s.updateAt(4*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	late := s.updateAt(5*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "bob"})
	s.env.ExecuteWorkflow(IncidentWorkflow, input())

	inc := s.result()
	s.Require().NoError(first.rejected)
	s.Require().ErrorContains(second.rejected, "already acknowledged by alice")
	s.Require().ErrorContains(empty.rejected, "assignee is required")
	s.Require().Equal("alice", inc.AcknowledgedBy)
	// The workflow completed at 4m; a resolve after that never reaches a handler.
	s.Require().False(late.done && late.rejected == nil && late.err == nil)
}

func (s *IncidentSuite) TestSignalsAttachAndResolve() {
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(schemas.SignalAttachEvents, schemas.AttachEvents{
			EventIDs: []string{"e3"}, FirstAt: t0.Add(2 * time.Minute), LastAt: t0.Add(2 * time.Minute),
			Components: []string{"db"}, Severity: schemas.SeverityCritical,
		})
	}, 2*time.Minute)
	s.env.RegisterDelayedCallback(func() {
		// A detector that restarted sends an event it had sent before: counted once.
		s.env.SignalWorkflow(schemas.SignalAttachEvents, schemas.AttachEvents{EventIDs: []string{"e2"}})
	}, 150*time.Second)
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(schemas.SignalAcknowledge, schemas.Acknowledge{By: "carol"})
	}, 3*time.Minute)
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(schemas.SignalResolve, schemas.Resolve{By: "carol", Notes: "done"})
	}, 4*time.Minute)
	s.env.ExecuteWorkflow(IncidentWorkflow, input())

	inc := s.result()
	s.Require().Equal(3, inc.EventCount)
	s.Require().Equal(schemas.SeverityCritical, inc.Severity, "an event's severity raises the incident's")
	s.Require().Contains(inc.AffectedComponents, "db")
	s.Require().Equal("carol", inc.AcknowledgedBy)
	s.Require().Equal("carol", inc.ResolvedBy)
	s.Require().Contains(s.timelineKinds(), "severity_raised")
	var attached []string
	for _, in := range s.syncs {
		attached = append(attached, in.AttachEventIDs...)
	}
	s.Require().Equal([]string{"e1", "e2", "e3", "e2"}, attached)
}

func (s *IncidentSuite) TestAutoResolutionWaitsForStability() {
	in := input()
	in.Settings.AutoResolution = true
	// An event at 3m restarts the 5m stabilisation window.
	s.env.RegisterDelayedCallback(func() {
		s.env.SignalWorkflow(schemas.SignalAttachEvents, schemas.AttachEvents{EventIDs: []string{"e3"}, FirstAt: t0, LastAt: t0})
	}, 3*time.Minute)
	s.env.ExecuteWorkflow(IncidentWorkflow, in)

	inc := s.result()
	s.Require().Equal(schemas.StatusResolved, inc.Status)
	s.Require().Equal(SystemActor, inc.ResolvedBy)
	s.Require().Equal(t0.Add(8*time.Minute), *inc.ResolvedAt)
	s.Require().Contains(inc.ResolutionNotes, "no matching event for 5m0s")
}

func (s *IncidentSuite) TestStateQuery() {
	s.updateAt(time.Minute, schemas.UpdateAcknowledge, schemas.Acknowledge{By: "alice"})
	var state schemas.IncidentState
	s.env.RegisterDelayedCallback(func() {
		v, err := s.env.QueryWorkflow(schemas.QueryState)
		s.Require().NoError(err)
		s.Require().NoError(v.Get(&state))
	}, 2*time.Minute)
	s.updateAt(3*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	s.env.ExecuteWorkflow(IncidentWorkflow, input())
	s.result()
	s.Require().Equal("alice", state.AcknowledgedBy)
	s.Require().Equal(schemas.StatusRecovering, state.Status)
	s.Require().Equal(2, state.EventCount)
}

func TestInvalidInputFailsWithoutRetry(t *testing.T) {
	for name, mutate := range map[string]func(*schemas.IncidentInput){
		"incident id": func(in *schemas.IncidentInput) { in.IncidentID = "42" },
		"fingerprint": func(in *schemas.IncidentInput) { in.Fingerprint = "" },
		"severity":    func(in *schemas.IncidentInput) { in.Severity = "" },
		"detected at": func(in *schemas.IncidentInput) { in.DetectedAt = time.Time{} },
	} {
		t.Run(name, func(t *testing.T) {
			var ts testsuite.WorkflowTestSuite
			env := ts.NewTestWorkflowEnvironment()
			in := input()
			mutate(&in)
			env.ExecuteWorkflow(IncidentWorkflow, in)
			require.True(t, env.IsWorkflowCompleted())
			require.ErrorContains(t, env.GetWorkflowError(), "InvalidInput")
		})
	}
}

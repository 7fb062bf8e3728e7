package workflows

import (
	"errors"
	"time"

	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/workflow"

	"github.com/mahavishnu/mahavishnu/activities"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// remediationInput is an incident whose rule recommends a safe and an unsafe action.
func remediationInput() schemas.IncidentInput {
	in := input()
	in.Actions = []string{"clear_cache", "restart_service"}
	in.Settings.AutoRemediation = true
	in.Settings.SafeActionsOnly = true // the default
	in.Settings.ApprovalTimeout = 5 * time.Minute
	in.Settings.ActionCatalog = []schemas.ActionSpec{{ID: "clear_cache", Safe: true}, {ID: "restart_service"}}
	return in
}

func (s *IncidentSuite) kinds() []string {
	var out []string
	for _, n := range s.notified {
		out = append(out, n.Kind)
	}
	return out
}

func (s *IncidentSuite) ranActions() []string {
	var out []string
	for _, r := range s.ran {
		out = append(out, r.Action+"/"+r.ApprovedBy)
	}
	return out
}

func (s *IncidentSuite) TestSafeActionRunsAndApprovalExpires() {
	s.updateAt(30*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	late := s.updateAt(6*time.Minute, schemas.UpdateApprove, schemas.ApprovalDecision{Action: "restart_service", By: "bob"})
	s.env.ExecuteWorkflow(IncidentWorkflow, remediationInput())

	s.result()
	s.Require().Equal([]string{"clear_cache/"}, s.ranActions(), "only the safe action runs unattended")
	s.Require().Equal(SystemActor, s.ran[0].Actor)
	s.Require().Equal(t0.Add(5*time.Minute), s.entry(schemas.TimelineApprovalExp).At, "the request expires on its durable timer")
	s.Require().ErrorContains(late.rejected, "not pending approval (its request was expired")
	s.Require().Equal([]string{activities.NotifyOpened, activities.NotifyApprovalRequested,
		activities.NotifyApprovalExpired, activities.NotifyResolved}, s.kinds())
}

func (s *IncidentSuite) TestApprovedActionRunsInRemediate() {
	ap := s.updateAt(2*time.Minute, schemas.UpdateApprove, schemas.ApprovalDecision{Action: "restart_service", By: "alice"})
	again := s.updateAt(3*time.Minute, schemas.UpdateApprove, schemas.ApprovalDecision{Action: "restart_service", By: "bob"})
	s.updateAt(20*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	s.env.ExecuteWorkflow(IncidentWorkflow, remediationInput())

	inc := s.result()
	s.Require().NoError(ap.err)
	s.Require().ErrorContains(again.rejected, "not pending approval (its request was approved by alice)")
	s.Require().Equal([]string{"clear_cache/", "restart_service/alice"}, s.ranActions())
	s.Require().NotContains(s.timelineKinds(), schemas.TimelineApprovalExp, "a decided request does not expire")
	s.Require().Equal(schemas.StatusResolved, inc.Status)
}

func (s *IncidentSuite) TestRejectedActionNeverRuns() {
	rej := s.updateAt(time.Minute, schemas.UpdateReject, schemas.ApprovalDecision{Action: "restart_service", By: "carol", Reason: "peak traffic"})
	s.updateAt(20*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	s.env.ExecuteWorkflow(IncidentWorkflow, remediationInput())

	s.result()
	s.Require().NoError(rej.err)
	s.Require().Equal([]string{"clear_cache/"}, s.ranActions())
	s.Require().Contains(s.entry(schemas.TimelineRejected).Message, "peak traffic")
}

func (s *IncidentSuite) TestResolveWhileApprovalPendingWithdrawsIt() {
	s.updateAt(2*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	late := s.updateAt(3*time.Minute, schemas.UpdateApprove, schemas.ApprovalDecision{Action: "restart_service", By: "bob"})
	s.env.ExecuteWorkflow(IncidentWorkflow, remediationInput())

	s.result()
	s.Require().Equal(t0.Add(2*time.Minute), s.entry(schemas.TimelineApprovalExp).At)
	s.Require().Equal([]string{"clear_cache/"}, s.ranActions())
	s.Require().False(late.done && late.err == nil && late.rejected == nil, "nothing is approved after resolution")
}

func (s *IncidentSuite) TestAutoRemediationOffAsksForEveryAction() {
	in := remediationInput()
	in.Settings.AutoRemediation = false
	s.updateAt(20*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	s.env.ExecuteWorkflow(IncidentWorkflow, in)
	s.result()
	s.Require().Empty(s.ran)
	requested := 0
	for _, k := range s.timelineKinds() {
		if k == schemas.TimelineApprovalReq {
			requested++
		}
	}
	s.Require().Equal(2, requested)
}

func (s *IncidentSuite) TestMitigate() {
	unapproved := s.updateAt(time.Minute, schemas.UpdateMitigate, schemas.Mitigate{Action: "restart_service", Actor: "dave"})
	unknown := s.updateAt(time.Minute, schemas.UpdateMitigate, schemas.Mitigate{Action: "reboot_world", Actor: "dave"})
	ok := s.updateAt(2*time.Minute, schemas.UpdateMitigate, schemas.Mitigate{Action: "restart_service", Actor: "dave", ApprovedBy: "erin"})
	s.updateAt(20*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	s.env.ExecuteWorkflow(IncidentWorkflow, remediationInput())

	s.result()
	s.Require().ErrorContains(unapproved.rejected, "restart_service needs approval: run it again with --approved-by NAME")
	s.Require().ErrorContains(unknown.rejected, `unknown action "reboot_world"`)
	s.Require().NoError(ok.err)
	s.Require().Equal([]string{"clear_cache/", "restart_service/erin"}, s.ranActions(), "the pending request was approved by mitigate and ran once")
	s.Require().Equal("dave", s.ran[1].Actor)
}

func (s *IncidentSuite) TestEscalationWhenNotAcknowledged() {
	in := input()
	in.Settings.Escalation = []schemas.EscalationLevel{
		{Name: "on-call"},
		{Name: "tech-lead", Channels: []string{"slack"}, Targets: []string{"@lead"}},
		{Name: "engineering-manager", Channels: []string{"pagerduty"}, Delay: 30 * time.Minute},
	}
	s.updateAt(2*time.Hour, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	s.env.ExecuteWorkflow(IncidentWorkflow, in)

	inc := s.result()
	s.Require().Equal(2, inc.EscalationLevel)
	s.Require().Equal("engineering-manager", inc.EscalationName)
	var at []time.Duration
	var channels [][]string
	for _, n := range s.notified {
		if n.Kind == activities.NotifyEscalated {
			channels = append(channels, n.Channels)
		}
	}
	for _, in := range s.syncs {
		for _, e := range in.Timeline {
			if e.Kind == schemas.TimelineEscalated {
				at = append(at, e.At.Sub(t0))
			}
		}
	}
	s.Require().Equal([]time.Duration{time.Hour, 90 * time.Minute}, at, "HIGH: 1h target, then the next level's delay")
	s.Require().Equal([][]string{{"slack"}, {"pagerduty"}}, channels)
}

func (s *IncidentSuite) TestAcknowledgementStopsEscalation() {
	in := input()
	in.Settings.Escalation = []schemas.EscalationLevel{{Name: "on-call"}, {Name: "tech-lead"}}
	s.updateAt(59*time.Minute, schemas.UpdateAcknowledge, schemas.Acknowledge{By: "alice"})
	s.updateAt(3*time.Hour, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	s.env.ExecuteWorkflow(IncidentWorkflow, in)
	inc := s.result()
	s.Require().Zero(inc.EscalationLevel)
	s.Require().NotContains(s.timelineKinds(), schemas.TimelineEscalated)
}

func (s *IncidentSuite) TestRemindersWhileWaitingForResolve() {
	in := input()
	in.Settings.ReminderInterval = 30 * time.Minute
	s.updateAt(70*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	s.env.ExecuteWorkflow(IncidentWorkflow, in)
	s.result()
	reminders := 0
	for _, k := range s.kinds() {
		if k == activities.NotifyReminder {
			reminders++
		}
	}
	s.Require().Equal(2, reminders, "at 30m and 60m; the resolve at 70m cancels the next")
}

func (s *IncidentSuite) TestUpdateFields() {
	upd := s.updateAt(time.Minute, schemas.UpdateFields, schemas.Update{By: "alice", Severity: schemas.SeverityCritical, Note: "customer impact confirmed"})
	bad := s.updateAt(time.Minute, schemas.UpdateFields, schemas.Update{By: "alice", Status: schemas.StatusClosed})
	s.updateAt(5*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	s.env.ExecuteWorkflow(IncidentWorkflow, input())
	inc := s.result()
	s.Require().NoError(upd.err)
	s.Require().ErrorContains(bad.rejected, "use `resolve` or `close`")
	s.Require().Equal(schemas.SeverityCritical, inc.Severity)
	s.Require().Equal("customer impact confirmed", s.entry(schemas.TimelineNote).Message)
}

func (s *IncidentSuite) TestContinueAsNewKeepsState() {
	s.updateAt(time.Minute, schemas.UpdateAcknowledge, schemas.Acknowledge{By: "alice"})
	s.env.RegisterDelayedCallback(func() { s.env.SetContinueAsNewSuggested(true) }, 10*time.Minute)
	in := input()
	in.Settings.ReminderInterval = 15 * time.Minute
	s.env.ExecuteWorkflow(IncidentWorkflow, in)

	s.Require().True(s.env.IsWorkflowCompleted())
	var can *workflow.ContinueAsNewError
	s.Require().True(errors.As(s.env.GetWorkflowError(), &can), "got %v", s.env.GetWorkflowError())
	var next schemas.IncidentInput
	s.Require().NoError(converter.GetDefaultDataConverter().FromPayloads(can.Input, &next))
	s.Require().NotNil(next.Resume)
	s.Require().Equal("alice", next.Resume.Incident.AcknowledgedBy)
	s.Require().Equal(schemas.StatusRecovering, next.Resume.Incident.Status)
	s.Require().Equal(2, next.Resume.Incident.EventCount)
}

func (s *IncidentSuite) TestResumedRunWaitsForResolve() {
	in := input()
	state := schemas.Incident{IncidentID: in.IncidentID, Status: schemas.StatusRecovering, Severity: schemas.SeverityHigh,
		DetectedAt: t0, EventCount: 7, Version: 40, Fingerprint: in.Fingerprint}
	in.Resume = &schemas.ResumeState{Incident: state, EventsSeen: 1}
	s.updateAt(10*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "alice", Notes: "after continue-as-new"})
	s.env.ExecuteWorkflow(IncidentWorkflow, in)
	inc := s.result()
	s.Require().Equal(schemas.StatusResolved, inc.Status)
	s.Require().Equal(7, inc.EventCount)
	s.Require().Equal(activities.StagePostMortem, s.stages[len(s.stages)-1].Stage)
	s.Require().Len(s.stages, 1, "a resumed run does not repeat the stages")
}

package workflows

import (
	"time"

	"github.com/mahavishnu/mahavishnu/activities"
	"github.com/mahavishnu/mahavishnu/schemas"
)

func (s *IncidentSuite) approvalRequests() []string {
	var out []string
	for _, in := range s.syncs {
		for _, e := range in.Timeline {
			if e.Kind == schemas.TimelineApprovalReq {
				out = append(out, e.Message)
			}
		}
	}
	return out
}

// safe_actions_only: false lets an unsafe action that is not listed in
// require_approval_for run unattended; the listed ones still wait for an approver.
func (s *IncidentSuite) TestSafeActionsOnlyOffOnlyListedNeedApproval() {
	in := remediationInput()
	in.Actions = []string{"clear_cache", "restart_service", "rollback"}
	in.Settings.ActionCatalog = append(in.Settings.ActionCatalog, schemas.ActionSpec{ID: "rollback", Risk: "high"})
	in.Settings.SafeActionsOnly = false
	in.Settings.RequireApprovalFor = []string{"rollback"}
	s.updateAt(20*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	s.env.ExecuteWorkflow(IncidentWorkflow, in)

	s.result()
	s.Require().Equal([]string{"clear_cache/", "restart_service/"}, s.ranActions())
	reqs := s.approvalRequests()
	s.Require().Len(reqs, 1)
	s.Require().Contains(reqs[0], "approval needed to run rollback")
}

// safe_actions_only: true holds an unsafe action for an approver even when
// require_approval_for does not list it, and a listed safe action waits too.
func (s *IncidentSuite) TestSafeActionsOnlyOnEveryUnsafeNeedsApproval() {
	in := remediationInput()
	in.Actions = []string{"clear_cache", "scale_up", "restart_service"}
	in.Settings.ActionCatalog = append(in.Settings.ActionCatalog, schemas.ActionSpec{ID: "scale_up", Safe: true})
	in.Settings.RequireApprovalFor = []string{"scale_up"}
	s.updateAt(20*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	s.env.ExecuteWorkflow(IncidentWorkflow, in)

	s.result()
	s.Require().Equal([]string{"clear_cache/"}, s.ranActions())
	s.Require().Len(s.approvalRequests(), 2)
}

// Names that automation uses for itself cannot approve (nor reject), through approve or
// mitigate --approved-by.
func (s *IncidentSuite) TestReservedNamesCannotApprove() {
	sys := s.updateAt(time.Minute, schemas.UpdateApprove, schemas.ApprovalDecision{Action: "restart_service", By: "system"})
	auto := s.updateAt(time.Minute, schemas.UpdateMitigate, schemas.Mitigate{Action: "restart_service", Actor: "dave", ApprovedBy: "auto"})
	rej := s.updateAt(time.Minute, schemas.UpdateReject, schemas.ApprovalDecision{Action: "restart_service", By: "Mahavishnu"})
	ok := s.updateAt(2*time.Minute, schemas.UpdateApprove, schemas.ApprovalDecision{Action: "restart_service", By: "alice"})
	s.updateAt(20*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	s.env.ExecuteWorkflow(IncidentWorkflow, remediationInput())

	s.result()
	s.Require().ErrorContains(sys.rejected, `"system" is reserved for automation`)
	s.Require().ErrorContains(auto.rejected, `"auto" is reserved for automation`)
	s.Require().ErrorContains(rej.rejected, `"Mahavishnu" is reserved for automation`)
	s.Require().NoError(ok.err)
	s.Require().Equal([]string{"clear_cache/", "restart_service/alice"}, s.ranActions())
}

// A mitigate of the action Contain is running waits for that run and runs as the next
// attempt: the two never share an attempt (and its idempotency key).
func (s *IncidentSuite) TestMitigateWhileContainRunsTheSameAction() {
	s.actionDelay = 2 * time.Minute
	m := s.updateAt(time.Minute, schemas.UpdateMitigate, schemas.Mitigate{Action: "clear_cache", Actor: "dave"})
	s.updateAt(30*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	s.env.ExecuteWorkflow(IncidentWorkflow, remediationInput())

	s.result()
	s.Require().NoError(m.err)
	s.Require().Len(s.ran, 2)
	s.Require().Equal([]int{1, 2}, []int{s.ran[0].Attempt, s.ran[1].Attempt})
	s.Require().Equal([]string{SystemActor, "dave"}, []string{s.ran[0].Actor, s.ran[1].Actor})
	s.Require().False(s.ranAt[1].Before(s.ranAt[0].Add(s.actionDelay)), "the mitigate ran after Contain's run ended")
}

// Two approval requests raised in the same instant name their actions as the
// notifications' subjects, so the throttle keeps both.
func (s *IncidentSuite) TestApprovalRequestsNameTheirAction() {
	in := remediationInput()
	in.Actions = []string{"restart_service", "rollback"}
	in.Settings.ActionCatalog = append(in.Settings.ActionCatalog, schemas.ActionSpec{ID: "rollback", Risk: "high"})
	s.updateAt(20*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	s.env.ExecuteWorkflow(IncidentWorkflow, in)

	s.result()
	var subjects []string
	var at []time.Time
	for _, n := range s.notified {
		if n.Kind == activities.NotifyApprovalRequested {
			subjects = append(subjects, n.Action)
			at = append(at, n.At)
		}
	}
	s.Require().Equal([]string{"restart_service", "rollback"}, subjects)
	s.Require().Equal(at[0], at[1], "raised in the same instant")
}

// A status a responder sets is not replaced by a stage that is not further along; a
// stage further along takes over and says whose status it replaced.
func (s *IncidentSuite) TestResponderStatusIsNotSilentlyOverwritten() {
	s.actionDelay = 2 * time.Minute // Contain runs clear_cache for 2 minutes
	up := s.updateAt(time.Minute, schemas.UpdateFields, schemas.Update{By: "alice", Status: schemas.StatusRecovering})
	s.updateAt(30*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	s.env.ExecuteWorkflow(IncidentWorkflow, remediationInput())

	s.result()
	s.Require().NoError(up.err)
	statuses := map[activities.Stage]schemas.Status{}
	for _, st := range s.stages {
		statuses[st.Stage] = st.Incident.Status
	}
	s.Require().Equal(schemas.StatusRecovering, statuses[activities.StageInvestigate], "Investigate keeps alice's status")
	s.Require().Equal(schemas.StatusRecovering, statuses[activities.StageRemediate])
	s.Require().Contains(s.updatedMessages(), "Investigate started; the status stays recovering, set by alice")
}

func (s *IncidentSuite) TestLaterStageReplacesResponderStatusOnTheRecord() {
	s.actionDelay = 2 * time.Minute
	s.updateAt(time.Minute, schemas.UpdateFields, schemas.Update{By: "alice", Status: schemas.StatusAssessing})
	s.updateAt(30*time.Minute, schemas.UpdateResolve, schemas.Resolve{By: "alice"})
	s.env.ExecuteWorkflow(IncidentWorkflow, remediationInput())

	s.result()
	s.Require().Contains(s.updatedMessages(),
		"Investigate started: status assessing -> investigating (replaces the status assessing set by alice)")
	for _, st := range s.stages {
		if st.Stage == activities.StageRemediate {
			s.Require().Equal(schemas.StatusRemediating, st.Incident.Status, "the stages set the status again")
		}
	}
}

func (s *IncidentSuite) updatedMessages() []string {
	var out []string
	for _, in := range s.syncs {
		for _, e := range in.Timeline {
			if e.Kind == schemas.TimelineUpdated && e.Actor == SystemActor {
				out = append(out, e.Message)
			}
		}
	}
	return out
}

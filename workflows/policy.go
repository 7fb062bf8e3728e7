package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/mahavishnu/mahavishnu/remediation"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// changePolicy ("i9-policy") gathers the issue-9 changes to the response:
//
//   - remediation.Decide decides every run (Contain's unattended runs, mitigate, approve):
//     safe_actions_only and require_approval_for are weighed there and nowhere else, and
//     names reserved for automation ("auto", "system", "mahavishnu"...) cannot approve;
//   - two runs of one action never overlap: a mitigate while Contain runs the same action
//     waits for that run and then runs as the next attempt, so a healthy run is never
//     taken for an interrupted one;
//   - approval requests and expiries name their action in the notification
//     (the throttle keeps one window per action);
//   - a status a responder sets (update --status) is not silently replaced by the next
//     stage: see stageStatus.
const changePolicy = "i9-policy"

// policy is the remediation policy the incident runs with (a snapshot of the config).
func (w *incident) policy() remediation.Policy {
	s := w.in.Settings
	return remediation.Policy{AutoRemediation: s.AutoRemediation, SafeActionsOnly: s.SafeActionsOnly,
		RequireApprovalFor: s.RequireApprovalFor}
}

// policyAction is the catalog's action as remediation.Decide weighs it; an action the
// catalog does not hold is unregistered (Decide refuses it).
func (w *incident) policyAction(id string) remediation.Action {
	spec, known := w.actionSpec(id)
	if !known {
		return remediation.Action{ID: id, Unregistered: true}
	}
	return remediation.Action{ID: id, Safe: spec.Safe, Risk: remediation.Risk(spec.Risk)}
}

// decideRun asks remediation.Decide about one run of action.
func (w *incident) decideRun(action string, req remediation.Request) (remediation.Decision, string) {
	return remediation.Decide(w.policyAction(action), w.policy(), req)
}

// containDecided is Contain under changePolicy: each recommended action runs unattended,
// waits for an approval, or is refused, as Decide says.
func (w *incident) containDecided(ctx workflow.Context) {
	for _, action := range w.in.Actions {
		if w.resolved {
			return
		}
		switch d, reason := w.decideRun(action, remediation.Request{}); d {
		case remediation.DecisionRun:
			w.runAction(ctx, action, SystemActor, "")
		case remediation.DecisionNeedsApproval:
			w.requestApproval(ctx, action)
		default:
			w.logger.Warn("recommended action refused", "Action", action, "Reason", reason)
		}
	}
}

// validateMitigateDecided is the mitigate validator under changePolicy.
func (w *incident) validateMitigateDecided(req schemas.Mitigate) error {
	switch {
	case strings.TrimSpace(req.Actor) == "":
		return errors.New("mitigate: who runs the action is required")
	case w.resolved:
		return fmt.Errorf("incident %s is already %s", w.inc.IncidentID, w.inc.Status)
	}
	if _, known := w.actionSpec(req.Action); !known {
		return fmt.Errorf("unknown action %q: see `mahavishnu incidents mitigate %s --list-actions`", req.Action, w.inc.IncidentID)
	}
	switch d, reason := w.decideRun(req.Action, remediation.Request{RequestedBy: req.Actor, ApprovedBy: req.ApprovedBy}); d {
	case remediation.DecisionRefused:
		return errors.New(reason)
	case remediation.DecisionNeedsApproval:
		return fmt.Errorf("%s needs approval: run it again with --approved-by NAME (%s)", req.Action, reason)
	}
	return nil
}

// checkApprover refuses, under changePolicy, an approval by a name reserved for automation.
func (w *incident) checkApprover(action, by string) error {
	if !w.i9 {
		return nil
	}
	if d, reason := w.decideRun(action, remediation.Request{ApprovedBy: by}); d == remediation.DecisionRefused {
		return errors.New(reason)
	}
	return nil
}

// awaitActionIdle waits, under changePolicy, until no run of action is in flight and
// marks one as starting; the returned function marks it finished.
func (w *incident) awaitActionIdle(ctx workflow.Context, action string) (func(), error) {
	if !w.i9 {
		return func() {}, nil
	}
	if w.inFlight == nil {
		w.inFlight = map[string]bool{}
	}
	if w.inFlight[action] {
		w.logger.Info("waiting for the run of the same action in flight", "Action", action)
	}
	if err := workflow.Await(ctx, func() bool { return !w.inFlight[action] }); err != nil {
		return func() {}, err
	}
	w.inFlight[action] = true
	return func() { delete(w.inFlight, action) }, nil
}

// stageStatus sets the status a stage starts with. Under changePolicy a status set by a
// responder (update --status) is never replaced silently:
//
//   - a stage whose status is behind or equal to the responder's in the lifecycle leaves
//     the responder's status as it is and says so on the timeline;
//   - a stage further along takes over and says on the timeline whose status it
//     replaced; from then on the stages set the status again.
func (w *incident) stageStatus(ctx workflow.Context, stage string, st schemas.Status) error {
	if !w.i9 || w.manualStatus == "" {
		w.setStatus(ctx, st)
		return nil
	}
	manual, by := w.manualStatus, w.manualStatusBy
	if w.inc.Status != manual {
		// Something else changed it since (resolution); nothing to keep.
		w.manualStatus, w.manualStatusBy = "", ""
		w.setStatus(ctx, st)
		return nil
	}
	var text string
	if statusRank(st) <= statusRank(manual) {
		text = fmt.Sprintf("%s started; the status stays %s, set by %s", stage, manual, by)
	} else {
		w.manualStatus, w.manualStatusBy = "", ""
		w.setStatus(ctx, st)
		text = fmt.Sprintf("%s started: status %s -> %s (replaces the status %s set by %s)", stage, manual, st, manual, by)
	}
	w.inc.Version++
	return w.sync(ctx, w.entry(ctx, schemas.TimelineUpdated, SystemActor, text))
}

// statusRank is a status's place in the lifecycle.
func statusRank(s schemas.Status) int { return slices.Index(schemas.Statuses, s) }

// notifyAbout queues a notification about one action (an approval request or expiry);
// under changePolicy it names the action, so that the throttle does not take the
// requests for two actions raised in the same instant for duplicates.
func (w *incident) notifyAbout(ctx workflow.Context, kind, text, action string) {
	w.notify(ctx, kind, text, nil)
	if w.i9 && len(w.outbox) > 0 {
		w.outbox[len(w.outbox)-1].Action = action
	}
}

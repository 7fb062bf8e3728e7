package workflows

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/mahavishnu/mahavishnu/activities"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// Workflow changes are versioned so that running incidents and recorded histories keep
// replaying. Each change ID names one change; see docs/architecture.md.
const (
	// changeResponseProcedure adds notifications, remediation with approvals, the
	// acknowledgement escalation, reminders and continue-as-new to the response.
	changeResponseProcedure = "response-procedure"
	// changeEventLog: the detector attaches events in the store and sends events_attached
	// with counters; the workflow no longer writes attachments and records them on the
	// timeline at most once a minute, or at once when severity or components change.
	changeEventLog = "event-log"
)

// DefaultApprovalTimeout applies when the settings name none.
const DefaultApprovalTimeout = 5 * time.Minute

// notifyAttempts bounds the retries of one notification; the activity records a failure
// on the timeline at the last attempt instead of failing.
const notifyAttempts = 5

var notifyOptions = workflow.ActivityOptions{
	StartToCloseTimeout: time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    2 * time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    time.Minute,
		MaximumAttempts:    notifyAttempts,
	},
}

var actionOptions = workflow.ActivityOptions{
	// An action's own timeout is enforced by its executor; this bounds a stuck worker.
	StartToCloseTimeout: 15 * time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    time.Minute,
		MaximumAttempts:    10,
	},
}

// notify queues a notification routed by severity, or to an escalation level's
// channels. Notifications go out in order from one coroutine (sendNotifications), so a
// slow or failing channel never holds up the response; the activity records failures.
func (w *incident) notify(ctx workflow.Context, kind, text string, level *schemas.EscalationLevel) {
	if !w.v2 {
		return
	}
	w.notifySeq++
	in := activities.NotifyInput{
		Incident: w.inc, Kind: kind, Text: text, MaxAttempts: notifyAttempts, At: workflow.Now(ctx).UTC(),
		Key: fmt.Sprintf("%s/%s/%d", kind, workflow.Now(ctx).UTC().Format(time.RFC3339Nano), w.notifySeq),
	}
	if level != nil {
		in.Channels, in.Targets = level.Channels, level.Targets
	}
	w.outbox = append(w.outbox, in)
	w.notifyPaged(kind) // issue 11: the resolution reaches everyone paged
}

// sendNotifications delivers the queued notifications one by one, for as long as the
// workflow runs.
func (w *incident) sendNotifications(ctx workflow.Context) {
	ctx = workflow.WithActivityOptions(ctx, notifyOptions)
	for {
		if err := workflow.Await(ctx, func() bool { return len(w.outbox) > 0 }); err != nil {
			return
		}
		w.sending = true
		in := w.outbox[0]
		w.outbox = w.outbox[1:]
		if err := workflow.ExecuteActivity(ctx, a.Notify, in).Get(ctx, nil); err != nil {
			w.logger.Error("notification failed", "Kind", in.Kind, "Error", err)
		}
		w.sending = false
	}
}

// notificationsSent reports whether every queued notification has gone out.
func (w *incident) notificationsSent() bool { return len(w.outbox) == 0 && !w.sending }

func (w *incident) actionSpec(action string) (schemas.ActionSpec, bool) {
	for _, s := range w.in.Settings.ActionCatalog {
		if s.ID == action {
			return s, true
		}
	}
	return schemas.ActionSpec{}, false
}

// contain runs the incident type's safe actions when auto-remediation is on and asks
// for approval of the others.
func (w *incident) contain(ctx workflow.Context) {
	if w.i9 {
		w.containDecided(ctx)
		return
	}
	for _, action := range w.in.Actions {
		if w.resolved {
			return
		}
		spec, known := w.actionSpec(action)
		switch {
		case !known:
			w.logger.Warn("recommended action is not in the catalog", "Action", action)
		case spec.Safe && w.in.Settings.AutoRemediation:
			w.runAction(ctx, action, SystemActor, "")
		default:
			w.requestApproval(ctx, action)
		}
	}
}

// requestApproval records a pending approval and starts its expiry timer.
func (w *incident) requestApproval(ctx workflow.Context, action string) {
	timeout := w.in.Settings.ApprovalTimeout
	if timeout <= 0 {
		timeout = DefaultApprovalTimeout
	}
	now := workflow.Now(ctx).UTC()
	w.approvals = append(w.approvals, schemas.Approval{
		Action: action, RequestedAt: now, ExpiresAt: now.Add(timeout), Status: schemas.ApprovalPending,
	})
	w.inc.Version++
	text := fmt.Sprintf("approval needed to run %s: `mahavishnu incidents mitigate %s --action %s --approved-by NAME` (expires in %s)",
		action, w.inc.IncidentID, action, timeout)
	if err := w.sync(ctx, w.entry(ctx, schemas.TimelineApprovalReq, SystemActor, text)); err != nil {
		w.logger.Error("recording approval request failed", "Error", err)
	}
	w.startApprovalTimer(ctx, len(w.approvals)-1)
	w.notifyAbout(ctx, activities.NotifyApprovalRequested, text, action)
}

// startApprovalTimer expires approval i when no decision arrives in time.
func (w *incident) startApprovalTimer(ctx workflow.Context, i int) {
	workflow.Go(ctx, func(ctx workflow.Context) {
		wait := w.approvals[i].ExpiresAt.Sub(workflow.Now(ctx))
		if wait > 0 {
			decided, err := workflow.AwaitWithTimeout(ctx, wait, func() bool {
				return w.approvals[i].Status != schemas.ApprovalPending
			})
			if err != nil || decided {
				return
			}
		}
		if w.approvals[i].Status != schemas.ApprovalPending {
			return
		}
		w.decide(i, schemas.ApprovalExpired, SystemActor, "no decision within the approval timeout", workflow.Now(ctx))
		text := fmt.Sprintf("approval request for %s expired: not run", w.approvals[i].Action)
		dctx, _ := workflow.NewDisconnectedContext(ctx)
		if err := w.sync(dctx, w.entry(ctx, schemas.TimelineApprovalExp, SystemActor, text)); err != nil {
			w.logger.Error("recording approval expiry failed", "Error", err)
		}
		w.notifyAbout(dctx, activities.NotifyApprovalExpired, text, w.approvals[i].Action)
	})
}

func (w *incident) decide(i int, status, by, reason string, at time.Time) {
	w.approvals[i].Status = status
	w.approvals[i].By = by
	w.approvals[i].Reason = reason
	w.approvals[i].At = at.UTC()
	w.inc.Version++
}

func (w *incident) pendingApproval(action string) int {
	for i, ap := range w.approvals {
		if ap.Action == action && ap.Status == schemas.ApprovalPending {
			return i
		}
	}
	return -1
}

func (w *incident) pendingApprovals() []schemas.Approval {
	var out []schemas.Approval
	for _, ap := range w.approvals {
		if ap.Status == schemas.ApprovalPending {
			out = append(out, ap)
		}
	}
	return out
}

// remediate waits for the pending approvals (each expires on its own timer) and runs
// the approved actions.
func (w *incident) remediate(ctx workflow.Context) error {
	for {
		for i := range w.approvals {
			if w.approvals[i].Status == schemas.ApprovalApproved && !w.approvalRan[i] {
				w.approvalRan[i] = true
				w.runAction(ctx, w.approvals[i].Action, w.approvals[i].By, w.approvals[i].By)
			}
		}
		if w.resolved || len(w.pendingApprovals()) == 0 {
			return nil
		}
		if err := workflow.Await(ctx, func() bool {
			return w.resolved || len(w.pendingApprovals()) == 0 || w.approvedNotRun()
		}); err != nil {
			return err
		}
	}
}

func (w *incident) approvedNotRun() bool {
	for i, ap := range w.approvals {
		if ap.Status == schemas.ApprovalApproved && !w.approvalRan[i] {
			return true
		}
	}
	return false
}

// runAction runs one action through the idempotent ExecuteAction activity.
func (w *incident) runAction(ctx workflow.Context, action, actor, approvedBy string) schemas.ActionRecord {
	done, err := w.awaitActionIdle(ctx, action)
	defer done()
	if err != nil {
		return schemas.ActionRecord{Action: action, Status: schemas.ActionFailed, Actor: actor, ApprovedBy: approvedBy,
			Error: err.Error(), At: workflow.Now(ctx).UTC()}
	}
	attempt := 1
	for _, r := range w.actions {
		if r.Action == action {
			attempt++
		}
	}
	var rec schemas.ActionRecord
	err = workflow.ExecuteActivity(workflow.WithActivityOptions(ctx, actionOptions), a.ExecuteAction, activities.ActionInput{
		Incident: w.inc, Action: action, Actor: actor, ApprovedBy: approvedBy, Attempt: attempt,
	}).Get(ctx, &rec)
	if err != nil {
		rec = schemas.ActionRecord{Action: action, Attempt: attempt, Status: schemas.ActionFailed, Actor: actor,
			ApprovedBy: approvedBy, Error: err.Error(), At: workflow.Now(ctx).UTC()}
	}
	w.actions = append(w.actions, rec)
	w.inc.Version++
	return rec
}

// escalate moves up the escalation policy while the incident stays unacknowledged: the
// first step at the severity's acknowledgement target, each next one after its delay.
func (w *incident) escalate(ctx workflow.Context) {
	if w.vPeople {
		w.escalatePeople(ctx) // issue 11 (escalation.go)
		return
	}
	levels := w.in.Settings.Escalation
	target, ok := w.in.Settings.AckTargets[w.inc.Severity]
	if !ok || target <= 0 {
		target = schemas.DefaultAckTargets[w.inc.Severity]
	}
	wait := w.inc.DetectedAt.Add(target).Sub(workflow.Now(ctx))
	if w.inc.EscalationLevel > 0 && w.inc.EscalationLevel+1 < len(levels) {
		wait = levels[w.inc.EscalationLevel+1].Delay // resumed after continue-as-new
	}
	done := func() bool { return w.inc.AcknowledgedAt != nil || w.resolved }
	for {
		if wait > 0 {
			stop, err := workflow.AwaitWithTimeout(ctx, wait, done)
			if err != nil || stop {
				return
			}
		}
		if done() {
			return
		}
		next := w.inc.EscalationLevel + 1
		var level *schemas.EscalationLevel
		text := fmt.Sprintf("not acknowledged within the %s target for %s incidents", target, w.inc.Severity)
		if next < len(levels) {
			level = &levels[next]
			w.inc.EscalationLevel, w.inc.EscalationName = next, level.Name
			text += fmt.Sprintf(": escalated to level %d (%s)", next, level.Name)
			if len(level.Targets) > 0 {
				text += ": " + strings.Join(level.Targets, ", ")
			}
		} else {
			text += ": the escalation policy has no further level"
		}
		w.inc.Version++
		if err := w.sync(ctx, w.entry(ctx, schemas.TimelineEscalated, SystemActor, text)); err != nil {
			w.logger.Error("recording escalation failed", "Error", err)
		}
		w.notify(ctx, activities.NotifyEscalated, text, level)
		if level == nil || next+1 >= len(levels) {
			return
		}
		wait = levels[next+1].Delay
	}
}

// awaitResolve waits for a responder's resolve, reminding at the reminder interval, and
// continues as new when the history grows long.
func (w *incident) awaitResolve(ctx workflow.Context) error {
	interval := w.in.Settings.ReminderInterval
	for !w.resolved {
		if workflow.GetInfo(ctx).GetContinueAsNewSuggested() {
			return w.continueAsNew(ctx)
		}
		if interval <= 0 {
			// Wake up now and then to check the history size.
			if _, err := workflow.AwaitWithTimeout(ctx, time.Hour, func() bool { return w.resolved }); err != nil {
				return err
			}
			continue
		}
		resolved, err := workflow.AwaitWithTimeout(ctx, interval, func() bool { return w.resolved })
		if err != nil {
			return err
		}
		if resolved {
			return nil
		}
		who := "nobody is assigned"
		if w.inc.AssignedTo != "" {
			who = "assigned to " + w.inc.AssignedTo
		}
		text := fmt.Sprintf("still unresolved %s after detection (%s)",
			workflow.Now(ctx).Sub(w.inc.DetectedAt).Round(time.Minute), who)
		w.inc.Version++
		if err := w.sync(ctx, w.entry(ctx, schemas.TimelineReminder, SystemActor, text)); err != nil {
			w.logger.Error("recording reminder failed", "Error", err)
		}
		w.notify(ctx, activities.NotifyReminder, text, nil)
	}
	return nil
}

// continueAsNew carries the incident into a new run with a fresh history.
func (w *incident) continueAsNew(ctx workflow.Context) error {
	w.drainAttach()
	if len(w.pendingAttach) > 0 || w.unreported.events > 0 {
		if err := w.sync(ctx); err != nil {
			return err
		}
	}
	if err := workflow.Await(ctx, func() bool { return workflow.AllHandlersFinished(ctx) && w.notificationsSent() }); err != nil {
		return err
	}
	in := w.in
	in.Events = schemas.AttachEvents{}
	in.Resume = &schemas.ResumeState{
		Incident: w.inc, Approvals: w.approvals, Actions: w.actions,
		EscalationLevel: w.inc.EscalationLevel, EventsSeen: w.eventsSeen,
		MaxEventSeverity: w.maxEventSeverity,
	}
	w.carryOnCall(in.Resume)
	w.logger.Info("continuing as new", "HistoryLength", workflow.GetInfo(ctx).GetCurrentHistoryLength())
	return workflow.NewContinueAsNewError(ctx, IncidentWorkflow, in)
}

// resume restores a run continued as new and waits for the resolution again.
func (w *incident) resume(ctx workflow.Context) error {
	st := w.in.Resume
	w.inc = st.Incident
	w.inc.RunID = workflow.GetInfo(ctx).FirstRunID
	w.approvals = slices.Clone(st.Approvals)
	w.actions = slices.Clone(st.Actions)
	w.eventsSeen = st.EventsSeen
	w.maxEventSeverity = st.MaxEventSeverity
	w.restoreOnCall(st)
	for i, ap := range w.approvals {
		// Continue-as-new happens only after Remediate, where approved actions have run.
		w.approvalRan[i] = true
		if ap.Status == schemas.ApprovalPending {
			w.startApprovalTimer(ctx, i)
		}
	}
	return nil
}

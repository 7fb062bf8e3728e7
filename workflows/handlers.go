package workflows

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/mahavishnu/mahavishnu/activities"
	"github.com/mahavishnu/mahavishnu/remediation"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// registerHandlers registers the state query and the acknowledge, assign and resolve
// updates. The same operations also arrive as signals (signalLoop) for callers that do
// not need an answer.
func (w *incident) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, schemas.QueryState, w.state); err != nil {
		return fmt.Errorf("register query %s: %w", schemas.QueryState, err)
	}
	if err := workflow.SetQueryHandler(ctx, schemas.QueryPendingApprovals, func() ([]schemas.Approval, error) {
		return w.pendingApprovals(), nil
	}); err != nil {
		return fmt.Errorf("register query %s: %w", schemas.QueryPendingApprovals, err)
	}
	if err := workflow.SetQueryHandler(ctx, schemas.QueryTimeline, func() ([]schemas.TimelineEntry, error) {
		return w.recent, nil
	}); err != nil {
		return fmt.Errorf("register query %s: %w", schemas.QueryTimeline, err)
	}
	updates := []struct {
		name      string
		handler   any
		validator any
	}{
		{schemas.UpdateAcknowledge, w.acknowledgeUpdate, w.validateAcknowledge},
		{schemas.UpdateAssign, w.assignUpdate, w.validateAssign},
		{schemas.UpdateResolve, w.resolveUpdate, w.validateResolve},
		{schemas.UpdateApprove, w.approveUpdate, w.validateApprove},
		{schemas.UpdateReject, w.rejectUpdate, w.validateReject},
		{schemas.UpdateMitigate, w.mitigateUpdate, w.validateMitigate},
		{schemas.UpdateFields, w.fieldsUpdate, w.validateFields},
	}
	for _, u := range updates {
		if err := workflow.SetUpdateHandlerWithOptions(ctx, u.name, u.handler,
			workflow.UpdateHandlerOptions{Validator: u.validator}); err != nil {
			return fmt.Errorf("register update %s: %w", u.name, err)
		}
	}
	return nil
}

func (w *incident) state() (schemas.IncidentState, error) {
	return schemas.IncidentState{
		IncidentID:      w.inc.IncidentID,
		Status:          w.inc.Status,
		Severity:        w.inc.Severity,
		EventCount:      w.inc.EventCount,
		AcknowledgedBy:  w.inc.AcknowledgedBy,
		AcknowledgedAt:  w.inc.AcknowledgedAt,
		AssignedTo:      w.inc.AssignedTo,
		ResolvedAt:      w.inc.ResolvedAt,
		MTTRBreached:    w.inc.MTTRBreached,
		EscalationLevel: w.inc.EscalationLevel,
		EscalationName:  w.inc.EscalationName,
		Approvals:       w.approvals,
		Actions:         w.actions,
	}, nil
}

// signalLoop handles the signals for as long as the workflow runs. Invalid signals are
// logged and dropped: a signal has no caller to answer.
func (w *incident) signalLoop(ctx workflow.Context) {
	ackCh := workflow.GetSignalChannel(ctx, schemas.SignalAcknowledge)
	assignCh := workflow.GetSignalChannel(ctx, schemas.SignalAssign)
	resolveCh := workflow.GetSignalChannel(ctx, schemas.SignalResolve)
	approveCh := workflow.GetSignalChannel(ctx, schemas.SignalApprove)
	rejectCh := workflow.GetSignalChannel(ctx, schemas.SignalReject)
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(w.attachCh, func(c workflow.ReceiveChannel, _ bool) {
		var b schemas.AttachEvents
		c.Receive(ctx, &b)
		w.attach(ctx, b)
	})
	sel.AddReceive(w.attachedCh, func(c workflow.ReceiveChannel, _ bool) {
		var b schemas.EventsAttached
		c.Receive(ctx, &b)
		w.attachedSignal(ctx, b)
	})
	sel.AddReceive(ackCh, func(c workflow.ReceiveChannel, _ bool) {
		var req schemas.Acknowledge
		c.Receive(ctx, &req)
		w.signalled(schemas.SignalAcknowledge, w.validateAcknowledge(req), func() error { return w.acknowledge(ctx, req) })
	})
	sel.AddReceive(assignCh, func(c workflow.ReceiveChannel, _ bool) {
		var req schemas.Assign
		c.Receive(ctx, &req)
		w.signalled(schemas.SignalAssign, w.validateAssign(req), func() error { return w.assign(ctx, req) })
	})
	sel.AddReceive(resolveCh, func(c workflow.ReceiveChannel, _ bool) {
		var req schemas.Resolve
		c.Receive(ctx, &req)
		w.signalled(schemas.SignalResolve, w.validateResolve(req), func() error { return w.resolve(ctx, req) })
	})
	sel.AddReceive(approveCh, func(c workflow.ReceiveChannel, _ bool) {
		var req schemas.ApprovalDecision
		c.Receive(ctx, &req)
		w.signalled(schemas.SignalApprove, w.validateApprove(req), func() error { _, err := w.approve(ctx, req); return err })
	})
	sel.AddReceive(rejectCh, func(c workflow.ReceiveChannel, _ bool) {
		var req schemas.ApprovalDecision
		c.Receive(ctx, &req)
		w.signalled(schemas.SignalReject, w.validateReject(req), func() error { return w.reject(ctx, req) })
	})
	for {
		sel.Select(ctx)
	}
}

func (w *incident) signalled(name string, invalid error, apply func() error) {
	if invalid != nil {
		w.logger.Warn("signal rejected", "Signal", name, "Reason", invalid.Error())
		return
	}
	if err := apply(); err != nil {
		w.logger.Error("signal failed", "Signal", name, "Error", err)
	}
}

func (w *incident) attach(ctx workflow.Context, b schemas.AttachEvents) {
	before := w.inc.Severity
	w.addEvents(b)
	if len(b.EventIDs) == 0 {
		return
	}
	entries := []schemas.TimelineEntry{w.entry(ctx, schemas.TimelineEventsAdded, SystemActor,
		fmt.Sprintf("%d events attached", len(b.EventIDs)))}
	if w.inc.Severity != before {
		if err := workflow.UpsertTypedSearchAttributes(ctx, saSeverity.ValueSet(string(w.inc.Severity))); err != nil {
			w.logger.Warn("search attribute update failed", "Error", err)
		}
		entries = append(entries, w.entry(ctx, "severity_raised", SystemActor,
			fmt.Sprintf("severity raised from %s to %s by an attached event", before, w.inc.Severity)))
	}
	if err := w.sync(ctx, entries...); err != nil {
		w.logger.Error("recording attached events failed", "Error", err)
	}
}

func (w *incident) validateAcknowledge(req schemas.Acknowledge) error {
	switch {
	case strings.TrimSpace(req.By) == "":
		return errors.New("acknowledge: who acknowledges is required")
	case w.resolved:
		return fmt.Errorf("incident %s is already %s", w.inc.IncidentID, w.inc.Status)
	case w.inc.AcknowledgedAt != nil:
		return fmt.Errorf("incident %s was already acknowledged by %s at %s", w.inc.IncidentID,
			w.inc.AcknowledgedBy, w.inc.AcknowledgedAt.Format("2006-01-02 15:04:05Z07:00"))
	}
	return nil
}

func (w *incident) acknowledgeUpdate(ctx workflow.Context, req schemas.Acknowledge) (schemas.Incident, error) {
	err := w.acknowledge(ctx, req)
	return w.inc, err
}

func (w *incident) acknowledge(ctx workflow.Context, req schemas.Acknowledge) error {
	now := workflow.Now(ctx).UTC()
	w.inc.AcknowledgedAt = &now
	w.inc.AcknowledgedBy = strings.TrimSpace(req.By)
	mtta := now.Sub(w.inc.DetectedAt).Seconds()
	w.inc.MTTASeconds = &mtta
	w.inc.Version++
	err := w.sync(ctx, w.entry(ctx, schemas.TimelineAcknowledged, w.inc.AcknowledgedBy,
		"acknowledged by "+w.inc.AcknowledgedBy))
	w.notify(ctx, activities.NotifyAcknowledged, "acknowledged by "+w.inc.AcknowledgedBy, nil)
	return err
}

func (w *incident) validateAssign(req schemas.Assign) error {
	switch {
	case strings.TrimSpace(req.To) == "":
		return errors.New("assign: assignee is required")
	case w.resolved:
		return fmt.Errorf("incident %s is already %s", w.inc.IncidentID, w.inc.Status)
	case strings.TrimSpace(req.To) == w.inc.AssignedTo:
		return fmt.Errorf("incident %s is already assigned to %s", w.inc.IncidentID, w.inc.AssignedTo)
	}
	return nil
}

func (w *incident) assignUpdate(ctx workflow.Context, req schemas.Assign) (schemas.Incident, error) {
	err := w.assign(ctx, req)
	return w.inc, err
}

func (w *incident) assign(ctx workflow.Context, req schemas.Assign) error {
	previous := w.inc.AssignedTo
	w.inc.AssignedTo = strings.TrimSpace(req.To)
	w.inc.Version++
	msg := "assigned to " + w.inc.AssignedTo
	if previous != "" {
		msg = fmt.Sprintf("reassigned from %s to %s", previous, w.inc.AssignedTo)
	}
	return w.sync(ctx, w.entry(ctx, schemas.TimelineAssigned, req.By, msg))
}

func (w *incident) validateResolve(req schemas.Resolve) error {
	switch {
	case strings.TrimSpace(req.By) == "":
		return errors.New("resolve: who resolves is required")
	case w.resolved:
		return fmt.Errorf("incident %s is already %s", w.inc.IncidentID, w.inc.Status)
	}
	return nil
}

func (w *incident) resolveUpdate(ctx workflow.Context, req schemas.Resolve) (schemas.Incident, error) {
	err := w.resolve(ctx, req)
	return w.inc, err
}

func (w *incident) resolve(ctx workflow.Context, req schemas.Resolve) error {
	now := workflow.Now(ctx).UTC()
	w.resolved = true
	w.inc.Status = schemas.StatusResolved
	w.inc.ResolvedAt = &now
	w.inc.ResolvedBy = strings.TrimSpace(req.By)
	w.inc.ResolutionNotes = req.Notes
	mttr := now.Sub(w.inc.DetectedAt).Seconds()
	w.inc.MTTRSeconds = &mttr
	w.inc.Version++
	if err := workflow.UpsertTypedSearchAttributes(ctx, saStatus.ValueSet(string(schemas.StatusResolved))); err != nil {
		w.logger.Warn("search attribute update failed", "Error", err)
	}
	msg := "resolved by " + w.inc.ResolvedBy
	if req.Notes != "" {
		msg += ": " + req.Notes
	}
	entries := []schemas.TimelineEntry{w.entry(ctx, schemas.TimelineResolved, w.inc.ResolvedBy, msg)}
	// Approval requests still pending are withdrawn: nothing runs after resolution.
	for i := range w.approvals {
		if w.approvals[i].Status == schemas.ApprovalPending {
			w.decide(i, schemas.ApprovalExpired, SystemActor, "incident resolved before a decision", now)
			entries = append(entries, w.entry(ctx, schemas.TimelineApprovalExp, SystemActor,
				fmt.Sprintf("approval request for %s withdrawn: incident resolved", w.approvals[i].Action)))
		}
	}
	err := w.sync(ctx, entries...)
	w.notify(ctx, activities.NotifyResolved, msg, nil)
	return err
}

func (w *incident) validateApprove(req schemas.ApprovalDecision) error {
	if err := w.validateApprovalPending(req); err != nil {
		return err
	}
	return w.checkApprover(req.Action, req.By)
}

// validateApprovalPending refuses a decision without a name or on an action that is not
// pending approval.
func (w *incident) validateApprovalPending(req schemas.ApprovalDecision) error {
	switch {
	case strings.TrimSpace(req.By) == "":
		return errors.New("approve: the approver's name is required")
	case w.pendingApproval(req.Action) < 0:
		return fmt.Errorf("action %q of incident %s is not pending approval%s", req.Action, w.inc.IncidentID, w.approvalHistory(req.Action))
	}
	return nil
}

// approvalHistory says what became of an action's last approval request, for refusals.
func (w *incident) approvalHistory(action string) string {
	for i := len(w.approvals) - 1; i >= 0; i-- {
		if ap := w.approvals[i]; ap.Action == action {
			return fmt.Sprintf(" (its request was %s by %s)", ap.Status, ap.By)
		}
	}
	return ""
}

func (w *incident) approveUpdate(ctx workflow.Context, req schemas.ApprovalDecision) (schemas.Approval, error) {
	return w.approve(ctx, req)
}

// approve records the approval; after the Remediate stage the action runs at once,
// before it the stage runs it.
func (w *incident) approve(ctx workflow.Context, req schemas.ApprovalDecision) (schemas.Approval, error) {
	i := w.pendingApproval(req.Action)
	w.decide(i, schemas.ApprovalApproved, strings.TrimSpace(req.By), req.Reason, workflow.Now(ctx))
	err := w.sync(ctx, w.entry(ctx, schemas.TimelineApproved, w.approvals[i].By,
		fmt.Sprintf("%s approved by %s", req.Action, w.approvals[i].By)))
	if w.remediated && !w.approvalRan[i] {
		w.approvalRan[i] = true
		w.runAction(ctx, req.Action, w.approvals[i].By, w.approvals[i].By)
	}
	return w.approvals[i], err
}

func (w *incident) validateReject(req schemas.ApprovalDecision) error {
	if err := w.validateApprovalPending(req); err != nil {
		return err
	}
	if err := remediation.CheckApprover(req.By); w.i9 && err != nil {
		return fmt.Errorf("reject: %w", err)
	}
	return nil
}

func (w *incident) rejectUpdate(ctx workflow.Context, req schemas.ApprovalDecision) (schemas.Approval, error) {
	err := w.reject(ctx, req)
	for i := len(w.approvals) - 1; i >= 0; i-- {
		if w.approvals[i].Action == req.Action {
			return w.approvals[i], err
		}
	}
	return schemas.Approval{}, err
}

func (w *incident) reject(ctx workflow.Context, req schemas.ApprovalDecision) error {
	i := w.pendingApproval(req.Action)
	w.decide(i, schemas.ApprovalRejected, strings.TrimSpace(req.By), req.Reason, workflow.Now(ctx))
	msg := fmt.Sprintf("%s rejected by %s", req.Action, w.approvals[i].By)
	if req.Reason != "" {
		msg += ": " + req.Reason
	}
	return w.sync(ctx, w.entry(ctx, schemas.TimelineRejected, w.approvals[i].By, msg))
}

func (w *incident) validateMitigate(req schemas.Mitigate) error {
	spec, known := w.actionSpec(req.Action)
	switch {
	case !w.v2:
		return errors.New("this incident started before remediation existed; run the action by hand")
	case w.i9:
		return w.validateMitigateDecided(req)
	case strings.TrimSpace(req.Actor) == "":
		return errors.New("mitigate: who runs the action is required")
	case !known:
		return fmt.Errorf("unknown action %q: see `mahavishnu incidents mitigate %s --list-actions`", req.Action, w.inc.IncidentID)
	case w.resolved:
		return fmt.Errorf("incident %s is already %s", w.inc.IncidentID, w.inc.Status)
	case !spec.Safe && strings.TrimSpace(req.ApprovedBy) == "":
		return fmt.Errorf("%s needs approval: run it again with --approved-by NAME", req.Action)
	}
	return nil
}

// mitigateUpdate runs an action now for a responder. A pending approval of the action
// is approved by the named approver first.
func (w *incident) mitigateUpdate(ctx workflow.Context, req schemas.Mitigate) (schemas.ActionRecord, error) {
	approver := strings.TrimSpace(req.ApprovedBy)
	if i := w.pendingApproval(req.Action); i >= 0 && approver != "" {
		w.decide(i, schemas.ApprovalApproved, approver, "approved with mitigate", workflow.Now(ctx))
		w.approvalRan[i] = true
		if err := w.sync(ctx, w.entry(ctx, schemas.TimelineApproved, approver,
			fmt.Sprintf("%s approved by %s", req.Action, approver))); err != nil {
			return schemas.ActionRecord{}, err
		}
	}
	return w.runAction(ctx, req.Action, strings.TrimSpace(req.Actor), approver), nil
}

func (w *incident) validateFields(req schemas.Update) error {
	switch {
	case strings.TrimSpace(req.By) == "":
		return errors.New("update: who updates is required")
	case w.resolved:
		return fmt.Errorf("incident %s is already %s", w.inc.IncidentID, w.inc.Status)
	case req.Status == "" && req.Severity == "" && req.Title == "" && req.Note == "":
		return errors.New("update: nothing to change: give a status, severity, title or note")
	case req.Status == schemas.StatusResolved || req.Status == schemas.StatusClosed:
		return fmt.Errorf("update: use `resolve` or `close` to set the status %s", req.Status)
	case req.Status != "" && !slices.Contains(schemas.Statuses, req.Status):
		return fmt.Errorf("update: invalid status %q", req.Status)
	case req.Severity != "" && !req.Severity.Valid():
		return fmt.Errorf("update: invalid severity %q", req.Severity)
	}
	return nil
}

// fieldsUpdate changes what responders may change by hand and notes it on the timeline.
func (w *incident) fieldsUpdate(ctx workflow.Context, req schemas.Update) (schemas.Incident, error) {
	var changes []string
	if req.Status != "" && req.Status != w.inc.Status {
		changes = append(changes, fmt.Sprintf("status %s -> %s", w.inc.Status, req.Status))
		w.setStatus(ctx, req.Status)
	}
	if req.Status != "" && w.i9 {
		// Kept until a later stage takes over (stageStatus).
		w.manualStatus, w.manualStatusBy = req.Status, strings.TrimSpace(req.By)
	}
	if req.Severity != "" && req.Severity != w.inc.Severity {
		changes = append(changes, fmt.Sprintf("severity %s -> %s", w.inc.Severity, req.Severity))
		w.inc.Severity = req.Severity
		if err := workflow.UpsertTypedSearchAttributes(ctx, saSeverity.ValueSet(string(req.Severity))); err != nil {
			w.logger.Warn("search attribute update failed", "Error", err)
		}
	}
	if req.Title != "" && req.Title != w.inc.Title {
		changes = append(changes, fmt.Sprintf("title %q", req.Title))
		w.inc.Title = req.Title
	}
	w.inc.Version++
	var entries []schemas.TimelineEntry
	if len(changes) > 0 {
		entries = append(entries, w.entry(ctx, schemas.TimelineUpdated, req.By, "updated: "+strings.Join(changes, ", ")))
	}
	if req.Note != "" {
		entries = append(entries, w.entry(ctx, schemas.TimelineNote, req.By, req.Note))
	}
	err := w.sync(ctx, entries...)
	return w.inc, err
}

package workflows

import (
	"errors"
	"fmt"
	"strings"

	"go.temporal.io/sdk/workflow"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// registerHandlers registers the state query and the acknowledge, assign and resolve
// updates. The same operations also arrive as signals (signalLoop) for callers that do
// not need an answer.
func (w *incident) registerHandlers(ctx workflow.Context) error {
	if err := workflow.SetQueryHandler(ctx, schemas.QueryState, w.state); err != nil {
		return fmt.Errorf("register query %s: %w", schemas.QueryState, err)
	}
	updates := []struct {
		name      string
		handler   any
		validator any
	}{
		{schemas.UpdateAcknowledge, w.acknowledgeUpdate, w.validateAcknowledge},
		{schemas.UpdateAssign, w.assignUpdate, w.validateAssign},
		{schemas.UpdateResolve, w.resolveUpdate, w.validateResolve},
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
		IncidentID:     w.inc.IncidentID,
		Status:         w.inc.Status,
		Severity:       w.inc.Severity,
		EventCount:     w.inc.EventCount,
		AcknowledgedBy: w.inc.AcknowledgedBy,
		AcknowledgedAt: w.inc.AcknowledgedAt,
		AssignedTo:     w.inc.AssignedTo,
		ResolvedAt:     w.inc.ResolvedAt,
		MTTRBreached:   w.inc.MTTRBreached,
	}, nil
}

// signalLoop handles the signals for as long as the workflow runs. Invalid signals are
// logged and dropped: a signal has no caller to answer.
func (w *incident) signalLoop(ctx workflow.Context) {
	ackCh := workflow.GetSignalChannel(ctx, schemas.SignalAcknowledge)
	assignCh := workflow.GetSignalChannel(ctx, schemas.SignalAssign)
	resolveCh := workflow.GetSignalChannel(ctx, schemas.SignalResolve)
	sel := workflow.NewSelector(ctx)
	sel.AddReceive(w.attachCh, func(c workflow.ReceiveChannel, _ bool) {
		var b schemas.AttachEvents
		c.Receive(ctx, &b)
		w.attach(ctx, b)
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
	return w.sync(ctx, w.entry(ctx, schemas.TimelineAcknowledged, w.inc.AcknowledgedBy,
		"acknowledged by "+w.inc.AcknowledgedBy))
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
	return w.sync(ctx, w.entry(ctx, schemas.TimelineResolved, w.inc.ResolvedBy, msg))
}

package activities

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/mahavishnu/mahavishnu/remediation"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// ExecuteAction runs one remediation action for the incident exactly once: the store
// claims the run under its idempotency key (incident, action, attempt) before the
// executor starts, so a retried activity or a restarted worker returns the recorded
// outcome instead of running the action again. A run that died half-way is reported as
// interrupted, not repeated. The outcome goes on the timeline.
func (a *Activities) ExecuteAction(ctx context.Context, in ActionInput) (schemas.ActionRecord, error) {
	id := in.Incident.IncidentID
	rec := schemas.ActionRecord{Action: in.Action, Attempt: in.Attempt, Actor: in.Actor, ApprovedBy: in.ApprovedBy, At: time.Now().UTC()}
	stored, started, err := a.Store.BeginAction(ctx, id, rec)
	if err != nil {
		return rec, err
	}
	if !started {
		if stored.Status == "running" {
			stored.Status = schemas.ActionInterrupted
			stored.Error = "an earlier attempt started this action and did not report back; not run again"
			if err := a.Store.FinishAction(ctx, id, stored); err != nil {
				return stored, err
			}
		}
		return stored, nil
	}
	action, ok := a.Remediation.Get(in.Action)
	var res remediation.Result
	var runErr error
	if !ok {
		res, runErr = remediation.Result{Status: remediation.StatusNotConfigured}, fmt.Errorf("action %q is not registered", in.Action)
	} else {
		res, runErr = action.Execute(ctx, remediation.Input{
			IncidentID: id, IncidentType: in.Incident.IncidentType, Severity: in.Incident.Severity,
			Source: in.Incident.Source, Component: component(in.Incident), Action: in.Action, Actor: in.Actor,
			IdempotencyKey: remediation.IdempotencyKey(id, in.Action, in.Attempt),
		})
	}
	rec.Status = string(res.Status)
	if rec.Status == "" {
		rec.Status = schemas.ActionFailed
	}
	rec.Output = res.Text()
	rec.ExitCode = res.ExitCode
	rec.DurationMS = res.Duration.Milliseconds()
	if runErr != nil {
		rec.Error = runErr.Error()
	}
	if err := a.Store.FinishAction(ctx, id, rec); err != nil {
		return rec, err
	}
	msg := fmt.Sprintf("%s %s", in.Action, strings.ReplaceAll(rec.Status, "_", " "))
	if in.ApprovedBy != "" {
		msg += " (approved by " + in.ApprovedBy + ")"
	}
	if rec.Error != "" {
		msg += ": " + rec.Error
	}
	if err := a.Store.AddTimeline(ctx, schemas.TimelineEntry{
		IncidentID: id, At: time.Now().UTC(), Kind: schemas.TimelineAction, Actor: in.Actor, Message: msg,
		Key: "action/" + remediation.IdempotencyKey(id, in.Action, in.Attempt),
	}); err != nil {
		return rec, err
	}
	return rec, nil
}

func component(inc schemas.Incident) string {
	if len(inc.AffectedComponents) > 0 {
		return inc.AffectedComponents[0]
	}
	return inc.Source
}

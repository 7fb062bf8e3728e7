package manager

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
	"github.com/mahavishnu/mahavishnu/workflows"
)

// RejectedError is a responder operation the incident refused (acknowledged twice,
// resolved already, closed before resolved...). Its message is the reason.
type RejectedError struct{ Reason string }

func (e *RejectedError) Error() string { return e.Reason }

func rejected(format string, args ...any) error {
	return &RejectedError{Reason: fmt.Sprintf(format, args...)}
}

// Ops are the responder operations on an incident, shared by the CLI and the HTTP API.
// Operations that change a running incident go to its workflow as Updates, so the caller
// gets the workflow's answer and, on success, the read model already shows the change.
type Ops struct {
	Store  *store.Store
	Client client.Client
}

// Acknowledge records who acknowledged the incident.
func (o *Ops) Acknowledge(ctx context.Context, id, by string) (*schemas.Incident, error) {
	return o.update(ctx, id, schemas.UpdateAcknowledge, schemas.Acknowledge{By: by})
}

// Assign assigns the incident to a responder.
func (o *Ops) Assign(ctx context.Context, id, to, by string) (*schemas.Incident, error) {
	return o.update(ctx, id, schemas.UpdateAssign, schemas.Assign{To: to, By: by})
}

// Resolve resolves the incident with notes; the workflow then writes the post-mortem.
func (o *Ops) Resolve(ctx context.Context, id, by, notes string) (*schemas.Incident, error) {
	return o.update(ctx, id, schemas.UpdateResolve, schemas.Resolve{By: by, Notes: notes})
}

// Approve approves a pending remediation action.
func (o *Ops) Approve(ctx context.Context, id, action, by, reason string) (*schemas.Approval, error) {
	var out schemas.Approval
	err := o.call(ctx, id, schemas.UpdateApprove, schemas.ApprovalDecision{Action: action, By: by, Reason: reason}, &out)
	return &out, err
}

// Reject rejects a pending remediation action.
func (o *Ops) Reject(ctx context.Context, id, action, by, reason string) (*schemas.Approval, error) {
	var out schemas.Approval
	err := o.call(ctx, id, schemas.UpdateReject, schemas.ApprovalDecision{Action: action, By: by, Reason: reason}, &out)
	return &out, err
}

// Mitigate runs a remediation action now; unsafe actions need approvedBy.
func (o *Ops) Mitigate(ctx context.Context, id string, req schemas.Mitigate) (*schemas.ActionRecord, error) {
	var out schemas.ActionRecord
	err := o.call(ctx, id, schemas.UpdateMitigate, req, &out)
	return &out, err
}

// Update changes status, severity or title of a running incident, or adds a note.
func (o *Ops) Update(ctx context.Context, id string, req schemas.Update) (*schemas.Incident, error) {
	return o.update(ctx, id, schemas.UpdateFields, req)
}

// Declare starts the workflow of an incident a responder declares by hand (no detection).
// Its fingerprint must be unique: "manual/<incident id>".
func (o *Ops) Declare(ctx context.Context, taskQueue string, in schemas.IncidentInput) error {
	_, err := o.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID:                    schemas.IncidentWorkflowID(in.Fingerprint),
		TaskQueue:             taskQueue,
		TypedSearchAttributes: workflows.SearchAttributes(in),
	}, schemas.IncidentWorkflowType, in)
	if err != nil {
		return fmt.Errorf("start incident %s: %w", in.IncidentID, err)
	}
	return nil
}

// Close closes a resolved incident.
func (o *Ops) Close(ctx context.Context, id, by string) (*schemas.Incident, error) {
	inc, err := o.Store.CloseIncident(ctx, id, by, time.Now().UTC())
	if errors.Is(err, store.ErrNotResolved) || errors.Is(err, store.ErrAlreadyClosed) {
		return nil, &RejectedError{Reason: err.Error()}
	}
	return inc, err
}

func (o *Ops) update(ctx context.Context, id, name string, arg any) (*schemas.Incident, error) {
	var out schemas.Incident
	if err := o.call(ctx, id, name, arg, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// call sends an Update to the incident's workflow and decodes its answer into out.
func (o *Ops) call(ctx context.Context, id, name string, arg, out any) error {
	inc, err := o.Store.GetIncident(ctx, id)
	if err != nil {
		return err
	}
	if !inc.Status.Active() {
		return rejected("incident %s is already %s", id, inc.Status)
	}
	handle, err := o.Client.UpdateWorkflow(ctx, client.UpdateWorkflowOptions{
		UpdateID:            uuid.NewString(),
		WorkflowID:          inc.WorkflowID,
		FirstExecutionRunID: inc.RunID,
		UpdateName:          name,
		Args:                []any{arg},
		WaitForStage:        client.WorkflowUpdateStageCompleted,
	})
	if err == nil {
		if err = handle.Get(ctx, out); err == nil {
			return nil
		}
	}
	var notFound *serviceerror.NotFound
	if errors.As(err, &notFound) && inc.RunID == "" {
		// Detected, but the outbox has not started its workflow yet (Temporal away?).
		return rejected("incident %s is detected but its workflow has not started yet "+
			"(the outbox retries until Temporal accepts it): try again shortly", id)
	}
	return updateError(id, name, err)
}

// updateError turns a workflow's refusal into ErrRejected with its plain reason.
func updateError(id, name string, err error) error {
	var appErr *temporal.ApplicationError
	var notFound *serviceerror.NotFound
	switch {
	case errors.As(err, &appErr):
		return rejected("%s", appErr.Message())
	case errors.As(err, &notFound):
		return rejected("incident %s is no longer running (resolved?)", id)
	}
	return fmt.Errorf("%s %s: %w", strings.ReplaceAll(name, "_", " "), id, err)
}

// PendingApprovals asks the incident's workflow for its pending approvals (issue 12: the
// dashboard's Approve and Reject buttons). A finished incident has none.
func (o *Ops) PendingApprovals(ctx context.Context, id string) ([]schemas.Approval, error) {
	inc, err := o.Store.GetIncident(ctx, id)
	if err != nil {
		return nil, err
	}
	if !inc.Status.Active() || inc.WorkflowID == "" {
		return nil, nil
	}
	v, err := o.Client.QueryWorkflow(ctx, inc.WorkflowID, "", schemas.QueryPendingApprovals)
	if err != nil {
		return nil, fmt.Errorf("pending approvals of %s: %w", id, err)
	}
	var out []schemas.Approval
	if err := v.Get(&out); err != nil {
		return nil, fmt.Errorf("pending approvals of %s: %w", id, err)
	}
	return out, nil
}

package workflows

import (
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// HousekeepingResult is the housekeeping workflow's result, shown by the Temporal Web UI for
// each scheduled run.
type HousekeepingResult struct {
	DryRun bool `json:"dry_run,omitempty"`
	// Deleted counts the rows deleted (or, dry, that would be) per kind.
	Deleted store.RetentionCounts `json:"deleted"`
	// StartedAt and FinishedAt are workflow times.
	StartedAt  time.Time `json:"started_at"`
	FinishedAt time.Time `json:"finished_at"`
}

// housekeepingOptions let one run take long (a first run over a large backlog) while a
// dead worker is noticed within the heartbeat timeout: the activity heartbeats per batch.
var housekeepingOptions = workflow.ActivityOptions{
	StartToCloseTimeout: 2 * time.Hour,
	HeartbeatTimeout:    2 * time.Minute,
	RetryPolicy: &temporal.RetryPolicy{
		InitialInterval:    10 * time.Second,
		BackoffCoefficient: 2,
		MaximumInterval:    5 * time.Minute,
		MaximumAttempts:    5,
	},
}

// HousekeepingWorkflow enforces the retention.* keys once: it runs the Housekeep activity
// and returns what it deleted. The housekeeping Temporal Schedule starts it.
func HousekeepingWorkflow(ctx workflow.Context, in schemas.HousekeepingInput) (HousekeepingResult, error) {
	res := HousekeepingResult{DryRun: in.DryRun, StartedAt: workflow.Now(ctx).UTC()}
	ctx = workflow.WithActivityOptions(ctx, housekeepingOptions)
	if err := workflow.ExecuteActivity(ctx, a.Housekeep, in).Get(ctx, &res.Deleted); err != nil {
		return res, err
	}
	res.FinishedAt = workflow.Now(ctx).UTC()
	workflow.GetLogger(ctx).Info("housekeeping done", "deleted", res.Deleted.Total(), "dry_run", in.DryRun)
	return res, nil
}

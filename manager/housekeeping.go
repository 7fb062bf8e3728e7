package manager

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/temporal"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// HousekeepingSchedule says when the housekeeping workflow runs (retention.schedule):
// exactly one of Every and Cron is set.
type HousekeepingSchedule struct {
	Every time.Duration
	Cron  string
	// TaskQueue is where the workflow runs (the incident task queue).
	TaskQueue string
}

func (h HousekeepingSchedule) spec() client.ScheduleSpec {
	if h.Cron != "" {
		return client.ScheduleSpec{CronExpressions: []string{h.Cron}}
	}
	return client.ScheduleSpec{Intervals: []client.ScheduleIntervalSpec{{Every: h.Every}}}
}

func (h HousekeepingSchedule) action() *client.ScheduleWorkflowAction {
	return &client.ScheduleWorkflowAction{
		ID:        schemas.HousekeepingWorkflowID,
		Workflow:  schemas.HousekeepingWorkflowType,
		Args:      []any{schemas.HousekeepingInput{}},
		TaskQueue: h.TaskQueue,
		// One run at a time is plenty; a run that takes long is not worth a second.
		WorkflowRunTimeout: 6 * time.Hour,
	}
}

// EnsureHousekeepingSchedule creates the Temporal Schedule schemas.HousekeepingScheduleID,
// or, when it exists (a restart, or another replica made it), sets its spec and action to
// h. A run that is still going when the next is due is skipped, not overlapped. Safe to
// call from every process at every start.
func EnsureHousekeepingSchedule(ctx context.Context, tc client.Client, h HousekeepingSchedule) error {
	if h.Every <= 0 && h.Cron == "" {
		return errors.New("housekeeping schedule: no interval or cron expression")
	}
	sc := tc.ScheduleClient()
	_, err := sc.Create(ctx, client.ScheduleOptions{
		ID:      schemas.HousekeepingScheduleID,
		Spec:    h.spec(),
		Action:  h.action(),
		Overlap: enumspb.SCHEDULE_OVERLAP_POLICY_SKIP,
		Note:    "Mahavishnu retention: deletes old events, resolved incidents and post-mortems (retention.*)",
	})
	if err == nil {
		return nil
	}
	if !errors.Is(err, temporal.ErrScheduleAlreadyRunning) {
		return fmt.Errorf("create schedule %s: %w", schemas.HousekeepingScheduleID, err)
	}
	handle := sc.GetHandle(ctx, schemas.HousekeepingScheduleID)
	err = handle.Update(ctx, client.ScheduleUpdateOptions{
		DoUpdate: func(in client.ScheduleUpdateInput) (*client.ScheduleUpdate, error) {
			s := in.Description.Schedule
			spec := h.spec()
			s.Spec = &spec
			s.Action = h.action()
			if s.Policy == nil {
				s.Policy = &client.SchedulePolicies{}
			}
			s.Policy.Overlap = enumspb.SCHEDULE_OVERLAP_POLICY_SKIP
			return &client.ScheduleUpdate{Schedule: &s}, nil
		},
	})
	if err != nil {
		return fmt.Errorf("update schedule %s: %w", schemas.HousekeepingScheduleID, err)
	}
	return nil
}

// KeepHousekeepingSchedule runs EnsureHousekeepingSchedule until it succeeds or ctx ends,
// so that a manager pointed at a Temporal cluster that is down creates it once it answers.
func KeepHousekeepingSchedule(ctx context.Context, tc client.Client, h HousekeepingSchedule, logger *slog.Logger) {
	for attempt := 1; ; attempt++ {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := EnsureHousekeepingSchedule(cctx, tc, h)
		cancel()
		if err == nil {
			logger.Info("housekeeping schedule ready", "schedule_id", schemas.HousekeepingScheduleID,
				"every", h.Every, "cron", h.Cron)
			return
		}
		if ctx.Err() != nil {
			return
		}
		if attempt == 1 || attempt%10 == 0 {
			logger.Warn("housekeeping schedule not created yet; retrying", "error", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(min(time.Duration(attempt)*time.Second, 30*time.Second)):
		}
	}
}

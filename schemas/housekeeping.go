package schemas

// The housekeeping workflow's contract (workflows.HousekeepingWorkflow): a Temporal Schedule
// that the manager creates at start runs it on retention.schedule, on the incident task
// queue, to enforce the retention.* keys.
const (
	// HousekeepingWorkflowType is the registered name of the housekeeping workflow.
	HousekeepingWorkflowType = "HousekeepingWorkflow"
	// HousekeepingScheduleID is the ID of the Temporal Schedule that runs it, as shown by
	// the Web UI's Schedules page and `temporal schedule list`.
	HousekeepingScheduleID = "mahavishnu-housekeeping"
	// HousekeepingWorkflowID is the workflow ID of its runs (the schedule appends the time).
	HousekeepingWorkflowID = "mahavishnu-housekeeping"
)

// HousekeepingInput is the housekeeping workflow's input.
type HousekeepingInput struct {
	// DryRun counts what would be deleted and deletes nothing.
	DryRun bool `json:"dry_run,omitempty"`
}

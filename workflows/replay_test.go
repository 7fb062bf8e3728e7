package workflows_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/worker"
	"github.com/mahavishnu/mahavishnu/workflows"
)

// TestReplayRecordedHistories replays every history recorded from real runs on the
// embedded server (`make histories`, see integration/endtoend_test.go) against the
// current workflow code. A change that is not deterministic for running incidents fails
// here; put such changes behind workflow.GetVersion.
func TestReplayRecordedHistories(t *testing.T) {
	files, err := filepath.Glob("../testdata/histories/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files, "no recorded histories in testdata/histories: run `make histories`")
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			replayer := sdkworker.NewWorkflowReplayer()
			worker.RegisterWorkflows(replayer)
			require.NoError(t, replayer.ReplayWorkflowHistoryFromJSONFile(nil, file))
		})
	}
}

// TestReplayCatchesNonDeterministicChange proves the replay test can fail: the recorded
// histories replayed against a procedure that sleeps before its first step (a change not
// put behind workflow.GetVersion) must be reported as non-deterministic.
func TestReplayCatchesNonDeterministicChange(t *testing.T) {
	files, err := filepath.Glob("../testdata/histories/*.json")
	require.NoError(t, err)
	require.NotEmpty(t, files)
	changed := func(ctx workflow.Context, in schemas.IncidentInput) (schemas.Incident, error) {
		if err := workflow.Sleep(ctx, time.Second); err != nil {
			return schemas.Incident{}, err
		}
		return workflows.IncidentWorkflow(ctx, in)
	}
	for _, file := range files {
		replayer := sdkworker.NewWorkflowReplayer()
		replayer.RegisterWorkflowWithOptions(changed, workflow.RegisterOptions{Name: schemas.IncidentWorkflowType})
		err := replayer.ReplayWorkflowHistoryFromJSONFile(nil, file)
		require.Error(t, err, "%s replayed against a changed procedure", filepath.Base(file))
		// TMPRL1100 is Temporal's code for a non-deterministic workflow.
		require.Contains(t, strings.ToUpper(err.Error()), "TMPRL1100", filepath.Base(file))
	}
}

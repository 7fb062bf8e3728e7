package workflows

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/mock"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/testsuite"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

func TestHousekeepingWorkflowReturnsCounts(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	env.SetStartTime(t0)
	want := store.RetentionCounts{Events: 1200, Incidents: 3, Timeline: 17, Actions: 2, Notifications: 4, Postmortems: 1}
	env.OnActivity(a.Housekeep, mock.Anything, schemas.HousekeepingInput{DryRun: true}).Return(want, nil).Once()
	env.ExecuteWorkflow(HousekeepingWorkflow, schemas.HousekeepingInput{DryRun: true})
	require.True(t, env.IsWorkflowCompleted())
	require.NoError(t, env.GetWorkflowError())
	var res HousekeepingResult
	require.NoError(t, env.GetWorkflowResult(&res))
	require.Equal(t, want, res.Deleted)
	require.True(t, res.DryRun)
	require.Equal(t, t0, res.StartedAt)
	env.AssertExpectations(t)
}

func TestHousekeepingWorkflowRetriesThenFails(t *testing.T) {
	var ts testsuite.WorkflowTestSuite
	env := ts.NewTestWorkflowEnvironment()
	calls := 0
	env.OnActivity(a.Housekeep, mock.Anything, mock.Anything).Return(
		func(context.Context, schemas.HousekeepingInput) (store.RetentionCounts, error) {
			calls++
			return store.RetentionCounts{}, errors.New("database is locked")
		})
	env.ExecuteWorkflow(HousekeepingWorkflow, schemas.HousekeepingInput{})
	require.True(t, env.IsWorkflowCompleted())
	require.ErrorContains(t, env.GetWorkflowError(), "database is locked")
	require.Equal(t, int(housekeepingOptions.RetryPolicy.MaximumAttempts), calls)
}

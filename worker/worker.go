// Package worker builds the Temporal worker that runs incident workflows and activities.
package worker

import (
	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/mahavishnu/mahavishnu/activities"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/workflows"
)

// New returns a worker on taskQueue with the incident workflow and acts registered.
// Start it with Start and stop it with Stop.
func New(c client.Client, taskQueue string, acts *activities.Activities) sdkworker.Worker {
	w := sdkworker.New(c, taskQueue, sdkworker.Options{})
	RegisterWorkflows(w)
	w.RegisterActivity(acts)
	return w
}

// WorkflowRegistry is what both a worker and a replayer accept.
type WorkflowRegistry interface {
	RegisterWorkflowWithOptions(w any, options workflow.RegisterOptions)
}

// RegisterWorkflows registers the workflows under their contract names.
func RegisterWorkflows(r WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(workflows.IncidentWorkflow, workflow.RegisterOptions{Name: schemas.IncidentWorkflowType})
	r.RegisterWorkflowWithOptions(workflows.HousekeepingWorkflow, workflow.RegisterOptions{Name: schemas.HousekeepingWorkflowType})
	r.RegisterWorkflowWithOptions(workflows.HeartbeatWorkflow, workflow.RegisterOptions{Name: workflows.HeartbeatWorkflowType}) // issue 11
}

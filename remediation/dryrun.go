package remediation

import "context"

// DryRuns returns a copy of r whose actions only dry-run: Execute describes what would
// run (StatusDryRun) and runs nothing. An action without an executor still reports
// not_configured. Procedure tests (procedures/) run the real workflow with it.
func (r *Registry) DryRuns() *Registry {
	out := &Registry{actions: make(map[string]Action, len(r.actions))}
	for id, a := range r.actions {
		if a.Executor != nil {
			a.Executor = dryRunExecutor{a.Executor}
		}
		out.actions[id] = a
	}
	return out
}

// dryRunExecutor answers Execute with its executor's DryRun.
type dryRunExecutor struct{ inner Executor }

func (d dryRunExecutor) Execute(_ context.Context, in Input) (Result, error) {
	return d.inner.DryRun(in)
}

func (d dryRunExecutor) DryRun(in Input) (Result, error) { return d.inner.DryRun(in) }

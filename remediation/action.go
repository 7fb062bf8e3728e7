// Package remediation holds the remediation actions and their executors: an argv command
// (never a shell), an HTTP request, and built-ins (the zombie reaper). An action without
// an executor reports StatusNotConfigured and ErrNotConfigured; it never pretends success.
//
// The package decides nothing about incidents beyond Decide (the approval policy) and
// IdempotencyKey; running an action exactly once is the calling activity's job.
package remediation

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"time"
)

// Risk is how much harm an action can do when it is the wrong thing to do.
type Risk string

const (
	// RiskLow actions are harmless when unneeded (clear a cache, add capacity).
	RiskLow Risk = "low"
	// RiskMedium actions interrupt service briefly (restart a service).
	RiskMedium Risk = "medium"
	// RiskHigh actions change what is deployed (rollback).
	RiskHigh Risk = "high"
)

// Valid reports whether r is low, medium or high.
func (r Risk) Valid() bool { return r == RiskLow || r == RiskMedium || r == RiskHigh }

// ExecutorKind says how an action is carried out.
type ExecutorKind string

const (
	// KindNone is an action without an executor: running it reports not_configured.
	KindNone ExecutorKind = ""
	// KindCommand runs a program with an argv template.
	KindCommand ExecutorKind = "command"
	// KindHTTP sends an HTTP request.
	KindHTTP ExecutorKind = "http"
	// KindBuiltin is implemented in this package (kill_zombie_processes).
	KindBuiltin ExecutorKind = "builtin"
)

// DefaultTimeout is an action's timeout when its configuration sets none.
const DefaultTimeout = 60 * time.Second

// Action is one remediation action.
type Action struct {
	ID          string `json:"id"`
	Description string `json:"description"`
	Risk        Risk   `json:"risk"`
	// Safe actions may run without a human (see Decide); the others need a named approver.
	Safe    bool          `json:"safe"`
	Timeout time.Duration `json:"timeout"`
	// IncidentTypes are incident types the action is recommended for, besides the ones
	// whose rule lists it.
	IncidentTypes []string     `json:"incident_types,omitempty"`
	Kind          ExecutorKind `json:"kind"`
	// Executor carries the action out; nil means not configured.
	Executor Executor `json:"-"`
	// Unregistered marks a name a rule recommends that no registered action has; Decide
	// refuses it and running it reports not_configured.
	Unregistered bool `json:"unregistered,omitempty"`
}

// Configured reports whether the action has an executor.
func (a Action) Configured() bool { return a.Executor != nil }

// Execute runs the action within its Timeout. Without an executor it returns StatusNotConfigured and an error
// wrapping ErrNotConfigured. The result's Action is set to a.ID.
func (a Action) Execute(ctx context.Context, in Input) (Result, error) {
	if a.Executor == nil {
		return notConfigured(a.ID)
	}
	in.Action = a.ID
	if a.Timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, a.Timeout)
		defer cancel()
	}
	res, err := a.Executor.Execute(ctx, in)
	res.Action = a.ID
	if err != nil {
		return res, fmt.Errorf("action %q: %w", a.ID, err)
	}
	return res, nil
}

// DryRun describes what Execute would run, running nothing. Without an executor it returns
// StatusNotConfigured and ErrNotConfigured, like Execute.
func (a Action) DryRun(in Input) (Result, error) {
	if a.Executor == nil {
		return notConfigured(a.ID)
	}
	in.Action = a.ID
	res, err := a.Executor.DryRun(in)
	res.Action = a.ID
	if err != nil {
		return res, fmt.Errorf("action %q: %w", a.ID, err)
	}
	return res, nil
}

// DefaultActions returns the five built-in actions. Only kill_zombie_processes has an
// executor (the built-in reaper); the others report not_configured until configured.
func DefaultActions() []Action {
	return []Action{
		{ID: "clear_cache", Description: "Clear the application cache", Risk: RiskLow, Safe: true, Timeout: DefaultTimeout},
		{ID: "scale_up", Description: "Add capacity (replicas or workers)", Risk: RiskLow, Safe: true, Timeout: DefaultTimeout},
		{ID: BuiltinKillZombies, Description: "Find zombie processes and signal their parents (SIGCHLD) to reap them",
			Risk: RiskLow, Safe: true, Timeout: DefaultTimeout, Kind: KindBuiltin, Executor: &ZombieReaper{}},
		{ID: "restart_service", Description: "Restart the affected service", Risk: RiskMedium, Safe: false, Timeout: DefaultTimeout},
		{ID: "rollback", Description: "Roll back to the previous deployment", Risk: RiskHigh, Safe: false, Timeout: DefaultTimeout},
	}
}

// Registry holds the actions by ID. Build it with NewRegistry; it is read-only afterwards
// and safe for concurrent use.
type Registry struct {
	actions map[string]Action
}

// Get returns the action with this ID.
func (r *Registry) Get(id string) (Action, bool) {
	a, ok := r.actions[id]
	return a, ok
}

// All returns every action, sorted by ID.
func (r *Registry) All() []Action {
	out := make([]Action, 0, len(r.actions))
	for _, a := range r.actions {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Action) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Recommended returns the actions for an incident: first ruleActions (the incident's rule's
// list) in order, then registered actions whose IncidentTypes include incidentType, by ID;
// each once. A name in ruleActions that is not registered comes back as an Unregistered,
// unsafe, unconfigured action, so that a typo in a rule shows up instead of vanishing.
func (r *Registry) Recommended(incidentType string, ruleActions []string) []Action {
	var out []Action
	seen := map[string]bool{}
	for _, id := range ruleActions {
		if seen[id] {
			continue
		}
		seen[id] = true
		a, ok := r.actions[id]
		if !ok {
			a = Action{ID: id, Description: "not a registered remediation action", Risk: RiskHigh, Unregistered: true}
		}
		out = append(out, a)
	}
	for _, a := range r.All() {
		if !seen[a.ID] && slices.Contains(a.IncidentTypes, incidentType) {
			seen[a.ID] = true
			out = append(out, a)
		}
	}
	return out
}

// Unknown returns the names in ids that are not registered, for validating rules'
// actions lists at startup.
func (r *Registry) Unknown(ids []string) []string {
	var out []string
	for _, id := range ids {
		if _, ok := r.actions[id]; !ok && !slices.Contains(out, id) {
			out = append(out, id)
		}
	}
	return out
}

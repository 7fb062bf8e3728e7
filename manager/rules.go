package manager

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"time"

	"github.com/mahavishnu/mahavishnu/detector"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// InvalidError is a change the manager refused because the input is invalid (a rule or a
// silence); its message names the field.
type InvalidError struct{ Err error }

func (e *InvalidError) Error() string { return e.Err.Error() }

// Unwrap returns the validation error.
func (e *InvalidError) Unwrap() error { return e.Err }

func invalid(format string, args ...any) error {
	return &InvalidError{Err: fmt.Errorf(format, args...)}
}

// RulePatch changes some settings of a rule; nil fields are left as they are.
type RulePatch struct {
	Name                  *string           `json:"name,omitempty"`
	Severity              *schemas.Severity `json:"severity,omitempty"`
	Enabled               *bool             `json:"enabled,omitempty"`
	Threshold             *int              `json:"threshold,omitempty"`
	WindowSeconds         *int              `json:"time_window_seconds,omitempty"`
	CheckIntervalSeconds  *int              `json:"check_interval_seconds,omitempty"`
	RequireConsecutive    *bool             `json:"require_consecutive,omitempty"`
	MinComponentsAffected *int              `json:"min_components_affected,omitempty"`
	GroupBy               *string           `json:"group_by,omitempty"`
}

// IsZero reports whether the patch changes nothing.
func (p RulePatch) IsZero() bool { return reflect.ValueOf(p).IsZero() }

// Apply sets the patch's fields on r.
func (p RulePatch) Apply(r *schemas.Rule) {
	set := func(dst, src any) {
		if v := reflect.ValueOf(src); !v.IsNil() {
			reflect.ValueOf(dst).Elem().Set(v.Elem())
		}
	}
	set(&r.Name, p.Name)
	set(&r.Severity, p.Severity)
	set(&r.Enabled, p.Enabled)
	set(&r.Threshold, p.Threshold)
	set(&r.WindowSeconds, p.WindowSeconds)
	set(&r.CheckIntervalSeconds, p.CheckIntervalSeconds)
	set(&r.RequireConsecutive, p.RequireConsecutive)
	set(&r.MinComponentsAffected, p.MinComponentsAffected)
	set(&r.GroupBy, p.GroupBy)
}

// Rules returns the rules the detector runs now, enabled or not, in order.
func (m *Manager) Rules() []schemas.Rule { return cloneRules(*m.rules.Load()) }

// RuleRecords returns the stored rules with who changed them last.
func (m *Manager) RuleRecords(ctx context.Context) ([]store.RuleRecord, error) {
	return m.opts.Store.RuleRecords(ctx)
}

// Rule returns one stored rule, or an error wrapping store.ErrNotFound.
func (m *Manager) Rule(ctx context.Context, id string) (*store.RuleRecord, error) {
	return m.opts.Store.GetRule(ctx, id)
}

// CreateRule validates a new rule together with the stored ones, stores it and applies
// it at once (no restart). An ID in use is an InvalidError.
func (m *Manager) CreateRule(ctx context.Context, r schemas.Rule, by string) (*store.RuleRecord, error) {
	m.rulesMu.Lock()
	defer m.rulesMu.Unlock()
	rules, err := m.opts.Store.Rules(ctx)
	if err != nil {
		return nil, err
	}
	rules = append(rules, r.Clone())
	if err := schemas.ValidateRules(rules); err != nil {
		return nil, &InvalidError{Err: err}
	}
	if err := m.opts.Store.InsertRule(ctx, r, by, m.now().UTC()); err != nil {
		if errors.Is(err, store.ErrExists) {
			return nil, invalid("rule %q: id: a rule with this id exists; change it with `rules update`", r.ID)
		}
		return nil, err
	}
	// Run what the store holds, so that the periodic sync sees no difference.
	if rules, err = m.opts.Store.Rules(ctx); err != nil {
		return nil, err
	}
	m.applyRules(ctx, rules)
	m.logger.Info("rule created", "rule", r.ID, "by", by)
	return m.opts.Store.GetRule(ctx, r.ID)
}

// UpdateRule changes a stored rule and applies it at once: a lowered threshold fires
// right away for the windows that already hold enough events. It returns an error wrapping
// store.ErrNotFound for an unknown rule, or an InvalidError naming the field.
func (m *Manager) UpdateRule(ctx context.Context, id string, patch RulePatch, by string) (*store.RuleRecord, error) {
	if patch.IsZero() {
		return nil, invalid("rule %q: nothing to change: give at least one setting", id)
	}
	m.rulesMu.Lock()
	defer m.rulesMu.Unlock()
	rules, err := m.opts.Store.Rules(ctx)
	if err != nil {
		return nil, err
	}
	i := indexOfRule(rules, id)
	if i < 0 {
		return nil, fmt.Errorf("rule %s: %w", id, store.ErrNotFound)
	}
	before := rules[i].Clone()
	patch.Apply(&rules[i])
	if err := schemas.ValidateRules(rules); err != nil {
		return nil, &InvalidError{Err: err}
	}
	if err := m.opts.Store.UpdateRule(ctx, rules[i], by, m.now().UTC()); err != nil {
		return nil, err
	}
	m.applyRules(ctx, rules)
	m.logger.Info("rule updated", "rule", id, "by", by, "change", describeChange(&before, &rules[i]))
	return m.opts.Store.GetRule(ctx, id)
}

func indexOfRule(rules []schemas.Rule, id string) int {
	for i := range rules {
		if rules[i].ID == id {
			return i
		}
	}
	return -1
}

// describeChange lists the settings that differ, for the log: "threshold 10->3".
func describeChange(a, b *schemas.Rule) string {
	var parts []string
	va, vb := reflect.ValueOf(a).Elem(), reflect.ValueOf(b).Elem()
	for i := range va.NumField() {
		fa, fb := va.Field(i), vb.Field(i)
		if !reflect.DeepEqual(fa.Interface(), fb.Interface()) {
			name, _, _ := strings.Cut(va.Type().Field(i).Tag.Get("json"), ",")
			parts = append(parts, fmt.Sprintf("%s %v->%v", name, fa.Interface(), fb.Interface()))
		}
	}
	return strings.Join(parts, ", ")
}

// applyRules makes validated rules the ones in force: the detector (in this process, or
// another one's within rulesPoll) runs them and re-evaluates its windows at once, so a
// lowered threshold opens incidents now, not at the next check.
func (m *Manager) applyRules(_ context.Context, rules []schemas.Rule) {
	rules = cloneRules(rules)
	m.rules.Store(&rules)
	if m.loop != nil {
		m.loop.setRules(rules)
	}
}

// loadRules seeds the store with the configured rules whose IDs it does not hold yet, then
// makes the stored rules the ones in force.
func (m *Manager) loadRules(ctx context.Context) error {
	m.rulesMu.Lock()
	defer m.rulesMu.Unlock()
	added, err := m.opts.Store.SeedRules(ctx, m.opts.Rules, m.now().UTC())
	if err != nil {
		return fmt.Errorf("seed rules: %w", err)
	}
	rules, err := m.opts.Store.Rules(ctx)
	if err != nil {
		return err
	}
	if _, err := m.newDetector(rules); err != nil {
		return fmt.Errorf("rules in %s: %w (fix them with `mahavishnu incidents rules update`)", m.opts.Store, err)
	}
	m.rules.Store(&rules)
	m.logger.Info("rules loaded", "rules", len(rules), "seeded", len(added))
	return nil
}

// minCheckWait bounds how soon the detect loop wakes for the next re-evaluation.
const minCheckWait = 10 * time.Millisecond

// checkInterval is how long the detect loop waits for its next background re-evaluation:
// until the next rule is due. Each rule is re-evaluated every its own
// check_interval_seconds (detection.check_interval_seconds for a rule that sets none), so
// `rules update ID --check-interval N` changes that rule's period only.
func (m *Manager) checkInterval(det *detector.Detector) time.Duration {
	return max(det.NextCheck(m.now()), minCheckWait)
}

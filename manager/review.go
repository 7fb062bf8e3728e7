package manager

import (
	"context"
	"fmt"
	"time"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// Review flags.
const (
	// FlagNoisy marks a rule that fires often, or whose incidents mostly resolve without
	// any remediation step: a tuning candidate.
	FlagNoisy = "noisy"
	// FlagSilent marks an enabled rule that opened no incident in the period.
	FlagSilent = "silent"
)

// ReviewOptions tune `rules review`.
type ReviewOptions struct {
	// Since starts the period reviewed.
	Since time.Time
	// NoisyFires is how many incidents in the period make a rule noisy (default 10).
	NoisyFires int
}

// RuleReview is one rule's record over the period.
type RuleReview struct {
	RuleID        string           `json:"rule_id"`
	Name          string           `json:"name"`
	Enabled       bool             `json:"enabled"`
	Severity      schemas.Severity `json:"severity"`
	Threshold     int              `json:"threshold"`
	WindowSeconds int              `json:"time_window_seconds"`
	// Fires counts the incidents the rule opened in the period.
	Fires int `json:"fires"`
	// Resolved counts those resolved or closed; ResolvedWithoutAction those of them with no
	// remediation step (store.ActionTimelineKinds) on their timeline.
	Resolved              int `json:"resolved"`
	ResolvedWithoutAction int `json:"resolved_without_action"`
	// Acknowledged counts the acknowledged incidents; the ack times are theirs.
	Acknowledged     int      `json:"acknowledged"`
	MedianAckSeconds *float64 `json:"median_ack_seconds"`
	MeanAckSeconds   *float64 `json:"mean_ack_seconds"`
	// Flags are FlagNoisy and FlagSilent; Advice says what to try.
	Flags  []string `json:"flags"`
	Advice string   `json:"advice,omitempty"`
}

// Review sums up each rule's incidents since opts.Since and flags noisy and silent rules.
// Rules come in their order; incidents of rules no longer known are left out.
func Review(ctx context.Context, st *store.Store, rules []schemas.Rule, opts ReviewOptions) ([]RuleReview, error) {
	if opts.NoisyFires <= 0 {
		opts.NoisyFires = 10
	}
	activity, err := st.RuleActivity(ctx, opts.Since)
	if err != nil {
		return nil, err
	}
	out := make([]RuleReview, 0, len(rules))
	for _, r := range rules {
		rv := RuleReview{RuleID: r.ID, Name: r.Name, Enabled: r.Enabled, Severity: r.Severity, Threshold: r.Threshold,
			WindowSeconds: r.WindowSeconds, Flags: []string{}}
		if a := activity[r.ID]; a != nil {
			rv.Fires, rv.Resolved, rv.ResolvedWithoutAction = a.Fired, a.Resolved, a.ResolvedWithoutAction
			if n := len(a.AckSeconds); n > 0 {
				rv.Acknowledged = n
				median := a.AckSeconds[n/2]
				if n%2 == 0 {
					median = (a.AckSeconds[n/2-1] + a.AckSeconds[n/2]) / 2
				}
				var sum float64
				for _, s := range a.AckSeconds {
					sum += s
				}
				mean := sum / float64(n)
				rv.MedianAckSeconds, rv.MeanAckSeconds = &median, &mean
			}
		}
		switch {
		case rv.Fires >= opts.NoisyFires:
			rv.Flags = append(rv.Flags, FlagNoisy)
			rv.Advice = fmt.Sprintf("fired %d times: raise the threshold (now %d) or the window, or require consecutive events; "+
				"try it first with `mahavishnu incidents test-rule %s --threshold %d`", rv.Fires, r.Threshold, r.ID, r.Threshold*2)
		case rv.Resolved >= 3 && 2*rv.ResolvedWithoutAction >= rv.Resolved:
			rv.Flags = append(rv.Flags, FlagNoisy)
			rv.Advice = fmt.Sprintf("%d of %d incidents were resolved without any action: raise the threshold (now %d) "+
				"or lower the severity; try it first with `mahavishnu incidents test-rule %s --threshold %d`",
				rv.ResolvedWithoutAction, rv.Resolved, r.Threshold, r.ID, r.Threshold*2)
		case r.Enabled && rv.Fires == 0:
			rv.Flags = append(rv.Flags, FlagSilent)
			rv.Advice = fmt.Sprintf("no incident in the period: check that matching events arrive "+
				"(`mahavishnu incidents events list --type %s`) or backtest a lower threshold "+
				"(`mahavishnu incidents test-rule %s --threshold %d`)", r.EventTypes[0], r.ID, max(1, r.Threshold/2))
		}
		out = append(out, rv)
	}
	return out, nil
}

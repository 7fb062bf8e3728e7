package manager

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mahavishnu/mahavishnu/detector"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// BacktestOptions say which rule to replay, over which period, with which settings.
type BacktestOptions struct {
	RuleID string
	// Since and Until bound the event timestamps replayed (zero Until: no bound).
	Since, Until time.Time
	// Threshold and WindowSeconds replace the rule's settings when positive.
	Threshold     int
	WindowSeconds int
}

// BacktestIncident is an incident the rule would have opened.
type BacktestIncident struct {
	Fingerprint string           `json:"fingerprint"`
	GroupKey    string           `json:"group_key"`
	Severity    schemas.Severity `json:"severity"`
	// FirstEventAt is the first event of the window that crossed the threshold;
	// DetectedAt the event that crossed it; LastEventAt the last event attached.
	FirstEventAt time.Time `json:"first_event_at"`
	DetectedAt   time.Time `json:"detected_at"`
	LastEventAt  time.Time `json:"last_event_at"`
	// Events counts the window's events and those attached afterwards.
	Events int `json:"events"`
}

// BacktestResult is what a backtest found.
type BacktestResult struct {
	// Rule is the rule as tested (with the overrides, and enabled).
	Rule  schemas.Rule `json:"rule"`
	Since time.Time    `json:"since"`
	Until time.Time    `json:"until"`
	// EventsReplayed counts the stored events fed to the detector; EventsSilenced those
	// skipped because a silence had muted them.
	EventsReplayed int `json:"events_replayed"`
	EventsSilenced int `json:"events_silenced"`
	// Incidents are the incidents the rule would have opened, in detection order.
	Incidents []BacktestIncident `json:"incidents"`
	// ActualIncidents counts the incidents the rule really opened in the period.
	ActualIncidents int `json:"actual_incidents"`
}

// errStopScan ends a ScanEvents early.
var errStopScan = errors.New("stop scan")

// Backtest replays the stored events of the period through a fresh detector running all
// rules (so that claims apply as in production) with the tested rule changed, and reports
// the incidents that rule would have opened. It opens nothing and changes nothing.
//
// A simulated incident stays open, collecting its group's events, until its group has
// been quiet for one window; the next matching event then counts towards a new one. (A
// real incident stays open until it is resolved, which a replay cannot know.) A disabled
// rule is tested as if it were enabled. An unknown rule is an error wrapping
// store.ErrNotFound; invalid overrides are an InvalidError.
func Backtest(ctx context.Context, st *store.Store, rules []schemas.Rule, opts BacktestOptions) (*BacktestResult, error) {
	all := make([]schemas.Rule, len(rules))
	for i := range rules {
		all[i] = rules[i].Clone()
	}
	i := indexOfRule(all, opts.RuleID)
	if i < 0 {
		return nil, fmt.Errorf("rule %s: %w", opts.RuleID, store.ErrNotFound)
	}
	target := &all[i]
	target.Enabled = true
	if opts.Threshold < 0 || opts.WindowSeconds < 0 {
		return nil, invalid("threshold and time window must be positive")
	}
	if opts.Threshold > 0 {
		target.Threshold = opts.Threshold
	}
	if opts.WindowSeconds > 0 {
		target.WindowSeconds = opts.WindowSeconds
	}
	tested := target.Clone()
	retention := time.Hour
	for _, r := range all {
		retention = max(retention, r.Window())
	}
	det, err := detector.New(all, detector.Options{MaxEvents: 1_000_000, Retention: retention})
	if err != nil {
		return nil, &InvalidError{Err: err}
	}

	res := &BacktestResult{Rule: tested, Since: opts.Since, Until: opts.Until, Incidents: []BacktestIncident{}}
	open := map[string]int{} // fingerprint -> index in res.Incidents
	window := tested.Window()
	var acts []detector.Action
	// handle records the tested rule's actions for ev; it reports whether the event must
	// be observed again because it ended a simulated incident.
	handle := func(ev *schemas.Event, acts []detector.Action) (again bool) {
		for _, a := range acts {
			if a.Rule.ID != tested.ID {
				continue
			}
			switch a.Kind {
			case detector.ActionOpen:
				open[a.Fingerprint] = len(res.Incidents)
				res.Incidents = append(res.Incidents, BacktestIncident{
					Fingerprint: a.Fingerprint, GroupKey: a.GroupKey, Severity: a.Severity,
					FirstEventAt: a.Events.FirstAt, DetectedAt: ev.Timestamp, LastEventAt: a.Events.LastAt,
					Events: len(a.Events.EventIDs),
				})
			case detector.ActionAttach:
				j, ok := open[a.Fingerprint]
				if !ok {
					continue
				}
				inc := &res.Incidents[j]
				if ev.Timestamp.Sub(inc.LastEventAt) > window {
					det.Closed(a.Fingerprint) // quiet for a window: consider it resolved
					delete(open, a.Fingerprint)
					again = true
					continue
				}
				inc.Events++
				if ev.Timestamp.After(inc.LastEventAt) {
					inc.LastEventAt = ev.Timestamp
				}
				inc.Severity = inc.Severity.Max(a.Severity)
			}
		}
		return again
	}
	err = st.ScanEvents(ctx, opts.Since, false, func(ev schemas.Event) error {
		if !opts.Until.IsZero() && ev.Timestamp.After(opts.Until) {
			return errStopScan
		}
		if ev.SilencedBy != "" {
			res.EventsSilenced++
			return nil
		}
		res.EventsReplayed++
		acts = det.Observe(&ev, acts[:0])
		if handle(&ev, acts) {
			acts = det.Observe(&ev, acts[:0])
			handle(&ev, acts)
		}
		return ctx.Err()
	})
	if err != nil && !errors.Is(err, errStopScan) {
		return nil, fmt.Errorf("backtest %s: %w", opts.RuleID, err)
	}

	incs, err := st.ListIncidents(ctx, store.IncidentFilter{Since: opts.Since, Limit: 10000})
	if err != nil {
		return nil, fmt.Errorf("backtest %s: %w", opts.RuleID, err)
	}
	for _, inc := range incs {
		if inc.RuleID == opts.RuleID && (opts.Until.IsZero() || !inc.DetectedAt.After(opts.Until)) {
			res.ActualIncidents++
		}
	}
	return res, nil
}

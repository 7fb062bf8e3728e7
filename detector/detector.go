// Package detector is the streaming rule engine: it matches stored events against the
// detection rules, counts them in sliding windows per (rule, group key) and says when an
// incident must be opened or an event attached to an open one. It is pure Go: no Temporal,
// no SQL, no clock of its own (time comes from event timestamps and Tick).
//
// Semantics, per enabled rule and group key (schemas.Rule.GroupKey):
//
//   - The window holds the matching events whose timestamps lie within Rule.Window of the
//     group's newest event: (newest - window, newest]. Events are placed by timestamp, so
//     out-of-order arrivals count; an event at or before newest - window is too late for
//     that window and is ignored by it.
//   - When the window holds Threshold events (and at least MinComponentsAffected distinct
//     components), the detector emits one ActionOpen carrying every event of the window,
//     clears the window and marks the fingerprint open. While it is open, each further
//     matching event of that fingerprint gives an ActionAttach and is not counted.
//     Closed(fingerprint) ends that: later events count from zero.
//   - RequireConsecutive: a recovery event (schemas.IsRecoveryEvent: "recovery",
//     "resolved", "service_up", "ok") whose group key for the rule is the window's key
//     drops the window's events at or before the recovery's timestamp, and later-arriving
//     events timestamped at or before it are ignored, so only an unbroken run counts.
//   - Claims: an event matched by an enabled rule is not counted by the rules it claims.
//   - Memory: at most Options.MaxEvents events are held across all windows (the event held
//     longest is dropped first), and Tick drops events older than Options.Retention
//     before Tick's time. Once Tick has run, Observe ignores events older than the
//     retention before the latest Tick time.
//
// The detector never reads the wall clock: the manager calls Tick(time.Now()) every check
// interval. Replaying old events (a backtest, or the rebuild at start-up) works without
// Tick. A sender whose timestamps run far ahead of real time stalls its own windows; the
// ingest should bound future timestamps.
package detector

import (
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// Defaults of Options.
const (
	DefaultMaxEvents = 10000
	DefaultRetention = time.Hour
	// DefaultTickInterval is TickInterval when no enabled rule sets check_interval_seconds.
	DefaultTickInterval = time.Minute
)

// Options bound the detector's memory.
type Options struct {
	// MaxEvents bounds the events held in all windows together; default 10000.
	MaxEvents int
	// Retention is how long an event can matter; default 1h. A rule's effective window is
	// the shorter of its window and the retention.
	Retention time.Duration
	// CheckInterval is the re-evaluation period of a rule whose check_interval_seconds is
	// 0 (detection.check_interval_seconds); default DefaultTickInterval.
	CheckInterval time.Duration
}

// ActionKind says what the manager must do with an Action.
type ActionKind int

const (
	// ActionOpen opens an incident for the fingerprint with the window's events.
	ActionOpen ActionKind = iota + 1
	// ActionAttach attaches one event to the open incident of the fingerprint.
	ActionAttach
)

// String returns "open" or "attach".
func (k ActionKind) String() string {
	switch k {
	case ActionOpen:
		return "open"
	case ActionAttach:
		return "attach"
	}
	return fmt.Sprintf("ActionKind(%d)", int(k))
}

// Action is what the detector asks the manager to do.
type Action struct {
	Kind ActionKind
	// Rule is the rule that fired or matched. It points to the detector's private copy,
	// which is never modified (SetRules makes new copies), so it stays valid and unchanged
	// for as long as the caller keeps it. Do not modify it.
	Rule *schemas.Rule
	// Fingerprint is schemas.Fingerprint(Rule.ID, GroupKey).
	Fingerprint string
	GroupKey    string
	// Events are, for ActionOpen, every event of the window that crossed the threshold
	// (IDs in timestamp order, first/last timestamps, distinct components sorted, the
	// highest event severity); for ActionAttach, the one event.
	Events schemas.AttachEvents
	// Severity is the rule's severity raised (never lowered) by the events' severities.
	Severity schemas.Severity
}

// Stats are the detector's gauges and counters, for /metrics and status.
type Stats struct {
	// HeldEvents is the number of events held in all windows.
	HeldEvents int
	// Windows is the number of (rule, group key) windows kept.
	Windows int
	// OpenFingerprints is the number of fingerprints known to have an open incident.
	OpenFingerprints int
	// DroppedMaxEvents counts events dropped from windows to respect MaxEvents.
	DroppedMaxEvents uint64
	// IgnoredTooOld counts events ignored because they were older than the retention.
	IgnoredTooOld uint64
}

// Detector is the rule engine. All methods are safe for concurrent use (one mutex guards
// the state), but the manager should feed events from one goroutine, in the order it
// stored them, so that detections are reproducible.
type Detector struct {
	mu        sync.Mutex
	maxEvents int
	retention int64 // ns
	every     int64 // ns: re-evaluation period of rules that set none

	all     []schemas.Rule    // every rule as given (deep copies), enabled or not
	rules   []*compiledRule   // enabled rules, in the order given
	byID    map[string]int    // enabled rule ID -> index in rules
	byType  map[string][]cand // event type -> candidate rules, sorted by rule index
	recover []int             // indices of rules with RequireConsecutive

	open  map[string]struct{} // fingerprints with an open incident
	clock int64               // latest Tick time (ns); 0 before the first Tick

	pool pool

	stats Stats

	// Scratch space reused by Observe, so that it does not allocate.
	matched []int
	claimed []bool
	lowMsg  []byte
	lowSrc  []byte
	lowComp []byte
	haveMsg bool
	haveSrc bool
	srcMask uint64 // source keyword verdicts of the current event (see srcCache)
	comps   []string

	// srcMatchers are the matchers with source keywords; the verdicts of the first 64 for
	// a source are cached in srcCache (bit srcBit), as sources repeat and messages do not.
	srcMatchers []*compiledMatcher
	srcCache    map[string]uint64
}

// srcCacheSize bounds srcCache; it is emptied when full.
const srcCacheSize = 4096

// New validates the rules (schemas.ValidateRules) and returns a detector for them.
func New(rules []schemas.Rule, opts Options) (*Detector, error) {
	if opts.MaxEvents < 0 {
		return nil, fmt.Errorf("detector: max_events: must not be negative, got %d", opts.MaxEvents)
	}
	if opts.Retention < 0 {
		return nil, fmt.Errorf("detector: event_retention: must not be negative, got %s", opts.Retention)
	}
	if opts.MaxEvents == 0 {
		opts.MaxEvents = DefaultMaxEvents
	}
	if opts.Retention == 0 {
		opts.Retention = DefaultRetention
	}
	if opts.CheckInterval < 0 {
		return nil, fmt.Errorf("detector: check_interval: must not be negative, got %s", opts.CheckInterval)
	}
	if opts.CheckInterval == 0 {
		opts.CheckInterval = DefaultTickInterval
	}
	d := &Detector{
		maxEvents: opts.MaxEvents,
		retention: int64(opts.Retention),
		every:     int64(opts.CheckInterval),
		open:      make(map[string]struct{}),
		pool:      newPool(opts.MaxEvents),
	}
	if err := d.SetRules(rules); err != nil {
		return nil, err
	}
	return d, nil
}

// SetRules validates and replaces the rules. The windows of a rule that stays enabled
// with the same selection (event types, matchers, group_by, require_consecutive) are kept,
// even if its threshold, window or severity changed; the next Tick re-evaluates them.
// Other windows are dropped. Open fingerprints are kept. On error nothing changes.
func (d *Detector) SetRules(rules []schemas.Rule) error {
	if err := schemas.ValidateRules(rules); err != nil {
		return fmt.Errorf("detector: %w", err)
	}
	all := make([]schemas.Rule, len(rules))
	for i := range rules {
		all[i] = rules[i].Clone()
	}
	d.mu.Lock()
	defer d.mu.Unlock()

	old := make(map[string]*compiledRule, len(d.rules))
	for _, cr := range d.rules {
		old[cr.rule.ID] = cr
	}
	var compiled []*compiledRule
	byID := make(map[string]int)
	for i := range all {
		if !all[i].Enabled {
			continue
		}
		// A second private copy, so that Action.Rule never aliases what Rules returns.
		r := all[i].Clone()
		cr := compile(&r, d.retention)
		cr.index = len(compiled)
		cr.every = d.every
		if r.CheckIntervalSeconds > 0 {
			cr.every = int64(time.Duration(r.CheckIntervalSeconds) * time.Second)
		}
		if prev, ok := old[r.ID]; ok {
			cr.checks = prev.checks
			if prev.every == cr.every {
				cr.due = prev.due // an unchanged period keeps its schedule
			}
		}
		if prev, ok := old[r.ID]; ok && sameSelection(prev.rule, &r) {
			cr.groups = prev.groups
			delete(old, r.ID)
			for _, w := range cr.groups {
				d.expire(w, w.newest-cr.window) // the window may have shrunk
			}
		}
		byID[r.ID] = cr.index
		compiled = append(compiled, cr)
	}
	for _, cr := range old {
		for _, w := range cr.groups {
			d.clearWindow(w)
		}
	}
	byType := make(map[string][]cand)
	var recover []int
	for _, cr := range compiled {
		for _, t := range cr.rule.EventTypes {
			byType[t] = appendCand(byType[t], cand{rule: cr.index})
		}
		for mi := range cr.matchers {
			for _, t := range cr.rule.Matchers[mi].EventTypes {
				byType[t] = appendCand(byType[t], cand{rule: cr.index, m: &cr.matchers[mi]})
			}
		}
		for _, c := range cr.rule.Claims {
			if j, ok := byID[c]; ok {
				cr.claims = append(cr.claims, j)
			}
		}
		if cr.rule.RequireConsecutive {
			recover = append(recover, cr.index)
		}
	}
	var srcMatchers []*compiledMatcher
	for _, cr := range compiled {
		for mi := range cr.matchers {
			if m := &cr.matchers[mi]; len(m.src) > 0 {
				m.srcBit = -1
				if len(srcMatchers) < 64 {
					m.srcBit = len(srcMatchers)
				}
				srcMatchers = append(srcMatchers, m)
			}
		}
	}
	d.srcMatchers, d.srcCache = srcMatchers, make(map[string]uint64)
	d.all, d.rules, d.byID, d.byType, d.recover = all, compiled, byID, byType, recover
	d.claimed = make([]bool, len(compiled))
	d.matched = make([]int, 0, len(compiled))
	return nil
}

// appendCand keeps each list sorted by rule index with the unconditional candidate of a
// rule first, so Observe can skip a rule's other candidates once one matched.
func appendCand(list []cand, c cand) []cand {
	list = append(list, c)
	for i := len(list) - 1; i > 0; i-- {
		a, b := list[i-1], list[i]
		if a.rule < b.rule || (a.rule == b.rule && (a.m == nil || b.m != nil)) {
			break
		}
		list[i-1], list[i] = b, a
	}
	return list
}

func sameSelection(a, b *schemas.Rule) bool {
	if a.GroupBy != b.GroupBy && !(isSource(a.GroupBy) && isSource(b.GroupBy)) {
		return false
	}
	if a.RequireConsecutive != b.RequireConsecutive || !equalStrings(a.EventTypes, b.EventTypes) ||
		len(a.Matchers) != len(b.Matchers) {
		return false
	}
	for i := range a.Matchers {
		x, y := &a.Matchers[i], &b.Matchers[i]
		if !equalStrings(x.EventTypes, y.EventTypes) || !equalStrings(x.MessageContains, y.MessageContains) ||
			!equalStrings(x.SourceContains, y.SourceContains) {
			return false
		}
	}
	return true
}

func isSource(groupBy string) bool { return groupBy == "" || groupBy == schemas.GroupBySource }

func equalStrings(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// Rules returns deep copies of all rules, enabled or not, in the order given.
func (d *Detector) Rules() []schemas.Rule {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]schemas.Rule, len(d.all))
	for i := range d.all {
		out[i] = d.all[i].Clone()
	}
	return out
}

// Opened tells the detector that an incident is open for fingerprint (used when rebuilding
// state at start-up). The fingerprint's window is cleared: its events belong to that
// incident. Later matching events of the fingerprint give ActionAttach.
func (d *Detector) Opened(fingerprint string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.open[fingerprint] = struct{}{}
	if w := d.windowOf(fingerprint); w != nil {
		d.clearWindow(w)
		w.open = true
	}
}

// Closed tells the detector that the incident of fingerprint is no longer open (resolved
// or closed): later matching events count anew from zero.
func (d *Detector) Closed(fingerprint string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.open, fingerprint)
	if w := d.windowOf(fingerprint); w != nil {
		w.open = false
	}
}

// windowOf finds the existing window of a fingerprint ("rule_id/group key"; rule IDs
// contain no '/').
func (d *Detector) windowOf(fingerprint string) *window {
	ruleID, key, ok := strings.Cut(fingerprint, "/")
	if !ok {
		return nil
	}
	i, ok := d.byID[ruleID]
	if !ok {
		return nil
	}
	return d.rules[i].groups[key]
}

// Stats returns the current gauges and counters.
func (d *Detector) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	s := d.stats
	s.HeldEvents = d.pool.live
	s.OpenFingerprints = len(d.open)
	for _, cr := range d.rules {
		s.Windows += len(cr.groups)
	}
	return s
}

// TickInterval is the shortest re-evaluation period among the enabled rules (each rule's
// check_interval_seconds, or Options.CheckInterval for a rule that sets none); the
// Options.CheckInterval without enabled rules.
func (d *Detector) TickInterval() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	every := int64(0)
	for _, cr := range d.rules {
		if every == 0 || cr.every < every {
			every = cr.every
		}
	}
	if every == 0 {
		return time.Duration(d.every)
	}
	return time.Duration(every)
}

// RuleChecks counts, per enabled rule ID, the re-evaluations (Tick, TickDue) it had.
func (d *Detector) RuleChecks() map[string]uint64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make(map[string]uint64, len(d.rules))
	for _, cr := range d.rules {
		out[cr.rule.ID] = cr.checks
	}
	return out
}

// NextCheck is how long after now the next rule is due for its re-evaluation (TickDue):
// 0 when one is due already, Options.CheckInterval without enabled rules.
func (d *Detector) NextCheck(now time.Time) time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.rules) == 0 {
		return time.Duration(d.every)
	}
	clock := max(d.clock, now.UnixNano())
	next := d.rules[0].due - clock
	for _, cr := range d.rules[1:] {
		next = min(next, cr.due-clock)
	}
	return time.Duration(max(next, 0))
}

// Recount counts ev again for one rule only, as if its fingerprint had not been open: the
// manager calls it for events it could not attach because the fingerprint's incident had
// ended meanwhile (see Closed). The event matched the rule before, so matching and claims
// are not evaluated again, and no other rule's window sees the event twice.
func (d *Detector) Recount(ev *schemas.Event, ruleID string, out []Action) []Action {
	if ev == nil || ev.Timestamp.IsZero() {
		return out
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	i, ok := d.byID[ruleID]
	if !ok {
		return out
	}
	return d.count(d.rules[i], ev, ev.Timestamp.UnixNano(), out)
}

// LongestWindow is the longest effective window among the enabled rules: how far back the
// manager must replay stored events to rebuild the windows after a restart.
func (d *Detector) LongestWindow() time.Duration {
	d.mu.Lock()
	defer d.mu.Unlock()
	var longest int64
	for _, cr := range d.rules {
		longest = max(longest, cr.window)
	}
	return time.Duration(longest)
}

// EventTypes lists the event types some enabled rule looks at (with the recovery types
// when a rule requires consecutive events), sorted: the manager reads only those from the
// event log. Other events cannot change any window.
func (d *Detector) EventTypes() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	types := make([]string, 0, len(d.byType)+4)
	for t := range d.byType {
		types = append(types, t)
	}
	if len(d.recover) > 0 {
		for _, t := range []string{"recovery", "resolved", "service_up", "ok"} {
			if schemas.IsRecoveryEvent(t) {
				if _, ok := d.byType[t]; !ok {
					types = append(types, t)
				}
			}
		}
	}
	sort.Strings(types)
	return types
}

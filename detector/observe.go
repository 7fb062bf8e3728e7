package detector

import (
	"slices"
	"strings"
	"time"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// Observe feeds one stored, normalized event (see the package doc for the semantics). It
// appends what to do to out and returns it. Once its windows exist and have grown to their
// working size, it allocates only when it emits an action (BenchmarkObserve and
// TestObserveDoesNotAllocateWhenNothingFires check this). Events with a zero timestamp
// are ignored.
func (d *Detector) Observe(ev *schemas.Event, out []Action) []Action {
	if ev == nil || ev.Timestamp.IsZero() {
		return out
	}
	ts := ev.Timestamp.UnixNano()
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.clock != 0 && ts <= d.clock-d.retention {
		d.stats.IgnoredTooOld++
		return out
	}
	if len(d.recover) > 0 && schemas.IsRecoveryEvent(ev.EventType) {
		d.recovered(ev, ts)
	}
	cands := d.byType[ev.EventType]
	if len(cands) == 0 {
		return out
	}
	d.haveMsg, d.haveSrc = false, false
	matched := d.matched[:0]
	last := -1
	for i := range cands {
		c := &cands[i]
		if c.rule == last {
			continue // the rule already matched through another candidate
		}
		if c.m == nil || d.matches(c.m, ev) {
			matched = append(matched, c.rule)
			last = c.rule
		}
	}
	for _, m := range matched {
		for _, c := range d.rules[m].claims {
			d.claimed[c] = true
		}
	}
	for _, m := range matched {
		if !d.claimed[m] {
			out = d.count(d.rules[m], ev, ts, out)
		}
	}
	for _, m := range matched {
		for _, c := range d.rules[m].claims {
			d.claimed[c] = false
		}
	}
	d.matched = matched
	return out
}

// count adds a matching event to its window, or attaches it when the fingerprint is open.
func (d *Detector) count(cr *compiledRule, ev *schemas.Event, ts int64, out []Action) []Action {
	key := cr.rule.GroupKey(ev)
	w := cr.groups[key]
	if w == nil {
		w = d.newWindow(cr, key)
	}
	w.lastSeen = max(w.lastSeen, ts)
	if w.open {
		return append(out, attachAction(cr, w, ev))
	}
	if (cr.rule.RequireConsecutive && ts <= w.lastRecovery) || ts <= w.newest-cr.window {
		return out // before the latest recovery, or too late for this window
	}
	if d.pool.live >= d.maxEvents {
		d.evictOldest()
	}
	s := d.pool.alloc()
	e := &d.pool.entries[s]
	e.id, e.comp, e.sev, e.win = ev.EventID, ev.Component, int8(ev.Severity.Rank()), w
	w.insert(s, ts)
	if ts > w.newest {
		w.newest = ts
		d.expire(w, ts-cr.window)
	}
	if w.len() >= cr.rule.Threshold && d.componentsOK(cr, w) {
		out = d.fire(cr, w, out)
	}
	return out
}

func (d *Detector) newWindow(cr *compiledRule, key string) *window {
	key = strings.Clone(key)
	w := &window{key: key, fp: schemas.Fingerprint(cr.rule.ID, key)}
	_, w.open = d.open[w.fp]
	cr.groups[key] = w
	return w
}

// recovered applies a recovery event to the windows of the RequireConsecutive rules.
func (d *Detector) recovered(ev *schemas.Event, ts int64) {
	for _, i := range d.recover {
		cr := d.rules[i]
		key := cr.rule.GroupKey(ev)
		w := cr.groups[key]
		if w == nil {
			w = d.newWindow(cr, key)
		}
		w.lastRecovery = max(w.lastRecovery, ts)
		d.expire(w, w.lastRecovery)
	}
}

// componentsOK checks MinComponentsAffected without allocating.
func (d *Detector) componentsOK(cr *compiledRule, w *window) bool {
	need := cr.rule.MinComponentsAffected
	if need <= 1 {
		return true
	}
	comps := d.comps[:0]
	ok := false
	for _, r := range w.slots[w.head:] {
		c := d.pool.entries[r.s].comp
		if !slices.Contains(comps, c) {
			comps = append(comps, c)
			if len(comps) >= need {
				ok = true
				break
			}
		}
	}
	clear(comps)
	d.comps = comps[:0]
	return ok
}

// fire emits ActionOpen with every event of the window, clears it and marks it open.
func (d *Detector) fire(cr *compiledRule, w *window, out []Action) []Action {
	live := w.slots[w.head:]
	ev := schemas.AttachEvents{EventIDs: make([]string, 0, len(live)), Components: make([]string, 0, len(live))}
	var rank int8
	for _, r := range live {
		e := &d.pool.entries[r.s]
		ev.EventIDs = append(ev.EventIDs, e.id)
		if e.comp != "" {
			ev.Components = append(ev.Components, e.comp)
		}
		rank = max(rank, e.sev)
	}
	ev.FirstAt = time.Unix(0, live[0].ts).UTC()
	ev.LastAt = time.Unix(0, live[len(live)-1].ts).UTC()
	slices.Sort(ev.Components)
	ev.Components = slices.Clip(slices.Compact(ev.Components))
	if rank > 0 {
		ev.Severity = schemas.Severities[rank-1]
	}
	d.clearWindow(w)
	w.open = true
	d.open[w.fp] = struct{}{}
	return append(out, Action{Kind: ActionOpen, Rule: cr.rule, Fingerprint: w.fp, GroupKey: w.key,
		Events: ev, Severity: cr.rule.Severity.Max(ev.Severity)})
}

func attachAction(cr *compiledRule, w *window, ev *schemas.Event) Action {
	a := Action{Kind: ActionAttach, Rule: cr.rule, Fingerprint: w.fp, GroupKey: w.key,
		Events:   schemas.AttachEvents{EventIDs: []string{ev.EventID}, FirstAt: ev.Timestamp, LastAt: ev.Timestamp},
		Severity: cr.rule.Severity.Max(ev.Severity)}
	if ev.Severity.Valid() {
		a.Events.Severity = ev.Severity
	}
	if ev.Component != "" {
		a.Events.Components = []string{ev.Component}
	}
	return a
}

// Tick re-evaluates at now (the manager passes time.Now() every check interval): it
// drops window entries at or before now minus each rule's effective window, drops empty
// windows idle for longer than the retention, and opens incidents for windows that are at
// the threshold (which happens after SetRules lowered a threshold). From now on Observe
// ignores events older than now minus the retention. The order of the appended actions is
// unspecified. now never moves the detector's clock backwards.
func (d *Detector) Tick(now time.Time, out []Action) []Action {
	return d.tick(now, true, out)
}

// TickDue is Tick for the rules whose re-evaluation period (their check_interval_seconds)
// has passed since they were last re-evaluated; the others wait for their turn. The
// manager calls it when NextCheck says a rule is due. Detection itself happens on
// arrival (Observe); the re-evaluation expires old window entries and opens incidents
// for windows a rule change brought to the threshold.
func (d *Detector) TickDue(now time.Time, out []Action) []Action {
	return d.tick(now, false, out)
}

func (d *Detector) tick(now time.Time, all bool, out []Action) []Action {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.clock = max(d.clock, now.UnixNano())
	idleCut := d.clock - d.retention
	for _, cr := range d.rules {
		if !all && cr.due > d.clock {
			continue
		}
		cr.due = d.clock + cr.every
		cr.checks++
		cut := d.clock - cr.window
		for key, w := range cr.groups {
			d.expire(w, cut)
			switch {
			case w.len() == 0:
				if w.lastSeen <= idleCut && w.lastRecovery <= idleCut {
					delete(cr.groups, key) // d.open keeps the open state
				}
			case !w.open && w.len() >= cr.rule.Threshold && d.componentsOK(cr, w):
				out = d.fire(cr, w, out)
			}
		}
	}
	for d.pool.live > d.maxEvents {
		d.evictOldest()
	}
	return out
}

package manager

// The detect loop: the second step of the event path. One goroutine, in the one process
// that holds the detector role (leader.go), consumes the event log in sequence order from
// the stored cursor, runs the detector (package detector) over each batch and records what
// it decided in one store transaction per batch: events attached to open incidents with
// the incidents' counters, new incidents, the outbox rows that tell Temporal, and the new
// cursor. It owns the detector's windows and the map of open incidents; nothing else
// touches them. A restart (or a take-over by a standby) resumes from the cursor and
// rebuilds the windows from the log's tail: nothing is counted twice or skipped.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/uptrace/bun/driver/pgdriver"

	"github.com/mahavishnu/mahavishnu/detector"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

const (
	// detectBatch is the most events one detector transaction handles.
	detectBatch = 2000
	// detectScan is the most sequence numbers one step reads over (most of them may be
	// events no rule looks at, skipped by the database).
	detectScan = 20000
	// detectPoll is how often the loop looks at the log without being woken (events
	// appended by another process on SQLite, or a lost PostgreSQL notification).
	detectPoll = time.Second
	// rulesPoll is how often the loop re-reads rules and silences changed elsewhere.
	rulesPoll = 5 * time.Second
	// cursorPersistEvery bounds how long the cursor may run ahead of the stored one over
	// events that decided nothing. Nothing is lost by it: after a crash the detector reads
	// those events again from the stored cursor and decides the same (nothing).
	cursorPersistEvery = time.Second
)

// openIncident is what the detect loop keeps of an open incident.
type openIncident struct {
	id, workflowID string
	components     []string
	maxSeverity    schemas.Severity
}

// detectLoop consumes the event log. Its fields are used by its goroutine only, except
// through the channels.
type detectLoop struct {
	m      *Manager
	det    *detector.Detector
	types  []string // det.EventTypes()
	epoch  int64
	cursor int64
	// persisted is the cursor as stored, and persistedAt when it was written.
	persisted   int64
	persistedAt time.Time
	open        map[string]*openIncident // fingerprint -> incident

	wake  chan struct{} // an append committed
	rules chan []schemas.Rule
}

func newDetectLoop(m *Manager) *detectLoop {
	return &detectLoop{m: m, wake: make(chan struct{}, 1), rules: make(chan []schemas.Rule, 1)}
}

// notify wakes the loop without blocking.
func (l *detectLoop) notify() {
	select {
	case l.wake <- struct{}{}:
	default:
	}
}

// listen wakes the loop on PostgreSQL notifications of appends made by other processes,
// until ctx ends. Polling (detectPoll) covers a lost notification or connection.
func (l *detectLoop) listen(ctx context.Context) {
	st := l.m.opts.Store
	if st.Dialect() != store.DialectPostgres {
		return
	}
	ln := pgdriver.NewListener(st.DB)
	defer func() { _ = ln.Close() }()
	if err := ln.Listen(ctx, store.EventsChannel); err != nil {
		if ctx.Err() == nil {
			l.m.logger.Warn("LISTEN "+store.EventsChannel+" failed: the detector polls every second", "error", err)
		}
		return
	}
	ch := ln.Channel()
	for {
		select {
		case <-ctx.Done():
			return
		case _, ok := <-ch:
			if !ok {
				return
			}
			l.notify()
		}
	}
}

// setRules hands changed rules to the loop (the latest wins).
func (l *detectLoop) setRules(rules []schemas.Rule) {
	for {
		select {
		case l.rules <- rules:
			return
		default:
		}
		select {
		case <-l.rules:
		default:
		}
	}
}

// claim takes the role in the store (a new fencing epoch) and rebuilds the detector:
// the rules, the open incidents, and the windows from the log's tail up to the cursor.
func (l *detectLoop) claim(ctx context.Context, holder string) error {
	epoch, cursor, err := l.m.opts.Store.ClaimDetector(ctx, holder)
	if err != nil {
		return err
	}
	l.epoch, l.cursor, l.persisted, l.persistedAt = epoch, cursor, cursor, time.Now()
	return l.rebuild(ctx)
}

func (l *detectLoop) rebuild(ctx context.Context) error {
	st := l.m.opts.Store
	rules, err := st.Rules(ctx)
	if err != nil {
		return fmt.Errorf("rebuild detector: %w", err)
	}
	if len(rules) == 0 {
		rules = l.m.opts.Rules
	}
	det, err := l.m.newDetector(rules)
	if err != nil {
		return fmt.Errorf("rebuild detector: %w", err)
	}
	open, err := st.OpenIncidents(ctx)
	if err != nil {
		return fmt.Errorf("rebuild detector: %w", err)
	}
	l.det, l.types, l.open = det, det.EventTypes(), make(map[string]*openIncident, len(open))
	for _, o := range open {
		det.Opened(o.Fingerprint)
		l.open[o.Fingerprint] = &openIncident{id: o.IncidentID, workflowID: schemas.IncidentWorkflowID(o.Fingerprint),
			components: o.Components, maxSeverity: o.MaxEventSeverity}
	}
	// The windows held the events up to the cursor that no incident took: replay them.
	// Attachments they would make now were not made then (the event had left its window),
	// so only openings are kept.
	since := l.m.now().Add(-det.LongestWindow())
	var acts []detector.Action
	replayed := 0
	err = st.ScanLogTail(ctx, since, l.cursor, func(ev schemas.Event) error {
		replayed++
		for _, a := range det.Observe(&ev, nil) {
			if a.Kind == detector.ActionOpen {
				acts = append(acts, a)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild detector: %w", err)
	}
	if len(acts) > 0 {
		if err := l.record(ctx, l.cursor, acts, nil); err != nil {
			return fmt.Errorf("rebuild detector: %w", err)
		}
	}
	l.m.logger.Info("detector ready", "cursor", l.cursor, "open_incidents", len(open), "events_replayed", replayed,
		"opened_on_replay", len(acts))
	return nil
}

// run consumes the log until ctx ends or the role is lost (ErrFenced).
func (l *detectLoop) run(ctx context.Context) error {
	tick := time.NewTicker(l.m.checkInterval(l.det))
	defer tick.Stop()
	poll := time.NewTicker(detectPoll)
	defer poll.Stop()
	rulesTick := time.NewTicker(rulesPoll)
	defer rulesTick.Stop()
	failures := 0
	for {
		// Rules handed over before an event was stored apply to it: take them first.
		select {
		case rules := <-l.rules:
			l.applyRulesOrRebuild(ctx, rules)
			tick.Reset(l.m.checkInterval(l.det))
		default:
		}
		more, err := l.step(ctx)
		switch {
		case errors.Is(err, store.ErrFenced):
			return err
		case err != nil && ctx.Err() != nil:
			return ctx.Err()
		case err != nil:
			failures++
			l.m.recordError(fmt.Errorf("detect: %w", err))
			// The windows may hold what the failed transaction did not record: start over
			// from the stored state.
			if rerr := l.rebuild(ctx); rerr != nil {
				l.m.recordError(rerr)
			}
			if !sleepCtx(ctx, backoff(failures, 100*time.Millisecond, 5*time.Second)) {
				return ctx.Err()
			}
			continue
		}
		failures = 0
		if more {
			continue
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-l.wake:
		case <-poll.C:
			if err := l.flush(ctx); errors.Is(err, store.ErrFenced) {
				return err
			} else if err != nil && ctx.Err() == nil {
				l.m.recordError(fmt.Errorf("detect: store the cursor: %w", err))
			}
		case rules := <-l.rules:
			l.applyRulesOrRebuild(ctx, rules)
			tick.Reset(l.m.checkInterval(l.det))
		case <-rulesTick.C:
			if err := l.syncRules(ctx); err != nil && ctx.Err() == nil {
				l.m.logger.Warn("reload rules from the store", "error", err)
				_ = l.rebuild(ctx) // the windows may have moved ahead of what was recorded
			}
			tick.Reset(l.m.checkInterval(l.det))
		case <-tick.C:
			acts := l.det.TickDue(l.m.now(), nil)
			tick.Reset(l.m.checkInterval(l.det))
			if len(acts) > 0 {
				err := l.record(ctx, l.cursor, acts, nil)
				switch {
				case errors.Is(err, store.ErrFenced):
					return err
				case err != nil && ctx.Err() != nil:
					return ctx.Err()
				case err != nil:
					l.m.recordError(fmt.Errorf("detect: re-evaluation: %w", err))
					_ = l.rebuild(ctx)
				}
			}
		}
	}
}

// step detects the next part of the log and reports whether more is waiting. It reads
// only the events some rule looks at (the others cannot change a window), at most
// detectBatch of them, over at most detectScan sequence numbers.
func (l *detectLoop) step(ctx context.Context) (more bool, err error) {
	st := l.m.opts.Store
	head, err := st.LogHead(ctx)
	if err != nil || head <= l.cursor {
		return false, err
	}
	upTo := min(head, l.cursor+detectScan)
	batch, next, err := st.ReadDetectable(ctx, l.cursor, upTo, l.types, detectBatch)
	if err != nil {
		return false, err
	}
	var acts []detector.Action
	for i := range batch {
		acts = l.det.Observe(&batch[i].Event, acts)
	}
	before := l.cursor
	if len(acts) == 0 && time.Since(l.persistedAt) < cursorPersistEvery {
		// Nothing decided: the stored cursor catches up within cursorPersistEvery (flush).
		l.cursor = next
	} else if err := l.record(ctx, next, acts, batch); err != nil {
		return false, err
	}
	l.m.detectedEvents.Add(next - before)
	return next < head, nil
}

// flush stores the cursor when it ran ahead of the stored one.
func (l *detectLoop) flush(ctx context.Context) error {
	if l.cursor <= l.persisted {
		return nil
	}
	return l.record(ctx, l.cursor, nil, nil)
}

// record writes the actions and the cursor in one transaction and wakes the dispatcher.
// batch holds the events the actions came from (nil for re-evaluations, which only open).
// After a failure the caller rebuilds the loop's state from the store.
func (l *detectLoop) record(ctx context.Context, cursor int64, acts []detector.Action, batch []store.LoggedEvent) error {
	var opened, attached int
	err := l.m.opts.Store.RecordDetections(ctx, l.epoch, cursor, l.m.now(), func(ctx context.Context, b *store.Batch) error {
		opened, attached = 0, 0
		return l.apply(ctx, b, acts, batch, &opened, &attached)
	})
	if err != nil {
		return err
	}
	l.cursor = max(l.cursor, cursor)
	l.persisted, l.persistedAt = max(l.persisted, cursor), time.Now()
	l.m.incidentsOpened.Add(int64(opened))
	l.m.eventsAttached.Add(int64(attached))
	if opened > 0 || attached > 0 {
		l.m.dispatch.notify(opened > 0)
	}
	return nil
}

// attachGroup gathers one batch's attachments to one incident.
type attachGroup struct {
	rule *schemas.Rule
	ids  []string
	c    store.Counters
}

// apply records the actions: openings as they come, attachments grouped per incident at
// the end. Events that cannot attach because their incident ended meanwhile are counted
// again for their rule and may open a new incident, in the same transaction.
func (l *detectLoop) apply(ctx context.Context, b *store.Batch, acts []detector.Action, batch []store.LoggedEvent, opened, attached *int) error {
	open := l.open
	var order []string
	groups := map[string]*attachGroup{}
	for i := range acts {
		act := &acts[i]
		switch act.Kind {
		case detector.ActionOpen:
			inc, err := l.open1(ctx, b, act)
			if err != nil {
				return err
			}
			open[act.Fingerprint] = inc
			*opened++
		case detector.ActionAttach:
			g := groups[act.Fingerprint]
			if g == nil {
				g = &attachGroup{rule: act.Rule}
				groups[act.Fingerprint] = g
				order = append(order, act.Fingerprint)
			}
			g.ids = append(g.ids, act.Events.EventIDs...)
			g.c.Events += len(act.Events.EventIDs)
			if g.c.FirstAt.IsZero() || act.Events.FirstAt.Before(g.c.FirstAt) {
				g.c.FirstAt = act.Events.FirstAt
			}
			if act.Events.LastAt.After(g.c.LastAt) {
				g.c.LastAt = act.Events.LastAt
			}
			g.c.Components = unionSorted(g.c.Components, act.Events.Components)
			g.c.MaxEventSeverity = g.c.MaxEventSeverity.Max(act.Events.Severity)
		}
	}
	var recount []detector.Action
	for _, fp := range order {
		g := groups[fp]
		inc := open[fp]
		if inc == nil {
			return fmt.Errorf("attach to %s: no open incident known", fp)
		}
		c := g.c
		c.Components = unionSorted(inc.components, c.Components)
		c.MaxEventSeverity = inc.maxSeverity.Max(c.MaxEventSeverity)
		ok, err := b.Attach(ctx, inc.id, inc.workflowID, g.ids, c)
		if err != nil {
			return err
		}
		if ok {
			open[fp] = &openIncident{id: inc.id, workflowID: inc.workflowID, components: c.Components, maxSeverity: c.MaxEventSeverity}
			*attached += len(g.ids)
			continue
		}
		// The incident was resolved or closed meanwhile: its events start a new count.
		delete(open, fp)
		l.det.Closed(fp)
		for _, id := range g.ids {
			if ev := findEvent(batch, id); ev != nil {
				recount = l.det.Recount(ev, g.rule.ID, recount)
			}
		}
	}
	if len(recount) > 0 {
		return l.apply(ctx, b, recount, batch, opened, attached)
	}
	return nil
}

// openPayload is the outbox payload of an opening.
type openPayload struct {
	Input schemas.IncidentInput `json:"input"`
	// Previous is the last incident of the same fingerprint: its workflow (same ID) may
	// still be finishing, and the new one must not be delivered to it.
	Previous string `json:"previous,omitempty"`
}

// open1 records a new incident for an opening.
func (l *detectLoop) open1(ctx context.Context, b *store.Batch, act *detector.Action) (*openIncident, error) {
	rule := act.Rule
	now := l.m.now().UTC()
	in := schemas.IncidentInput{
		IncidentID:   NewIncidentID(),
		Fingerprint:  act.Fingerprint,
		RuleID:       rule.ID,
		IncidentType: rule.IncidentType,
		Severity:     act.Severity,
		Title:        fmt.Sprintf("%s on %s", rule.Name, act.GroupKey),
		Description:  rule.Description,
		Source:       act.GroupKey,
		DetectedAt:   now,
		Actions:      rule.Actions,
		Settings:     l.m.opts.Settings,
		// Counters only: the events are attached in the store.
		Events: schemas.AttachEvents{FirstAt: act.Events.FirstAt, LastAt: act.Events.LastAt,
			Components: act.Events.Components, Severity: act.Events.Severity},
	}
	prev, err := b.LastIncident(ctx, act.Fingerprint)
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(openPayload{Input: in, Previous: prev})
	if err != nil {
		return nil, fmt.Errorf("open incident for %s: %w", act.Fingerprint, err)
	}
	first, last := act.Events.FirstAt, act.Events.LastAt
	inc := &schemas.Incident{
		IncidentID: in.IncidentID, IncidentType: in.IncidentType, Severity: in.Severity,
		Status: schemas.StatusDetected, Title: in.Title, Description: in.Description, RuleID: in.RuleID,
		Fingerprint: in.Fingerprint, Source: in.Source, DetectedAt: now,
		FirstEventAt: &first, LastEventAt: &last, EventCount: len(act.Events.EventIDs),
		AffectedComponents: slices.Clone(act.Events.Components),
		WorkflowID:         schemas.IncidentWorkflowID(act.Fingerprint),
	}
	if inc.AffectedComponents == nil {
		inc.AffectedComponents = []string{}
	}
	if err := b.Open(ctx, inc, act.Events.EventIDs, act.Events.Severity, payload); err != nil {
		return nil, err
	}
	l.m.logger.Info("incident detected", "incident", in.IncidentID, "rule", rule.ID, "group", act.GroupKey,
		"severity", act.Severity, "events", len(act.Events.EventIDs))
	return &openIncident{id: in.IncidentID, workflowID: inc.WorkflowID, components: inc.AffectedComponents,
		maxSeverity: act.Events.Severity}, nil
}

// applyRules runs changed rules and re-evaluates the windows at once (a lowered threshold
// opens incidents now, not at the next check).
func (l *detectLoop) applyRules(ctx context.Context, rules []schemas.Rule) error {
	if err := l.det.SetRules(rules); err != nil {
		return fmt.Errorf("apply rules: %w", err)
	}
	l.types = l.det.EventTypes()
	in := cloneRules(rules)
	l.m.rules.Store(&in)
	if acts := l.det.Tick(l.m.now(), nil); len(acts) > 0 {
		return l.record(ctx, l.cursor, acts, nil)
	}
	return nil
}

// applyRulesOrRebuild applies rules; when that fails (the re-evaluation could not be
// recorded), the detector starts over from the store, which holds the new rules already.
func (l *detectLoop) applyRulesOrRebuild(ctx context.Context, rules []schemas.Rule) {
	err := l.applyRules(ctx, rules)
	if err == nil || ctx.Err() != nil {
		return
	}
	l.m.recordError(err)
	if rerr := l.rebuild(ctx); rerr != nil && ctx.Err() == nil {
		l.m.recordError(rerr)
	}
}

// syncRules applies the rules and silences another process changed in the store.
func (l *detectLoop) syncRules(ctx context.Context) error {
	rules, err := l.m.opts.Store.Rules(ctx)
	if err != nil {
		return err
	}
	if len(rules) == 0 || rulesEqual(rules, l.det.Rules()) {
		return nil
	}
	if err := schemas.ValidateRules(rules); err != nil {
		return fmt.Errorf("rules in %s: %w", l.m.opts.Store, err)
	}
	l.m.logger.Info("rules changed in the store: applied", "rules", len(rules))
	return l.applyRules(ctx, rules)
}

// findEvent finds an event of the batch by ID (rare: only for incidents that ended).
func findEvent(batch []store.LoggedEvent, id string) *schemas.Event {
	for i := range batch {
		if batch[i].Event.EventID == id {
			return &batch[i].Event
		}
	}
	return nil
}

// unionSorted merges b into the sorted list a, dropping empty names.
func unionSorted(a, b []string) []string {
	out := slices.Clone(a)
	for _, c := range b {
		if c == "" {
			continue
		}
		if i, found := slices.BinarySearch(out, c); !found {
			out = slices.Insert(out, i, c)
		}
	}
	return out
}

// backoff is base doubled per failure, capped.
func backoff(failures int, base, limit time.Duration) time.Duration {
	d := base
	for i := 1; i < failures && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

// sleepCtx waits d or until ctx ends; it reports whether d passed.
func sleepCtx(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

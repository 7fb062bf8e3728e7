package manager

// The outbox dispatcher: the third step of the event path. It runs beside the active
// detector and delivers the outbox rows the detector wrote to Temporal: an opening as
// SignalWithStartWorkflow (so a re-sent row, or a racing detector, attaches instead of
// duplicating), an attachment as one events_attached signal carrying the incident's
// counters read from the store at that moment. It holds no lock while it calls Temporal;
// a row that fails stays, and is tried again with capped exponential backoff until
// Temporal accepts it. Attachments to one incident go at most once per attach interval.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	commonpb "go.temporal.io/api/common/v1"
	enumspb "go.temporal.io/api/enums/v1"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
	"github.com/mahavishnu/mahavishnu/workflows"
)

const (
	// DefaultAttachSignalInterval is detection.attach_signal_interval's default.
	DefaultAttachSignalInterval = time.Second
	// dispatchParallel bounds the Temporal calls in flight.
	dispatchParallel = 16
	// dispatchBatch is the most rows one round reads.
	dispatchBatch = 500
	// dispatchPoll bounds how long the dispatcher sleeps with rows possibly due.
	dispatchPoll = time.Second
	// dispatchMinGap spaces rounds woken by attachments only (opens wake at once).
	dispatchMinGap = 50 * time.Millisecond
	// callTimeout bounds one Temporal call.
	callTimeout = 10 * time.Second
	// retryBase and retryMax shape the backoff of a failed row.
	retryBase = 250 * time.Millisecond
	retryMax  = 10 * time.Second
	// previousRunWait is how long an opening waits for the previous incident of its
	// fingerprint to finish its workflow (its post-mortem).
	previousRunWait = 2 * time.Second
)

// dispatcher delivers the outbox.
type dispatcher struct {
	m        *Manager
	interval time.Duration

	wakeOpen chan struct{}
	wakeAny  chan struct{}
	// retryNow is set when Temporal answers again: waiting rows are tried at once.
	retryNow atomic.Bool

	mu         sync.Mutex
	lastSignal map[string]time.Time // incident ID -> last accepted signal

	signalsOpen   atomic.Int64
	signalsAttach atomic.Int64
	failures      atomic.Int64
}

func newDispatcher(m *Manager, interval time.Duration) *dispatcher {
	if interval <= 0 {
		interval = DefaultAttachSignalInterval
	}
	return &dispatcher{m: m, interval: interval, wakeOpen: make(chan struct{}, 1), wakeAny: make(chan struct{}, 1),
		lastSignal: map[string]time.Time{}}
}

// notify wakes the dispatcher; an opening wakes it at once.
func (d *dispatcher) notify(open bool) {
	ch := d.wakeAny
	if open {
		ch = d.wakeOpen
	}
	select {
	case ch <- struct{}{}:
	default:
	}
}

// temporalBack makes the rows waiting on a backoff due now: Temporal answers again.
func (d *dispatcher) temporalBack() {
	d.retryNow.Store(true)
	d.notify(true)
}

// run delivers until ctx ends.
func (d *dispatcher) run(ctx context.Context) {
	last := time.Time{}
	for {
		next, err := d.round(ctx)
		if err != nil && ctx.Err() == nil {
			d.m.logger.Warn("outbox", "error", err)
			next = d.m.now().Add(dispatchPoll)
		}
		wait := dispatchPoll
		if !next.IsZero() {
			wait = min(max(next.Sub(d.m.now()), 0), dispatchPoll)
		}
		last = time.Now()
		timer := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-d.wakeOpen:
		case <-d.wakeAny:
			if gap := dispatchMinGap - time.Since(last); gap > 0 {
				sleepCtx(ctx, gap)
			}
		case <-timer.C:
		}
		timer.Stop()
	}
}

// round delivers the due rows and returns when the next row is due (zero: none waits).
func (d *dispatcher) round(ctx context.Context) (time.Time, error) {
	st := d.m.opts.Store
	if d.retryNow.Swap(false) {
		if err := st.RetryOutboxNow(ctx, d.m.now()); err != nil {
			d.retryNow.Store(true)
			return time.Time{}, err
		}
	}
	for {
		now := d.m.now()
		rows, err := st.DueOutbox(ctx, now, dispatchBatch)
		if err != nil {
			return time.Time{}, err
		}
		if len(rows) == 0 {
			return st.NextOutboxAttempt(ctx)
		}
		if err := d.deliver(ctx, rows, now); err != nil {
			return time.Time{}, err
		}
		if len(rows) < dispatchBatch {
			return st.NextOutboxAttempt(ctx)
		}
	}
}

// deliver sends rows concurrently and records each outcome.
func (d *dispatcher) deliver(ctx context.Context, rows []store.OutboxRow, now time.Time) error {
	st := d.m.opts.Store
	var ids []string
	var send []store.OutboxRow
	for _, r := range rows {
		if r.Kind == store.OutboxAttach {
			d.mu.Lock()
			last := d.lastSignal[r.IncidentID]
			d.mu.Unlock()
			if next := last.Add(d.interval); next.After(now) {
				if err := st.DeferOutbox(ctx, r, next); err != nil {
					return err
				}
				continue
			}
		}
		ids = append(ids, r.IncidentID)
		send = append(send, r)
	}
	// One read for the whole round: openings carry the counters too.
	counters, err := st.IncidentCounters(ctx, ids)
	if err != nil {
		return err
	}
	sem := make(chan struct{}, dispatchParallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var errs []error
	var done []store.OutboxRow
	for _, r := range send {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			ok, err := d.deliverOne(ctx, r, counters[r.IncidentID])
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
			}
			if ok {
				done = append(done, r)
			}
		}()
	}
	wg.Wait()
	// One transaction for the round's deliveries (a row lost by a crash before this is
	// sent again: openings and counters are idempotent).
	if _, err := st.CompleteOutboxRows(ctx, done); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// deliverOne sends one row and reports whether it is done (delivered, or dropped because
// its workflow is over); a Temporal failure schedules a retry (an error is returned only
// when the store cannot record the outcome).
func (d *dispatcher) deliverOne(ctx context.Context, r store.OutboxRow, counters schemas.EventsAttached) (bool, error) {
	st := d.m.opts.Store
	cctx, cancel := context.WithTimeout(ctx, callTimeout)
	var err error
	var drop bool
	switch r.Kind {
	case store.OutboxOpen:
		err = d.open(cctx, r, counters)
	case store.OutboxAttach:
		err = d.m.opts.Client.SignalWorkflow(cctx, r.WorkflowID, "", schemas.SignalEventsAttached, counters)
		var notFound *serviceerror.NotFound
		if errors.As(err, &notFound) {
			// The incident's workflow is over: the events stay attached in the store.
			d.m.logger.Warn("events attached to an incident whose workflow has ended", "incident", r.IncidentID)
			err, drop = nil, true
		}
	default:
		err, drop = fmt.Errorf("unknown outbox kind %q", r.Kind), true
	}
	cancel()
	if ctx.Err() != nil {
		return false, nil // stopping: the row stays for the next start
	}
	if err != nil {
		d.failures.Add(1)
		next := d.m.now().Add(jitter(backoff(r.Attempts+1, retryBase, retryMax)))
		var wait *waitError
		if errors.As(err, &wait) {
			next = d.m.now().Add(wait.d)
		} else {
			d.m.health.markTemporalUnreachable()
			d.m.recordError(fmt.Errorf("deliver %s of %s to Temporal (attempt %d): %w", r.Kind, r.IncidentID, r.Attempts+1, err))
		}
		return false, st.RetryOutbox(ctx, r, next, err.Error())
	}
	if !drop {
		d.mu.Lock()
		d.lastSignal[r.IncidentID] = d.m.now()
		if len(d.lastSignal) > 100000 {
			d.lastSignal = map[string]time.Time{} // bound memory; a forgotten entry only allows one early signal
		}
		d.mu.Unlock()
		if r.Kind == store.OutboxOpen {
			d.signalsOpen.Add(1)
		} else {
			d.signalsAttach.Add(1)
		}
	}
	return true, nil
}

// waitError asks for a retry after d without counting it as a failure.
type waitError struct {
	d      time.Duration
	reason string
}

func (e *waitError) Error() string { return e.reason }

// open starts the incident's workflow with SignalWithStartWorkflow, unless the previous
// incident of the same fingerprint still runs under the same workflow ID.
func (d *dispatcher) open(ctx context.Context, r store.OutboxRow, counters schemas.EventsAttached) error {
	var p openPayload
	if err := json.Unmarshal(r.Payload, &p); err != nil {
		return fmt.Errorf("outbox row %d: bad payload: %w", r.ID, err)
	}
	tc := d.m.opts.Client
	if p.Previous != "" {
		desc, err := tc.DescribeWorkflowExecution(ctx, r.WorkflowID, "")
		var notFound *serviceerror.NotFound
		switch {
		case errors.As(err, &notFound):
		case err != nil:
			return err
		case desc.GetWorkflowExecutionInfo().GetStatus() == enumspb.WORKFLOW_EXECUTION_STATUS_RUNNING &&
			memoIncident(desc.GetWorkflowExecutionInfo().GetMemo().GetFields()) == p.Previous:
			return &waitError{d: previousRunWait, reason: "the previous incident " + p.Previous + " of this fingerprint is still finishing"}
		}
	}
	opts := client.StartWorkflowOptions{
		ID:                    r.WorkflowID,
		TaskQueue:             d.m.opts.TaskQueue,
		TypedSearchAttributes: workflows.SearchAttributes(p.Input),
		Memo:                  map[string]any{memoIncidentID: p.Input.IncidentID},
	}
	_, err := tc.SignalWithStartWorkflow(ctx, r.WorkflowID, schemas.SignalEventsAttached, counters,
		opts, schemas.IncidentWorkflowType, p.Input)
	return err
}

// memoIncidentID is the memo key naming the incident a workflow run belongs to.
const memoIncidentID = "incident_id"

func memoIncident(fields map[string]*commonpb.Payload) string {
	var id string
	if f, ok := fields[memoIncidentID]; ok {
		_ = converter.GetDefaultDataConverter().FromPayload(f, &id)
	}
	return id
}

func jitter(d time.Duration) time.Duration {
	return d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
}

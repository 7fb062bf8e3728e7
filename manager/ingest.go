package manager

// Ingest: the first step of the event path. It owns the group commit that appends
// validated events to the event log in the store. Concurrent requests are coalesced into
// one transaction: a request waits at most ingestMaxWait for others to join it, a group
// holds at most ingestMaxEvents events, and every request is answered only once its
// events are committed (or with the transaction's error). Nothing else happens on the
// request path: detection reads the log in its own goroutine (detect.go).

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

const (
	// ingestMaxWait bounds how long a request waits for others to share its commit.
	ingestMaxWait = 2 * time.Millisecond
	// ingestMaxEvents bounds the events of one group commit.
	ingestMaxEvents = 10000
	// ingestCommitTimeout bounds one group's transaction.
	ingestCommitTimeout = 30 * time.Second
)

// UnavailableError means the store could not take the events: nothing of the request was
// acknowledged, and the client should send it again (HTTP 503 with Retry-After).
type UnavailableError struct{ Err error }

func (e *UnavailableError) Error() string { return "event store unavailable: " + e.Err.Error() }

// Unwrap returns the store's error.
func (e *UnavailableError) Unwrap() error { return e.Err }

// appendRequest is one caller's batch waiting for a group commit.
type appendRequest struct {
	events []schemas.Event
	done   chan appendResult // buffered: the committer never blocks on a caller
}

type appendResult struct {
	inserted []string
	err      error
}

// committer runs the group commits, one at a time, in its own goroutine.
type committer struct {
	store    *store.Store
	requests chan *appendRequest
	now      func() time.Time
	// committed is called after every successful commit that stored new events.
	committed func()

	commits atomic.Int64
	events  atomic.Int64
}

func newCommitter(st *store.Store, now func() time.Time, committed func()) *committer {
	return &committer{store: st, requests: make(chan *appendRequest, 1024), now: now, committed: committed}
}

// append queues events for the next group commit and waits for it. It returns the IDs
// that were new, in input order.
func (c *committer) append(ctx context.Context, events []schemas.Event) ([]string, error) {
	req := &appendRequest{events: events, done: make(chan appendResult, 1)}
	select {
	case c.requests <- req:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case res := <-req.done:
		return res.inserted, res.err
	case <-ctx.Done():
		// The events may still be committed; the caller never got an acknowledgement and
		// sends them again (a re-sent event ID is stored once).
		return nil, ctx.Err()
	}
}

// run commits groups until ctx ends, then fails the requests still queued.
func (c *committer) run(ctx context.Context) {
	group := make([]*appendRequest, 0, 64)
	expect := 1 // how many requests the last group had: worth waiting for that many
	for {
		var first *appendRequest
		select {
		case <-ctx.Done():
			c.failQueued(ctx.Err())
			return
		case first = <-c.requests:
		}
		group = append(group[:0], first)
		n := len(first.events)
		var timer *time.Timer
	gather:
		for n < ingestMaxEvents {
			select {
			case r := <-c.requests:
				group = append(group, r)
				n += len(r.events)
				continue
			default:
			}
			if len(group) >= expect {
				break // as many as last time: do not make them wait longer
			}
			if timer == nil {
				timer = time.NewTimer(ingestMaxWait)
			}
			select {
			case r := <-c.requests:
				group = append(group, r)
				n += len(r.events)
			case <-timer.C:
				break gather
			}
		}
		if timer != nil {
			timer.Stop()
		}
		expect = max(1, len(group))
		c.commit(ctx, group)
	}
}

func (c *committer) commit(ctx context.Context, group []*appendRequest) {
	batches := make([][]schemas.Event, len(group))
	for i, r := range group {
		batches[i] = r.events
	}
	// One caller giving up must not abort the others' commit.
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ingestCommitTimeout)
	inserted, err := c.store.AppendEvents(cctx, batches, c.now().UTC())
	cancel()
	if err != nil {
		var fe *schemas.FieldError
		if !errors.As(err, &fe) {
			err = &UnavailableError{Err: err}
		}
		for _, r := range group {
			r.done <- appendResult{err: err}
		}
		return
	}
	total := 0
	for i, r := range group {
		total += len(inserted[i])
		r.done <- appendResult{inserted: inserted[i]}
	}
	c.commits.Add(1)
	c.events.Add(int64(total))
	if total > 0 && c.committed != nil {
		c.committed()
	}
}

func (c *committer) failQueued(err error) {
	for {
		select {
		case r := <-c.requests:
			r.done <- appendResult{err: fmt.Errorf("manager stopping: %w", err)}
		default:
			return
		}
	}
}

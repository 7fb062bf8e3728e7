package manager

// Health: what /healthz, /metrics and `incidents status` report about the event path.
// A background loop refreshes it every healthEvery from the store (outbox depth and age,
// the log's head and the detector's cursor) and from Temporal, each call bounded by
// healthTimeout; readers only load the last snapshot, so they answer at once even while
// Temporal or the store hangs.

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

const (
	healthEvery   = time.Second
	healthTimeout = time.Second
	// outboxStaleAfter makes the outbox a reason for "degraded" when its oldest row
	// has waited longer.
	outboxStaleAfter = 30 * time.Second
	// detectorStaleAfter makes detector lag a reason when the cursor did not move for longer.
	detectorStaleAfter = 30 * time.Second
	// notifyCountEvery is how often the failed notifications of the last day are counted.
	notifyCountEvery = 30 * time.Second
)

// Health values of the store and Temporal fields.
const (
	HealthOK          = "ok"
	HealthDegraded    = "degraded"
	HealthUnreachable = "unreachable"
	HealthNotChecked  = "not checked"
)

// OutboxHealth describes the messages waiting for Temporal.
type OutboxHealth struct {
	Depth            int     `json:"depth"`
	OldestAgeSeconds float64 `json:"oldest_age_seconds"`
	PendingOpens     int     `json:"pending_opens"`
}

// DetectorHealth describes the log consumer: Active is whether this process holds the role;
// Lag is how many sequence numbers of the log it has not consumed yet (head - cursor).
type DetectorHealth struct {
	Active bool  `json:"active"`
	Cursor int64 `json:"cursor"`
	Head   int64 `json:"head"`
	Lag    int64 `json:"lag"`
}

// Health is the event path's state as last refreshed.
type Health struct {
	Status    string         `json:"status"`
	Reasons   []string       `json:"reasons"`
	Store     string         `json:"store"`
	Temporal  string         `json:"temporal"`
	Outbox    OutboxHealth   `json:"outbox"`
	Detector  DetectorHealth `json:"detector"`
	CheckedAt time.Time      `json:"checked_at"`
	// NotificationsFailed24h counts notification deliveries that failed after their
	// retries in the last day.
	NotificationsFailed24h int `json:"-"`
}

type healthState struct {
	m        *Manager
	snap     atomic.Pointer[Health]
	temporal atomic.Pointer[string]
	// cursorMoved is when the cursor was last seen moving (for detectorStaleAfter).
	lastCursor  int64
	cursorMoved time.Time
	// failedCountedAt is when the failed notifications were last counted.
	failedCountedAt time.Time
}

func newHealthState(m *Manager) *healthState {
	h := &healthState{m: m}
	h.snap.Store(&Health{Status: HealthOK, Reasons: []string{}, Store: HealthOK, Temporal: HealthNotChecked})
	return h
}

// markTemporalUnreachable records a failed Temporal call at once, ahead of the next check.
func (h *healthState) markTemporalUnreachable() {
	state := HealthUnreachable
	h.temporal.Store(&state)
}

// Health returns the last snapshot; Store and Temporal are checked in the background.
func (m *Manager) Health() Health {
	h := *m.health.snap.Load()
	h.Detector.Active = m.detectorActive.Load()
	return h
}

func (h *healthState) run(ctx context.Context) {
	go h.temporalLoop(ctx)
	every(ctx, healthEvery, func() { h.refresh(ctx) })
}

// temporalLoop checks Temporal in its own goroutine, so a hanging call never delays the
// store's figures.
func (h *healthState) temporalLoop(ctx context.Context) {
	check := h.m.opts.TemporalHealth
	if check == nil {
		return
	}
	for {
		cctx, cancel := context.WithTimeout(ctx, 2*healthTimeout)
		err := check(cctx)
		cancel()
		state := HealthOK
		if err != nil {
			state = HealthUnreachable
			if ctx.Err() == nil {
				h.m.logger.Debug("health: temporal", "error", err)
			}
		}
		if prev := h.temporal.Swap(&state); prev != nil && *prev == HealthUnreachable && state == HealthOK {
			h.m.logger.Info("Temporal answers again: delivering the outbox now")
			h.m.dispatch.temporalBack()
		}
		if !sleepCtx(ctx, healthEvery) {
			return
		}
	}
}

func (h *healthState) refresh(ctx context.Context) {
	st := h.m.opts.Store
	prev := h.snap.Load()
	next := Health{Status: HealthOK, Reasons: []string{}, Store: HealthOK, Temporal: HealthNotChecked,
		CheckedAt: h.m.now().UTC(), NotificationsFailed24h: prev.NotificationsFailed24h}
	if p := h.temporal.Load(); p != nil {
		next.Temporal = *p
	}
	cctx, cancel := context.WithTimeout(ctx, healthTimeout)
	defer cancel()
	var err error
	if err = st.Ping(cctx); err == nil {
		var ob store.OutboxStats
		if ob, err = st.OutboxStats(cctx); err == nil {
			next.Outbox = OutboxHealth{Depth: ob.Depth, PendingOpens: ob.PendingOpens}
			if !ob.Oldest.IsZero() {
				next.Outbox.OldestAgeSeconds = max(0, h.m.now().Sub(ob.Oldest).Seconds())
			}
		}
	}
	if err == nil {
		if next.Detector.Head, err = st.LogHead(cctx); err == nil {
			next.Detector.Cursor, err = st.DetectorCursor(cctx)
		}
		// A count over a day of timeline: not worth doing every second.
		if err == nil && time.Since(h.failedCountedAt) >= notifyCountEvery {
			if n, ferr := st.CountTimeline(cctx, schemas.TimelineNotifyFailed, h.m.now().Add(-24*time.Hour)); ferr == nil {
				next.NotificationsFailed24h = n
				h.failedCountedAt = time.Now()
			}
		}
	}
	if err != nil {
		next.Store = HealthUnreachable
		next.Outbox, next.Detector = prev.Outbox, prev.Detector // last known
		next.Reasons = append(next.Reasons, "store unreachable")
		if ctx.Err() == nil {
			h.m.logger.Warn("health: store", "error", err)
		}
	}
	next.Detector.Lag = max(0, next.Detector.Head-next.Detector.Cursor)
	if next.Detector.Cursor != h.lastCursor || next.Detector.Lag == 0 {
		h.lastCursor, h.cursorMoved = next.Detector.Cursor, h.m.now()
	}
	if next.Temporal == HealthUnreachable {
		next.Reasons = append(next.Reasons, "temporal unreachable")
	}
	if next.Outbox.OldestAgeSeconds > outboxStaleAfter.Seconds() {
		next.Reasons = append(next.Reasons, fmt.Sprintf("outbox: %d messages waiting, the oldest for %.0fs",
			next.Outbox.Depth, next.Outbox.OldestAgeSeconds))
	}
	if next.Detector.Lag > 0 && h.m.now().Sub(h.cursorMoved) > detectorStaleAfter {
		next.Reasons = append(next.Reasons, fmt.Sprintf("detector: %d events not detected and the cursor has not moved for %s",
			next.Detector.Lag, h.m.now().Sub(h.cursorMoved).Round(time.Second)))
	}
	if len(next.Reasons) > 0 {
		next.Status = HealthDegraded
	}
	h.snap.Store(&next)
}

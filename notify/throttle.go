package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// RateLimit is a channel's global rate limit.
type RateLimit struct {
	// PerMinute is the sustained number of messages a minute; 0 means no limit.
	PerMinute int
	// Burst is how many may go at once after a quiet spell; 0 means min(PerMinute, 10).
	Burst int
}

// ThrottleConfig configures a Throttle.
type ThrottleConfig struct {
	// Interval is the window in which at most one message per (incident, channel, kind)
	// goes out; 0 turns this deduplication off. Test messages are never deduplicated.
	Interval time.Duration
	// RateLimits maps a channel name to its rate limit; unlisted channels are unlimited.
	RateLimits map[string]RateLimit
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Logger records suppressed sends; nil means slog.Default().
	Logger *slog.Logger
}

// Stats counts one channel's sends through a Throttle.
type Stats struct {
	// Sent counts messages the receiver accepted.
	Sent uint64 `json:"sent"`
	// Failed counts sends that returned an error (each retry counts again).
	Failed uint64 `json:"failed"`
	// Suppressed counts sends the Throttle held back (duplicates and rate limiting).
	Suppressed uint64 `json:"suppressed"`
}

// Throttle limits how often channels send; see ThrottleConfig. It is safe for concurrent
// use and keeps its state in memory (per process).
type Throttle struct {
	interval time.Duration
	now      func() time.Time
	logger   *slog.Logger
	limiters map[string]*rate.Limiter // read-only after NewThrottle

	mu        sync.Mutex
	sent      map[throttleKey]sentEntry
	lastSweep time.Time
	stats     map[string]*Stats
}

type throttleKey struct {
	incident, channel string
	kind              Kind
}

type sentEntry struct {
	at      time.Time
	pending bool // a send is in flight
}

// NewThrottle returns a Throttle; it rejects negative settings, naming the channel.
func NewThrottle(cfg ThrottleConfig) (*Throttle, error) {
	var errs []error
	if cfg.Interval < 0 {
		errs = append(errs, fmt.Errorf("throttle interval: must not be negative, got %s", cfg.Interval))
	}
	t := &Throttle{
		interval: cfg.Interval,
		now:      cfg.Now,
		logger:   cfg.Logger,
		limiters: map[string]*rate.Limiter{},
		sent:     map[throttleKey]sentEntry{},
		stats:    map[string]*Stats{},
	}
	if t.now == nil {
		t.now = time.Now
	}
	if t.logger == nil {
		t.logger = slog.Default()
	}
	for channel, rl := range cfg.RateLimits {
		if rl.PerMinute < 0 || rl.Burst < 0 {
			errs = append(errs, fmt.Errorf("channel %q rate limit: per minute and burst must not be negative, got %d and %d", channel, rl.PerMinute, rl.Burst))
			continue
		}
		if rl.PerMinute == 0 {
			continue
		}
		burst := rl.Burst
		if burst == 0 {
			burst = min(rl.PerMinute, 10)
		}
		t.limiters[channel] = rate.NewLimiter(rate.Every(time.Minute/time.Duration(rl.PerMinute)), burst)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return t, nil
}

// Wrap returns n limited by t. The result has n's name, passes on n's KindFilter and
// Receipts, and counts its sends in t.Stats.
func (t *Throttle) Wrap(n Notifier) Notifier {
	t.mu.Lock()
	if t.stats[n.Name()] == nil {
		t.stats[n.Name()] = &Stats{}
	}
	t.mu.Unlock()
	return &throttled{t: t, next: n}
}

// Stats returns each wrapped channel's counters.
func (t *Throttle) Stats() map[string]Stats {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make(map[string]Stats, len(t.stats))
	for name, s := range t.stats {
		out[name] = *s
	}
	return out
}

// admit decides whether a send may go; when it may and dedup applies, it reserves the key
// and returns a release function to call with the send's outcome.
func (t *Throttle) admit(channel string, m Message) (release func(sent bool), err error) {
	now := t.now()
	t.mu.Lock()
	defer t.mu.Unlock()
	t.sweep(now)

	key := throttleKey{incident: m.IncidentID, channel: channel, kind: m.Kind}
	dedup := t.interval > 0 && m.Kind != KindTest
	prev, hadPrev := t.sent[key]
	if dedup && hadPrev && (prev.pending || now.Sub(prev.at) < t.interval) {
		return nil, t.suppress(channel, m, ReasonDuplicate)
	}
	if lim := t.limiters[channel]; lim != nil && !lim.AllowN(now, 1) {
		return nil, t.suppress(channel, m, ReasonRateLimited)
	}
	if !dedup {
		return func(bool) {}, nil
	}
	t.sent[key] = sentEntry{at: now, pending: true}
	return func(sent bool) {
		t.mu.Lock()
		defer t.mu.Unlock()
		switch {
		case sent:
			t.sent[key] = sentEntry{at: now}
		case hadPrev:
			t.sent[key] = prev
		default:
			delete(t.sent, key)
		}
	}, nil
}

// suppress counts and logs a held-back send; t.mu is held.
func (t *Throttle) suppress(channel string, m Message, reason string) error {
	t.stats[channel].Suppressed++
	t.logger.Info("notification suppressed", "channel", channel, "incident_id", m.IncidentID,
		"kind", string(m.Kind), "reason", reason)
	return &SuppressedError{Channel: channel, IncidentID: m.IncidentID, Kind: m.Kind, Reason: reason}
}

// sweep forgets sends older than the interval, once per interval; t.mu is held.
func (t *Throttle) sweep(now time.Time) {
	if t.interval <= 0 || now.Sub(t.lastSweep) < t.interval {
		return
	}
	t.lastSweep = now
	for key, e := range t.sent {
		if !e.pending && now.Sub(e.at) >= t.interval {
			delete(t.sent, key)
		}
	}
}

func (t *Throttle) count(channel string, err error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.stats[channel].Failed++
	} else {
		t.stats[channel].Sent++
	}
}

// throttled is a Notifier behind a Throttle.
type throttled struct {
	t    *Throttle
	next Notifier
}

func (n *throttled) Name() string { return n.next.Name() }

func (n *throttled) Handles(k Kind) bool { return Handles(n.next, k) }

func (n *throttled) Notify(ctx context.Context, m Message) error {
	_, err := n.Send(ctx, m)
	return err
}

func (n *throttled) Send(ctx context.Context, m Message) (Receipt, error) {
	name := n.next.Name()
	release, err := n.t.admit(name, m)
	if err != nil {
		return Receipt{Channel: name}, err
	}
	receipt, err := Send(ctx, n.next, m)
	release(err == nil)
	n.t.count(name, err)
	return receipt, err
}

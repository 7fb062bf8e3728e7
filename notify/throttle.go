package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"
)

// RateLimit is a channel's global rate limit.
type RateLimit struct {
	// PerMinute is the sustained number of messages a minute; 0 means no limit.
	PerMinute int
	// Burst is how many may go at once after a quiet spell; 0 means min(PerMinute, 10).
	Burst int
}

// DefaultInFlight is how long a send may hold its deduplication key before the key is
// taken to be abandoned: the Notify activity's start-to-close timeout, after which
// Temporal retries the send (perhaps on another worker, when this one died mid-send).
const DefaultInFlight = time.Minute

// ThrottleConfig configures a Throttle.
type ThrottleConfig struct {
	// Interval is the window in which at most one message per (incident, channel, kind,
	// action) goes out; 0 turns this deduplication off. Test messages are never deduplicated.
	Interval time.Duration
	// RateLimits maps a channel name to its rate limit; unlisted channels are unlimited.
	RateLimits map[string]RateLimit
	// InFlight bounds how long a send in flight holds its key (see DefaultInFlight); 0
	// means DefaultInFlight.
	InFlight time.Duration
	// State is where the windows and rate limits are kept; nil means in this process
	// (NewMemoryState). Throttles sharing one State (a store shared by several worker
	// processes) share one window per key and one rate limit per channel.
	State ThrottleState
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
// use. Its windows and rate limits live in its ThrottleState; its Stats are this
// process's.
type Throttle struct {
	interval time.Duration
	inFlight time.Duration
	rates    map[string]Rate // read-only after NewThrottle
	state    ThrottleState
	now      func() time.Time
	logger   *slog.Logger

	mu        sync.Mutex
	lastSweep time.Time
	stats     map[string]*Stats
}

// NewThrottle returns a Throttle; it rejects negative settings, naming the channel.
func NewThrottle(cfg ThrottleConfig) (*Throttle, error) {
	var errs []error
	if cfg.Interval < 0 {
		errs = append(errs, fmt.Errorf("throttle interval: must not be negative, got %s", cfg.Interval))
	}
	if cfg.InFlight < 0 {
		errs = append(errs, fmt.Errorf("throttle in-flight bound: must not be negative, got %s", cfg.InFlight))
	}
	t := &Throttle{
		interval: cfg.Interval,
		inFlight: cfg.InFlight,
		rates:    map[string]Rate{},
		state:    cfg.State,
		now:      cfg.Now,
		logger:   cfg.Logger,
		stats:    map[string]*Stats{},
	}
	if t.inFlight == 0 {
		t.inFlight = DefaultInFlight
	}
	if t.state == nil {
		t.state = NewMemoryState()
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
		t.rates[channel] = Rate{Every: time.Minute / time.Duration(rl.PerMinute), Burst: burst}
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

// admit decides whether a send may go; when it may and dedup applies, it has reserved the
// key and returns a release function to call with the send's outcome.
func (t *Throttle) admit(ctx context.Context, channel string, m Message) (release func(sent bool), err error) {
	now := t.now()
	t.sweep(ctx, now)

	a := Admission{
		Key: ThrottleKey{IncidentID: m.IncidentID, Channel: channel, Kind: m.Kind, Action: m.Action},
		At:  now,
		// A page (a message with recipients) is never deduplicated: each level and
		// person paged must get through; rate limits still apply.
		Dedup:  t.interval > 0 && m.Kind != KindTest && len(m.Recipients) == 0,
		Window: t.interval, InFlight: t.inFlight,
		Rate: t.rates[channel],
	}
	if a.Dedup {
		a.Token = newToken()
	}
	reason, err := t.state.Admit(ctx, a)
	switch {
	case err != nil:
		t.logger.Warn("notification throttle unavailable: send postponed", "channel", channel, "incident_id", m.IncidentID, "error", err)
		return nil, Temporary(channel, fmt.Errorf("throttle: %w", err))
	case reason != "":
		return nil, t.suppress(channel, m, reason)
	case !a.Dedup:
		return func(bool) {}, nil
	}
	return func(sent bool) {
		// Record the outcome even when the send's context has ended (its deadline passed
		// while the receiver answered): otherwise the key stays held until InFlight passes.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		defer cancel()
		if err := t.state.Release(ctx, a.Key, a.Token, sent); err != nil {
			t.logger.Warn("notification throttle: recording the send failed", "channel", channel, "incident_id", m.IncidentID,
				"kind", string(m.Kind), "sent", sent, "error", err)
		}
	}, nil
}

// suppress counts and logs a held-back send.
func (t *Throttle) suppress(channel string, m Message, reason string) error {
	t.mu.Lock()
	t.stats[channel].Suppressed++
	t.mu.Unlock()
	t.logger.Info("notification suppressed", "channel", channel, "incident_id", m.IncidentID,
		"kind", string(m.Kind), "reason", reason)
	return &SuppressedError{Channel: channel, IncidentID: m.IncidentID, Kind: m.Kind, Reason: reason}
}

// sweep lets the state forget keys whose window has passed, once per interval.
func (t *Throttle) sweep(ctx context.Context, now time.Time) {
	t.mu.Lock()
	due := t.interval > 0 && now.Sub(t.lastSweep) >= t.interval
	if due {
		t.lastSweep = now
	}
	t.mu.Unlock()
	if !due {
		return
	}
	if err := t.state.Sweep(ctx, now.Add(-t.interval), now.Add(-t.inFlight)); err != nil {
		t.logger.Warn("notification throttle: forgetting old sends failed", "error", err)
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
	release, err := n.t.admit(ctx, name, m)
	if err != nil {
		return Receipt{Channel: name}, err
	}
	receipt, err := Send(ctx, n.next, m)
	release(err == nil)
	n.t.count(name, err)
	return receipt, err
}

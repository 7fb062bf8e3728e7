package notify

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"sync"
	"time"
)

// ThrottleState is where a Throttle keeps its deduplication windows and rate limits. The
// in-memory MemoryState serves one process; a state kept in the database (the CLI wires
// the store's when it has one) makes the limits hold across every worker process that
// shares it. Each method must be atomic with respect to every Throttle sharing the state.
type ThrottleState interface {
	// Admit decides whether one send may go, and records it when it may:
	//   - with a.Dedup, it returns ReasonDuplicate when a.Key was sent within a.Window
	//     before a.At, or is reserved by a send started within a.InFlight before a.At;
	//   - it returns ReasonRateLimited when the channel has no room under a.Rate (GCRA,
	//     see Rate), recording nothing;
	//   - otherwise it takes the send's place in the channel's rate and, with a.Dedup,
	//     reserves a.Key under a.Token at a.At, and returns "".
	Admit(ctx context.Context, a Admission) (reason string, err error)
	// Release ends the reservation token of key: with sent, the key counts as sent at the
	// reservation's time; without, the key is as it was before the reservation. A
	// reservation that is no longer the key's (taken over after InFlight) is left alone.
	Release(ctx context.Context, key ThrottleKey, token string, sent bool) error
	// Sweep forgets keys last sent before sentBefore that no send reserved since
	// reservedBefore. It only saves space: a forgotten key is no longer within its window.
	Sweep(ctx context.Context, sentBefore, reservedBefore time.Time) error
}

// ThrottleKey names the messages deduplicated together: one incident, channel, kind and
// action (of an approval request or expiry: two requests raised in the same instant for
// different actions are two messages, not duplicates).
type ThrottleKey struct {
	IncidentID string
	Channel    string
	Kind       Kind
	Action     string
}

// StoredKind is the kind with the action, as one string ("approval_requested/rollback"),
// for a state that keeps (incident, channel, kind) rows.
func (k ThrottleKey) StoredKind() string {
	if k.Action == "" {
		return string(k.Kind)
	}
	return string(k.Kind) + "/" + k.Action
}

// Admission asks a ThrottleState to let one send through Key.Channel go at At.
type Admission struct {
	Key ThrottleKey
	At  time.Time
	// Dedup says whether Key is deduplicated (interval set, not a test message).
	Dedup bool
	// Window is the deduplication interval.
	Window time.Duration
	// InFlight is how long a reservation holds the key (see DefaultInFlight).
	InFlight time.Duration
	// Token identifies the reservation this send makes.
	Token string
	// Rate is the channel's rate limit; a zero Every means none.
	Rate Rate
}

// Rate is a channel's rate limit as the generic cell rate algorithm keeps it: one send
// per Every on average, Burst at once after a quiet spell. The state keeps one time per
// channel, the theoretical arrival time TAT: a send at now may go when
// TAT <= now + (Burst-1)*Every, and then TAT becomes max(TAT, now) + Every. This is a
// token bucket of Burst tokens refilled one per Every, with one column to store.
type Rate struct {
	Every time.Duration
	Burst int
}

// Allow applies the rate to a channel's TAT (zero: a full bucket) at now: whether a send
// may go, and the TAT to record when it does.
func (r Rate) Allow(tat, now time.Time) (bool, time.Time) {
	if r.Every <= 0 {
		return true, tat
	}
	if !tat.IsZero() && tat.After(now.Add(time.Duration(max(r.Burst, 1)-1)*r.Every)) {
		return false, tat
	}
	if tat.Before(now) {
		tat = now
	}
	return true, tat.Add(r.Every)
}

// Limited reports whether the rate limits anything.
func (r Rate) Limited() bool { return r.Every > 0 }

// newToken returns a reservation token unique across processes.
func newToken() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// MemoryState is a ThrottleState kept in this process: the limits hold for the Throttles
// of this process only. It is safe for concurrent use.
type MemoryState struct {
	mu   sync.Mutex
	keys map[ThrottleKey]memoryEntry
	tats map[string]time.Time // channel -> TAT
}

type memoryEntry struct {
	sentAt     time.Time // last accepted send; zero when none
	reservedAt time.Time // a send in flight since then; zero when none
	token      string
}

// NewMemoryState returns an empty MemoryState.
func NewMemoryState() *MemoryState {
	return &MemoryState{keys: map[ThrottleKey]memoryEntry{}, tats: map[string]time.Time{}}
}

// Admit implements ThrottleState.
func (s *MemoryState) Admit(_ context.Context, a Admission) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	e := s.keys[a.Key]
	if a.Dedup && DuplicateOf(e.sentAt, e.reservedAt, a) {
		return ReasonDuplicate, nil
	}
	ok, tat := a.Rate.Allow(s.tats[a.Key.Channel], a.At)
	if !ok {
		return ReasonRateLimited, nil
	}
	if a.Rate.Limited() {
		s.tats[a.Key.Channel] = tat
	}
	if a.Dedup {
		e.reservedAt, e.token = a.At, a.Token
		s.keys[a.Key] = e
	}
	return "", nil
}

// Release implements ThrottleState.
func (s *MemoryState) Release(_ context.Context, key ThrottleKey, token string, sent bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	e, ok := s.keys[key]
	if !ok || e.token != token {
		return nil
	}
	if sent {
		e.sentAt = e.reservedAt
	}
	e.reservedAt, e.token = time.Time{}, ""
	if e.sentAt.IsZero() {
		delete(s.keys, key)
		return nil
	}
	s.keys[key] = e
	return nil
}

// Sweep implements ThrottleState.
func (s *MemoryState) Sweep(_ context.Context, sentBefore, reservedBefore time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for key, e := range s.keys {
		if e.sentAt.Before(sentBefore) && e.reservedAt.Before(reservedBefore) {
			delete(s.keys, key)
		}
	}
	return nil
}

// Len returns how many keys the state remembers.
func (s *MemoryState) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.keys)
}

// DuplicateOf reports whether a send admitted as a is a duplicate of the key's last
// accepted send (sentAt) or of a send in flight (reservedAt); zero times mean none.
func DuplicateOf(sentAt, reservedAt time.Time, a Admission) bool {
	if !reservedAt.IsZero() && a.At.Sub(reservedAt) < a.InFlight {
		return true
	}
	return !sentAt.IsZero() && a.At.Sub(sentAt) < a.Window
}

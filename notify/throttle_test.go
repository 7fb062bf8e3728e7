package notify

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func newTestThrottle(t *testing.T, clock *fakeClock, cfg ThrottleConfig) *Throttle {
	t.Helper()
	cfg.Now = clock.Now
	if cfg.Logger == nil {
		cfg.Logger = newJSONLogger(&bytes.Buffer{})
	}
	th, err := NewThrottle(cfg)
	require.NoError(t, err)
	return th
}

func TestThrottleDeduplicates(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	th := newTestThrottle(t, clock, ThrottleConfig{Interval: 5 * time.Minute})
	slack := &recorder{name: ChannelSlack}
	n := th.Wrap(slack)

	opened := validMessage()
	require.NoError(t, n.Notify(ctx, opened))

	err := n.Notify(ctx, opened)
	require.ErrorIs(t, err, ErrSuppressed)
	require.False(t, Retryable(err))
	var se *SuppressedError
	require.ErrorAs(t, err, &se)
	require.Equal(t, SuppressedError{Channel: ChannelSlack, IncidentID: "inc_abc123", Kind: KindOpened, Reason: ReasonDuplicate}, *se)

	other := opened
	other.Kind = KindEscalated
	require.NoError(t, n.Notify(ctx, other), "another kind is not a duplicate")
	other = opened
	other.IncidentID = "inc_other"
	require.NoError(t, n.Notify(ctx, other), "another incident is not a duplicate")

	clock.Advance(5*time.Minute - time.Second)
	require.ErrorIs(t, n.Notify(ctx, opened), ErrSuppressed)
	clock.Advance(time.Second)
	require.NoError(t, n.Notify(ctx, opened), "the interval has passed")

	require.Equal(t, 4, slack.count())
	require.Equal(t, map[string]Stats{ChannelSlack: {Sent: 4, Suppressed: 2}}, th.Stats())
}

func TestThrottleChannelsAreIndependent(t *testing.T) {
	ctx := context.Background()
	th := newTestThrottle(t, newFakeClock(), ThrottleConfig{Interval: time.Hour})
	slack, pager := th.Wrap(&recorder{name: ChannelSlack}), th.Wrap(&recorder{name: ChannelPagerDuty})
	require.NoError(t, slack.Notify(ctx, validMessage()))
	require.NoError(t, pager.Notify(ctx, validMessage()))
	require.ErrorIs(t, pager.Notify(ctx, validMessage()), ErrSuppressed)
	require.Equal(t, map[string]Stats{ChannelSlack: {Sent: 1}, ChannelPagerDuty: {Sent: 1, Suppressed: 1}}, th.Stats())
}

func TestThrottleFailureIsNotSent(t *testing.T) {
	ctx := context.Background()
	th := newTestThrottle(t, newFakeClock(), ThrottleConfig{Interval: time.Hour})
	boom := Temporary(ChannelSlack, errors.New("HTTP 503"))
	slack := &recorder{name: ChannelSlack, errs: []error{boom, boom}}
	n := th.Wrap(slack)

	require.ErrorIs(t, n.Notify(ctx, validMessage()), boom)
	require.ErrorIs(t, n.Notify(ctx, validMessage()), boom, "a retry after a failure goes through")
	require.NoError(t, n.Notify(ctx, validMessage()))
	require.ErrorIs(t, n.Notify(ctx, validMessage()), ErrSuppressed)
	require.Equal(t, 3, slack.count())
	require.Equal(t, Stats{Sent: 1, Failed: 2, Suppressed: 1}, th.Stats()[ChannelSlack])
}

func TestThrottleSuppressesWhileInFlight(t *testing.T) {
	ctx := context.Background()
	th := newTestThrottle(t, newFakeClock(), ThrottleConfig{Interval: time.Hour})
	started, release := make(chan struct{}), make(chan error)
	slow := Func(ChannelSlack, func(context.Context, Message) error {
		close(started)
		return <-release
	})
	n := th.Wrap(slow)
	done := make(chan error)
	go func() { done <- n.Notify(ctx, validMessage()) }()
	<-started
	require.ErrorIs(t, n.Notify(ctx, validMessage()), ErrSuppressed, "the same message is in flight")
	release <- nil
	require.NoError(t, <-done)
	require.Equal(t, Stats{Sent: 1, Suppressed: 1}, th.Stats()[ChannelSlack])
}

func TestThrottleRateLimit(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	th := newTestThrottle(t, clock, ThrottleConfig{
		Interval:   time.Hour,
		RateLimits: map[string]RateLimit{ChannelSlack: {PerMinute: 2, Burst: 2}},
	})
	slack := &recorder{name: ChannelSlack}
	n := th.Wrap(slack)
	unlimited := th.Wrap(&recorder{name: ChannelLog})
	msg := func(id string) Message {
		m := validMessage()
		m.IncidentID = id
		return m
	}

	require.NoError(t, n.Notify(ctx, msg("inc_1")))
	require.NoError(t, n.Notify(ctx, msg("inc_2")))
	err := n.Notify(ctx, msg("inc_3"))
	var se *SuppressedError
	require.ErrorAs(t, err, &se)
	require.Equal(t, ReasonRateLimited, se.Reason)
	for i := range 5 {
		require.NoError(t, unlimited.Notify(ctx, msg("inc_"+string(rune('a'+i)))), "the log channel has no limit")
	}

	clock.Advance(30 * time.Second) // 2 a minute: one token back
	require.NoError(t, n.Notify(ctx, msg("inc_3")), "a rate-limited message was not recorded as sent")
	require.ErrorIs(t, n.Notify(ctx, msg("inc_4")), ErrSuppressed)
	require.Equal(t, 3, slack.count())
	require.Equal(t, Stats{Sent: 3, Suppressed: 2}, th.Stats()[ChannelSlack])
}

func TestThrottleNeverDeduplicatesTests(t *testing.T) {
	ctx := context.Background()
	th := newTestThrottle(t, newFakeClock(), ThrottleConfig{Interval: time.Hour})
	n := th.Wrap(&recorder{name: ChannelSlack})
	m := NewTestMessage(time.Now())
	require.NoError(t, n.Notify(ctx, m))
	require.NoError(t, n.Notify(ctx, m))
	require.Equal(t, Stats{Sent: 2}, th.Stats()[ChannelSlack])
}

func TestThrottleSweepsOldEntries(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	state := NewMemoryState()
	th := newTestThrottle(t, clock, ThrottleConfig{Interval: time.Minute, State: state})
	n := th.Wrap(&recorder{name: ChannelSlack})
	for _, id := range []string{"inc_1", "inc_2", "inc_3"} {
		m := validMessage()
		m.IncidentID = id
		require.NoError(t, n.Notify(ctx, m))
	}
	clock.Advance(2 * time.Minute)
	require.NoError(t, n.Notify(ctx, validMessage()))
	require.Equal(t, 1, state.Len(), "entries older than the interval are forgotten")
}

// TestThrottlesShareState: two Throttles (two worker processes) over one state send a
// message once and honour one rate limit between them.
func TestThrottlesShareState(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	state := NewMemoryState()
	cfg := ThrottleConfig{Interval: time.Hour, RateLimits: map[string]RateLimit{ChannelSlack: {PerMinute: 2, Burst: 2}}, State: state}
	slack1, slack2 := &recorder{name: ChannelSlack}, &recorder{name: ChannelSlack}
	th1, th2 := newTestThrottle(t, clock, cfg), newTestThrottle(t, clock, cfg)
	n1, n2 := th1.Wrap(slack1), th2.Wrap(slack2)
	msg := func(id string) Message {
		m := validMessage()
		m.IncidentID = id
		return m
	}
	require.NoError(t, n1.Notify(ctx, msg("inc_1")))
	require.ErrorIs(t, n2.Notify(ctx, msg("inc_1")), ErrSuppressed, "sent by the other process")
	require.NoError(t, n2.Notify(ctx, msg("inc_2")))
	var se *SuppressedError
	require.ErrorAs(t, n1.Notify(ctx, msg("inc_3")), &se)
	require.Equal(t, ReasonRateLimited, se.Reason, "the two processes share one limit")
	require.Equal(t, 1, slack1.count())
	require.Equal(t, 1, slack2.count())
	require.Equal(t, Stats{Sent: 1, Suppressed: 1}, th1.Stats()[ChannelSlack], "stats are per process")
}

func TestThrottleAbandonedSendExpires(t *testing.T) {
	ctx := context.Background()
	clock := newFakeClock()
	state := NewMemoryState()
	th := newTestThrottle(t, clock, ThrottleConfig{Interval: time.Hour, State: state})
	// A worker died mid-send: its reservation was never released.
	_, err := state.Admit(ctx, Admission{Key: ThrottleKey{IncidentID: "inc_abc123", Channel: ChannelSlack, Kind: KindOpened},
		At: clock.Now(), Dedup: true, Window: time.Hour, InFlight: DefaultInFlight, Token: "dead"})
	require.NoError(t, err)
	n := th.Wrap(&recorder{name: ChannelSlack})
	require.ErrorIs(t, n.Notify(ctx, validMessage()), ErrSuppressed, "in flight elsewhere")
	clock.Advance(DefaultInFlight)
	require.NoError(t, n.Notify(ctx, validMessage()), "the retry goes out once the dead send's time is up")
}

func TestThrottleRecordsSendAfterContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	th := newTestThrottle(t, newFakeClock(), ThrottleConfig{Interval: time.Hour})
	n := th.Wrap(Func(ChannelSlack, func(context.Context, Message) error {
		cancel() // the activity's deadline passes as the receiver answers
		return nil
	}))
	require.NoError(t, n.Notify(ctx, validMessage()))
	require.ErrorIs(t, n.Notify(context.Background(), validMessage()), ErrSuppressed, "the send was recorded")
}

// failingState is a ThrottleState whose store is unreachable.
type failingState struct{ *MemoryState }

func (failingState) Admit(context.Context, Admission) (string, error) {
	return "", errors.New("connection refused")
}

func TestThrottleStateUnavailable(t *testing.T) {
	var buf bytes.Buffer
	th := newTestThrottle(t, newFakeClock(), ThrottleConfig{Interval: time.Hour, State: failingState{NewMemoryState()}, Logger: newJSONLogger(&buf)})
	slack := &recorder{name: ChannelSlack}
	err := th.Wrap(slack).Notify(context.Background(), validMessage())
	require.EqualError(t, err, `channel "slack": throttle: connection refused`)
	require.True(t, Retryable(err), "Temporal retries the send once the store is back")
	require.Zero(t, slack.count(), "nothing is sent unthrottled")
	require.Contains(t, buf.String(), "notification throttle unavailable")
}

func TestRateAllow(t *testing.T) {
	now := newFakeClock().Now()
	ok, tat := Rate{}.Allow(time.Time{}, now)
	require.True(t, ok)
	require.True(t, tat.IsZero(), "no rate: nothing to record")
	r := Rate{Every: 10 * time.Second, Burst: 3}
	ok, tat = r.Allow(time.Time{}, now)
	require.True(t, ok)
	require.Equal(t, now.Add(10*time.Second), tat)
	ok, tat = r.Allow(now.Add(30*time.Second), now)
	require.False(t, ok, "three sends ahead: the burst is used up")
	require.Equal(t, now.Add(30*time.Second), tat)
	ok, tat = r.Allow(now.Add(20*time.Second), now)
	require.True(t, ok)
	require.Equal(t, now.Add(30*time.Second), tat)
	ok, _ = Rate{Every: time.Second}.Allow(now, now)
	require.True(t, ok, "burst 0 counts as 1")
	ok, _ = Rate{Every: time.Second}.Allow(now.Add(time.Second), now)
	require.False(t, ok)
}

func TestThrottleKeepsNotifierTraits(t *testing.T) {
	th := newTestThrottle(t, newFakeClock(), ThrottleConfig{})
	n := th.Wrap(&pagerLike{recorder{name: ChannelPagerDuty}})
	require.Equal(t, ChannelPagerDuty, n.Name())
	require.False(t, Handles(n, KindReminder))
	require.True(t, Handles(n, KindOpened))
	receipt, err := Send(context.Background(), th.Wrap(NewLog(newJSONLogger(&bytes.Buffer{}))), validMessage())
	require.NoError(t, err)
	require.Equal(t, "logged", receipt.Response, "the wrapped channel's receipt is passed on")
}

func TestThrottleLogsSuppression(t *testing.T) {
	var buf bytes.Buffer
	th := newTestThrottle(t, newFakeClock(), ThrottleConfig{Interval: time.Hour, Logger: newJSONLogger(&buf)})
	n := th.Wrap(&recorder{name: ChannelSlack})
	require.NoError(t, n.Notify(context.Background(), validMessage()))
	require.ErrorIs(t, n.Notify(context.Background(), validMessage()), ErrSuppressed)
	require.Contains(t, buf.String(), `"msg":"notification suppressed","channel":"slack","incident_id":"inc_abc123","kind":"opened","reason":"duplicate"`)
}

func TestNewThrottleErrors(t *testing.T) {
	_, err := NewThrottle(ThrottleConfig{Interval: -time.Second, RateLimits: map[string]RateLimit{"slack": {PerMinute: -1}}})
	require.EqualError(t, err, "throttle interval: must not be negative, got -1s\n"+
		`channel "slack" rate limit: per minute and burst must not be negative, got -1 and 0`)
}

// TestThrottleKeepsApprovalRequestsOfTwoActions: service_down asks for restart_service and
// rollback in the same instant; both requests go out, a repeat of one is a duplicate.
func TestThrottleKeepsApprovalRequestsOfTwoActions(t *testing.T) {
	ctx := context.Background()
	th := newTestThrottle(t, newFakeClock(), ThrottleConfig{Interval: 5 * time.Minute})
	slack := &recorder{name: ChannelSlack}
	n := th.Wrap(slack)
	restart := validMessage()
	restart.Kind, restart.Action = KindApprovalRequested, "restart_service"
	rollback := restart
	rollback.Action = "rollback"

	require.NoError(t, n.Notify(ctx, restart))
	require.NoError(t, n.Notify(ctx, rollback), "another action's request is not a duplicate")
	require.ErrorIs(t, n.Notify(ctx, rollback), ErrSuppressed)
	require.Equal(t, 2, slack.count())
	require.Equal(t, "approval_requested/rollback", ThrottleKey{Kind: KindApprovalRequested, Action: "rollback"}.StoredKind())
	require.Equal(t, "opened", ThrottleKey{Kind: KindOpened}.StoredKind())
}

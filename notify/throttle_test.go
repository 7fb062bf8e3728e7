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
	th := newTestThrottle(t, clock, ThrottleConfig{Interval: time.Minute})
	n := th.Wrap(&recorder{name: ChannelSlack})
	for _, id := range []string{"inc_1", "inc_2", "inc_3"} {
		m := validMessage()
		m.IncidentID = id
		require.NoError(t, n.Notify(ctx, m))
	}
	clock.Advance(2 * time.Minute)
	require.NoError(t, n.Notify(ctx, validMessage()))
	th.mu.Lock()
	defer th.mu.Unlock()
	require.Len(t, th.sent, 1, "entries older than the interval are forgotten")
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

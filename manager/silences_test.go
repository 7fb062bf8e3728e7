package manager

import (
	"context"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

func silenceOf(by string, d time.Duration, matchers ...string) schemas.Silence {
	s := schemas.Silence{CreatedBy: by, Comment: "maintenance"}
	for _, m := range matchers {
		sm, err := schemas.ParseSilenceMatcher(m)
		if err != nil {
			panic(err)
		}
		s.Matchers = append(s.Matchers, sm)
	}
	s.EndsAt = t0.Add(d)
	return s
}

func TestSilenceStoresAndCountsButOpensNothing(t *testing.T) {
	ctx := context.Background()
	tm := newTestManager(t, nil)
	sil, err := tm.CreateSilence(ctx, silenceOf("alice", 2*time.Hour, "source=api", "event_type=error"))
	require.NoError(t, err)
	require.Regexp(t, `^sil_[0-9a-f]{16}$`, sil.ID)
	require.Equal(t, t0, sil.StartsAt, "starts now by default")

	ids := tm.submit(t, 12, "error", "api")
	require.Empty(t, tm.starts(t), "silenced events open nothing")
	tm.submit(t, 10, "error", "web")
	require.Equal(t, []string{wfID("error_burst", "web")}, tm.starts(t), "other sources are not silenced")

	events, err := tm.st.ListEvents(ctx, store.EventFilter{Source: "api"})
	require.NoError(t, err)
	require.Len(t, events, 12, "silenced events are stored")
	for _, ev := range events {
		require.Equal(t, sil.ID, ev.SilencedBy)
	}
	st := tm.Status()
	require.EqualValues(t, 12, st.EventsSilenced)
	require.Equal(t, 1, st.ActiveSilences)
	counts, err := tm.st.SilencedCounts(ctx, []string{sil.ID})
	require.NoError(t, err)
	require.Equal(t, 12, counts[sil.ID])

	// A re-sent silenced event is not counted twice.
	_, err = tm.SubmitEvent(ctx, schemas.Event{EventID: ids[0], EventType: "error", Source: "api"})
	require.NoError(t, err)
	require.EqualValues(t, 12, tm.Status().EventsSilenced)

	// Expired: events count again, from zero (the silenced ones never counted).
	tm.now = tm.now.Add(time.Minute)
	_, err = tm.ExpireSilence(ctx, sil.ID, "bob")
	require.NoError(t, err)
	require.Zero(t, tm.Status().ActiveSilences)
	tm.submit(t, 9, "error", "api")
	require.Len(t, tm.starts(t), 1)
	tm.submit(t, 1, "error", "api")
	require.Equal(t, wfID("error_burst", "api"), tm.starts(t)[1])
}

func TestSilencedEventsAreNotReplayedAfterRestart(t *testing.T) {
	ctx := context.Background()
	tm := newTestManager(t, nil)
	sil, err := tm.CreateSilence(ctx, silenceOf("alice", time.Hour, "component=api"))
	require.NoError(t, err)
	tm.submit(t, 9, "error", "api")
	_, err = tm.ExpireSilence(ctx, sil.ID, "alice")
	require.NoError(t, err)
	require.NoError(t, tm.Settle(ctx))
	tm.Close() // a restart: the next manager takes the detector role

	m2, err := New(Options{Store: tm.st, Client: tm.tc, Now: func() time.Time { return tm.now }, Logger: slog.New(slog.DiscardHandler), Detector: true})
	require.NoError(t, err)
	t.Cleanup(m2.Close)
	require.NoError(t, m2.Rebuild(ctx))
	_, err = m2.SubmitEvent(ctx, schemas.Event{EventType: "error", Source: "api", Timestamp: tm.now})
	require.NoError(t, err)
	require.NoError(t, m2.Settle(ctx))
	require.Empty(t, tm.tc.starts(), "the 9 silenced events did not count towards the threshold")
}

func TestSilenceStartingLaterAndErrors(t *testing.T) {
	ctx := context.Background()
	tm := newTestManager(t, nil)
	later := silenceOf("alice", 3*time.Hour, "source=api")
	later.StartsAt = t0.Add(time.Hour)
	sil, err := tm.CreateSilence(ctx, later)
	require.NoError(t, err)
	require.Zero(t, tm.Status().ActiveSilences)
	tm.submit(t, 10, "error", "api")
	require.Len(t, tm.starts(t), 1, "a silence that has not started mutes nothing")

	_, err = tm.CreateSilence(ctx, silenceOf("alice", time.Hour))
	var inv *InvalidError
	require.ErrorAs(t, err, &inv)
	require.EqualError(t, err, "silence: matchers: at least one key=value matcher is required (a silence never mutes everything)")
	_, err = tm.CreateSilence(ctx, silenceOf("alice", -time.Minute, "source=x"))
	require.EqualError(t, err, "silence: ends_at: must be after starts_at")

	_, err = tm.ExpireSilence(ctx, sil.ID, "bob")
	require.NoError(t, err)
	_, err = tm.ExpireSilence(ctx, sil.ID, "bob")
	var rej *RejectedError
	require.ErrorAs(t, err, &rej)
	_, err = tm.ExpireSilence(ctx, "sil_nope", "bob")
	require.ErrorIs(t, err, store.ErrNotFound)

	all, err := tm.Silences(ctx, true)
	require.NoError(t, err)
	require.Len(t, all, 1)
	current, err := tm.Silences(ctx, false)
	require.NoError(t, err)
	require.Empty(t, current)
}

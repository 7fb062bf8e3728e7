package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

func testSilence(id string, start time.Time, d time.Duration) schemas.Silence {
	return schemas.Silence{ID: id, Matchers: []schemas.SilenceMatcher{{Key: "source", Value: "api"}, {Key: "labels.team", Value: "x"}},
		StartsAt: start, EndsAt: start.Add(d), Comment: "deploy", CreatedBy: "alice", CreatedAt: start}
}

func TestSilencesLifecycle(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		long := testSilence("sil_long", base, 2*time.Hour)
		short := testSilence("sil_short", base, time.Hour)
		later := testSilence("sil_later", base.Add(3*time.Hour), time.Hour)
		for _, sil := range []schemas.Silence{long, short, later} {
			require.NoError(t, s.InsertSilence(ctx, sil))
		}
		require.Error(t, s.InsertSilence(ctx, short), "duplicate ID")
		bad := testSilence("sil_bad", base, time.Hour)
		bad.Matchers = nil
		require.ErrorContains(t, s.InsertSilence(ctx, bad), "matchers: at least one")

		current, err := s.Silences(ctx, base.Add(90*time.Minute), false)
		require.NoError(t, err)
		require.Equal(t, []string{"sil_long", "sil_later"}, silenceIDs(current), "not ended, soonest end first")
		require.Equal(t, long.Matchers, current[0].Matchers)
		require.Equal(t, stored(long.EndsAt), current[0].EndsAt)

		all, err := s.Silences(ctx, base.Add(90*time.Minute), true)
		require.NoError(t, err)
		require.Len(t, all, 3)

		now := base.Add(30 * time.Minute)
		exp, err := s.ExpireSilence(ctx, "sil_long", "bob", now)
		require.NoError(t, err)
		require.Equal(t, stored(now), exp.EndsAt)
		require.Equal(t, "bob", exp.ExpiredBy)
		_, err = s.ExpireSilence(ctx, "sil_long", "bob", now.Add(time.Minute))
		require.ErrorIs(t, err, ErrExpired)
		_, err = s.ExpireSilence(ctx, "sil_nope", "bob", now)
		require.ErrorIs(t, err, ErrNotFound)

		// Expiring a silence that has not started makes it never start.
		exp, err = s.ExpireSilence(ctx, "sil_later", "bob", now)
		require.NoError(t, err)
		require.Equal(t, stored(now), exp.StartsAt)
		require.False(t, exp.ActiveAt(now))

		got, err := s.GetSilence(ctx, "sil_short")
		require.NoError(t, err)
		require.Equal(t, "deploy", got.Comment)
	})
}

func TestSilencedEventsRoundTripAndCount(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		events := []schemas.Event{testEvent("e1", base), testEvent("e2", base), testEvent("e3", base)}
		events[0].SilencedBy = "sil_a"
		events[1].SilencedBy = "sil_a"
		_, err := s.InsertEvents(ctx, events, base)
		require.NoError(t, err)
		list, err := s.ListEvents(ctx, EventFilter{})
		require.NoError(t, err)
		by := map[string]string{}
		for _, ev := range list {
			by[ev.EventID] = ev.SilencedBy
		}
		require.Equal(t, map[string]string{"e1": "sil_a", "e2": "sil_a", "e3": ""}, by)
		counts, err := s.SilencedCounts(ctx, []string{"sil_a", "sil_b"})
		require.NoError(t, err)
		require.Equal(t, map[string]int{"sil_a": 2}, counts)
	})
}

func silenceIDs(ss []schemas.Silence) []string {
	ids := make([]string, len(ss))
	for i, s := range ss {
		ids[i] = s.ID
	}
	return ids
}

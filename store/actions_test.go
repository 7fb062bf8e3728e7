package store

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

func TestActionRunsAreClaimedOnce(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		rec := schemas.ActionRecord{Action: "clear_cache", Attempt: 1, Actor: "mahavishnu", At: base}
		got, started, err := s.BeginAction(ctx, "inc_a", rec)
		require.NoError(t, err)
		require.True(t, started)
		require.Equal(t, ActionRunning, got.Status)

		// A retry before the outcome is stored must not run it again.
		got, started, err = s.BeginAction(ctx, "inc_a", rec)
		require.NoError(t, err)
		require.False(t, started)
		require.Equal(t, ActionRunning, got.Status)

		rec.Status, rec.Output, rec.DurationMS = schemas.ActionSucceeded, "done", 12
		require.NoError(t, s.FinishAction(ctx, "inc_a", rec))
		got, started, err = s.BeginAction(ctx, "inc_a", rec)
		require.NoError(t, err)
		require.False(t, started)
		require.Equal(t, schemas.ActionSucceeded, got.Status)
		require.Equal(t, "done", got.Output)

		second := schemas.ActionRecord{Action: "clear_cache", Attempt: 2, Actor: "alice", ApprovedBy: "bob", At: base.Add(time.Minute)}
		_, started, err = s.BeginAction(ctx, "inc_a", second)
		require.NoError(t, err)
		require.True(t, started, "another attempt is another run")

		recs, ids, err := s.ListActions(ctx, "inc_a", time.Time{}, 0)
		require.NoError(t, err)
		require.Len(t, recs, 2)
		require.Equal(t, []string{"inc_a", "inc_a"}, ids)
		require.Equal(t, "bob", recs[1].ApprovedBy)
	})
}

func TestPostMortemAndHasTimeline(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, _, err := s.PostMortem(ctx, "inc_p")
		require.ErrorIs(t, err, ErrNotFound)
		require.NoError(t, s.SavePostMortem(ctx, "inc_p", "# one", base))
		require.NoError(t, s.SavePostMortem(ctx, "inc_p", "# two", base.Add(time.Minute)))
		md, at, err := s.PostMortem(ctx, "inc_p")
		require.NoError(t, err)
		require.Equal(t, "# two", md)
		require.Equal(t, stored(base.Add(time.Minute)), at)

		has, err := s.HasTimeline(ctx, "inc_p", "notify/x/slack")
		require.NoError(t, err)
		require.False(t, has)
		require.NoError(t, s.AddTimeline(ctx, schemas.TimelineEntry{IncidentID: "inc_p", At: base, Kind: "notification_sent", Key: "notify/x/slack"}))
		has, err = s.HasTimeline(ctx, "inc_p", "notify/x/slack")
		require.NoError(t, err)
		require.True(t, has)

		require.NoError(t, s.AddTimeline(ctx,
			schemas.TimelineEntry{IncidentID: "inc_p", At: base.Add(-48 * time.Hour), Kind: "notification_failed"},
			schemas.TimelineEntry{IncidentID: "inc_q", At: base, Kind: "notification_failed"}))
		n, err := s.CountTimeline(ctx, "notification_failed", base.Add(-time.Hour))
		require.NoError(t, err)
		require.Equal(t, 1, n)
	})
}

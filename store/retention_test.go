package store

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// retentionFixture stores, 100 days before now: a closed, a resolved and an open incident
// (each with a timeline entry, an action and a notification record, and two events), a
// resolved one with an outbox row waiting, and recent ones; events old and new; post-mortems
// old and new. The detector's cursor is set to the seq of the newest event minus one.
func retentionFixture(t *testing.T, s *Store, now time.Time) {
	t.Helper()
	ctx := context.Background()
	old := now.Add(-100 * 24 * time.Hour)
	recent := now.Add(-2 * time.Hour)
	mk := func(id string, status schemas.Status, at time.Time) {
		inc := testIncident(id, status, at)
		switch status {
		case schemas.StatusResolved:
			inc.ResolvedAt = &at
		case schemas.StatusClosed:
			inc.ResolvedAt, inc.ClosedAt = &at, &at
		}
		require.NoError(t, s.UpsertIncident(ctx, inc))
		require.NoError(t, s.AddTimeline(ctx, schemas.TimelineEntry{IncidentID: id, At: at, Kind: schemas.TimelineNote, Message: "x"}))
		_, _, err := s.BeginAction(ctx, id, schemas.ActionRecord{Action: "clear_cache", Attempt: 1, At: at})
		require.NoError(t, err)
		_, err = s.AdmitNotification(ctx, NotifyAdmission{IncidentID: id, Channel: "slack", Kind: "opened", At: at, Dedup: true, Window: time.Minute, InFlight: time.Minute, Token: "t-" + id})
		require.NoError(t, err)
		evs := []schemas.Event{testEvent("ev-"+id+"-1", at), testEvent("ev-"+id+"-2", at)}
		_, err = s.InsertEvents(ctx, evs, at)
		require.NoError(t, err)
		_, err = s.AttachEvents(ctx, id, eventIDs(evs))
		require.NoError(t, err)
	}
	mk("old-closed", schemas.StatusClosed, old)
	mk("old-resolved", schemas.StatusResolved, old)
	mk("old-open", schemas.StatusInvestigating, old)
	mk("old-pending", schemas.StatusResolved, old)
	mk("new-resolved", schemas.StatusResolved, recent)
	_, err := s.DB.NewInsert().Model(&outboxModel{Kind: OutboxAttach, IncidentID: "old-pending", WorkflowID: "incident-old-pending",
		CreatedAt: newDBTime(old), NextAttemptAt: newDBTime(now)}).Exec(ctx)
	require.NoError(t, err)

	// Loose events: 5 old, 3 recent, then 2 old ones past the cursor (not detected yet).
	var loose []schemas.Event
	for i := range 5 {
		loose = append(loose, testEvent(fmt.Sprintf("old-%d", i), old))
	}
	for i := range 3 {
		loose = append(loose, testEvent(fmt.Sprintf("recent-%d", i), recent))
	}
	_, err = s.InsertEvents(ctx, loose, now)
	require.NoError(t, err)
	head, err := s.LogHead(ctx)
	require.NoError(t, err)
	_, err = s.InsertEvents(ctx, []schemas.Event{testEvent("undetected-0", old), testEvent("undetected-1", old)}, now)
	require.NoError(t, err)
	_, err = s.DB.NewUpdate().Model((*detectorStateModel)(nil)).Set("cursor = ?", head).Where("id = 1").Exec(ctx)
	require.NoError(t, err)

	require.NoError(t, s.SavePostMortem(ctx, "old-closed", "# old", old))
	require.NoError(t, s.SavePostMortem(ctx, "gone-long-ago", "# older", old.Add(-300*24*time.Hour)))
	require.NoError(t, s.SavePostMortem(ctx, "new-resolved", "# new", recent))
}

func retentionPolicy(now time.Time) RetentionPolicy {
	return RetentionPolicy{Now: now, EventHistory: 7 * 24 * time.Hour, DetectorWindow: time.Hour,
		ResolvedIncidents: 90 * 24 * time.Hour, Postmortems: 365 * 24 * time.Hour, Batch: 2}
}

func TestRetention(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		retentionFixture(t, s, now)
		p := retentionPolicy(now)

		// Dry run: counts, deletes nothing.
		p.DryRun = true
		dry, err := s.RunRetention(ctx, p, nil)
		require.NoError(t, err)
		want := RetentionCounts{
			Incidents: 2, Timeline: 2, Actions: 2, Notifications: 2,
			// The 2 events of each old resolved or closed incident (old-pending's too: its
			// incident stays, but events go by age once it is resolved) and the 5 old
			// loose ones; not old-open's, and not the 2 the detector has not consumed.
			Events:      11,
			Postmortems: 1,
		}
		require.Equal(t, want, dry)
		n, err := s.CountEvents(ctx, EventFilter{})
		require.NoError(t, err)
		require.Equal(t, 20, n)

		// Real run, in batches of 2.
		p.DryRun = false
		steps := 0
		got, err := s.RunRetention(ctx, p, func(RetentionCounts) { steps++ })
		require.NoError(t, err)
		require.Equal(t, want, got)
		require.Greater(t, steps, 3, "batches of 2 take several steps")

		for _, id := range []string{"old-closed", "old-resolved"} {
			_, err := s.GetIncident(ctx, id)
			require.ErrorIs(t, err, ErrNotFound, id)
			tl, err := s.Timeline(ctx, id)
			require.NoError(t, err)
			require.Empty(t, tl, id)
		}
		for _, id := range []string{"old-open", "old-pending", "new-resolved"} {
			_, err := s.GetIncident(ctx, id)
			require.NoError(t, err, id)
			tl, err := s.Timeline(ctx, id)
			require.NoError(t, err)
			require.Len(t, tl, 1, id)
		}
		openEvents, err := s.CountEvents(ctx, EventFilter{IncidentID: "old-open"})
		require.NoError(t, err)
		require.Equal(t, 2, openEvents, "events of an open incident stay")
		left, err := s.ListEvents(ctx, EventFilter{Last: 100})
		require.NoError(t, err)
		var ids []string
		for _, e := range left {
			ids = append(ids, e.EventID)
		}
		require.ElementsMatch(t, []string{"ev-old-open-1", "ev-old-open-2", "ev-new-resolved-1", "ev-new-resolved-2",
			"recent-0", "recent-1", "recent-2", "undetected-0", "undetected-1"}, ids)
		var actions int
		actions, err = s.DB.NewSelect().Model((*actionModel)(nil)).Count(ctx)
		require.NoError(t, err)
		require.Equal(t, 3, actions)

		// The post-mortem of the deleted incident outlives it; the 665-day-old one is gone.
		md, _, err := s.PostMortem(ctx, "old-closed")
		require.NoError(t, err)
		require.Equal(t, "# old", md)
		_, _, err = s.PostMortem(ctx, "gone-long-ago")
		require.ErrorIs(t, err, ErrNotFound)

		// The log still appends after the cursor, and the detector's cursor is unchanged.
		cursor, err := s.DetectorCursor(ctx)
		require.NoError(t, err)
		head, err := s.LogHead(ctx)
		require.NoError(t, err)
		_, err = s.AppendEvents(ctx, [][]schemas.Event{{testEvent("after", now)}}, now)
		require.NoError(t, err)
		newHead, err := s.LogHead(ctx)
		require.NoError(t, err)
		require.Equal(t, head+1, newHead)
		require.Less(t, cursor, newHead)

		totals, last, err := s.RetentionTotals(ctx)
		require.NoError(t, err)
		require.Equal(t, want.ByKind(), totals)
		require.WithinDuration(t, now, last, time.Second)

		// A second run finds nothing.
		again, err := s.RunRetention(ctx, p, nil)
		require.NoError(t, err)
		require.Zero(t, again.Total())
	})
}

func TestRetentionKeepsDetectorWindow(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		now := time.Now().UTC()
		// An event 2 days old, all consumed; history 1 day but the detector's window is 3.
		_, err := s.AppendEvents(ctx, [][]schemas.Event{{testEvent("a", now.Add(-48*time.Hour)), testEvent("b", now)}}, now)
		require.NoError(t, err)
		head, err := s.LogHead(ctx)
		require.NoError(t, err)
		_, err = s.DB.NewUpdate().Model((*detectorStateModel)(nil)).Set("cursor = ?", head).Where("id = 1").Exec(ctx)
		require.NoError(t, err)
		p := RetentionPolicy{Now: now, EventHistory: 24 * time.Hour, DetectorWindow: 72 * time.Hour}
		c, err := s.RunRetention(ctx, p, nil)
		require.NoError(t, err)
		require.Zero(t, c.Events)
		p.DetectorWindow = time.Hour
		c, err = s.RunRetention(ctx, p, nil)
		require.NoError(t, err)
		require.EqualValues(t, 1, c.Events)
	})
}

package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

func TestAppendEventsNumbersTheLogInCommitOrder(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		var wg sync.WaitGroup
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				batch := []schemas.Event{testEvent(fmt.Sprintf("g%d-a", g), base), testEvent(fmt.Sprintf("g%d-b", g), base)}
				_, err := s.AppendEvents(ctx, [][]schemas.Event{batch, {testEvent(fmt.Sprintf("g%d-a", g), base)}}, base)
				require.NoError(t, err)
			}()
		}
		wg.Wait()
		logged, err := s.ReadLog(ctx, 0, 100)
		require.NoError(t, err)
		require.Len(t, logged, 16, "a repeated ID is stored once")
		for i := 1; i < len(logged); i++ {
			require.Greater(t, logged[i].Seq, logged[i-1].Seq)
		}
		head, err := s.LogHead(ctx)
		require.NoError(t, err)
		require.Equal(t, logged[len(logged)-1].Seq, head)
		after, err := s.ReadLog(ctx, logged[9].Seq, 100)
		require.NoError(t, err)
		require.Len(t, after, 6)

		// Per batch: the new IDs, the first batch naming an ID owning it.
		res, err := s.AppendEvents(ctx, [][]schemas.Event{
			{testEvent("n1", base), testEvent("g0-a", base)}, {testEvent("n1", base), testEvent("n2", base)}}, base)
		require.NoError(t, err)
		require.Equal(t, [][]string{{"n1"}, {"n2"}}, res)
	})
}

func TestRecordDetectionsIsFencedAndAtomic(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, err := s.InsertEvents(ctx, []schemas.Event{testEvent("e1", base), testEvent("e2", base), testEvent("e3", base)}, base)
		require.NoError(t, err)
		epoch, cursor, err := s.ClaimDetector(ctx, "one")
		require.NoError(t, err)
		require.Zero(t, cursor)

		inc := testIncident("inc_a", schemas.StatusDetected, base)
		inc.EventCount, inc.AffectedComponents = 2, []string{"api"}
		err = s.RecordDetections(ctx, epoch, 2, base, func(ctx context.Context, b *Batch) error {
			return b.Open(ctx, inc, []string{"e1", "e2"}, schemas.SeverityHigh, []byte(`{"input":{}}`))
		})
		require.NoError(t, err)
		got, err := s.GetIncident(ctx, "inc_a")
		require.NoError(t, err)
		require.Equal(t, schemas.StatusDetected, got.Status)
		require.Equal(t, 2, got.EventCount)
		cursor, err = s.DetectorCursor(ctx)
		require.NoError(t, err)
		require.EqualValues(t, 2, cursor)

		// Another process claims the role: the old epoch writes nothing, not even its rows.
		epoch2, cursor2, err := s.ClaimDetector(ctx, "two")
		require.NoError(t, err)
		require.Greater(t, epoch2, epoch)
		require.EqualValues(t, 2, cursor2)
		err = s.RecordDetections(ctx, epoch, 3, base, func(ctx context.Context, b *Batch) error {
			_, err := b.Attach(ctx, "inc_a", inc.WorkflowID, []string{"e3"}, Counters{Events: 1, FirstAt: base, LastAt: base.Add(time.Minute)})
			return err
		})
		require.ErrorIs(t, err, ErrFenced)
		got, err = s.GetIncident(ctx, "inc_a")
		require.NoError(t, err)
		require.Equal(t, 2, got.EventCount, "the fenced batch was rolled back")

		// The holder attaches; the counters merge with a stale workflow snapshot.
		err = s.RecordDetections(ctx, epoch2, 3, base, func(ctx context.Context, b *Batch) error {
			ok, err := b.Attach(ctx, "inc_a", inc.WorkflowID, []string{"e3"}, Counters{Events: 1, FirstAt: base,
				LastAt: base.Add(time.Minute), Components: []string{"api", "db"}, MaxEventSeverity: schemas.SeverityCritical})
			require.True(t, ok)
			return err
		})
		require.NoError(t, err)
		snap := *inc
		snap.Version, snap.Status, snap.EventCount = 4, schemas.StatusAssessing, 2 // the workflow has not heard yet
		require.NoError(t, s.UpsertIncident(ctx, &snap))
		got, err = s.GetIncident(ctx, "inc_a")
		require.NoError(t, err)
		require.Equal(t, schemas.StatusAssessing, got.Status)
		require.Equal(t, 3, got.EventCount, "a snapshot never lowers the detector's count")
		require.Equal(t, []string{"api", "db"}, got.AffectedComponents)
		require.Equal(t, stored(base.Add(time.Minute)), *got.LastEventAt)
		counters, err := s.IncidentCounters(ctx, []string{"inc_a"})
		require.NoError(t, err)
		require.Equal(t, schemas.SeverityCritical, counters["inc_a"].MaxEventSeverity)
		require.Equal(t, 3, counters["inc_a"].EventCount)
		n, err := s.CountEvents(ctx, EventFilter{IncidentID: "inc_a"})
		require.NoError(t, err)
		require.Equal(t, 3, n)

		// Resolved: an attachment changes nothing and says so.
		snap.Version, snap.Status = 5, schemas.StatusResolved
		require.NoError(t, s.UpsertIncident(ctx, &snap))
		_, err = s.InsertEvents(ctx, []schemas.Event{testEvent("e4", base)}, base)
		require.NoError(t, err)
		err = s.RecordDetections(ctx, epoch2, 4, base, func(ctx context.Context, b *Batch) error {
			ok, err := b.Attach(ctx, "inc_a", inc.WorkflowID, []string{"e4"}, Counters{Events: 1})
			require.False(t, ok)
			return err
		})
		require.NoError(t, err)
		tail := 0
		require.NoError(t, s.ScanLogTail(ctx, base.Add(-time.Hour), 4, func(ev schemas.Event) error {
			require.Equal(t, "e4", ev.EventID, "only the unattached event is in the tail")
			tail++
			return nil
		}))
		require.Equal(t, 1, tail)
	})
}

func TestOutboxCoalescesAndKeepsRowsChangedWhileDelivered(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		epoch, _, err := s.ClaimDetector(ctx, "one")
		require.NoError(t, err)
		inc := testIncident("inc_b", schemas.StatusDetected, base)
		record := func(fn func(ctx context.Context, b *Batch) error) {
			t.Helper()
			require.NoError(t, s.RecordDetections(ctx, epoch, 0, base, fn))
		}
		record(func(ctx context.Context, b *Batch) error { return b.Open(ctx, inc, nil, "", []byte(`{}`)) })
		attach := func(ctx context.Context, b *Batch) error {
			_, err := b.Attach(ctx, "inc_b", inc.WorkflowID, nil, Counters{Events: 1})
			return err
		}
		record(attach)
		record(attach)
		st, err := s.OutboxStats(ctx)
		require.NoError(t, err)
		require.Equal(t, OutboxStats{Depth: 2, PendingOpens: 1, Oldest: stored(base)}, st)

		due, err := s.DueOutbox(ctx, base, 10)
		require.NoError(t, err)
		require.Len(t, due, 1, "the attachment waits for its incident's opening")
		require.Equal(t, OutboxOpen, due[0].Kind)
		ok, err := s.CompleteOutbox(ctx, due[0])
		require.NoError(t, err)
		require.True(t, ok)

		due, err = s.DueOutbox(ctx, base, 10)
		require.NoError(t, err)
		require.Len(t, due, 1)
		require.Equal(t, OutboxAttach, due[0].Kind)
		require.EqualValues(t, 2, due[0].Change, "two batches, one row")
		record(attach) // changed while being delivered
		ok, err = s.CompleteOutbox(ctx, due[0])
		require.NoError(t, err)
		require.False(t, ok, "the row stays for the new change")

		require.NoError(t, s.RetryOutbox(ctx, due[0], base.Add(time.Minute), "connection refused"))
		due, err = s.DueOutbox(ctx, base, 10)
		require.NoError(t, err)
		require.Empty(t, due, "not due before its next attempt")
		next, err := s.NextOutboxAttempt(ctx)
		require.NoError(t, err)
		require.Equal(t, stored(base.Add(time.Minute)), next)
		due, err = s.DueOutbox(ctx, base.Add(time.Minute), 10)
		require.NoError(t, err)
		require.Equal(t, 1, due[0].Attempts)
		require.Equal(t, "connection refused", due[0].LastError)
		ok, err = s.CompleteOutbox(ctx, due[0])
		require.NoError(t, err)
		require.True(t, ok)
		st, err = s.OutboxStats(ctx)
		require.NoError(t, err)
		require.Zero(t, st.Depth)
	})
}

// TestAttachUsesThePrimaryKeyOnSQLite guards the plan of the detector's hottest statement:
// with many unattached events stored, "incident_id IS NULL" must not be taken as the index
// to search (each attachment would scan every unattached event).
func TestAttachUsesThePrimaryKeyOnSQLite(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, newTestDB(t, DialectSQLite))
	ctx := context.Background()
	events := make([]schemas.Event, 3000)
	ids := make([]string, 500)
	for i := range events {
		events[i] = testEvent(fmt.Sprintf("e%05d", i), base)
	}
	for i := range ids {
		ids[i] = events[i].EventID
	}
	_, err := s.InsertEvents(ctx, events, base)
	require.NoError(t, err)
	var plan []struct {
		ID      int    `bun:"id"`
		Parent  int    `bun:"parent"`
		NotUsed int    `bun:"notused"`
		Detail  string `bun:"detail"`
	}
	require.NoError(t, s.DB.NewRaw("EXPLAIN QUERY PLAN "+attachQuery(s.DB, "inc_x", ids).String()).Scan(ctx, &plan))
	require.NotEmpty(t, plan)
	for _, p := range plan {
		require.NotContains(t, p.Detail, "events_incident_id_idx", "plan: %+v", plan)
	}
	require.Contains(t, plan[0].Detail, "sqlite_autoindex_events_1")
	n, err := s.AttachEvents(ctx, "inc_x", ids)
	require.NoError(t, err)
	require.Equal(t, 500, n)
}

func TestReadDetectableSkipsOtherTypesAndSilenced(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		var events []schemas.Event
		for i := range 10 {
			ev := testEvent(fmt.Sprintf("e%02d", i), base)
			if i%2 == 1 {
				ev.EventType = "noise"
			}
			if i == 4 {
				ev.SilencedBy = "sil_1"
			}
			events = append(events, ev)
		}
		_, err := s.InsertEvents(ctx, events, base)
		require.NoError(t, err)
		got, next, err := s.ReadDetectable(ctx, 0, 10, []string{"error"}, 100)
		require.NoError(t, err)
		require.EqualValues(t, 10, next, "the whole range was read")
		var ids []string
		for _, e := range got {
			ids = append(ids, e.Event.EventID)
			require.Empty(t, e.Event.Metadata, "metadata is not read for detection")
		}
		require.Equal(t, []string{"e00", "e02", "e06", "e08"}, ids)

		got, next, err = s.ReadDetectable(ctx, 0, 10, []string{"error"}, 2)
		require.NoError(t, err)
		require.Len(t, got, 2)
		require.Equal(t, got[1].Seq, next, "a full batch stops at its last event")
		got, next, err = s.ReadDetectable(ctx, 3, 10, nil, 100)
		require.NoError(t, err)
		require.Empty(t, got, "no rule looks at anything")
		require.EqualValues(t, 10, next)
	})
}

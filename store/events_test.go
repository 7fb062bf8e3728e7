package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

func TestInsertEventsDedup(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ins, err := s.InsertEvents(ctx, []schemas.Event{
			testEvent("e1", base), testEvent("e2", base.Add(time.Second)), testEvent("e3", base.Add(2*time.Second)),
		}, base)
		require.NoError(t, err)
		require.Equal(t, []string{"e1", "e2", "e3"}, ins)

		// A re-sent batch: old IDs are ignored, a duplicate within the batch counts once.
		ins, err = s.InsertEvents(ctx, []schemas.Event{
			testEvent("e2", base), testEvent("e4", base.Add(3*time.Second)), testEvent("e1", base), testEvent("e4", base),
		}, base)
		require.NoError(t, err)
		require.Equal(t, []string{"e4"}, ins)

		ins, err = s.InsertEvents(ctx, []schemas.Event{testEvent("e1", base)}, base)
		require.NoError(t, err)
		require.Empty(t, ins)

		all, err := s.ListEvents(ctx, EventFilter{})
		require.NoError(t, err)
		require.Equal(t, []string{"e4", "e3", "e2", "e1"}, eventIDs(all))
		require.Equal(t, stored(base.Add(3*time.Second)), all[0].Timestamp, "the first copy of e4 wins")
	})
}

func TestInsertEventsRoundTrip(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		ev := schemas.Event{
			EventID:       "evt-1",
			Timestamp:     base,
			EventType:     "service_down",
			Source:        "checkout",
			Severity:      schemas.SeverityCritical,
			Message:       "connection refused: it's 'quoted' \"twice\" ?",
			Metadata:      map[string]any{"region": "eu-west-1", "attempts": float64(3), "nested": map[string]any{"ok": false}},
			CorrelationID: "corr-9",
			Component:     "payments",
		}
		_, err := s.InsertEvents(ctx, []schemas.Event{ev, testEvent("evt-2", base)}, base)
		require.NoError(t, err)

		got, err := s.ListEvents(ctx, EventFilter{Type: "service_down"})
		require.NoError(t, err)
		require.Len(t, got, 1)
		want := ev
		want.Timestamp = stored(base)
		require.Equal(t, want, got[0])
		require.Equal(t, time.UTC, got[0].Timestamp.Location())

		got, err = s.ListEvents(ctx, EventFilter{Type: "error"})
		require.NoError(t, err)
		require.Len(t, got, 1)
		require.Nil(t, got[0].Metadata, "an event without metadata reads back without it")
	})
}

func TestInsertEventsRejectsIncompleteEvents(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		tests := []struct {
			name    string
			mutate  func(*schemas.Event)
			wantErr string
		}{
			{name: "event_id", mutate: func(e *schemas.Event) { e.EventID = "" }, wantErr: "events[1].event_id: is required"},
			{name: "timestamp", mutate: func(e *schemas.Event) { e.Timestamp = time.Time{} }, wantErr: "events[1].timestamp: is required"},
			{name: "event_type", mutate: func(e *schemas.Event) { e.EventType = "" }, wantErr: "events[1].event_type: is required"},
			{name: "source", mutate: func(e *schemas.Event) { e.Source = "" }, wantErr: "events[1].source: is required"},
			{name: "severity", mutate: func(e *schemas.Event) { e.Severity = "" }, wantErr: "events[1].severity: is required"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				bad := testEvent("bad", base)
				tt.mutate(&bad)
				_, err := s.InsertEvents(ctx, []schemas.Event{testEvent("good-"+tt.name, base), bad}, base)
				require.ErrorContains(t, err, tt.wantErr)
				var fe *schemas.FieldError
				require.True(t, errors.As(err, &fe))
			})
		}
		n, err := s.CountEvents(ctx, EventFilter{})
		require.NoError(t, err)
		require.Zero(t, n, "a rejected batch stores nothing")
	})
}

func TestInsertEventsLargeBatch(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		const n = 2*writeChunk + 7
		events := make([]schemas.Event, n)
		for i := range events {
			events[i] = testEvent(fmt.Sprintf("e%05d", i), base.Add(time.Duration(i)*time.Millisecond))
		}
		ins, err := s.InsertEvents(ctx, events, base)
		require.NoError(t, err)
		require.Equal(t, eventIDs(events), ins)
		count, err := s.CountEvents(ctx, EventFilter{})
		require.NoError(t, err)
		require.Equal(t, n, count)
	})
}

func TestInsertEventsConcurrentOverlappingBatches(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		// Enough rows that unordered inserts do deadlock on PostgreSQL (checked).
		const writers, n = 4, 1000
		var all []schemas.Event
		for i := range n {
			all = append(all, testEvent(fmt.Sprintf("e%04d", i), base))
		}
		results := make([][]string, writers)
		errs := make([]error, writers)
		var wg sync.WaitGroup
		for w := range writers {
			batch := slices.Clone(all)
			rand.New(rand.NewPCG(uint64(w), 7)).Shuffle(n, func(i, j int) { batch[i], batch[j] = batch[j], batch[i] })
			wg.Go(func() { results[w], errs[w] = s.InsertEvents(ctx, batch, base) })
		}
		wg.Wait()
		seen := map[string]int{}
		for w := range writers {
			require.NoError(t, errs[w], "writer %d", w)
			for _, id := range results[w] {
				seen[id]++
			}
		}
		require.Len(t, seen, n, "every event is reported new by some writer")
		for id, c := range seen {
			require.Equal(t, 1, c, "event %s reported new %d times", id, c)
		}
	})
}

func TestListEventsFilters(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		mk := func(id, typ, src string, offset time.Duration) schemas.Event {
			e := testEvent(id, base.Add(offset))
			e.EventType, e.Source = typ, src
			return e
		}
		_, err := s.InsertEvents(ctx, []schemas.Event{
			mk("a", "error", "api", 0),
			mk("b", "error", "db", time.Second),
			mk("c", "memory_high", "api", 2*time.Second),
			mk("d", "error", "api", 3*time.Second),
			mk("e", "error", "api", 3*time.Second), // same time as d: ties by ID, descending
		}, base)
		require.NoError(t, err)
		_, err = s.AttachEvents(ctx, "inc_1", []string{"a", "c"})
		require.NoError(t, err)

		tests := []struct {
			name string
			f    EventFilter
			want []string
		}{
			{name: "all newest first", f: EventFilter{}, want: []string{"e", "d", "c", "b", "a"}},
			{name: "last", f: EventFilter{Last: 2}, want: []string{"e", "d"}},
			{name: "type", f: EventFilter{Type: "error"}, want: []string{"e", "d", "b", "a"}},
			{name: "source", f: EventFilter{Source: "db"}, want: []string{"b"}},
			{name: "type and source", f: EventFilter{Type: "error", Source: "api"}, want: []string{"e", "d", "a"}},
			{name: "incident", f: EventFilter{IncidentID: "inc_1"}, want: []string{"c", "a"}},
			{name: "unattached", f: EventFilter{UnattachedOnly: true}, want: []string{"e", "d", "b"}},
			{name: "since is inclusive", f: EventFilter{Since: base.Add(2 * time.Second)}, want: []string{"e", "d", "c"}},
			{name: "since between microseconds", f: EventFilter{Since: base.Add(time.Second + time.Microsecond)}, want: []string{"e", "d", "c"}},
			{name: "no match", f: EventFilter{Type: "nope"}, want: []string{}},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				got, err := s.ListEvents(ctx, tt.f)
				require.NoError(t, err)
				require.Equal(t, tt.want, eventIDs(got))
			})
		}
	})
}

func TestScanEventsOrderAndPaging(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		t0 := time.Date(2026, 1, 1, 12, 0, 5, 0, time.UTC)
		// Sub-second times whose text forms would sort wrongly if the stored format were
		// not fixed-width (12:00:05 vs 12:00:05.5 vs 12:00:05.000001 ...).
		times := []time.Time{
			t0.Add(-time.Microsecond), t0, t0.Add(time.Microsecond), t0.Add(100 * time.Millisecond),
			t0.Add(500 * time.Millisecond), t0.Add(time.Second), t0.Add(10 * time.Second), t0.Add(24 * time.Hour),
		}
		// More events than one page, many sharing a time so that pages split runs of ties.
		var events []schemas.Event
		for i := range 2*scanPageSize + 50 {
			events = append(events, testEvent(fmt.Sprintf("e%04d", i), times[i%len(times)]))
		}
		shuffled := append([]schemas.Event(nil), events...)
		rand.New(rand.NewPCG(1, 2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		_, err := s.InsertEvents(ctx, shuffled, t0)
		require.NoError(t, err)
		_, err = s.AttachEvents(ctx, "inc_1", []string{"e0000", "e0001", "e0999"})
		require.NoError(t, err)

		scan := func(since time.Time, unattached bool) []schemas.Event {
			var got []schemas.Event
			require.NoError(t, s.ScanEvents(ctx, since, unattached, func(e schemas.Event) error {
				got = append(got, e)
				return nil
			}))
			return got
		}
		got := scan(time.Time{}, false)
		require.Len(t, got, len(events))
		for i := 1; i < len(got); i++ {
			prev, cur := got[i-1], got[i]
			require.True(t, prev.Timestamp.Before(cur.Timestamp) ||
				(prev.Timestamp.Equal(cur.Timestamp) && prev.EventID < cur.EventID),
				"position %d: %s@%s before %s@%s", i, prev.EventID, prev.Timestamp, cur.EventID, cur.Timestamp)
		}
		require.Equal(t, times[0], got[0].Timestamp)
		require.Equal(t, times[len(times)-1], got[len(got)-1].Timestamp)

		got = scan(t0, false)
		for _, e := range got {
			require.False(t, e.Timestamp.Before(t0))
		}
		require.Len(t, got, len(events)-(len(events)+len(times)-1)/len(times))

		got = scan(time.Time{}, true)
		require.Len(t, got, len(events)-3)
		for _, e := range got {
			require.Empty(t, e.IncidentID)
		}

		stop := errors.New("stop")
		calls := 0
		err = s.ScanEvents(ctx, time.Time{}, false, func(schemas.Event) error {
			calls++
			if calls == 3 {
				return stop
			}
			return nil
		})
		require.ErrorIs(t, err, stop)
		require.Equal(t, 3, calls)
	})
}

func TestAttachEventsIsIdempotent(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, err := s.InsertEvents(ctx, []schemas.Event{testEvent("a", base), testEvent("b", base), testEvent("c", base)}, base)
		require.NoError(t, err)

		tests := []struct {
			incident string
			ids      []string
			want     int
		}{
			{incident: "inc_1", ids: []string{"a", "b"}, want: 2},
			{incident: "inc_1", ids: []string{"a", "b"}, want: 0},       // retried
			{incident: "inc_2", ids: []string{"b", "c", "zz"}, want: 1}, // b stays with inc_1, zz is unknown
			{incident: "inc_2", ids: []string{"c", "c"}, want: 0},       // duplicates
			{incident: "inc_3", ids: nil, want: 0},                      // nothing to do
		}
		for i, tt := range tests {
			n, err := s.AttachEvents(ctx, tt.incident, tt.ids)
			require.NoError(t, err, "step %d", i)
			require.Equal(t, tt.want, n, "step %d", i)
		}
		for incident, want := range map[string][]string{"inc_1": {"b", "a"}, "inc_2": {"c"}} {
			got, err := s.ListEvents(ctx, EventFilter{IncidentID: incident})
			require.NoError(t, err)
			require.Equal(t, want, eventIDs(got), incident)
			for _, e := range got {
				require.Equal(t, incident, e.IncidentID)
			}
		}
		_, err = s.AttachEvents(ctx, "", []string{"a"})
		require.ErrorContains(t, err, "incident_id is required")
	})
}

func TestCountEvents(t *testing.T) {
	eachStore(t, func(t *testing.T, s *Store) {
		ctx := context.Background()
		_, err := s.InsertEvents(ctx, []schemas.Event{
			testEvent("a", base), testEvent("b", base.Add(time.Minute)), testEvent("c", base.Add(time.Hour)),
		}, base)
		require.NoError(t, err)
		tests := []struct {
			since time.Time
			want  int
		}{
			{since: time.Time{}, want: 3},
			{since: base, want: 3},
			{since: base.Add(time.Microsecond), want: 2},
			{since: base.Add(time.Hour), want: 1},
			{since: base.Add(2 * time.Hour), want: 0},
		}
		for _, tt := range tests {
			n, err := s.CountEvents(ctx, EventFilter{Since: tt.since})
			require.NoError(t, err)
			require.Equal(t, tt.want, n, "since %s", tt.since)
		}
	})
}

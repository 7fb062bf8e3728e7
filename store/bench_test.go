package store

import (
	"context"
	"fmt"
	"log/slog"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// BenchmarkInsertEvents50 measures InsertEvents on SQLite (the embedded default) with
// batches of 50 new events, the ingest benchmark case. Run it with
//
//	go test ./store/ -run '^$' -bench BenchmarkInsertEvents50 -benchtime 2000x
func BenchmarkInsertEvents50(b *testing.B) {
	const batch = 50
	s := benchStore(b)
	ctx := context.Background()
	now := time.Now()
	events := make([]schemas.Event, batch)
	ops := 0
	for b.Loop() {
		for i := range events {
			events[i] = schemas.Event{
				EventID:   fmt.Sprintf("bench-%d-%d", ops, i),
				Timestamp: now.Add(time.Duration(ops*batch+i) * time.Millisecond),
				EventType: "error",
				Source:    "api",
				Severity:  schemas.SeverityHigh,
				Message:   "upstream timed out",
				Metadata:  map[string]any{"status": 504},
				Component: "api",
			}
		}
		ins, err := s.InsertEvents(ctx, events, now)
		if err != nil || len(ins) != batch {
			b.Fatalf("insert: %d new, err %v", len(ins), err)
		}
		ops++
	}
	b.ReportMetric(float64(ops*batch)/b.Elapsed().Seconds(), "events/s")
}

// BenchmarkAppendGroup1000 is one group commit of ingest: 1,000 events in one transaction
// (about what 16 clients posting batches of 50 give per commit). ns/op is per group.
func BenchmarkAppendGroup1000(b *testing.B) {
	const group = 1000
	s := benchStore(b)
	ctx := context.Background()
	now := time.Now()
	events := make([]schemas.Event, group)
	ops := 0
	for b.Loop() {
		for i := range events {
			events[i] = schemas.Event{EventID: fmt.Sprintf("bench-%d-%d", ops, i),
				Timestamp: now.Add(time.Duration(ops*group+i) * time.Millisecond), EventType: "error", Source: "api",
				Severity: schemas.SeverityHigh, Message: "upstream timed out", Metadata: map[string]any{"status": 504}, Component: "api"}
		}
		if _, err := s.AppendEvents(ctx, [][]schemas.Event{events}, now); err != nil {
			b.Fatal(err)
		}
		ops++
	}
	b.ReportMetric(float64(group*b.N)/b.Elapsed().Seconds(), "events/s")
}

// benchStore opens a SQLite store in a temp dir, keeping the migration log line out of the
// benchmark output (benchstat reads it).
func benchStore(b *testing.B) *Store {
	b.Helper()
	prev := slog.Default()
	slog.SetDefault(slog.New(slog.DiscardHandler))
	b.Cleanup(func() { slog.SetDefault(prev) })
	s, err := Open(context.Background(), "sqlite:///bench.db", b.TempDir())
	require.NoError(b, err)
	b.Cleanup(func() { require.NoError(b, s.Close()) })
	return s
}

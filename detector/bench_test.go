package detector

import (
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
)

const (
	benchSources = 1000
	// benchStep is the event-time gap between two events of the stream: each source
	// reports every benchSources*benchStep = 10s.
	benchStep = 10 * time.Millisecond
)

// benchPattern is what each source reports, one entry every 10s, over 300s. Each rule
// stays below its threshold in every window, so nothing fires: the stream measures the
// hot path (matching, keyword checks, claims, windows, expiry, MaxEvents eviction).
var benchPattern = []struct{ typ, msg string }{
	{"error", "Test error"}, {"slow_request", "Request took 5.2s"}, {"api_error", "POST /api/users returned 500"},
	{"workflow_failed", "ETL pipeline failed"}, {"error", "Redis connection refused"}, {"rate_limit", "Rate limit exceeded"},
	{"heartbeat", "ok"}, {"error", "nil pointer dereference in handler"}, {"slow_request", "Request took 3.1s"},
	{"service_down", "health check failed"}, {"api_error", "upstream returned 429 Too Many Requests"},
	{"memory_high", "Memory at 95%"}, {"api_error", "GET /api/orders timeout"}, {"workflow_failed", "ETL pipeline failed"},
	{"cache_error", "Redis connection refused"}, {"error", "index out of range"}, {"disk_low", "Disk at 92%"},
	{"slow_request", "Request took 7.9s"}, {"quality_failed", "Coverage dropped to 72%"}, {"rate_limit", "Rate limit exceeded"},
	{"network_error", "Connection refused"}, {"api_error", "PUT /api/cart returned 502"}, {"recovery", "back to normal"},
	{"resource_leak", "High process count"}, {"error", "cache miss storm on /api/items"}, {"database_error", "Connection pool exhausted"},
	{"workflow_failed", "ETL pipeline failed"}, {"slow_request", "Request took 6.0s"}, {"api_error", "rate limited by upstream"},
	{"error", "context canceled"},
}

// benchStream returns one cycle of the stream: benchSources*len(benchPattern) events,
// source-major so consecutive events come from different sources and types.
func benchStream() []schemas.Event {
	events := make([]schemas.Event, benchSources*len(benchPattern))
	for k := range events {
		src := k % benchSources
		p := benchPattern[(k/benchSources+src)%len(benchPattern)]
		source := fmt.Sprintf("svc-%04d", src)
		events[k] = schemas.Event{EventID: fmt.Sprintf("evt_%06d", k), EventType: p.typ, Source: source,
			Component: source, Severity: schemas.SeverityMedium, Message: p.msg}
	}
	return events
}

// observeStream feeds events [from, to) of the endless stream, stamping timestamps.
func observeStream(d *Detector, events []schemas.Event, from, to int, out []Action) []Action {
	for i := from; i < to; i++ {
		e := &events[i%len(events)]
		e.Timestamp = t0.Add(time.Duration(i) * benchStep)
		out = d.Observe(e, out[:0])
		if len(out) > 0 {
			return out
		}
	}
	return out
}

// TestBenchStreamIsQuiet proves that the benchmark stream opens nothing with the default
// rules, with and without the MaxEvents bound biting, so the benchmark measures the path
// where nothing fires.
func TestBenchStreamIsQuiet(t *testing.T) {
	for _, maxEvents := range []int{DefaultMaxEvents, 1_000_000} {
		d := newDetector(t, schemas.DefaultRules(), Options{MaxEvents: maxEvents})
		events := benchStream()
		got := observeStream(d, events, 0, 3*len(events), nil)
		require.Empty(t, got)
		st := d.Stats()
		require.Equal(t, 12*benchSources, st.Windows, "12 rules see traffic from each source")
		if maxEvents == DefaultMaxEvents {
			require.Equal(t, DefaultMaxEvents, st.HeldEvents)
			require.NotZero(t, st.DroppedMaxEvents)
		} else {
			require.Zero(t, st.DroppedMaxEvents)
			require.Greater(t, st.HeldEvents, DefaultMaxEvents)
		}
	}
}

// BenchmarkObserve: all 15 default rules, 1000 sources, mixed event types (see
// benchPattern). Run with: go test -run '^$' -bench . -benchmem -cpu 1 ./detector/
func BenchmarkObserve(b *testing.B) {
	for _, maxEvents := range []int{DefaultMaxEvents, 1_000_000} {
		b.Run(fmt.Sprintf("max_events=%d", maxEvents), func(b *testing.B) {
			d, err := New(schemas.DefaultRules(), Options{MaxEvents: maxEvents})
			if err != nil {
				b.Fatal(err)
			}
			events := benchStream()
			out := make([]Action, 0, 8)
			warm := 3 * len(events) // reach the steady state: windows and pool allocated
			if out = observeStream(d, events, 0, warm, out); len(out) > 0 {
				b.Fatalf("warm-up fired: %+v", out[0])
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu0 := processCPUTime()
			out = observeStream(d, events, warm, warm+b.N, out)
			cpu := processCPUTime() - cpu0
			b.StopTimer()
			if len(out) > 0 {
				b.Fatalf("fired: %+v", out[0])
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
			if cpu > 0 {
				b.ReportMetric(float64(b.N)/cpu.Seconds(), "events/cpu-s")
			}
		})
	}
}

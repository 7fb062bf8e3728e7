package integration

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/mahavishnu/mahavishnu/api"
)

// Parameters of BenchmarkIngestHTTP.
const (
	benchClients   = 8    // concurrent HTTP clients
	benchBatch     = 50   // events per request
	benchSources   = 1000 // ordinary sources
	benchHotSource = 5    // sources whose errors cross error_burst's threshold
)

// benchBody is batch n of the benchmark stream: per 100 events, 80 unmatched events
// (heartbeats, deploys, OK requests) and 15 errors or slow requests spread over 1000
// sources, which stay below every threshold, and 5 errors from 5 hot sources, which open
// an error_burst incident each and then attach to it (a signal per batch and incident).
func benchBody(n int) []byte {
	events := make([]map[string]any, benchBatch)
	for i := range events {
		k := n*benchBatch + i
		ev := map[string]any{"severity": "low"}
		switch r := k % 100; {
		case r < 80:
			ev["event_type"] = []string{"heartbeat", "request_ok", "deploy_finished", "cron_ok"}[k%4]
			ev["source"] = fmt.Sprintf("svc-%03d", k%benchSources)
			ev["message"] = "ok"
		case r < 95:
			ev["event_type"] = []string{"error", "slow_request"}[k%2]
			ev["source"] = fmt.Sprintf("svc-%03d", (k/100*15+r-80)%benchSources) // 15 new sources per 100 events
			ev["severity"] = "medium"
			ev["message"] = "GET /api/items took 2.1s"
			ev["metadata"] = map[string]any{"duration_ms": 2100}
		default:
			ev["event_type"] = "error"
			ev["source"] = fmt.Sprintf("hot-%d", k%benchHotSource)
			ev["severity"] = "high"
			ev["message"] = "POST /api/orders returned 500"
		}
		events[i] = ev
	}
	body, err := json.Marshal(map[string]any{"events": events})
	if err != nil {
		panic(err)
	}
	return body
}

// BenchmarkIngestHTTP measures durable ingest over HTTP on the embedded default: the real
// `incidents start` (embedded Temporal server, worker, detector, SQLite store, HTTP API)
// in-process, and benchClients clients posting batches of benchBatch events. Each batch
// is stored in one transaction and detected before its 202. It reports events/s and the
// p50 and p99 latency of a batch; ns/op is per batch. Run it with `make bench`, or
//
//	go test ./integration/ -run '^$' -bench BenchmarkIngestHTTP -benchtime 1000x
func BenchmarkIngestHTTP(b *testing.B) {
	e := newEnv(b, "")
	e.startManager(b)
	url := "http://" + e.apiAddr + "/api/v1/events"
	client := &http.Client{Timeout: time.Minute, Transport: &http.Transport{MaxIdleConnsPerHost: benchClients}}

	jobs := make(chan int, benchClients)
	latencies := make([][]time.Duration, benchClients)
	errs := make(chan error, benchClients)
	var wg sync.WaitGroup
	for w := range benchClients {
		wg.Go(func() {
			for n := range jobs {
				body := benchBody(n)
				start := time.Now()
				resp, err := client.Post(url, "application/json", bytes.NewReader(body))
				if err != nil {
					errs <- err
					return
				}
				var ack api.IngestResponse
				err = json.NewDecoder(resp.Body).Decode(&ack)
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				latencies[w] = append(latencies[w], time.Since(start))
				if err != nil || resp.StatusCode != http.StatusAccepted || ack.Accepted != benchBatch {
					errs <- fmt.Errorf("batch %d: HTTP %d, %d accepted, %v", n, resp.StatusCode, ack.Accepted, err)
					return
				}
			}
		})
	}

	batches := 0
	start := time.Now()
	for b.Loop() {
		select {
		case jobs <- batches:
			batches++
		case err := <-errs:
			b.Fatal(err)
		}
	}
	close(jobs)
	wg.Wait()
	elapsed := time.Since(start)
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}

	all := slices.Concat(latencies...)
	slices.Sort(all)
	pct := func(p float64) float64 {
		return float64(all[min(len(all)-1, int(p*float64(len(all))))]) / float64(time.Millisecond)
	}
	b.ReportMetric(float64(elapsed.Nanoseconds())/float64(batches), "ns/op")
	b.ReportMetric(float64(batches*benchBatch)/elapsed.Seconds(), "events/s")
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
	h := e.health(b)
	b.ReportMetric(float64(h.Manager.IncidentsOpened), "incidents")
	if h.Manager.EventsAccepted != int64(batches*benchBatch) {
		b.Fatalf("manager accepted %d events, want %d", h.Manager.EventsAccepted, batches*benchBatch)
	}
}

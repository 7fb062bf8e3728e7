package integration

// The load generator of BenchmarkStorm (storm_bench_test.go): a fixed number of
// concurrent HTTP clients posting prepared JSON bodies to one loopback URL, for a bounded
// time and at most a bounded number of requests, recording every request's latency.
// When the time is up no new request starts; the ones in flight finish and count, and
// the stream's elapsed time runs until the last of them is answered.
//
// It is deliberately plain: bodies are built before the clock starts (so the clients,
// which share the machine's cores with the system under test, spend their time on HTTP
// and not on JSON encoding), every response is read to the end so connections are kept
// alive, and an answer other than the expected status stops the run with an error rather
// than being counted, except 503 (the manager refusing, with nothing stored, while its
// store is busy): that request is counted as refused and sent again after its
// Retry-After (at most 2 s), as a real sender would. Only loopback addresses are
// accepted.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// load describes one stream.
type load struct {
	// URL is where every request is POSTed; it must name a loopback address.
	URL string
	// Clients is the number of concurrent clients, each with its own connection.
	Clients int
	// Duration bounds the time in which requests start; MaxRequests (when > 0) bounds
	// their number. No request starts once either is reached.
	Duration    time.Duration
	MaxRequests int
	// Bodies are posted in turn (request n gets Bodies[n % len(Bodies)]).
	Bodies [][]byte
	// EventsPerRequest is what one request carries (events or alerts).
	EventsPerRequest int
	// Status is the answer every request must get (202 for Mahavishnu, 200 for
	// Alertmanager).
	Status int
	// CheckAccepted decodes Mahavishnu's {"accepted": N} and requires N ==
	// EventsPerRequest.
	CheckAccepted bool
}

// loadResult is what one stream achieved.
type loadResult struct {
	Requests int
	Events   int
	Elapsed  time.Duration
	// Latencies of every request, sorted: from its first attempt to its acceptance.
	Latencies []time.Duration
	// Busy counts 503 answers (store unavailable, nothing stored), each retried after
	// its Retry-After; Abandoned counts requests still refused when retrying stopped.
	Busy, Abandoned int
	// Err is the first failure; a failed stream's figures are not to be used.
	Err error
}

// PerSecond is events (or alerts) acknowledged per second of wall time.
func (r loadResult) PerSecond() float64 {
	if r.Elapsed <= 0 {
		return 0
	}
	return float64(r.Events) / r.Elapsed.Seconds()
}

// Percentile returns the p-quantile (0 < p < 1) of the request latencies.
func (r loadResult) Percentile(p float64) time.Duration {
	return percentile(r.Latencies, p)
}

// percentile returns the p-quantile of sorted durations (0 when there are none).
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))]
}

// requireLoopback refuses any URL whose host is not a loopback IP address.
func requireLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return err
	}
	ip := net.ParseIP(u.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("load generator: %s is not a loopback address", raw)
	}
	return nil
}

// loopbackClient is an HTTP client for clients concurrent connections to one loopback
// host, never through a proxy.
func loopbackClient(clients int) *http.Client {
	return &http.Client{
		Timeout: time.Minute,
		Transport: &http.Transport{
			Proxy:               nil,
			MaxIdleConns:        clients,
			MaxIdleConnsPerHost: clients,
			DisableCompression:  true,
			IdleConnTimeout:     time.Minute,
		},
	}
}

// run runs the stream and returns what it achieved.
func (l load) run(ctx context.Context) loadResult {
	if err := requireLoopback(l.URL); err != nil {
		return loadResult{Err: err}
	}
	if len(l.Bodies) == 0 || l.Clients < 1 || l.Duration <= 0 {
		return loadResult{Err: fmt.Errorf("load generator: need bodies, clients and a duration")}
	}
	client := loopbackClient(l.Clients)
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	var (
		next      atomic.Int64 // index of the next request
		done      atomic.Int64 // requests answered as expected
		busy      atomic.Int64 // 503 answers, each retried
		abandoned atomic.Int64 // requests still refused with 503 when the retry time ran out
		errOnce   sync.Once
		firstErr  error
		wg        sync.WaitGroup
	)
	fail := func(err error) {
		errOnce.Do(func() { firstErr = err })
		cancel()
	}
	latencies := make([][]time.Duration, l.Clients)
	start := time.Now()
	stopAt := start.Add(l.Duration)
	retryUntil := stopAt.Add(maxRetryTime)
	for c := range l.Clients {
		wg.Go(func() {
			for ctx.Err() == nil && time.Now().Before(stopAt) {
				n := int(next.Add(1) - 1)
				if l.MaxRequests > 0 && n >= l.MaxRequests {
					return
				}
				body := l.Bodies[n%len(l.Bodies)]
				t0 := time.Now()
				for {
					status, retryAfter, answer, err := l.post(ctx, client, body)
					if err != nil {
						if ctx.Err() == nil {
							fail(fmt.Errorf("request %d: %w", n, err))
						}
						return
					}
					if status == http.StatusServiceUnavailable && l.Status != status {
						// Refused, nothing stored: send it again after Retry-After, as a
						// client of the ingest API should.
						busy.Add(1)
						if time.Now().Add(retryAfter).After(retryUntil) {
							abandoned.Add(1)
							break
						}
						time.Sleep(retryAfter)
						continue
					}
					if status != l.Status {
						fail(fmt.Errorf("request %d: HTTP %d, want %d: %.300s", n, status, l.Status, answer))
						return
					}
					if l.CheckAccepted {
						var ack struct {
							Accepted int `json:"accepted"`
						}
						if err := json.Unmarshal(answer, &ack); err != nil || ack.Accepted != l.EventsPerRequest {
							fail(fmt.Errorf("request %d: %d of %d events accepted (%v): %.300s", n, ack.Accepted, l.EventsPerRequest, err, answer))
							return
						}
					}
					latencies[c] = append(latencies[c], time.Since(t0))
					done.Add(1)
					break
				}
			}
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	all := slices.Concat(latencies...)
	slices.Sort(all)
	reqs := int(done.Load())
	return loadResult{Requests: reqs, Events: reqs * l.EventsPerRequest, Elapsed: elapsed, Latencies: all,
		Busy: int(busy.Load()), Abandoned: int(abandoned.Load()), Err: firstErr}
}

// maxRetryTime is how long after the stream's end a refused request is still retried.
const maxRetryTime = 30 * time.Second

// post sends one request and reads the whole answer. retryAfter is the answer's
// Retry-After (for a 503), bounded to [50 ms, 2 s].
func (l load) post(ctx context.Context, client *http.Client, body []byte) (status int, retryAfter time.Duration, answer []byte, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, l.URL, bytes.NewReader(body))
	if err != nil {
		return 0, 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, 0, nil, err
	}
	answer, err = io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return 0, 0, nil, fmt.Errorf("reading the answer: %w", err)
	}
	retryAfter = 50 * time.Millisecond
	if secs, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && secs > 0 {
		retryAfter = time.Duration(secs) * time.Second
	}
	return resp.StatusCode, min(retryAfter, 2*time.Second), answer, nil
}

// mustJSON encodes v or panics (the benchmark's own bodies always encode).
func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

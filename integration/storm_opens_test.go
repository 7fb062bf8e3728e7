package integration

// The opening streams of BenchmarkStorm (storm_bench_test.go): raw
// SignalWithStartWorkflow on the manager's embedded Temporal server, and 1,000 incidents
// opened through the ingest API, counted until their workflows have started.

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// rawResult is raw SignalWithStartWorkflow on the manager's embedded server.
type rawResult struct {
	n       int
	elapsed time.Duration
	err     error
}

func (r rawResult) PerSecond() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.n) / r.elapsed.Seconds()
}

// rawSignalWithStart starts cfg.opens workflows of a type no worker runs on a task queue
// no worker polls, with SignalWithStartWorkflow from cfg.clients goroutines.
func (s *stormBench) rawSignalWithStart() rawResult {
	var (
		next atomic.Int64
		done atomic.Int64
		mu   sync.Mutex
		err  error
		wg   sync.WaitGroup
	)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	start := time.Now()
	for range s.cfg.clients {
		wg.Go(func() {
			for ctx.Err() == nil {
				n := int(next.Add(1) - 1)
				if n >= s.cfg.opens {
					return
				}
				id := fmt.Sprintf("bench-raw/%05d", n)
				_, e := s.tc.SignalWithStartWorkflow(ctx, id, "bench", n,
					client.StartWorkflowOptions{ID: id, TaskQueue: rawTaskQueue}, rawWorkflow)
				if e != nil {
					mu.Lock()
					if err == nil {
						err = fmt.Errorf("SignalWithStartWorkflow %s: %w", id, e)
					}
					mu.Unlock()
					cancel()
					return
				}
				done.Add(1)
			}
		})
	}
	wg.Wait()
	res := rawResult{n: int(done.Load()), elapsed: time.Since(start), err: err}
	if res.err != nil {
		s.b.Fatalf("raw SignalWithStart: %v", res.err)
	}
	return res
}

// opensResult is the opens stream.
type opensResult struct {
	want, started int
	ingest        loadResult
	// untilStarted is from the first request to the latest start time of the workflows.
	untilStarted time.Duration
	timedOut     bool
}

func (r opensResult) PerSecond() float64 {
	if r.untilStarted <= 0 {
		return 0
	}
	return float64(r.started) / r.untilStarted.Seconds()
}

// openIncidents posts cfg.opens events of distinct sources (threshold 1, batches of 50)
// and measures until every one of those incident workflows has started in Temporal.
func (s *stormBench) openIncidents() opensResult {
	res := opensResult{want: s.cfg.opens}
	count := func() int64 {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		resp, err := s.tc.CountWorkflow(ctx, &workflowservice.CountWorkflowExecutionsRequest{
			Query: fmt.Sprintf("WorkflowType = '%s'", schemas.IncidentWorkflowType)})
		if err != nil {
			s.b.Fatalf("CountWorkflow: %v", err)
		}
		return resp.GetCount()
	}
	baseline := count()
	bodies := make([][]byte, s.cfg.opens/batchSize)
	for j := range bodies {
		events := make([]map[string]any, batchSize)
		for i := range events {
			events[i] = map[string]any{"event_type": openType, "source": fmt.Sprintf("open-%05d", j*batchSize+i), "severity": "low", "message": "disk full"}
		}
		bodies[j] = mustJSON(map[string]any{"events": events})
	}
	t0 := time.Now()
	res.ingest = load{URL: s.base + "/api/v1/events", Clients: s.cfg.clients, Duration: 5 * time.Minute, MaxRequests: len(bodies),
		Bodies: bodies, EventsPerRequest: batchSize, Status: http.StatusAccepted, CheckAccepted: true}.run(context.Background())
	requireStream(s.b, "opens", res.ingest)
	res.want = res.ingest.Events // less than cfg.opens only if some request was refused to the end
	deadline := t0.Add(10 * time.Minute)
	for count()-baseline < int64(res.want) {
		if time.Now().After(deadline) {
			res.timedOut = true
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The latest start among this stream's workflows, from visibility.
	prefix := schemas.IncidentWorkflowID(schemas.Fingerprint(openRule, ""))
	var latest time.Time
	var token []byte
	for page := 0; page < 1000; page++ {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		resp, err := s.tc.ListWorkflow(ctx, &workflowservice.ListWorkflowExecutionsRequest{
			PageSize: 1000, NextPageToken: token,
			Query: fmt.Sprintf("WorkflowType = '%s' AND StartTime >= '%s'", schemas.IncidentWorkflowType, t0.Add(-time.Second).UTC().Format(time.RFC3339Nano)),
		})
		cancel()
		if err != nil {
			s.b.Fatalf("ListWorkflow: %v", err)
		}
		for _, ex := range resp.GetExecutions() {
			if !strings.HasPrefix(ex.GetExecution().GetWorkflowId(), prefix) {
				continue
			}
			res.started++
			if st := ex.GetStartTime().AsTime(); st.After(latest) {
				latest = st
			}
		}
		token = resp.GetNextPageToken()
		if len(token) == 0 {
			break
		}
	}
	res.untilStarted = latest.Sub(t0)
	return res
}

package integration

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"go.temporal.io/sdk/client"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// Settings of BenchmarkStorm, from the environment (`make bench` sets the first).
const (
	envBenchDuration     = "MAHAVISHNU_BENCH_DURATION"     // length of each timed stream (default 3s)
	envBenchClients      = "MAHAVISHNU_BENCH_CLIENTS"      // concurrent clients (default 16)
	envBenchOpens        = "MAHAVISHNU_BENCH_OPENS"        // incidents opened in the opens stream (default 1000)
	envBenchDetect       = "MAHAVISHNU_BENCH_DETECT"       // detection-latency samples (default 30)
	envBenchAlertmanager = "MAHAVISHNU_BENCH_ALERTMANAGER" // Alertmanager binary (default /usr/bin/prometheus-alertmanager)
)

// Rules the benchmark creates through POST /api/v1/rules. Their event types are the
// benchmark's own, so the built-in rules (error_burst and the others) see none of them.
const (
	stormRule     = "bench_storm" // the storm incidents: 5 events of one source open one
	stormType     = "bench_storm"
	detectRule    = "bench_detect" // detection latency: the 3rd event of a source opens one
	detectType    = "bench_detect"
	openRule      = "bench_open" // the opens stream: every event opens one
	openType      = "bench_open"
	rawTaskQueue  = "bench-raw" // raw SignalWithStartWorkflow: a queue no worker polls
	rawWorkflow   = "BenchRawWorkflow"
	batchSize     = 50
	stormOpenEach = 5 // the storm rule's threshold
	detectEach    = 3 // the detect rule's threshold
)

type benchSettings struct {
	duration      time.Duration
	clients       int
	opens         int
	detectSamples int
	alertmanager  string
}

func benchSettingsFromEnv(b *testing.B) benchSettings {
	s := benchSettings{duration: 3 * time.Second, clients: 16, opens: 1000, detectSamples: 30,
		alertmanager: "/usr/bin/prometheus-alertmanager"}
	if v := os.Getenv(envBenchDuration); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 || d > 10*time.Minute {
			b.Fatalf("%s=%q: want a duration up to 10m such as 10s", envBenchDuration, v)
		}
		s.duration = d
	}
	atoi := func(name string, dst *int, lo, hi int) {
		if v := os.Getenv(name); v != "" {
			n, err := strconv.Atoi(v)
			if err != nil || n < lo || n > hi {
				b.Fatalf("%s=%q: want a number from %d to %d", name, v, lo, hi)
			}
			*dst = n
		}
	}
	atoi(envBenchClients, &s.clients, 1, 256)
	atoi(envBenchOpens, &s.opens, batchSize, 10000)
	atoi(envBenchDetect, &s.detectSamples, 1, 1000)
	s.opens -= s.opens % batchSize
	if v := os.Getenv(envBenchAlertmanager); v != "" {
		s.alertmanager = v
	}
	return s
}

// BenchmarkStorm measures the event path under load on the embedded default (issue 8)
// and Prometheus Alertmanager under the same load, in one run on the same machine, and
// prints every figure, its ratio to Alertmanager and whether the targets are met.
//
// The system under test is the built `mahavishnu` binary running `incidents start` as
// its own process (embedded Temporal server on SQLite, worker, detector, SQLite store,
// HTTP API) with a temporary data directory and free loopback ports. The load comes from
// loadgen_test.go: 16 concurrent loopback clients per stream by default. The streams:
//
//   - Alertmanager (null receiver, cluster off): batches of 50 alerts and one alert per
//     request to /api/v2/alerts;
//   - Mahavishnu: batches of 50 events no rule matches, and one such event per request;
//   - detection latency while idle: for fresh sources one at a time, the time from the
//     202 of the threshold-crossing event to the incident workflow's start time in
//     Temporal (DescribeWorkflowExecution);
//   - a storm: batches of 50 events all matching 20 open incidents, then 200; events/s,
//     request latency, and Temporal attach signals per incident per second from
//     mahavishnu_temporal_signals_total{kind="attach"} on /metrics ("n/a" when the
//     manager does not export it);
//   - raw SignalWithStartWorkflow of a trivial workflow type on a task queue no worker
//     polls, on the manager's embedded server, 16 goroutines;
//   - 1,000 opens (threshold-1 rule, batches of 50 distinct sources): incidents/s until
//     all of those incident workflows have started, counted with CountWorkflow and timed
//     by the latest workflow start time from ListWorkflow;
//   - the manager's peak RSS (VmRSS sampled from /proc, and VmHWM).
//
// Each timed stream lasts MAHAVISHNU_BENCH_DURATION (default 3s; `make bench` uses 10s).
// The whole run happens once, whatever b.N; run it with
//
//	MAHAVISHNU_BENCH_DURATION=10s go test ./integration/ -run '^$' -bench '^BenchmarkStorm$' -benchtime 1x -timeout 60m
func BenchmarkStorm(b *testing.B) {
	cfg := benchSettingsFromEnv(b)
	if _, err := os.Stat(cfg.alertmanager); err != nil {
		b.Fatalf("Prometheus Alertmanager not found at %s (%v): run scripts/bench-setup.sh or set %s", cfg.alertmanager, err, envBenchAlertmanager)
	}
	ctx := context.Background()
	r := &stormReport{cfg: cfg, loadBefore: loadAverage()}

	// Alertmanager first, alone on the machine, then stopped.
	am := startAlertmanager(b, cfg.alertmanager)
	amURL := am.url + "/api/v2/alerts"
	r.amVersion = am.version
	r.amQuiet = load{URL: amURL, Clients: cfg.clients, Duration: cfg.duration, Bodies: alertBodies(64, batchSize),
		EventsPerRequest: batchSize, Status: http.StatusOK}.run(ctx)
	r.amSingle = load{URL: amURL, Clients: cfg.clients, Duration: cfg.duration, Bodies: alertBodies(1000, 1),
		EventsPerRequest: 1, Status: http.StatusOK}.run(ctx)
	am.stop()
	requireStream(b, "Alertmanager batches", r.amQuiet)
	requireStream(b, "Alertmanager one per request", r.amSingle)

	// Mahavishnu.
	e := newEnv(b, "")
	mgr := startManagerProcess(b, e)
	rss := watchRSS(mgr.cmd.Process.Pid)
	s := &stormBench{b: b, cfg: cfg, e: e, base: "http://" + e.apiAddr, http: loopbackClient(cfg.clients), r: r}
	tc, err := client.Dial(client.Options{HostPort: fmt.Sprintf("127.0.0.1:%d", e.frontendPort)})
	if err != nil {
		b.Fatalf("dial the embedded Temporal server: %v", err)
	}
	defer tc.Close()
	s.tc = tc
	r.rssIdle = readStatusKB(mgr.cmd.Process.Pid, "VmRSS")
	s.createRules()

	eventsURL := s.base + "/api/v1/events"
	r.quiet = load{URL: eventsURL, Clients: cfg.clients, Duration: cfg.duration, Bodies: quietBodies(64, batchSize),
		EventsPerRequest: batchSize, Status: http.StatusAccepted, CheckAccepted: true}.run(ctx)
	requireStream(b, "quiet batches", r.quiet)
	s.noteCatchUp("quiet batches")
	r.single = load{URL: eventsURL, Clients: cfg.clients, Duration: cfg.duration, Bodies: quietBodies(1000, 1),
		EventsPerRequest: 1, Status: http.StatusAccepted, CheckAccepted: true}.run(ctx)
	requireStream(b, "one event per request", r.single)
	s.noteCatchUp("one event per request")
	if n := len(s.activeIncidents()); n != 0 {
		b.Fatalf("the quiet streams opened %d incidents; their events must match no rule", n)
	}

	s.detectionLatency()
	r.storm20 = s.storm("storm20", 20)
	r.storm200 = s.storm("storm200", 200)
	r.raw = s.rawSignalWithStart()
	r.opens = s.openIncidents()

	r.rssPeakKB, r.rssHWMKB = rss.stop()
	if s.busy > 0 {
		r.notes = append(r.notes, fmt.Sprintf("%d of the benchmark's own set-up requests (opening incidents, detection probes) were answered 503 and retried", s.busy))
	}
	r.print(os.Stdout)
	r.reportMetrics(b)
}

// requireStream stops the benchmark when a stream failed.
func requireStream(b *testing.B, name string, res loadResult) {
	b.Helper()
	if res.Err != nil {
		b.Fatalf("%s: %v", name, res.Err)
	}
	if res.Requests == 0 {
		b.Fatalf("%s: no request completed", name)
	}
}

// stormBench holds what the Mahavishnu streams share.
type stormBench struct {
	b    *testing.B
	cfg  benchSettings
	e    *env
	base string
	http *http.Client
	tc   client.Client
	r    *stormReport
	// busy counts 503 answers to the benchmark's own set-up requests (retried).
	busy int
}

func (s *stormBench) createRules() {
	for _, rule := range []schemas.Rule{
		{ID: stormRule, Name: "Benchmark storm", IncidentType: stormRule, Severity: schemas.SeverityLow, Enabled: true,
			Threshold: stormOpenEach, WindowSeconds: 3600, CheckIntervalSeconds: 60, EventTypes: []string{stormType}, GroupBy: schemas.GroupBySource},
		{ID: detectRule, Name: "Benchmark detection latency", IncidentType: detectRule, Severity: schemas.SeverityLow, Enabled: true,
			Threshold: detectEach, WindowSeconds: 3600, CheckIntervalSeconds: 60, EventTypes: []string{detectType}, GroupBy: schemas.GroupBySource},
		{ID: openRule, Name: "Benchmark opens", IncidentType: openRule, Severity: schemas.SeverityLow, Enabled: true,
			Threshold: 1, WindowSeconds: 3600, CheckIntervalSeconds: 60, EventTypes: []string{openType}, GroupBy: schemas.GroupBySource},
	} {
		code, body := s.postJSON("/api/v1/rules", mustJSON(map[string]any{"rule": rule, "by": "bench"}))
		if code != http.StatusCreated {
			s.b.Fatalf("create rule %s: HTTP %d: %s", rule.ID, code, body)
		}
	}
}

func (s *stormBench) postJSON(path string, body []byte) (int, string) {
	resp, err := s.http.Post(s.base+path, "application/json", strings.NewReader(string(body)))
	if err != nil {
		s.b.Fatalf("POST %s: %v", path, err)
	}
	defer resp.Body.Close()
	out, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(out)
}

func (s *stormBench) getJSON(path string, into any) int {
	resp, err := s.http.Get(s.base + path)
	if err != nil {
		s.b.Fatalf("GET %s: %v", path, err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(into); err != nil {
		s.b.Fatalf("GET %s: HTTP %d, decoding: %v", path, resp.StatusCode, err)
	}
	return resp.StatusCode
}

// postEvents posts events and fails the benchmark unless all are accepted; a 503 (store
// busy, nothing stored) is retried for up to 30 s. It returns when the 202 arrived.
func (s *stormBench) postEvents(events []map[string]any) time.Time {
	payload := mustJSON(map[string]any{"events": events})
	deadline := time.Now().Add(30 * time.Second)
	for {
		code, body := s.postJSON("/api/v1/events", payload)
		at := time.Now()
		switch {
		case code == http.StatusAccepted:
			return at
		case code == http.StatusServiceUnavailable && at.Before(deadline):
			s.busy++
			time.Sleep(100 * time.Millisecond)
		default:
			s.b.Fatalf("POST /api/v1/events: HTTP %d: %s", code, body)
		}
	}
}

func (s *stormBench) activeIncidents() []schemas.Incident {
	var out struct {
		Incidents []schemas.Incident `json:"incidents"`
	}
	if code := s.getJSON("/api/v1/incidents?status=active&limit=100000", &out); code != http.StatusOK {
		s.b.Fatalf("list incidents: HTTP %d", code)
	}
	return out.Incidents
}

// waitRecovering waits, up to timeout, for the incidents of these fingerprints to have
// run their stages up to Recover (where they wait for a resolution): the manager is idle
// again. It returns how many got there.
func (s *stormBench) waitRecovering(fingerprints map[string]bool, timeout time.Duration) int {
	deadline := time.Now().Add(timeout)
	for {
		n := 0
		for _, inc := range s.activeIncidents() {
			if fingerprints[inc.Fingerprint] && inc.Status == schemas.StatusRecovering {
				n++
			}
		}
		if n == len(fingerprints) || time.Now().After(deadline) {
			return n
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// detectorLag reads the detector's lag from /healthz; ok is false when the manager does
// not report one (a manager that detects before it answers).
func (s *stormBench) detectorLag() (lag int64, ok bool) {
	var h struct {
		Detector *struct {
			Lag int64 `json:"lag"`
		} `json:"detector"`
	}
	s.getJSON("/healthz", &h)
	if h.Detector == nil {
		return 0, false
	}
	return h.Detector.Lag, true
}

// noteCatchUp records the detector's lag at the end of a stream and waits (bounded) for
// it to reach 0, so that later streams start idle. ok is false when the manager reports
// no lag.
func (s *stormBench) noteCatchUp(stream string) (lagAtEnd int64, took time.Duration, ok bool) {
	lagAtEnd, ok = s.detectorLag()
	if !ok {
		return 0, 0, false
	}
	start := time.Now()
	lag := lagAtEnd
	for lag > 0 && time.Since(start) < 3*time.Minute {
		time.Sleep(50 * time.Millisecond)
		lag, _ = s.detectorLag()
	}
	took = time.Since(start)
	state := fmt.Sprintf("caught up in %s", took.Round(time.Millisecond))
	if lag > 0 {
		state = fmt.Sprintf("still %d events behind after %s", lag, took.Round(time.Millisecond))
	}
	s.r.notes = append(s.r.notes, fmt.Sprintf("%s: detector lag at the stream's end: %d events; %s", stream, lagAtEnd, state))
	return lagAtEnd, took, true
}

// signalsAttach reads mahavishnu_temporal_signals_total{kind="attach"}; ok is false when
// /metrics does not have it.
func (s *stormBench) signalsAttach() (float64, bool) {
	resp, err := s.http.Get(s.base + "/metrics")
	if err != nil {
		s.b.Fatalf("GET /metrics: %v", err)
	}
	defer resp.Body.Close()
	text, err := io.ReadAll(resp.Body)
	if err != nil {
		s.b.Fatalf("GET /metrics: %v", err)
	}
	return metricValue(string(text), "mahavishnu_temporal_signals_total", `kind="attach"`)
}

// metricValue finds a series in Prometheus text exposition: the metric name with a label
// set containing label (name="value").
func metricValue(text, name, label string) (float64, bool) {
	for line := range strings.Lines(text) {
		line = strings.TrimSpace(line)
		if !strings.HasPrefix(line, name+"{") {
			continue
		}
		end := strings.Index(line, "}")
		if end < 0 || !strings.Contains(line[len(name)+1:end], label) {
			continue
		}
		fields := strings.Fields(line[end+1:])
		if len(fields) == 0 {
			continue
		}
		v, err := strconv.ParseFloat(fields[0], 64)
		if err == nil {
			return v, true
		}
	}
	return 0, false
}

// detectionLatency opens detectSamples incidents one at a time on an idle manager and
// measures, for each, the incident workflow's start time minus the arrival of the 202
// for the event that crossed the threshold.
func (s *stormBench) detectionLatency() {
	var lat, seen []time.Duration
	before := 0
	for i := range s.cfg.detectSamples {
		source := fmt.Sprintf("detect-%03d", i)
		ev := func(k int) map[string]any {
			return map[string]any{"event_type": detectType, "source": source, "severity": "low", "message": fmt.Sprintf("probe %d", k)}
		}
		var first []map[string]any
		for k := range detectEach - 1 {
			first = append(first, ev(k))
		}
		s.postEvents(first)
		fp := schemas.Fingerprint(detectRule, source)
		wfID := schemas.IncidentWorkflowID(fp)
		acked := s.postEvents([]map[string]any{ev(detectEach - 1)})
		var started time.Time
		deadline := acked.Add(30 * time.Second)
		for time.Now().Before(deadline) {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			desc, err := s.tc.DescribeWorkflowExecution(ctx, wfID, "")
			cancel()
			if err == nil {
				seen = append(seen, time.Since(acked))
				started = desc.GetWorkflowExecutionInfo().GetStartTime().AsTime()
				break
			}
			time.Sleep(2 * time.Millisecond)
		}
		if started.IsZero() {
			s.b.Fatalf("detection latency: workflow %s not started within 30s of the 202", wfID)
		}
		d := started.Sub(acked)
		if d < 0 {
			before++
			d = 0
		}
		lat = append(lat, d)
		// Idle again before the next sample.
		if n := s.waitRecovering(map[string]bool{fp: true}, 30*time.Second); n != 1 {
			s.r.notes = append(s.r.notes, fmt.Sprintf("detection latency: incident %s did not reach recovering within 30s", fp))
		}
	}
	slices.Sort(lat)
	slices.Sort(seen)
	s.r.detect = lat
	s.r.detectSeen = seen
	s.r.detectBefore202 = before
}

// stormResult is one storm stream.
type stormResult struct {
	incidents int
	load      loadResult
	// signals is Δ mahavishnu_temporal_signals_total{kind="attach"} during the stream.
	signals   float64
	signalsOK bool
	// historyEvents is the growth of the incidents' Temporal histories during the stream.
	historyEvents int64
	openWait      time.Duration
	settled       int
	// lagAtEnd is the detector's lag when the stream ended and catchUp the time it then
	// took to reach 0 (lagOK: the manager reports a lag).
	lagAtEnd int64
	catchUp  time.Duration
	lagOK    bool
}

// DetectedPerSecond is the storm's events over the stream plus the detector's catch-up:
// the rate at which events were not only stored but also detected.
func (r stormResult) DetectedPerSecond() (float64, bool) {
	if !r.lagOK {
		return 0, false
	}
	return float64(r.load.Events) / (r.load.Elapsed + r.catchUp).Seconds(), true
}

// SignalsPerIncidentSecond is the attach signal rate per incident.
func (r stormResult) SignalsPerIncidentSecond() (float64, bool) {
	if !r.signalsOK || r.incidents == 0 || r.load.Elapsed <= 0 {
		return 0, false
	}
	return r.signals / float64(r.incidents) / r.load.Elapsed.Seconds(), true
}

// HistoryPerIncidentSecond is the history growth per incident per second.
func (r stormResult) HistoryPerIncidentSecond() float64 {
	if r.incidents == 0 || r.load.Elapsed <= 0 {
		return 0
	}
	return float64(r.historyEvents) / float64(r.incidents) / r.load.Elapsed.Seconds()
}

func stormEvent(source string) map[string]any {
	return map[string]any{"event_type": stormType, "source": source, "severity": "low", "message": "POST /api/orders returned 500"}
}

// storm opens k incidents (stormOpenEach events per source), waits for the manager to
// settle, then posts batches of 50 events all matching those incidents.
func (s *stormBench) storm(name string, k int) stormResult {
	res := stormResult{incidents: k}
	sources := make([]string, k)
	fps := map[string]bool{}
	for i := range sources {
		sources[i] = fmt.Sprintf("%s-%03d", name, i)
		fps[schemas.Fingerprint(stormRule, sources[i])] = true
	}
	start := time.Now()
	var batch []map[string]any
	for _, src := range sources {
		for range stormOpenEach {
			batch = append(batch, stormEvent(src))
		}
		if len(batch) >= batchSize {
			s.postEvents(batch)
			batch = nil
		}
	}
	if len(batch) > 0 {
		s.postEvents(batch)
	}
	res.settled = s.waitRecovering(fps, 5*time.Minute)
	res.openWait = time.Since(start)
	if res.settled != k {
		s.r.notes = append(s.r.notes, fmt.Sprintf("%s: only %d of %d incidents reached recovering within 5m before the storm", name, res.settled, k))
	}

	history := func() int64 {
		var total int64
		for fp := range fps {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			desc, err := s.tc.DescribeWorkflowExecution(ctx, schemas.IncidentWorkflowID(fp), "")
			cancel()
			if err == nil {
				total += desc.GetWorkflowExecutionInfo().GetHistoryLength()
			}
		}
		return total
	}
	bodies := make([][]byte, 40)
	for j := range bodies {
		events := make([]map[string]any, batchSize)
		for i := range events {
			events[i] = stormEvent(sources[(j*batchSize+i)%k])
		}
		bodies[j] = mustJSON(map[string]any{"events": events})
	}
	h0 := history()
	sig0, ok0 := s.signalsAttach()
	res.load = load{URL: s.base + "/api/v1/events", Clients: s.cfg.clients, Duration: s.cfg.duration, Bodies: bodies,
		EventsPerRequest: batchSize, Status: http.StatusAccepted, CheckAccepted: true}.run(context.Background())
	sig1, ok1 := s.signalsAttach()
	h1 := history()
	requireStream(s.b, name, res.load)
	res.signals, res.signalsOK = sig1-sig0, ok0 && ok1
	res.historyEvents = h1 - h0
	res.lagAtEnd, res.catchUp, res.lagOK = s.noteCatchUp(name)
	// Let the storm's tail reach the workflows before the next stream.
	s.waitRecovering(fps, time.Minute)
	time.Sleep(2 * time.Second)
	return res
}

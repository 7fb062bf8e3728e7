package integration

// Helpers of the event-path tests (storm_test.go, temporal_down_test.go,
// cluster_test.go): the built binary as child processes (managers with roles and
// `temporal serve`), an ingest client that retries through crashes and records what was
// acknowledged, /healthz as the contract describes it, and read-only queries on the store.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mahavishnu/mahavishnu/store/storetest"
	"github.com/stretchr/testify/require"
)

// logBuffer collects a child's output; safe for concurrent use.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// child is one run of the mahavishnu binary as a separate OS process.
type child struct {
	name    string
	apiAddr string // for managers: where its /healthz answers
	cmd     *exec.Cmd
	out     *logBuffer
	done    chan struct{}
	err     error // the Wait result, once done is closed
}

// childEnv is the environment of a child: this process's, without the variables that
// would change a child's configuration behind the test's back, plus extra.
func childEnv(extra []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "MAHAVISHNU_") || strings.HasPrefix(kv, "INCIDENT_DATABASE_URL=") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// spawn starts the binary with args in dir. The process is killed when the test ends;
// when the test failed, the end of its output is logged.
func spawn(t *testing.T, name, dir string, env []string, args ...string) *child {
	t.Helper()
	bin, err := buildBinary()
	require.NoError(t, err)
	c := &child{name: name, out: &logBuffer{}, done: make(chan struct{})}
	c.cmd = exec.Command(bin, args...)
	c.cmd.Dir = dir
	c.cmd.Env = childEnv(env)
	c.cmd.Stdout, c.cmd.Stderr = c.out, c.out
	require.NoError(t, c.cmd.Start(), "start %s", name)
	go func() {
		c.err = c.cmd.Wait()
		close(c.done)
	}()
	t.Cleanup(func() {
		c.kill()
		if t.Failed() {
			t.Logf("--- output of %s (pid %d, %s) ---\n%s", name, c.cmd.Process.Pid, c.state(), tail(c.out.String(), 6000))
		}
	})
	return c
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "...\n" + s[len(s)-n:]
}

func (c *child) exited() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *child) state() string {
	if !c.exited() {
		return "running"
	}
	if c.err == nil {
		return "exited 0"
	}
	return c.err.Error()
}

// kill sends SIGKILL (if it still runs) and waits for the process to be gone.
func (c *child) kill() {
	if !c.exited() {
		_ = c.cmd.Process.Signal(syscall.SIGKILL)
	}
	<-c.done
}

// terminate sends SIGTERM and waits up to timeout for a clean exit.
func (c *child) terminate(t *testing.T, timeout time.Duration) {
	t.Helper()
	require.NoError(t, c.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-c.done:
		require.NoError(t, c.err, "%s did not exit cleanly on SIGTERM:\n%s", c.name, tail(c.out.String(), 4000))
	case <-time.After(timeout):
		t.Fatalf("%s did not stop within %s of SIGTERM", c.name, timeout)
	}
}

// waitOutput waits until the child has printed want.
func (c *child) waitOutput(t *testing.T, want string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !strings.Contains(c.out.String(), want) {
		if c.exited() {
			t.Fatalf("%s exited (%s) before printing %q:\n%s", c.name, c.state(), want, tail(c.out.String(), 4000))
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %q within %s:\n%s", c.name, want, timeout, tail(c.out.String(), 4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// startTemporalServe runs `mahavishnu temporal serve` on dir and the given ports and
// returns once the server accepts calls.
func startTemporalServe(t *testing.T, dir string, port, uiPort int) *child {
	t.Helper()
	c := spawn(t, "temporal serve", dir, nil, "temporal", "serve", "--data-dir", dir,
		"--port", strconv.Itoa(port), "--ui-port", strconv.Itoa(uiPort))
	c.waitOutput(t, "Press Ctrl-C to stop.", 90*time.Second)
	require.Contains(t, c.out.String(), fmt.Sprintf("Frontend:  127.0.0.1:%d", port))
	return c
}

// clusterConfig writes the config file of a manager in cluster mode (temporal.address
// set) into dir; its store comes from INCIDENT_DATABASE_URL when the child's environment
// has it, else SQLite in dir. extra is appended under incident_response.
func clusterConfig(t *testing.T, dir, apiAddr, temporalAddr, extra string) string {
	t.Helper()
	path := filepath.Join(dir, "mahavishnu.yaml")
	cfg := fmt.Sprintf(`data_dir: %q
api:
  listen: %q
temporal:
  address: %q
incident_response:
  enabled: true
%s`, dir, apiAddr, temporalAddr, extra)
	require.NoError(t, os.WriteFile(path, []byte(cfg), 0o600))
	return path
}

// startManagerChild runs `incidents start` (with --role roles unless empty) and waits
// until its /healthz answers, whatever it says.
func startManagerChild(t *testing.T, name, configPath, apiAddr string, env []string, roles string) *child {
	t.Helper()
	c := spawnManager(t, name, configPath, apiAddr, env, roles)
	c.waitAnswering(t)
	return c
}

// spawnManager starts `incidents start` without waiting for it.
func spawnManager(t *testing.T, name, configPath, apiAddr string, env []string, roles string) *child {
	t.Helper()
	args := []string{"--config", configPath, "incidents", "start", "--log-level", "warn"}
	if roles != "" {
		args = append(args, "--role", roles)
	}
	c := spawn(t, name, filepath.Dir(configPath), env, args...)
	c.apiAddr = apiAddr
	return c
}

// waitAnswering waits until the manager's /healthz answers, whatever it says.
func (c *child) waitAnswering(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for {
		if c.exited() {
			t.Fatalf("%s exited early (%s):\n%s", c.name, c.state(), tail(c.out.String(), 4000))
		}
		if _, _, err := getHealthz(c.apiAddr, time.Second); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: /healthz on %s did not answer within 90s:\n%s", c.name, c.apiAddr, tail(c.out.String(), 4000))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// healthz is GET /healthz as the event-path contract describes it.
type healthz struct {
	Status   string   `json:"status"`
	Reasons  []string `json:"reasons"`
	Store    string   `json:"store"`
	Temporal string   `json:"temporal"`
	Outbox   struct {
		Depth            int64   `json:"depth"`
		OldestAgeSeconds float64 `json:"oldest_age_seconds"`
		PendingOpens     int64   `json:"pending_opens"`
	} `json:"outbox"`
	Detector struct {
		Active bool  `json:"active"`
		Cursor int64 `json:"cursor"`
		Head   int64 `json:"head"`
		Lag    int64 `json:"lag"`
	} `json:"detector"`
	Manager struct {
		Roles []string `json:"roles"`
	} `json:"manager"`
}

func (h healthz) String() string {
	b, _ := json.Marshal(h)
	return string(b)
}

// getHealthz asks addr's /healthz, giving up after timeout.
func getHealthz(addr string, timeout time.Duration) (int, healthz, error) {
	var h healthz
	c := &http.Client{Timeout: timeout}
	resp, err := c.Get("http://" + addr + "/healthz")
	if err != nil {
		return 0, h, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return resp.StatusCode, h, err
	}
	if err := json.Unmarshal(body, &h); err != nil {
		return resp.StatusCode, h, fmt.Errorf("/healthz answered %d with %q: %w", resp.StatusCode, body, err)
	}
	return resp.StatusCode, h, nil
}

// testEvent is one event the tests post, always with its own event_id.
type testEvent struct {
	EventID   string `json:"event_id"`
	EventType string `json:"event_type"`
	Source    string `json:"source"`
	Severity  string `json:"severity"`
	Message   string `json:"message"`
}

// errorEvents returns n "error" events of source (matched by error_burst), with IDs
// prefix-source-0000... The message has no digits so that no claiming rule (rate_limit
// claims "429") takes them.
func errorEvents(prefix, source string, n int) []testEvent {
	evs := make([]testEvent, n)
	for i := range evs {
		evs[i] = testEvent{EventID: fmt.Sprintf("%s-%s-%04d", prefix, source, i), EventType: "error",
			Source: source, Severity: "high", Message: "upstream request failed"}
	}
	return evs
}

// ingestClient posts batches, retrying through connection errors and 503s, and records
// every event of a batch that got a 202.
type ingestClient struct {
	http *http.Client

	mu       sync.Mutex
	accepted map[string]string // event ID -> source
	last202  time.Time

	retries atomic.Int64 // connection errors and 503s retried
}

func newIngestClient() *ingestClient {
	return &ingestClient{
		http:     &http.Client{Timeout: 15 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 64}},
		accepted: map[string]string{},
	}
}

type ingestAnswer struct {
	Accepted int      `json:"accepted"`
	EventIDs []string `json:"event_ids"`
	Error    string   `json:"error"`
}

// post sends batch to addr() until it is acknowledged with a 202 or ctx ends. Any other
// answer is an error. addr is asked again before each retry, so a caller can spread load
// or follow a restarted process.
func (c *ingestClient) post(ctx context.Context, addr func() string, batch []testEvent) error {
	body, err := json.Marshal(batch)
	if err != nil {
		return err
	}
	for attempt := 0; ; attempt++ {
		if attempt > 0 {
			c.retries.Add(1)
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("batch starting %s not acknowledged after %d attempts: %w", batch[0].EventID, attempt, err)
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr()+"/api/v1/events", bytes.NewReader(body))
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := c.http.Do(req)
		if err != nil {
			// Refused, reset or EOF: the manager is down or was killed mid-request.
			sleepCtx(ctx, 100*time.Millisecond)
			continue
		}
		data, readErr := io.ReadAll(resp.Body)
		resp.Body.Close()
		switch {
		case readErr != nil:
			sleepCtx(ctx, 100*time.Millisecond)
			continue
		case resp.StatusCode == http.StatusServiceUnavailable:
			wait := 200 * time.Millisecond
			if s, err := strconv.Atoi(resp.Header.Get("Retry-After")); err == nil && s > 0 {
				wait = min(time.Duration(s)*time.Second, time.Second)
			}
			sleepCtx(ctx, wait)
			continue
		case resp.StatusCode != http.StatusAccepted:
			return fmt.Errorf("POST /api/v1/events (%s...): HTTP %d: %s", batch[0].EventID, resp.StatusCode, data)
		}
		var ans ingestAnswer
		if err := json.Unmarshal(data, &ans); err != nil {
			return fmt.Errorf("202 with a body that is not the ingest answer: %q", data)
		}
		sent := make(map[string]bool, len(batch))
		for _, ev := range batch {
			sent[ev.EventID] = true
		}
		for _, id := range ans.EventIDs {
			if !sent[id] {
				return fmt.Errorf("202 names event %s, which was not in the batch", id)
			}
		}
		if ans.Accepted > len(batch) {
			return fmt.Errorf("202 accepted %d events of a batch of %d", ans.Accepted, len(batch))
		}
		c.mu.Lock()
		for _, ev := range batch {
			c.accepted[ev.EventID] = ev.Source
		}
		c.last202 = time.Now()
		c.mu.Unlock()
		return nil
	}
}

func (c *ingestClient) acceptedIDs() map[string]string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]string, len(c.accepted))
	for k, v := range c.accepted {
		out[k] = v
	}
	return out
}

func (c *ingestClient) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.accepted)
}

func sleepCtx(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

// storeDB reads the incident store directly: the SQLite file read-only, or one schema of
// PostgreSQL.
type storeDB struct {
	db     *sql.DB
	schema string // PostgreSQL: the schema holding the tables; "" for SQLite
}

func openSQLiteStore(t *testing.T, path string) *storeDB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro&_pragma=busy_timeout(10000)")
	require.NoError(t, err)
	t.Cleanup(func() { _ = db.Close() })
	return &storeDB{db: db}
}

// newPostgresSchema creates a fresh schema for one test and drops it when the test ends
// (register it before starting processes, so that they are gone by then). It returns the
// INCIDENT_DATABASE_URL for the schema (search_path) and a reader.
func newPostgresSchema(t *testing.T, prefix string) (string, *storeDB) {
	t.Helper()
	schema := storetest.NewSchema(t, prefix)
	return schema.URL, &storeDB{db: schema.Admin, schema: schema.Name}
}

func (s *storeDB) table(name string) string {
	if s.schema != "" {
		return s.schema + "." + name
	}
	return name
}

// storedEvent is one row of table events.
type storedEvent struct {
	ID, Type, Source, IncidentID string
	ReceivedAt                   time.Time
}

// storedIncident is one row of table incidents.
type storedIncident struct {
	ID, Fingerprint, RuleID, Source, Status, WorkflowID, RunID string
	EventCount                                                 int
	DetectedAt                                                 time.Time
}

// storedAction is one row of table actions.
type storedAction struct {
	Key, IncidentID, Action, Status, Actor, Output string
	Attempt                                        int
}

func parseStoreTime(s sql.NullString) (time.Time, error) {
	if !s.Valid || s.String == "" {
		return time.Time{}, nil
	}
	return time.Parse(time.RFC3339Nano, s.String)
}

func (s *storeDB) events(ctx context.Context) ([]storedEvent, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT event_id, event_type, source, COALESCE(incident_id, ''), received_at FROM "+s.table("events"))
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	defer rows.Close()
	var out []storedEvent
	for rows.Next() {
		var ev storedEvent
		var at sql.NullString
		if err := rows.Scan(&ev.ID, &ev.Type, &ev.Source, &ev.IncidentID, &at); err != nil {
			return nil, err
		}
		if ev.ReceivedAt, err = parseStoreTime(at); err != nil {
			return nil, err
		}
		out = append(out, ev)
	}
	return out, rows.Err()
}

func (s *storeDB) incidents(ctx context.Context) ([]storedIncident, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT incident_id, fingerprint, rule_id, source, status, workflow_id, run_id, event_count, detected_at FROM "+s.table("incidents"))
	if err != nil {
		return nil, fmt.Errorf("read incidents: %w", err)
	}
	defer rows.Close()
	var out []storedIncident
	for rows.Next() {
		var inc storedIncident
		var at sql.NullString
		if err := rows.Scan(&inc.ID, &inc.Fingerprint, &inc.RuleID, &inc.Source, &inc.Status, &inc.WorkflowID, &inc.RunID, &inc.EventCount, &at); err != nil {
			return nil, err
		}
		if inc.DetectedAt, err = parseStoreTime(at); err != nil {
			return nil, err
		}
		out = append(out, inc)
	}
	return out, rows.Err()
}

func (s *storeDB) actions(ctx context.Context) ([]storedAction, error) {
	rows, err := s.db.QueryContext(ctx, "SELECT key, incident_id, action, attempt, status, actor, output FROM "+s.table("actions"))
	if err != nil {
		return nil, fmt.Errorf("read actions: %w", err)
	}
	defer rows.Close()
	var out []storedAction
	for rows.Next() {
		var a storedAction
		if err := rows.Scan(&a.Key, &a.IncidentID, &a.Action, &a.Attempt, &a.Status, &a.Actor, &a.Output); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

func (s *storeDB) mustEvents(t *testing.T) []storedEvent {
	t.Helper()
	evs, err := s.events(context.Background())
	require.NoError(t, err)
	return evs
}

func (s *storeDB) mustIncidents(t *testing.T) []storedIncident {
	t.Helper()
	incs, err := s.incidents(context.Background())
	require.NoError(t, err)
	return incs
}

// active reports whether a stored status counts as active (not resolved, not closed).
func active(status string) bool { return status != "resolved" && status != "closed" }

// attachReport checks, for the error_burst incidents of the given sources, that each source
// has exactly one incident, that events are attached to the incident of their source only,
// and that each incident's event_count equals its attached events. strict requires every
// event of the source to be attached; otherwise events received before the incident was
// detected may stay unattached. It returns "" when all holds, else what does not.
func attachReport(events []storedEvent, incidents []storedIncident, sources map[string]bool, strict bool) string {
	var problems []string
	bySource := map[string][]storedIncident{}
	byID := map[string]storedIncident{}
	for _, inc := range incidents {
		byID[inc.ID] = inc
		if inc.RuleID == "error_burst" && sources[inc.Source] {
			bySource[inc.Source] = append(bySource[inc.Source], inc)
		}
	}
	for src := range sources {
		if n := len(bySource[src]); n != 1 {
			problems = append(problems, fmt.Sprintf("source %s has %d error_burst incidents, want 1", src, n))
		}
	}
	attached := map[string]int{}
	unattached := map[string][]string{}
	for _, ev := range events {
		if !sources[ev.Source] {
			continue
		}
		if ev.IncidentID != "" {
			attached[ev.IncidentID]++
			inc, ok := byID[ev.IncidentID]
			if !ok || inc.Source != ev.Source {
				problems = append(problems, fmt.Sprintf("event %s of %s attached to %s (source %q)", ev.ID, ev.Source, ev.IncidentID, inc.Source))
			}
			continue
		}
		incs := bySource[ev.Source]
		if len(incs) != 1 {
			continue // reported above
		}
		if strict || !ev.ReceivedAt.Before(incs[0].DetectedAt) {
			unattached[ev.Source] = append(unattached[ev.Source], ev.ID)
		}
	}
	var srcs []string
	for src := range unattached {
		srcs = append(srcs, src)
	}
	sort.Strings(srcs)
	total := 0
	for _, src := range srcs {
		total += len(unattached[src])
	}
	if total > 0 {
		ids := unattached[srcs[0]]
		problems = append(problems, fmt.Sprintf("%d matching events not attached, in %d sources (e.g. %s: %d, first %s)",
			total, len(srcs), srcs[0], len(ids), ids[0]))
	}
	for _, incs := range bySource {
		for _, inc := range incs {
			if inc.EventCount != attached[inc.ID] {
				problems = append(problems, fmt.Sprintf("incident %s (%s): event_count %d, attached events %d",
					inc.ID, inc.Source, inc.EventCount, attached[inc.ID]))
			}
		}
	}
	sort.Strings(problems)
	if len(problems) > 8 {
		problems = append(problems[:8], fmt.Sprintf("... and %d more", len(problems)-8))
	}
	return strings.Join(problems, "; ")
}

// activeTwice lists fingerprints with more than one active incident.
func activeTwice(incidents []storedIncident) []string {
	n := map[string]int{}
	for _, inc := range incidents {
		if active(inc.Status) {
			n[inc.Fingerprint]++
		}
	}
	var out []string
	for fp, c := range n {
		if c > 1 {
			out = append(out, fmt.Sprintf("%s (%d)", fp, c))
		}
	}
	sort.Strings(out)
	return out
}

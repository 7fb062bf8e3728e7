// Package manager is the incident manager: the event path from ingest to Temporal, and
// the responder operations shared by the CLI, the HTTP API and the dashboard. It is the Go
// API of Mahavishnu (Manager.SubmitEvent).
//
// The event path has three steps, each in its own file:
//   - ingest.go: validated events are appended to the event log in the store by group
//     commit, and acknowledged only once committed;
//   - detect.go: one detector, in the one process holding the detector role (leader.go),
//     consumes the log from its stored cursor and records attachments, new incidents and
//     outbox rows in one transaction per batch;
//   - dispatch.go: the outbox dispatcher tells Temporal, retrying until it accepts.
//
// health.go keeps the state /healthz and /metrics report, so that they never wait on
// Temporal or the detector.
package manager

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/sdk/client"

	"github.com/mahavishnu/mahavishnu/detector"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// Options are the manager's dependencies and settings.
type Options struct {
	Store  *store.Store
	Client client.Client
	Logger *slog.Logger
	// TaskQueue is where incident workflows run.
	TaskQueue string
	// Rules are the detection rules that seed the rule store (schemas.DefaultRules when nil).
	Rules []schemas.Rule
	// Detector bounds: detection.max_events and detection.event_retention_seconds.
	MaxEvents int
	Retention time.Duration
	// CheckInterval is the period of the background re-evaluation.
	CheckInterval time.Duration
	// AttachSignalInterval is detection.attach_signal_interval: the least time between
	// two events_attached signals to one incident (DefaultAttachSignalInterval when 0).
	AttachSignalInterval time.Duration
	// Settings are copied into every new incident.
	Settings schemas.IncidentSettings
	// EscalationPolicies are the named escalation policies (incident_response.escalation.policies,
	// issue 11): a heartbeat naming one opens its incidents with that policy's levels and repeat.
	EscalationPolicies map[string]schemas.EscalationPolicy
	// Detector makes this process a candidate for the detector role (the log consumer
	// and the outbox dispatcher). Without it the manager only ingests and operates.
	Detector bool
	// Roles names the roles of this process, for status ("api", "detector", "worker").
	Roles []string
	// TemporalHealth checks the Temporal connection for /healthz (nil: not checked).
	TemporalHealth func(ctx context.Context) error
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Manager turns events into incidents. Safe for concurrent use.
type Manager struct {
	opts   Options
	ops    *Ops
	logger *slog.Logger
	now    func() time.Time

	commit   *committer
	loop     *detectLoop // nil without the detector role
	dispatch *dispatcher
	health   *healthState

	// rulesMu serialises rule changes (read the store, change, store, apply).
	rulesMu sync.Mutex
	// rules is what the detector runs (or, without the role, what the store held last).
	rules atomic.Pointer[[]schemas.Rule]
	// baseInterval is detection.check_interval_seconds (see checkInterval).
	baseInterval time.Duration
	// silences caches the silences that have not ended (see loadSilences).
	silences       atomic.Pointer[[]schemas.Silence]
	eventsSilenced atomic.Int64

	// heldLease is the detector role taken by Rebuild, handed to Start.
	heldLease *lease

	stop    context.CancelFunc
	running sync.WaitGroup
	closed  atomic.Bool

	detectorActive  atomic.Bool
	started         time.Time
	eventsAccepted  atomic.Int64
	incidentsOpened atomic.Int64
	eventsAttached  atomic.Int64
	detectedEvents  atomic.Int64
	detectionErrors atomic.Int64
	lastError       atomic.Pointer[string]

	// changes is the live-update feed of the dashboard (changes.go).
	changesOnce sync.Once
	changes     *Changes
}

// New builds a manager and starts its ingest. Call Rebuild before accepting events,
// Start to run the background work, and Close at the end.
func New(opts Options) (*Manager, error) {
	if opts.Store == nil || opts.Client == nil {
		return nil, errors.New("manager: store and Temporal client are required")
	}
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.TaskQueue == "" {
		opts.TaskQueue = schemas.DefaultTaskQueue
	}
	if opts.CheckInterval <= 0 {
		opts.CheckInterval = time.Minute
	}
	if opts.Rules == nil {
		opts.Rules = schemas.DefaultRules()
	}
	m := &Manager{
		opts:         opts,
		ops:          &Ops{Store: opts.Store, Client: opts.Client},
		logger:       opts.Logger,
		now:          opts.Now,
		started:      opts.Now().UTC(),
		baseInterval: opts.CheckInterval,
	}
	if _, err := m.newDetector(opts.Rules); err != nil {
		return nil, fmt.Errorf("detector: %w", err)
	}
	rules := cloneRules(opts.Rules)
	m.rules.Store(&rules)
	m.dispatch = newDispatcher(m, opts.AttachSignalInterval)
	if opts.Detector {
		m.loop = newDetectLoop(m)
	}
	m.health = newHealthState(m)
	m.commit = newCommitter(opts.Store, m.now, func() {
		if m.loop != nil {
			m.loop.notify()
		}
	})
	ctx, cancel := context.WithCancel(context.Background())
	m.stop = cancel
	m.running.Add(1)
	go func() {
		defer m.running.Done()
		m.commit.run(ctx)
	}()
	return m, nil
}

func (m *Manager) newDetector(rules []schemas.Rule) (*detector.Detector, error) {
	return detector.New(rules, detector.Options{MaxEvents: m.opts.MaxEvents, Retention: m.opts.Retention,
		CheckInterval: m.baseInterval})
}

// Ops returns the responder operations (acknowledge, assign, resolve, close).
func (m *Manager) Ops() *Ops { return m.ops }

// Store returns the manager's store.
func (m *Manager) Store() *store.Store { return m.opts.Store }

// Rebuild prepares the manager after a start: the rules (seeding the store with the
// configured ones it lacks) and the silences; with the detector role and a SQLite store,
// it also takes the role, so that a second detector is refused at once. Start then runs
// the background work.
func (m *Manager) Rebuild(ctx context.Context) error {
	if err := m.loadRules(ctx); err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	if err := m.loadSilences(ctx); err != nil {
		return fmt.Errorf("rebuild: %w", err)
	}
	if m.loop == nil || m.opts.Store.Dialect() == store.DialectPostgres {
		return nil
	}
	if m.heldLease == nil {
		l, err := m.acquireLeadership(ctx)
		if err != nil {
			return err
		}
		m.heldLease = l
	}
	if err := m.loop.claim(ctx, holderName()); err != nil {
		return err
	}
	m.detectorActive.Store(true)
	return nil
}

// Start runs the background work until Close or ctx ends: the health state, the silence
// and rule refresh, and, with the detector role, the detector and the outbox dispatcher
// (on PostgreSQL after waiting for the role, as a standby, while another process has it).
func (m *Manager) Start(ctx context.Context) {
	ctx, cancel := context.WithCancel(ctx)
	prev := m.stop
	m.stop = func() { cancel(); prev() }
	m.health.refresh(ctx)
	m.goRun(func() { m.health.run(ctx) })
	m.goRun(func() { m.refreshLoop(ctx) })
	if m.loop != nil {
		m.goRun(func() { m.detectorRole(ctx) })
	}
}

func (m *Manager) goRun(fn func()) {
	m.running.Add(1)
	go func() {
		defer m.running.Done()
		fn()
	}()
}

// Close stops the background work and waits for it. Events being committed finish first.
func (m *Manager) Close() {
	if m.closed.Swap(true) {
		return
	}
	m.stop()
	m.running.Wait()
	if m.heldLease != nil {
		m.heldLease.release()
	}
}

// detectorRole holds the detector role while it can, runs the detector and the
// dispatcher under it, and stands by when it cannot.
func (m *Manager) detectorRole(ctx context.Context) {
	for ctx.Err() == nil {
		l := m.heldLease
		m.heldLease = nil
		if l == nil {
			var err error
			if l, err = m.acquireLeadership(ctx); err != nil {
				if ctx.Err() == nil {
					m.recordError(fmt.Errorf("detector role: %w", err))
				}
				return
			}
			if err := m.loop.claim(ctx, holderName()); err != nil {
				l.release()
				m.recordError(fmt.Errorf("detector role: %w", err))
				sleepCtx(ctx, standbyPoll)
				continue
			}
		}
		m.detectorActive.Store(true)
		m.logger.Info("detector role active")
		rctx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-l.lost:
				cancel()
			case <-rctx.Done():
			}
		}()
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); m.dispatch.run(rctx) }()
		go func() { defer wg.Done(); m.loop.listen(rctx) }()
		err := m.loop.run(rctx)
		cancel()
		wg.Wait()
		m.detectorActive.Store(false)
		l.release()
		if ctx.Err() != nil {
			return
		}
		m.logger.Warn("detector role lost: standing by", "error", err)
	}
}

// refreshLoop re-reads the silences (and, without the detector role, the rules) that
// other processes change in the shared store.
func (m *Manager) refreshLoop(ctx context.Context) {
	every(ctx, rulesPoll, func() {
		if err := m.loadSilences(ctx); err != nil && ctx.Err() == nil {
			m.logger.Warn("reload silences from the store", "error", err)
		}
		if m.loop == nil {
			if rules, err := m.opts.Store.Rules(ctx); err == nil && len(rules) > 0 {
				m.rules.Store(&rules)
			}
		}
	})
}

// every calls fn every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn()
		}
	}
}

// Settle, in the caller's goroutine, detects every event stored so far and delivers the
// outbox rows that are due: for tests and tools that run the manager without Start. It
// needs the detector role (Options.Detector and Rebuild).
func (m *Manager) Settle(ctx context.Context) error {
	if m.loop == nil {
		return errors.New("settle: this manager has no detector role")
	}
	select {
	case rules := <-m.loop.rules:
		if err := m.loop.applyRules(ctx, rules); err != nil {
			return err
		}
	default:
	}
	for {
		more, err := m.loop.step(ctx)
		if err != nil {
			return err
		}
		if !more {
			break
		}
	}
	if err := m.loop.flush(ctx); err != nil {
		return err
	}
	_, err := m.dispatch.round(ctx)
	return err
}

// Tick runs the loop's re-evaluation now (what Start does every check interval), for
// tests and tools that run without Start.
func (m *Manager) Tick(ctx context.Context) error {
	if m.loop == nil {
		return errors.New("tick: this manager has no detector role")
	}
	if acts := m.loop.det.Tick(m.now(), nil); len(acts) > 0 {
		return m.loop.record(ctx, m.loop.cursor, acts, nil)
	}
	return nil
}

// SubmitEvent validates and stores one event. It returns the event ID.
func (m *Manager) SubmitEvent(ctx context.Context, ev schemas.Event) (string, error) {
	ids, err := m.SubmitEvents(ctx, []schemas.Event{ev})
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

// SubmitEvents validates a batch (all or nothing: the first bad event is returned as a
// *schemas.FieldError) and appends it to the event log. Once it returns the IDs, the
// events are durable; detection follows in the detector's own time. A store that cannot
// take them gives an *UnavailableError and nothing is acknowledged.
func (m *Manager) SubmitEvents(ctx context.Context, events []schemas.Event) ([]string, error) {
	now := m.now().UTC()
	batch := make([]schemas.Event, len(events))
	index := -1
	for i := range events {
		batch[i] = events[i]
		if len(events) > 1 {
			index = i
		}
		if err := batch[i].Normalize(now, newEventID, index); err != nil {
			return nil, err
		}
		batch[i].SilencedBy = ""
	}
	m.silence(batch, now)
	if m.closed.Load() {
		return nil, &UnavailableError{Err: errors.New("the manager is stopping")}
	}
	inserted, err := m.commit.append(ctx, batch)
	if err != nil {
		return nil, err
	}
	m.eventsAccepted.Add(int64(len(inserted)))
	isNew := make(map[string]bool, len(inserted))
	for _, id := range inserted {
		isNew[id] = true
	}
	ids := make([]string, len(batch))
	for i := range batch {
		ids[i] = batch[i].EventID
		if isNew[ids[i]] && batch[i].SilencedBy != "" {
			isNew[ids[i]] = false
			m.eventsSilenced.Add(1) // stored, counted, never detected
		}
	}
	return ids, nil
}

func (m *Manager) recordError(err error) {
	m.detectionErrors.Add(1)
	msg := err.Error()
	m.lastError.Store(&msg)
	m.logger.Error("detection", "error", err)
}

// Status is the manager's health for `incidents status` and /healthz.
type Status struct {
	StartedAt     time.Time `json:"started_at"`
	UptimeSeconds float64   `json:"uptime_seconds"`
	// Roles are this process's roles.
	Roles           []string `json:"roles"`
	Rules           int      `json:"rules"`
	RulesEnabled    int      `json:"rules_enabled"`
	EventsAccepted  int64    `json:"events_accepted"`
	IngestCommits   int64    `json:"ingest_commits"`
	IncidentsOpened int64    `json:"incidents_opened"`
	EventsAttached  int64    `json:"events_attached"`
	// EventsDetected counts the events this process's detector read from the log.
	EventsDetected  int64 `json:"events_detected"`
	DetectionErrors int64 `json:"detection_errors"`
	// TemporalSignals counts the outbox rows Temporal accepted from this process.
	TemporalSignals map[string]int64 `json:"temporal_signals"`
	// EventsSilenced counts the events stored since start that a silence muted.
	EventsSilenced int64 `json:"events_silenced"`
	// ActiveSilences counts the silences in force now.
	ActiveSilences int    `json:"active_silences"`
	LastError      string `json:"last_error,omitempty"`
}

// Status reports counters since start.
func (m *Manager) Status() Status {
	rules := m.Rules()
	st := Status{
		StartedAt:       m.started,
		UptimeSeconds:   m.now().Sub(m.started).Seconds(),
		Roles:           m.opts.Roles,
		Rules:           len(rules),
		EventsAccepted:  m.eventsAccepted.Load(),
		IngestCommits:   m.commit.commits.Load(),
		IncidentsOpened: m.incidentsOpened.Load(),
		EventsAttached:  m.eventsAttached.Load(),
		EventsDetected:  m.detectedEvents.Load(),
		DetectionErrors: m.detectionErrors.Load(),
		TemporalSignals: map[string]int64{store.OutboxOpen: m.dispatch.signalsOpen.Load(), store.OutboxAttach: m.dispatch.signalsAttach.Load()},
		EventsSilenced:  m.eventsSilenced.Load(),
		ActiveSilences:  m.activeSilences(m.now()),
	}
	if st.Roles == nil {
		st.Roles = []string{}
	}
	for _, r := range rules {
		if r.Enabled {
			st.RulesEnabled++
		}
	}
	if p := m.lastError.Load(); p != nil {
		st.LastError = *p
	}
	return st
}

// holderName names this process in the detector state ("host:pid").
func holderName() string {
	host, _ := os.Hostname()
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}

func cloneRules(rules []schemas.Rule) []schemas.Rule {
	out := make([]schemas.Rule, len(rules))
	for i := range rules {
		out[i] = rules[i].Clone()
	}
	return out
}

func rulesEqual(a, b []schemas.Rule) bool { return reflect.DeepEqual(a, b) }

// NewIncidentID returns a new short incident ID: "inc_" and 16 hex digits.
func NewIncidentID() string {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand never fails on Linux
	}
	return schemas.IncidentIDPrefix + hex.EncodeToString(b[:])
}

// newEventID returns a time-ordered event ID.
func newEventID() string { return "evt_" + uuid.Must(uuid.NewV7()).String() }

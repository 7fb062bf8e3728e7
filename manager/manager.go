// Package manager is the incident manager: it takes events in (validated, stored before
// they are acknowledged), runs them through the detector, and turns detections into
// incident workflows with SignalWithStartWorkflow. It is the Go API of Mahavishnu
// (Manager.SubmitEvent) and what the HTTP API and the CLI call.
package manager

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/mahavishnu/mahavishnu/detector"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
	"github.com/mahavishnu/mahavishnu/workflows"
)

// Options are the manager's dependencies and settings.
type Options struct {
	Store  *store.Store
	Client client.Client
	Logger *slog.Logger
	// TaskQueue is where incident workflows run.
	TaskQueue string
	// Rules are the detection rules (schemas.DefaultRules when nil).
	Rules []schemas.Rule
	// Detector bounds: detection.max_events and detection.event_retention_seconds.
	MaxEvents int
	Retention time.Duration
	// CheckInterval is the period of the background re-evaluation.
	CheckInterval time.Duration
	// Settings are copied into every new incident.
	Settings schemas.IncidentSettings
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Manager turns events into incidents. Safe for concurrent use.
type Manager struct {
	opts   Options
	ops    *Ops
	logger *slog.Logger
	now    func() time.Time

	// mu serialises detection and the Temporal calls it leads to, so that an incident's
	// opening always reaches Temporal before the events that attach to it.
	mu      sync.Mutex
	det     *detector.Detector
	actions []detector.Action
	// retry holds opens that failed to reach Temporal; the background loop retries them.
	retry []detector.Action

	// rulesMu serialises rule changes (read the store, change, store, apply);
	// rulesChanged wakes Run to re-read the check interval after one.
	rulesMu      sync.Mutex
	rulesChanged chan struct{}
	// baseInterval is detection.check_interval_seconds (see checkInterval).
	baseInterval time.Duration
	// silences caches the silences that have not ended (see loadSilences).
	silences       atomic.Pointer[[]schemas.Silence]
	eventsSilenced atomic.Int64

	started         time.Time
	eventsAccepted  atomic.Int64
	incidentsOpened atomic.Int64
	eventsAttached  atomic.Int64
	detectionErrors atomic.Int64
	lastError       atomic.Pointer[string]
}

// New builds a manager. Call Rebuild before accepting events, and Run for the periodic
// re-evaluation.
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
	baseInterval := opts.CheckInterval
	det, err := detector.New(opts.Rules, detector.Options{MaxEvents: opts.MaxEvents, Retention: opts.Retention})
	if err != nil {
		return nil, fmt.Errorf("detector: %w", err)
	}
	// Re-evaluate as often as the most demanding rule asks.
	if ti := det.TickInterval(); ti > 0 && ti < opts.CheckInterval {
		opts.CheckInterval = ti
	}
	return &Manager{
		opts:    opts,
		ops:     &Ops{Store: opts.Store, Client: opts.Client},
		logger:  opts.Logger,
		now:     opts.Now,
		det:     det,
		started: opts.Now().UTC(),

		rulesChanged: make(chan struct{}, 1),
		baseInterval: baseInterval,
	}, nil
}

// Ops returns the responder operations (acknowledge, assign, resolve, close).
func (m *Manager) Ops() *Ops { return m.ops }

// Store returns the manager's store.
func (m *Manager) Store() *store.Store { return m.opts.Store }

// Rebuild restores the detector after a restart: the open incidents from the store, then
// the windows from the stored events not yet attached to an incident. Detections it makes
// are carried out: an event stored before a crash but never acted on is not lost, and
// one already acted on reaches its open incident again instead of opening a second one.
func (m *Manager) Rebuild(ctx context.Context) error {
	if err := m.loadRules(ctx); err != nil {
		return fmt.Errorf("rebuild detector: %w", err)
	}
	if err := m.loadSilences(ctx); err != nil {
		return fmt.Errorf("rebuild detector: %w", err)
	}
	active, err := m.opts.Store.ActiveIncidents(ctx)
	if err != nil {
		return fmt.Errorf("rebuild detector: list open incidents: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for fp := range active {
		m.det.Opened(fp)
	}
	retention := m.opts.Retention
	if retention <= 0 {
		retention = time.Hour
	}
	var events []schemas.Event
	err = m.opts.Store.ScanEvents(ctx, m.now().Add(-retention), true, func(ev schemas.Event) error {
		if ev.SilencedBy == "" { // silenced events never reach the detector
			events = append(events, ev)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("rebuild detector: scan events: %w", err)
	}
	m.detect(ctx, events)
	m.logger.Info("detector rebuilt", "open_incidents", len(active), "events_replayed", len(events))
	return nil
}

// SubmitEvent validates and stores one event, then runs detection. It returns the event ID.
func (m *Manager) SubmitEvent(ctx context.Context, ev schemas.Event) (string, error) {
	ids, err := m.SubmitEvents(ctx, []schemas.Event{ev})
	if err != nil {
		return "", err
	}
	return ids[0], nil
}

// SubmitEvents validates a batch (all or nothing: the first bad event is returned as a
// *schemas.FieldError), stores it in one transaction, then runs detection. Once it returns
// the IDs, the events are durable: a detection that cannot reach Temporal is retried by
// Run and, after a restart, by Rebuild.
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
	inserted, err := m.opts.Store.InsertEvents(ctx, batch, now)
	if err != nil {
		return nil, fmt.Errorf("store events: %w", err)
	}
	m.eventsAccepted.Add(int64(len(inserted)))
	ids := make([]string, len(batch))
	isNew := make(map[string]bool, len(inserted))
	for _, id := range inserted {
		isNew[id] = true
	}
	fresh := batch[:0:0]
	for i := range batch {
		ids[i] = batch[i].EventID
		if isNew[batch[i].EventID] {
			isNew[batch[i].EventID] = false
			if batch[i].SilencedBy != "" {
				m.eventsSilenced.Add(1) // stored, counted, never detected
				continue
			}
			fresh = append(fresh, batch[i]) // a re-sent event is not counted twice
		}
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.detect(ctx, fresh)
	return ids, nil
}

// detect runs events through the detector and carries out what it asks. Callers hold mu.
func (m *Manager) detect(ctx context.Context, events []schemas.Event) {
	if len(events) == 0 {
		return
	}
	acts := m.actions[:0]
	m.actions = nil // a nested detect (see execute) gets a buffer of its own
	for i := range events {
		acts = m.det.Observe(&events[i], acts)
	}
	m.execute(ctx, acts, events)
	m.actions = acts[:0]
}

// execute opens incidents and attaches events. Attachments to the same incident within
// one batch go as one signal.
func (m *Manager) execute(ctx context.Context, actions []detector.Action, events []schemas.Event) {
	type attachment struct {
		act detector.Action
		ids []string
	}
	var order []string
	attach := map[string]*attachment{}
	for _, act := range actions {
		switch act.Kind {
		case detector.ActionOpen:
			if err := m.open(ctx, act); err != nil {
				m.recordError(fmt.Errorf("open incident for %s: %w", act.Fingerprint, err))
				m.retry = append(m.retry, act)
			}
		case detector.ActionAttach:
			at, ok := attach[act.Fingerprint]
			if !ok {
				at = &attachment{act: act}
				attach[act.Fingerprint] = at
				order = append(order, act.Fingerprint)
			} else {
				at.act.Events = mergeAttach(at.act.Events, act.Events)
			}
			at.ids = append(at.ids, act.Events.EventIDs...)
		}
	}
	for _, fp := range order {
		at := attach[fp]
		err := m.opts.Client.SignalWorkflow(ctx, schemas.IncidentWorkflowID(fp), "", schemas.SignalAttachEvents, at.act.Events)
		var notFound *serviceerror.NotFound
		switch {
		case err == nil:
			m.eventsAttached.Add(int64(len(at.ids)))
		case errors.As(err, &notFound):
			// The incident ended: its events start counting towards a new one.
			m.det.Closed(fp)
			m.detect(ctx, pick(events, at.ids))
		default:
			m.recordError(fmt.Errorf("attach %d events to %s: %w", len(at.ids), fp, err))
		}
	}
}

func (m *Manager) open(ctx context.Context, act detector.Action) error {
	rule := act.Rule
	in := schemas.IncidentInput{
		IncidentID:   NewIncidentID(),
		Fingerprint:  act.Fingerprint,
		RuleID:       rule.ID,
		IncidentType: rule.IncidentType,
		Severity:     act.Severity,
		Title:        fmt.Sprintf("%s on %s", rule.Name, act.GroupKey),
		Description:  rule.Description,
		Source:       act.GroupKey,
		DetectedAt:   m.now().UTC(),
		Actions:      rule.Actions,
		Settings:     m.opts.Settings,
	}
	opts := client.StartWorkflowOptions{
		ID:                    schemas.IncidentWorkflowID(act.Fingerprint),
		TaskQueue:             m.opts.TaskQueue,
		TypedSearchAttributes: workflows.SearchAttributes(in),
	}
	// The events travel as the signal, not the input: if another detector opened the
	// incident a moment ago, they simply attach to it.
	run, err := m.opts.Client.SignalWithStartWorkflow(ctx, opts.ID, schemas.SignalAttachEvents, act.Events,
		opts, schemas.IncidentWorkflowType, in)
	if err != nil {
		return err
	}
	m.incidentsOpened.Add(1)
	m.logger.Info("incident detected", "rule", rule.ID, "group", act.GroupKey, "severity", act.Severity,
		"events", len(act.Events.EventIDs), "workflow_id", run.GetID())
	return nil
}

// Run re-evaluates the windows every check interval and retries detections that failed
// to reach Temporal, until ctx ends.
func (m *Manager) Run(ctx context.Context) {
	tick := time.NewTicker(m.checkInterval())
	defer tick.Stop()
	retry := time.NewTicker(5 * time.Second)
	defer retry.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-m.rulesChanged:
			tick.Reset(m.checkInterval())
		case <-tick.C:
			m.syncFromStore(ctx)
			m.mu.Lock()
			m.execute(ctx, m.det.Tick(m.now(), nil), nil)
			m.mu.Unlock()
		case <-retry.C:
			m.mu.Lock()
			pending := m.retry
			m.retry = nil
			m.execute(ctx, pending, nil)
			m.mu.Unlock()
		}
	}
}

// syncFromStore picks up rules and silences changed by another manager process sharing
// the store (cluster mode), and drops ended silences from the cache.
func (m *Manager) syncFromStore(ctx context.Context) {
	if err := m.syncRules(ctx); err != nil {
		m.logger.Warn("reload rules from the store", "error", err)
	}
	if err := m.loadSilences(ctx); err != nil {
		m.logger.Warn("reload silences from the store", "error", err)
	}
}

func (m *Manager) recordError(err error) {
	m.detectionErrors.Add(1)
	msg := err.Error()
	m.lastError.Store(&msg)
	m.logger.Error("detection", "error", err)
}

// Status is the manager's health for `incidents status` and /healthz.
type Status struct {
	StartedAt       time.Time `json:"started_at"`
	UptimeSeconds   float64   `json:"uptime_seconds"`
	Rules           int       `json:"rules"`
	RulesEnabled    int       `json:"rules_enabled"`
	EventsAccepted  int64     `json:"events_accepted"`
	IncidentsOpened int64     `json:"incidents_opened"`
	EventsAttached  int64     `json:"events_attached"`
	DetectionErrors int64     `json:"detection_errors"`
	PendingRetries  int       `json:"pending_retries"`
	// EventsSilenced counts the events stored since start that a silence muted.
	EventsSilenced int64 `json:"events_silenced"`
	// ActiveSilences counts the silences in force now.
	ActiveSilences int    `json:"active_silences"`
	LastError      string `json:"last_error,omitempty"`
}

// Status reports counters since start.
func (m *Manager) Status() Status {
	m.mu.Lock()
	rules := m.det.Rules()
	pending := len(m.retry)
	m.mu.Unlock()
	st := Status{
		StartedAt:       m.started,
		UptimeSeconds:   m.now().Sub(m.started).Seconds(),
		Rules:           len(rules),
		EventsAccepted:  m.eventsAccepted.Load(),
		IncidentsOpened: m.incidentsOpened.Load(),
		EventsAttached:  m.eventsAttached.Load(),
		DetectionErrors: m.detectionErrors.Load(),
		PendingRetries:  pending,
		EventsSilenced:  m.eventsSilenced.Load(),
		ActiveSilences:  m.activeSilences(m.now()),
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

func mergeAttach(a, b schemas.AttachEvents) schemas.AttachEvents {
	a.EventIDs = append(a.EventIDs, b.EventIDs...)
	if a.FirstAt.IsZero() || (!b.FirstAt.IsZero() && b.FirstAt.Before(a.FirstAt)) {
		a.FirstAt = b.FirstAt
	}
	if b.LastAt.After(a.LastAt) {
		a.LastAt = b.LastAt
	}
	seen := map[string]bool{}
	for _, c := range a.Components {
		seen[c] = true
	}
	for _, c := range b.Components {
		if !seen[c] {
			seen[c] = true
			a.Components = append(a.Components, c)
		}
	}
	a.Severity = a.Severity.Max(b.Severity)
	return a
}

func pick(events []schemas.Event, ids []string) []schemas.Event {
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	var out []schemas.Event
	for _, ev := range events {
		if want[ev.EventID] {
			out = append(out, ev)
		}
	}
	return out
}

package procedures

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"sync"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	sdklog "go.temporal.io/sdk/log"
	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/testsuite"
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"

	"github.com/mahavishnu/mahavishnu/activities"
	"github.com/mahavishnu/mahavishnu/config"
	"github.com/mahavishnu/mahavishnu/detector"
	"github.com/mahavishnu/mahavishnu/remediation"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
	"github.com/mahavishnu/mahavishnu/workflows"
)

// Runner runs scenarios.
type Runner struct {
	// Config is the user's configuration: the base of every scenario without config.file.
	Config *config.Config
	// Settings builds what an incident runs with from a config and its remediation
	// registry, exactly as the manager does (the CLI passes its own).
	Settings func(*config.Config, *remediation.Registry) schemas.IncidentSettings
	// LookupEnv expands ${VAR} in config files and overrides; nil means os.LookupEnv.
	LookupEnv func(string) (string, bool)
	// Logger receives the workflow's and activities' logs; nil discards them.
	Logger *slog.Logger
	// Timeout bounds one scenario's wall-clock time (default 2 minutes).
	Timeout time.Duration
}

// Result is the outcome of one scenario.
type Result struct {
	Name string `json:"name"`
	File string `json:"file"`
	// IncidentID is the incident the scenario followed (empty when none opened).
	IncidentID string        `json:"incident_id,omitempty"`
	Checks     []Check       `json:"checks"`
	Steps      []StepOutcome `json:"steps,omitempty"`
	// Notes are things worth knowing that are not expectations (other incidents opened,
	// the incident still open at the end).
	Notes []string `json:"notes,omitempty"`
	// Error is set when the scenario could not run at all (bad config, workflow failure).
	Error string `json:"error,omitempty"`
	// Elapsed is the wall-clock time the run took.
	Elapsed time.Duration `json:"elapsed_ns"`
}

// Passed reports whether the scenario ran and every check and step passed.
func (r *Result) Passed() bool {
	if r.Error != "" {
		return false
	}
	for _, c := range r.Checks {
		if !c.Passed {
			return false
		}
	}
	for _, s := range r.Steps {
		if !s.Passed {
			return false
		}
	}
	return true
}

// Failures counts the failed checks and steps (1 when the scenario did not run).
func (r *Result) Failures() int {
	if r.Error != "" {
		return 1
	}
	n := 0
	for _, c := range r.Checks {
		if !c.Passed {
			n++
		}
	}
	for _, s := range r.Steps {
		if !s.Passed {
			n++
		}
	}
	return n
}

// StepOutcome is what became of one responder step.
type StepOutcome struct {
	At       string `json:"at"`
	Step     string `json:"step"`
	Passed   bool   `json:"passed"`
	Outcome  string `json:"outcome"`
	Line     int    `json:"line,omitempty"`
	refused  bool
	answered bool
}

// observed is what happened during a run, as the expectations see it.
type observed struct {
	start      time.Time
	detectedAt time.Time
	input      *schemas.IncidentInput
	// final is the latest incident snapshot the workflow wrote.
	final       schemas.Incident
	stages      map[string]time.Time
	syncs       []syncObs
	notes       []notifyObs
	actions     []actionObs
	approvals   []schemas.Approval
	postMortem  string
	stillOpen   bool
	workflowErr error
}

type syncObs struct {
	at       time.Time
	incident schemas.Incident
	entries  []schemas.TimelineEntry
}

type notifyObs struct {
	in     activities.NotifyInput
	result activities.NotifyResult
	done   bool
}

type actionObs struct {
	at     time.Time
	in     activities.ActionInput
	record schemas.ActionRecord
	done   bool
}

// Run runs one scenario. An error in the scenario itself (config, events) is reported in
// the Result, not returned; Run returns an error only when ctx ends.
func (r *Runner) Run(ctx context.Context, sc *Scenario) *Result {
	began := time.Now()
	res := &Result{Name: sc.Name, File: sc.File}
	obs, steps, err := r.run(ctx, sc)
	res.Elapsed = time.Since(began)
	if err != nil {
		res.Error = err.Error()
		return res
	}
	res.Steps = steps
	if obs.input != nil {
		res.IncidentID = obs.input.IncidentID
	}
	if obs.stillOpen {
		res.Notes = append(res.Notes, fmt.Sprintf("the incident was still open when the scenario ended at %s: it was cancelled",
			FormatOffset(durationOr(sc.Duration, DefaultDuration))))
	}
	res.Notes = append(res.Notes, obs.otherNotes...)
	if obs.input == nil {
		res.Notes = append(res.Notes, "no incident was opened by these events")
	}
	for i := range sc.Expect {
		c := evaluate(&sc.Expect[i], obs)
		c.Line = sc.Expect[i].line
		res.Checks = append(res.Checks, c)
	}
	return res
}

func durationOr(d Duration, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d.D()
}

// scenarioConfig is the user's config (or the scenario's file) with the overrides.
func (r *Runner) scenarioConfig(sc *Scenario) (*config.Config, error) {
	var cfg *config.Config
	if sc.Config.File != "" {
		path := sc.Config.File
		if !filepath.IsAbs(path) {
			path = filepath.Join(filepath.Dir(sc.File), path)
		}
		c, err := config.Load(path, r.LookupEnv)
		if err != nil {
			return nil, fmt.Errorf("config.file: %w", err)
		}
		cfg = c
	} else {
		if r.Config == nil {
			return nil, errors.New("no configuration given")
		}
		cfg = r.Config.Clone()
	}
	if sc.Config.Overrides.Kind != 0 {
		if err := cfg.Overlay(&sc.Config.Overrides, r.LookupEnv); err != nil {
			return nil, fmt.Errorf("config.overrides: %w", err)
		}
	}
	return cfg, nil
}

// events expands the scenario's events, in time order.
func (sc *Scenario) events(start time.Time) ([]schemas.Event, error) {
	var out []schemas.Event
	for i, spec := range sc.Events {
		n := max(spec.Repeat, 1)
		for j := 0; j < n; j++ {
			ts := start.Add(spec.At.D() + time.Duration(j)*spec.Every.D())
			ev := schemas.Event{
				EventID:   fmt.Sprintf("evt_%04d_%04d", i, j),
				Timestamp: ts, EventType: spec.EventType, Source: spec.Source, Component: spec.Component,
				Severity: schemas.Severity(spec.Severity), Message: spec.Message, CorrelationID: spec.CorrelationID,
				Metadata: spec.Metadata,
			}
			if ev.Severity != "" {
				sev, _ := schemas.ParseSeverity(spec.Severity) // validated when parsed
				ev.Severity = sev
			}
			if err := ev.Normalize(ts, nil, len(out)); err != nil {
				return nil, fmt.Errorf("line %d: events[%d]: %w", spec.line, i, err)
			}
			out = append(out, ev)
		}
	}
	sort.SliceStable(out, func(a, b int) bool { return out[a].Timestamp.Before(out[b].Timestamp) })
	return out, nil
}

// incidentID is stable for a scenario, so that two runs of it read alike.
func incidentID(sc *Scenario) string {
	sum := sha256.Sum256([]byte(sc.File + "\x00" + sc.Name))
	return schemas.IncidentIDPrefix + hex.EncodeToString(sum[:8])
}

// counters are the opened incident's event counters, as the detector keeps them.
type counters struct {
	ids        []string
	first      time.Time
	last       time.Time
	components []string
	max        schemas.Severity
}

func (c *counters) add(ev schemas.AttachEvents) {
	c.ids = append(c.ids, ev.EventIDs...)
	if c.first.IsZero() || ev.FirstAt.Before(c.first) {
		c.first = ev.FirstAt
	}
	if ev.LastAt.After(c.last) {
		c.last = ev.LastAt
	}
	for _, comp := range ev.Components {
		if i := sort.SearchStrings(c.components, comp); i == len(c.components) || c.components[i] != comp {
			c.components = append(c.components, "")
			copy(c.components[i+1:], c.components[i:])
			c.components[i] = comp
		}
	}
	c.max = c.max.Max(ev.Severity)
}

func (c *counters) signal(id string) schemas.EventsAttached {
	return schemas.EventsAttached{IncidentID: id, EventCount: len(c.ids), FirstAt: c.first, LastAt: c.last,
		Components: append([]string(nil), c.components...), MaxEventSeverity: c.max}
}

// run does the work of Run.
func (r *Runner) run(ctx context.Context, sc *Scenario) (*runObs, []StepOutcome, error) {
	cfg, err := r.scenarioConfig(sc)
	if err != nil {
		return nil, nil, err
	}
	rules, err := cfg.Rules()
	if err != nil {
		return nil, nil, err
	}
	det := cfg.IncidentResponse.Detection
	d, err := detector.New(rules, detector.Options{MaxEvents: det.MaxEvents, Retention: det.EventRetention()})
	if err != nil {
		return nil, nil, err
	}
	reg, err := remediation.NewRegistry(cfg.IncidentResponse.Remediation.Actions)
	if err != nil {
		return nil, nil, fmt.Errorf("incident_response.remediation.%w", err)
	}
	if r.Settings == nil {
		return nil, nil, errors.New("procedures: Runner.Settings is not set")
	}
	settings := r.Settings(cfg, reg)

	start := sc.Start
	if start.IsZero() {
		start = DefaultStart
	}
	start = start.UTC()
	events, err := sc.events(start)
	if err != nil {
		return nil, nil, err
	}
	st, err := store.Open(ctx, "sqlite://:memory:", "")
	if err != nil {
		return nil, nil, fmt.Errorf("open the scenario's store: %w", err)
	}
	defer st.Close()
	if err := sc.OnCall.write(ctx, st); err != nil {
		return nil, nil, err
	}
	if _, err := st.InsertEvents(ctx, events, start); err != nil {
		return nil, nil, fmt.Errorf("store the events: %w", err)
	}

	obs := &runObs{observed: observed{start: start, stages: map[string]time.Time{}}}
	// Phase 1: feed events until the detector opens an incident.
	var open *detector.Action
	next := 0
	for next < len(events) && open == nil {
		ev := &events[next]
		next++
		for _, act := range d.Observe(ev, nil) {
			if act.Kind != detector.ActionOpen {
				continue
			}
			if open == nil {
				a := act
				open = &a
				continue
			}
			obs.otherNotes = append(obs.otherNotes, fmt.Sprintf("another incident opened at %s: rule %s for %s",
				FormatOffset(ev.Timestamp.Sub(start)), act.Rule.ID, act.GroupKey))
		}
	}
	if open == nil {
		return obs, nil, nil
	}
	detectedAt := events[next-1].Timestamp
	in := schemas.IncidentInput{
		IncidentID: incidentID(sc), Fingerprint: open.Fingerprint, RuleID: open.Rule.ID,
		IncidentType: open.Rule.IncidentType, Severity: open.Severity,
		Title:       fmt.Sprintf("%s on %s", open.Rule.Name, open.GroupKey),
		Description: open.Rule.Description, Source: open.GroupKey, DetectedAt: detectedAt,
		Actions: open.Rule.Actions, Settings: settings,
		Events: schemas.AttachEvents{FirstAt: open.Events.FirstAt, LastAt: open.Events.LastAt,
			Components: open.Events.Components, Severity: open.Events.Severity},
	}
	obs.input, obs.detectedAt = &in, detectedAt
	var cnt counters
	cnt.add(open.Events)
	first, last := open.Events.FirstAt, open.Events.LastAt
	row := &schemas.Incident{
		IncidentID: in.IncidentID, IncidentType: in.IncidentType, Severity: in.Severity, Status: schemas.StatusDetected,
		Title: in.Title, Description: in.Description, RuleID: in.RuleID, Fingerprint: in.Fingerprint, Source: in.Source,
		DetectedAt: detectedAt, FirstEventAt: &first, LastEventAt: &last, EventCount: len(open.Events.EventIDs),
		AffectedComponents: append([]string{}, open.Events.Components...),
		WorkflowID:         schemas.IncidentWorkflowID(in.Fingerprint),
	}
	obs.final = *row
	if err := st.UpsertIncident(ctx, row); err != nil {
		return nil, nil, fmt.Errorf("store the incident: %w", err)
	}
	if _, err := st.AttachEvents(ctx, in.IncidentID, open.Events.EventIDs); err != nil {
		return nil, nil, fmt.Errorf("attach the events: %w", err)
	}

	// Phase 2: the workflow, with the later events and the responders on its clock.
	logger := r.Logger
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var suite testsuite.WorkflowTestSuite
	suite.SetLogger(sdklog.NewStructuredLogger(logger))
	env := suite.NewTestWorkflowEnvironment()
	env.SetStartTime(detectedAt)
	timeout := r.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	env.SetTestTimeout(timeout)
	// A loaded CI machine can hold a workflow task past the default 1 s deadlock check.
	env.SetWorkerOptions(worker.Options{DeadlockDetectionTimeout: timeout})
	env.SetStartWorkflowOptions(client.StartWorkflowOptions{ID: row.WorkflowID, TaskQueue: schemas.DefaultTaskQueue})
	if err := env.SetTypedSearchAttributesOnStart(workflows.SearchAttributes(in)); err != nil {
		return nil, nil, err
	}
	env.RegisterWorkflowWithOptions(workflows.IncidentWorkflow, workflow.RegisterOptions{Name: schemas.IncidentWorkflowType})
	clock := &scenarioClock{now: detectedAt}
	capture, err := newCapture(cfg, clock.Now, logger)
	if err != nil {
		return nil, nil, err
	}
	env.RegisterActivity(&activities.Activities{Store: st, Logger: logger, Remediation: reg.DryRuns(), Notifications: capture})
	obs.listen(env, clock)

	env.RegisterDelayedCallback(func() {
		env.SignalWorkflow(schemas.SignalEventsAttached, cnt.signal(in.IncidentID))
	}, 0)
	// The later events, grouped by time: one events_attached signal per moment.
	for next < len(events) {
		at := events[next].Timestamp
		var batch []schemas.Event
		for next < len(events) && events[next].Timestamp.Equal(at) {
			batch = append(batch, events[next])
			next++
		}
		env.RegisterDelayedCallback(func() {
			attached := false
			for i := range batch {
				for _, act := range d.Observe(&batch[i], nil) {
					switch {
					case act.Kind == detector.ActionAttach && act.Fingerprint == in.Fingerprint:
						if _, err := st.AttachEvents(ctx, in.IncidentID, act.Events.EventIDs); err != nil {
							obs.otherNotes = append(obs.otherNotes, "attaching an event failed: "+err.Error())
							continue
						}
						cnt.add(act.Events)
						attached = true
					case act.Kind == detector.ActionOpen:
						obs.otherNotes = append(obs.otherNotes, fmt.Sprintf("another incident opened at %s: rule %s for %s",
							FormatOffset(at.Sub(start)), act.Rule.ID, act.GroupKey))
					}
				}
			}
			if attached {
				env.SignalWorkflow(schemas.SignalEventsAttached, cnt.signal(in.IncidentID))
			}
		}, at.Sub(detectedAt))
	}
	steps := make([]StepOutcome, len(sc.Responders))
	for i := range sc.Responders {
		step := &sc.Responders[i]
		out := &steps[i]
		*out = StepOutcome{At: step.At.String(), Step: step.Describe(), Line: step.line, refused: step.Refused}
		env.RegisterDelayedCallback(func() { sendStep(env, i, step, out) }, step.At.D())
	}
	horizon := durationOr(sc.Duration, DefaultDuration)
	env.RegisterDelayedCallback(func() {
		obs.stillOpen = true
		env.CancelWorkflow()
	}, horizon)

	env.ExecuteWorkflow(schemas.IncidentWorkflowType, in)
	if err := env.GetWorkflowError(); err != nil {
		var canceled *temporal.CanceledError
		if !(obs.stillOpen && errors.As(err, &canceled)) {
			return nil, nil, fmt.Errorf("the incident workflow failed: %w", err)
		}
	}
	if v, err := env.QueryWorkflow(schemas.QueryState); err == nil {
		var state schemas.IncidentState
		if v.Get(&state) == nil {
			obs.approvals = state.Approvals
		}
	}
	if md, _, err := st.PostMortem(ctx, in.IncidentID); err == nil {
		obs.postMortem = md
	}
	for i := range steps {
		s := &steps[i]
		if !s.answered {
			s.Passed, s.Outcome = false, "not sent: the incident had ended (or the scenario had) before "+s.At
		}
	}
	return obs, steps, nil
}

// runObs is observed plus what the report notes.
type runObs struct {
	observed
	otherNotes []string
}

// listen records the activities the workflow runs, on the workflow's clock.
func (o *runObs) listen(env *testsuite.TestWorkflowEnvironment, clock *scenarioClock) {
	notifies := map[string]int{}
	actions := map[string]int{}
	env.SetOnActivityStartedListener(func(info *activity.Info, _ context.Context, args converter.EncodedValues) {
		now := env.Now().UTC()
		clock.set(now)
		switch info.ActivityType.Name {
		case "Sync":
			var in activities.SyncInput
			if args.Get(&in) == nil {
				o.syncs = append(o.syncs, syncObs{at: now, incident: in.Incident, entries: in.Timeline})
				o.final = in.Incident
				for _, e := range in.Timeline {
					if e.Kind == schemas.TimelineStageStarted {
						o.stage(e.Key, now)
					}
				}
			}
		case "RunStage":
			var in activities.StageInput
			if args.Get(&in) == nil {
				o.final = in.Incident
				o.stage(activities.StageStartedKey(in.Stage), now)
			}
		case "Notify":
			var in activities.NotifyInput
			if args.Get(&in) == nil {
				if _, seen := notifies[info.ActivityID]; !seen {
					notifies[info.ActivityID] = len(o.notes)
					o.notes = append(o.notes, notifyObs{in: in})
				}
			}
		case "ExecuteAction":
			var in activities.ActionInput
			if args.Get(&in) == nil {
				if _, seen := actions[info.ActivityID]; !seen {
					actions[info.ActivityID] = len(o.actions)
					o.actions = append(o.actions, actionObs{at: now, in: in})
				}
			}
		}
	})
	env.SetOnActivityCompletedListener(func(info *activity.Info, result converter.EncodedValue, err error) {
		if err != nil || result == nil {
			return
		}
		switch info.ActivityType.Name {
		case "Notify":
			if i, ok := notifies[info.ActivityID]; ok {
				var res activities.NotifyResult
				if result.Get(&res) == nil {
					o.notes[i].result, o.notes[i].done = res, true
				}
			}
		case "ExecuteAction":
			if i, ok := actions[info.ActivityID]; ok {
				var rec schemas.ActionRecord
				if result.Get(&rec) == nil {
					o.actions[i].record, o.actions[i].done = rec, true
				}
			}
		}
	})
}

// stage notes the first time a stage started (key is activities.StageStartedKey).
func (o *observed) stage(key string, at time.Time) {
	for _, s := range stageNames {
		if key == activities.StageStartedKey(activities.Stage(s)) {
			if _, ok := o.stages[s]; !ok {
				o.stages[s] = at
			}
		}
	}
}

// sendStep sends one responder step as a workflow update and records the answer.
func sendStep(env *testsuite.TestWorkflowEnvironment, i int, step *Step, out *StepOutcome) {
	name, arg := stepUpdate(step)
	out.answered = true
	answer := func(err error, refusedByValidator bool) {
		switch {
		case err == nil && step.Refused:
			out.Passed, out.Outcome = false, "accepted, but the scenario expects it to be refused"
		case err == nil:
			out.Passed, out.Outcome = true, "accepted"
		case step.Refused:
			out.Passed, out.Outcome = true, "refused as expected: "+err.Error()
		case refusedByValidator:
			out.Passed, out.Outcome = false, "refused: "+err.Error()
		default:
			out.Passed, out.Outcome = false, "failed: "+err.Error()
		}
	}
	env.UpdateWorkflow(name, fmt.Sprintf("step-%d", i), &testsuite.TestUpdateCallback{
		OnAccept:   func() {},
		OnReject:   func(err error) { answer(err, true) },
		OnComplete: func(_ any, err error) { answer(err, false) },
	}, arg)
}

// stepUpdate is the workflow update a step sends, and its argument.
func stepUpdate(s *Step) (string, any) {
	switch {
	case s.Acknowledge != nil:
		return schemas.UpdateAcknowledge, schemas.Acknowledge{By: s.Acknowledge.By}
	case s.Assign != nil:
		return schemas.UpdateAssign, schemas.Assign{To: s.Assign.To, By: s.Assign.By}
	case s.Approve != nil:
		return schemas.UpdateApprove, schemas.ApprovalDecision{Action: s.Approve.Action, By: s.Approve.By, Reason: s.Approve.Reason}
	case s.Reject != nil:
		return schemas.UpdateReject, schemas.ApprovalDecision{Action: s.Reject.Action, By: s.Reject.By, Reason: s.Reject.Reason}
	case s.Mitigate != nil:
		return schemas.UpdateMitigate, schemas.Mitigate{Action: s.Mitigate.Action, Actor: s.Mitigate.By, ApprovedBy: s.Mitigate.ApprovedBy}
	case s.Resolve != nil:
		return schemas.UpdateResolve, schemas.Resolve{By: s.Resolve.By, Notes: s.Resolve.Notes}
	}
	u := s.Update
	return schemas.UpdateFields, schemas.Update{By: u.By, Status: schemas.Status(u.Status), Severity: schemas.Severity(u.Severity),
		Title: u.Title, Note: u.Note}
}

// scenarioClock is the workflow's time as last seen, for the notification throttle (its
// windows must run on scenario time, not on the seconds the run takes).
type scenarioClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *scenarioClock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
}

// Now returns the scenario time.
func (c *scenarioClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

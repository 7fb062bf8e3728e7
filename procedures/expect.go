package procedures

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mahavishnu/mahavishnu/activities"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// Expect is one expectation; exactly one kind is set.
type Expect struct {
	// Opened: the incident was opened (times from the scenario's start).
	Opened *OpenedExpect `yaml:"opened,omitempty"`
	// Stage: a response stage was reached.
	Stage *StageExpect `yaml:"stage,omitempty"`
	// Acknowledged: the incident was acknowledged.
	Acknowledged *PersonExpect `yaml:"acknowledged,omitempty"`
	// Escalated: the incident escalated to a level of the escalation policy.
	Escalated *EscalatedExpect `yaml:"escalated,omitempty"`
	// ApprovalRequested: an action waited for approval.
	ApprovalRequested *ApprovalExpect `yaml:"approval_requested,omitempty"`
	// ApprovalExpired: an approval request expired without a decision.
	ApprovalExpired *ApprovalExpect `yaml:"approval_expired,omitempty"`
	// ActionRun: a remediation action ran (as a dry run in a procedure test).
	ActionRun *ActionExpect `yaml:"action_run,omitempty"`
	// Notified: a notification went to a channel.
	Notified *NotifiedExpect `yaml:"notified,omitempty"`
	// Resolved: the incident was resolved.
	Resolved *PersonExpect `yaml:"resolved,omitempty"`
	// PostMortem: the post-mortem was written with these sections.
	PostMortem *PostMortemExpect `yaml:"postmortem,omitempty"`
	// MTTA, MTTR: the incident's time to acknowledge and to resolve.
	MTTA *MetricExpect `yaml:"mtta,omitempty"`
	MTTR *MetricExpect `yaml:"mttr,omitempty"`

	line int
}

// When bounds the time of an expectation (an offset from the opening). Never turns it
// around: nothing matching may happen (within the bounds, when given).
type When struct {
	// At is the exact time, give or take Tolerance (default 1s).
	At        *Duration `yaml:"at,omitempty"`
	Tolerance *Duration `yaml:"tolerance,omitempty"`
	// Within is the latest time; After the earliest.
	Within *Duration `yaml:"within,omitempty"`
	After  *Duration `yaml:"after,omitempty"`
	Never  bool      `yaml:"never,omitempty"`
}

// OpenedExpect checks the opened incident.
type OpenedExpect struct {
	When     `yaml:",inline"`
	Type     string `yaml:"type,omitempty"`
	Severity string `yaml:"severity,omitempty"`
	Rule     string `yaml:"rule,omitempty"`
	Source   string `yaml:"source,omitempty"`
}

// StageExpect checks that a stage was reached.
type StageExpect struct {
	When `yaml:",inline"`
	// Name is assess, contain, investigate, remediate, recover or postmortem.
	Name string `yaml:"name"`
}

// PersonExpect checks an acknowledgement or a resolution, and who did it.
type PersonExpect struct {
	When `yaml:",inline"`
	By   string `yaml:"by,omitempty"`
}

// EscalatedExpect checks an escalation: the level reached, and the channels and targets
// its notification reached, and the people paged at that level.
type EscalatedExpect struct {
	When `yaml:",inline"`
	// Level is required: 1 or more, or 0 for the level paged when the incident opens
	// (a level naming schedules or people).
	Level    *int     `yaml:"level"`
	Name     string   `yaml:"name,omitempty"`
	Channels []string `yaml:"channels,omitempty"`
	Targets  []string `yaml:"targets,omitempty"`
	// Paged is the exact set of people paged at this level through the level's schedules
	// and people (issue 11), resolved when the level fired; [] says nobody. Unset means
	// not checked.
	Paged []string `yaml:"paged,omitempty"`
}

// ApprovalExpect checks an approval request or its expiry.
type ApprovalExpect struct {
	When   `yaml:",inline"`
	Action string `yaml:"action"`
}

// ActionExpect checks a remediation action run.
type ActionExpect struct {
	When   `yaml:",inline"`
	Action string `yaml:"action"`
	// Status is dry_run (what a configured action reports in a procedure test),
	// not_configured or failed; empty means any.
	Status     string `yaml:"status,omitempty"`
	Actor      string `yaml:"actor,omitempty"`
	ApprovedBy string `yaml:"approved_by,omitempty"`
}

// NotifiedExpect checks a notification sent to a channel.
type NotifiedExpect struct {
	When    `yaml:",inline"`
	Channel string `yaml:"channel"`
	// Kind is opened, acknowledged, escalated, resolved, mttr_breached,
	// approval_requested, approval_expired or reminder; empty means any.
	Kind     string `yaml:"kind,omitempty"`
	Contains string `yaml:"contains,omitempty"`
}

// PostMortemExpect checks the post-mortem's sections (its "## " headings) and text.
type PostMortemExpect struct {
	Sections []string `yaml:"sections,omitempty"`
	Contains []string `yaml:"contains,omitempty"`
}

// MetricExpect bounds MTTA or MTTR.
type MetricExpect struct {
	Max    *Duration `yaml:"max,omitempty"`
	Min    *Duration `yaml:"min,omitempty"`
	Equals *Duration `yaml:"equals,omitempty"`
}

var stageNames = []string{"assess", "contain", "investigate", "remediate", "recover", "postmortem"}

var notifyKinds = []string{activities.NotifyOpened, activities.NotifyAcknowledged, activities.NotifyEscalated,
	activities.NotifyResolved, activities.NotifyMTTRBreached, activities.NotifyApprovalRequested,
	activities.NotifyApprovalExpired, activities.NotifyReminder}

// Kind names the expectation's kind ("escalated").
func (e *Expect) Kind() string {
	var kinds []string
	for _, k := range []struct {
		name string
		set  bool
	}{
		{"opened", e.Opened != nil}, {"stage", e.Stage != nil}, {"acknowledged", e.Acknowledged != nil},
		{"escalated", e.Escalated != nil}, {"approval_requested", e.ApprovalRequested != nil},
		{"approval_expired", e.ApprovalExpired != nil}, {"action_run", e.ActionRun != nil},
		{"notified", e.Notified != nil}, {"resolved", e.Resolved != nil}, {"postmortem", e.PostMortem != nil},
		{"mtta", e.MTTA != nil}, {"mttr", e.MTTR != nil},
	} {
		if k.set {
			kinds = append(kinds, k.name)
		}
	}
	return strings.Join(kinds, ",")
}

func (e *Expect) when() *When {
	switch {
	case e.Opened != nil:
		return &e.Opened.When
	case e.Stage != nil:
		return &e.Stage.When
	case e.Acknowledged != nil:
		return &e.Acknowledged.When
	case e.Escalated != nil:
		return &e.Escalated.When
	case e.ApprovalRequested != nil:
		return &e.ApprovalRequested.When
	case e.ApprovalExpired != nil:
		return &e.ApprovalExpired.When
	case e.ActionRun != nil:
		return &e.ActionRun.When
	case e.Notified != nil:
		return &e.Notified.When
	case e.Resolved != nil:
		return &e.Resolved.When
	}
	return nil
}

func (e *Expect) validate() error {
	switch k := e.Kind(); {
	case k == "":
		return errors.New("give one expectation: opened, stage, acknowledged, escalated, approval_requested, approval_expired, action_run, notified, resolved, postmortem, mtta or mttr")
	case strings.Contains(k, ","):
		return fmt.Errorf("one expectation per item, got %s", k)
	}
	if w := e.when(); w != nil && w.At != nil && (w.Within != nil || w.After != nil) {
		return fmt.Errorf("%s: give at, or within/after, not both", e.Kind())
	}
	switch {
	case e.Opened != nil && e.Opened.Severity != "":
		if _, err := schemas.ParseSeverity(e.Opened.Severity); err != nil {
			return fmt.Errorf("opened.severity: %w", err)
		}
	case e.Stage != nil && !slices.Contains(stageNames, e.Stage.Name):
		return fmt.Errorf("stage.name: want one of %s, got %q", strings.Join(stageNames, ", "), e.Stage.Name)
	case e.Escalated != nil && e.Escalated.Level == nil:
		return errors.New("escalated.level: is required (0 is the level paged when the incident opens)")
	case e.Escalated != nil && *e.Escalated.Level < 0:
		return errors.New("escalated.level: must not be negative")
	case e.ApprovalRequested != nil && e.ApprovalRequested.Action == "":
		return errors.New("approval_requested.action: is required")
	case e.ApprovalExpired != nil && e.ApprovalExpired.Action == "":
		return errors.New("approval_expired.action: is required")
	case e.ActionRun != nil && e.ActionRun.Action == "":
		return errors.New("action_run.action: is required")
	case e.Notified != nil && e.Notified.Channel == "":
		return errors.New("notified.channel: is required (log, slack, pagerduty, email or webhook)")
	case e.Notified != nil && e.Notified.Kind != "" && !slices.Contains(notifyKinds, e.Notified.Kind):
		return fmt.Errorf("notified.kind: want one of %s, got %q", strings.Join(notifyKinds, ", "), e.Notified.Kind)
	case e.PostMortem != nil && len(e.PostMortem.Sections) == 0 && len(e.PostMortem.Contains) == 0:
		return errors.New("postmortem: give sections or contains")
	case e.MTTA != nil && e.MTTA.empty(), e.MTTR != nil && e.MTTR.empty():
		return fmt.Errorf("%s: give max, min or equals", e.Kind())
	}
	return nil
}

func (m *MetricExpect) empty() bool { return m.Max == nil && m.Min == nil && m.Equals == nil }

// Check is the outcome of one expectation.
type Check struct {
	// Kind is the expectation's kind; Name says what was expected in a few words.
	Kind     string `json:"kind"`
	Name     string `json:"name"`
	Passed   bool   `json:"passed"`
	Expected string `json:"expected"`
	Happened string `json:"happened"`
	Line     int    `json:"line,omitempty"`
}

// occurrence is one thing that happened, at an offset, described for the report.
type occurrence struct {
	at   time.Duration
	desc string
	// miss says why it does not match the expectation's attributes ("" when it does).
	miss string
}

// describe says what a When asks for.
func (w *When) describe() string {
	var parts []string
	switch {
	case w.At != nil:
		parts = append(parts, fmt.Sprintf("at %s±%s", w.At, w.tolerance()))
	default:
		if w.After != nil {
			parts = append(parts, "after "+w.After.String())
		}
		if w.Within != nil {
			parts = append(parts, "within "+w.Within.String())
		}
	}
	return strings.Join(parts, " and ")
}

func (w *When) tolerance() time.Duration {
	if w.Tolerance != nil {
		return w.Tolerance.D()
	}
	return time.Second
}

func (w *When) fits(at time.Duration) bool {
	switch {
	case w.At != nil:
		d := at - w.At.D()
		return d >= -w.tolerance() && d <= w.tolerance()
	case w.After != nil && at < w.After.D():
		return false
	case w.Within != nil && at > w.Within.D():
		return false
	}
	return true
}

// judge decides a timed expectation over what happened of its kind.
func judge(w *When, what string, occ []occurrence) (bool, string, string) {
	expected := what
	if d := w.describe(); d != "" {
		expected += " " + d
	}
	var matching, fitting []occurrence
	for _, o := range occ {
		if o.miss == "" {
			matching = append(matching, o)
			if w.fits(o.at) {
				fitting = append(fitting, o)
			}
		}
	}
	if w.Never {
		expected = "no " + expected
		if len(fitting) == 0 {
			if len(matching) > 0 {
				return true, expected, "only " + list(matching)
			}
			return true, expected, "none"
		}
		return false, expected, list(fitting)
	}
	switch {
	case len(fitting) > 0:
		return true, expected, list(fitting[:1])
	case len(matching) > 0:
		return false, expected, list(matching) + ": not " + w.describe()
	case len(occ) > 0:
		var parts []string
		for _, o := range occ {
			parts = append(parts, fmt.Sprintf("%s at %s (%s)", o.desc, FormatOffset(o.at), o.miss))
		}
		return false, expected, "none like it; instead " + strings.Join(parts, "; ")
	}
	return false, expected, "none"
}

func list(occ []occurrence) string {
	parts := make([]string, len(occ))
	for i, o := range occ {
		parts[i] = fmt.Sprintf("%s at %s", o.desc, FormatOffset(o.at))
	}
	return strings.Join(parts, "; ")
}

// differs names the first attribute that does not match ("" when all do).
func differs(pairs ...string) string {
	for i := 0; i+2 < len(pairs); i += 3 {
		name, want, got := pairs[i], pairs[i+1], pairs[i+2]
		if want != "" && !strings.EqualFold(want, got) {
			return fmt.Sprintf("%s %s, not %s", name, orNone(got), want)
		}
	}
	return ""
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// missing lists the wanted items absent from have.
func missing(want, have []string) []string {
	var out []string
	for _, w := range want {
		if !slices.ContainsFunc(have, func(h string) bool { return strings.EqualFold(h, w) }) {
			out = append(out, w)
		}
	}
	return out
}

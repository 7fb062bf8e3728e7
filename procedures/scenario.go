// Package procedures tests response procedures before they reach production: a scenario
// file declares the config, the events, what responders do and when, and what must
// happen; the runner feeds the events to the real detector and runs the real
// IncidentWorkflow with the real activities in Temporal's time-skipping test environment
// (notifications captured, remediation actions dry-run), then checks each expectation.
//
// Times: event times count from the scenario's start; responder steps and expectation
// times count from the moment the incident opened (its detected_at), the clock that every
// target (acknowledgement, approval, MTTR) runs on. The opened expectation alone counts
// from the scenario's start.
package procedures

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// DefaultStart is when a scenario starts unless it says otherwise.
var DefaultStart = time.Date(2026, 1, 5, 9, 0, 0, 0, time.UTC)

// DefaultDuration is how long after the opening a scenario runs unless it says otherwise.
const DefaultDuration = 24 * time.Hour

// Scenario is one scenario file.
type Scenario struct {
	Name        string `yaml:"name"`
	Description string `yaml:"description,omitempty"`
	// Config is the configuration to run with: the user's (or File) plus Overrides.
	Config ConfigSpec `yaml:"config,omitempty"`
	// Start is when the scenario's clock starts (default DefaultStart).
	Start time.Time `yaml:"start,omitempty"`
	// Duration is how long after the opening the incident is followed (default 24h); an
	// incident still open then is cancelled and the expectations are checked.
	Duration Duration `yaml:"duration,omitempty"`
	// OnCall is the people directory and schedules the escalation policy pages through.
	OnCall     *OnCallSpec `yaml:"oncall,omitempty"`
	Events     []EventSpec `yaml:"events"`
	Responders []Step      `yaml:"responders,omitempty"`
	Expect     []Expect    `yaml:"expect"`

	// File is where the scenario was read from.
	File string `yaml:"-"`
}

// ConfigSpec says which configuration a scenario runs with.
type ConfigSpec struct {
	// File is a config file (relative to the scenario file); empty means the user's.
	File string `yaml:"file,omitempty"`
	// Overrides are config keys in the config file's shape, applied on top.
	Overrides yaml.Node `yaml:"overrides,omitempty"`
}

// EventSpec is one event, or Repeat events Every apart, at At after the start.
type EventSpec struct {
	At            Duration       `yaml:"at"`
	Repeat        int            `yaml:"repeat,omitempty"`
	Every         Duration       `yaml:"every,omitempty"`
	EventType     string         `yaml:"event_type"`
	Source        string         `yaml:"source"`
	Component     string         `yaml:"component,omitempty"`
	Severity      string         `yaml:"severity,omitempty"`
	Message       string         `yaml:"message,omitempty"`
	CorrelationID string         `yaml:"correlation_id,omitempty"`
	Metadata      map[string]any `yaml:"metadata,omitempty"`

	line int
}

// Step is one responder action at At after the opening. Exactly one action is set.
type Step struct {
	At          Duration         `yaml:"at"`
	Acknowledge *AcknowledgeStep `yaml:"acknowledge,omitempty"`
	Assign      *AssignStep      `yaml:"assign,omitempty"`
	Approve     *DecisionStep    `yaml:"approve,omitempty"`
	Reject      *DecisionStep    `yaml:"reject,omitempty"`
	Mitigate    *MitigateStep    `yaml:"mitigate,omitempty"`
	Resolve     *ResolveStep     `yaml:"resolve,omitempty"`
	Update      *UpdateStep      `yaml:"update,omitempty"`
	// Refused says the workflow must refuse the step (an approval after the request
	// expired); a refused step without it fails the scenario, and so does an accepted one
	// with it.
	Refused bool `yaml:"refused,omitempty"`

	line int
}

// AcknowledgeStep acknowledges the incident.
type AcknowledgeStep struct {
	By string `yaml:"by"`
}

// AssignStep assigns the incident.
type AssignStep struct {
	To string `yaml:"to"`
	By string `yaml:"by,omitempty"`
}

// DecisionStep approves or rejects a pending action.
type DecisionStep struct {
	Action string `yaml:"action"`
	By     string `yaml:"by"`
	Reason string `yaml:"reason,omitempty"`
}

// MitigateStep runs an action now (dry-run in a procedure test).
type MitigateStep struct {
	Action     string `yaml:"action"`
	By         string `yaml:"by"`
	ApprovedBy string `yaml:"approved_by,omitempty"`
}

// ResolveStep resolves the incident.
type ResolveStep struct {
	By    string `yaml:"by"`
	Notes string `yaml:"notes,omitempty"`
}

// UpdateStep changes fields or adds a note.
type UpdateStep struct {
	By       string `yaml:"by"`
	Status   string `yaml:"status,omitempty"`
	Severity string `yaml:"severity,omitempty"`
	Title    string `yaml:"title,omitempty"`
	Note     string `yaml:"note,omitempty"`
}

// kind names the step's action.
func (s *Step) kind() string {
	var kinds []string
	for _, k := range []struct {
		name string
		set  bool
	}{
		{"acknowledge", s.Acknowledge != nil}, {"assign", s.Assign != nil}, {"approve", s.Approve != nil},
		{"reject", s.Reject != nil}, {"mitigate", s.Mitigate != nil}, {"resolve", s.Resolve != nil},
		{"update", s.Update != nil},
	} {
		if k.set {
			kinds = append(kinds, k.name)
		}
	}
	return strings.Join(kinds, ",")
}

// Describe says what the step does, for the report.
func (s *Step) Describe() string {
	switch {
	case s.Acknowledge != nil:
		return "acknowledge by " + s.Acknowledge.By
	case s.Assign != nil:
		return "assign to " + s.Assign.To
	case s.Approve != nil:
		return fmt.Sprintf("approve %s by %s", s.Approve.Action, s.Approve.By)
	case s.Reject != nil:
		return fmt.Sprintf("reject %s by %s", s.Reject.Action, s.Reject.By)
	case s.Mitigate != nil:
		return fmt.Sprintf("mitigate %s by %s", s.Mitigate.Action, s.Mitigate.By)
	case s.Resolve != nil:
		return "resolve by " + s.Resolve.By
	case s.Update != nil:
		return "update by " + s.Update.By
	}
	return "nothing"
}

// Duration is a time.Duration written as "15m", "1h30m", "+20m" or "90s" in a scenario.
type Duration time.Duration

// D returns the duration.
func (d Duration) D() time.Duration { return time.Duration(d) }

// String formats the duration as a scenario would write it.
func (d Duration) String() string { return FormatOffset(time.Duration(d)) }

// UnmarshalYAML reads "15m", "+20m", "1h30m", "0".
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseOffset(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*d = Duration(v)
	return nil
}

// MarshalYAML writes the duration as "+15m".
func (d Duration) MarshalYAML() (any, error) { return FormatOffset(time.Duration(d)), nil }

// ParseOffset parses a scenario time offset: a Go duration with an optional leading "+"
// ("+20m", "1h30m", "90s", "0").
func ParseOffset(s string) (time.Duration, error) {
	v := strings.TrimPrefix(strings.TrimSpace(s), "+")
	if v == "0" {
		return 0, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		return 0, fmt.Errorf("%q is not a time offset: want a duration such as +20m, 90s or 1h30m", s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%q: a time offset must not be negative", s)
	}
	return d, nil
}

// FormatOffset writes an offset as "+20m", "+1h30m", "+1m30s", "+10s".
func FormatOffset(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return "+" + s
}

// unknownField matches yaml.v3's strict-decoding complaint.
var unknownField = regexp.MustCompile(`line (\d+): field (\S+) not found in type \S+`)

// Parse reads one scenario from data; name is used in errors. Unknown fields are errors
// naming the field and its line.
func Parse(name string, data []byte) (*Scenario, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var sc Scenario
	if err := dec.Decode(&sc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%s: the file is empty: a scenario needs name, events and expect", name)
		}
		msg := strings.TrimPrefix(err.Error(), "yaml: unmarshal errors:\n")
		msg = unknownField.ReplaceAllString(msg, `line $1: unknown field "$2"`)
		return nil, fmt.Errorf("%s: %s", name, strings.TrimSpace(msg))
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err == nil {
		sc.setLines(&doc)
	}
	sc.File = name
	if err := sc.validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return &sc, nil
}

// setLines remembers the line of each event, step and expectation for error messages.
func (sc *Scenario) setLines(doc *yaml.Node) {
	root := doc
	if root.Kind == yaml.DocumentNode && len(root.Content) == 1 {
		root = root.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		list := root.Content[i+1]
		if list.Kind != yaml.SequenceNode {
			continue
		}
		for j, item := range list.Content {
			switch root.Content[i].Value {
			case "events":
				if j < len(sc.Events) {
					sc.Events[j].line = item.Line
				}
			case "responders":
				if j < len(sc.Responders) {
					sc.Responders[j].line = item.Line
				}
			case "expect":
				if j < len(sc.Expect) {
					sc.Expect[j].line = item.Line
				}
			}
		}
	}
}

func (sc *Scenario) validate() error {
	var errs []error
	add := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("line %d: "+format, append([]any{line}, args...)...))
	}
	if strings.TrimSpace(sc.Name) == "" {
		errs = append(errs, errors.New("name: is required"))
	}
	if len(sc.Events) == 0 {
		errs = append(errs, errors.New("events: give at least one event"))
	}
	for i, ev := range sc.Events {
		switch {
		case ev.EventType == "":
			add(ev.line, "events[%d].event_type: is required", i)
		case ev.Source == "":
			add(ev.line, "events[%d].source: is required", i)
		case ev.Repeat < 0:
			add(ev.line, "events[%d].repeat: must not be negative", i)
		case ev.Repeat > 10000:
			add(ev.line, "events[%d].repeat: at most 10000", i)
		}
		if ev.Severity != "" {
			if _, err := schemas.ParseSeverity(ev.Severity); err != nil {
				add(ev.line, "events[%d].severity: %v", i, err)
			}
		}
	}
	for i, st := range sc.Responders {
		switch k := st.kind(); {
		case k == "":
			add(st.line, "responders[%d]: give one action: acknowledge, assign, approve, reject, mitigate, resolve or update", i)
		case strings.Contains(k, ","):
			add(st.line, "responders[%d]: one action per step, got %s", i, k)
		}
	}
	if err := sc.OnCall.validate(); err != nil {
		errs = append(errs, err)
	}
	if len(sc.Expect) == 0 {
		errs = append(errs, errors.New("expect: give at least one expectation"))
	}
	for i := range sc.Expect {
		if err := sc.Expect[i].validate(); err != nil {
			add(sc.Expect[i].line, "expect[%d]: %v", i, err)
		}
	}
	return errors.Join(errs...)
}

// Load reads one scenario file.
func Load(path string) (*Scenario, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return Parse(path, data)
}

// Files lists the scenario files of paths: files as given, directories walked for
// *.yaml and *.yml files, sorted.
func Files(paths []string) ([]string, error) {
	var out []string
	for _, p := range paths {
		info, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !info.IsDir() {
			out = append(out, p)
			continue
		}
		var found []string
		err = filepath.WalkDir(p, func(path string, d os.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if ext := filepath.Ext(path); !d.IsDir() && (ext == ".yaml" || ext == ".yml") {
				found = append(found, path)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if len(found) == 0 {
			return nil, fmt.Errorf("%s: no scenario files (*.yaml) in this directory", p)
		}
		sort.Strings(found)
		out = append(out, found...)
	}
	return out, nil
}

// Marshal writes a scenario as YAML.
func Marshal(sc *Scenario) ([]byte, error) {
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(sc); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

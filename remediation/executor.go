package remediation

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"text/template"
	"time"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// MaxOutputBytes bounds each captured stream (stdout, stderr, an HTTP response body) in a
// Result. Longer output is cut and marked with a "[truncated N bytes]" line.
const MaxOutputBytes = 8 << 10

// Errors returned by Execute. Every Result whose Status is StatusFailed comes with an error
// wrapping ErrFailed; a timeout wraps ErrTimeout as well.
var (
	// ErrNotConfigured is returned for an action without an executor: nothing ran.
	ErrNotConfigured = errors.New("remediation action not configured")
	// ErrFailed is wrapped by every error of an action that was attempted and did not
	// succeed (non-zero exit, unexpected HTTP status, template or transport error).
	ErrFailed = errors.New("remediation action failed")
	// ErrTimeout is wrapped (with ErrFailed) when the action's timeout expired.
	ErrTimeout = errors.New("remediation action timed out")
)

// Status is how an execution ended.
type Status string

const (
	// StatusSucceeded means the action ran and reported success.
	StatusSucceeded Status = "succeeded"
	// StatusFailed means the action was attempted and did not succeed.
	StatusFailed Status = "failed"
	// StatusNotConfigured means the action has no executor: nothing ran, nothing was done.
	StatusNotConfigured Status = "not_configured"
	// StatusDryRun means nothing ran; Details says what would have run.
	StatusDryRun Status = "dry_run"
)

// Input is what an executor knows about the request. Its fields are the values command
// and URL templates may use ({{.IncidentID}}, {{.Component}}...). Source and Component come
// from events and must be treated as hostile: executors never pass them through a shell.
type Input struct {
	IncidentID   string           `json:"incident_id"`
	IncidentType string           `json:"incident_type"`
	Severity     schemas.Severity `json:"severity"`
	Source       string           `json:"source"`
	Component    string           `json:"component"`
	// Action is the action's ID.
	Action string `json:"action"`
	// Actor is who asked for the run: a user name, or "auto-remediation".
	Actor string `json:"actor"`
	// IdempotencyKey is IdempotencyKey(incident, action, attempt); an HTTP action can send
	// it as an Idempotency-Key header so that the receiver deduplicates too.
	IdempotencyKey string `json:"idempotency_key,omitempty"`
}

// env returns the MAHAVISHNU_* environment variables a command receives.
func (in Input) env() []string {
	return []string{
		"MAHAVISHNU_INCIDENT_ID=" + in.IncidentID,
		"MAHAVISHNU_INCIDENT_TYPE=" + in.IncidentType,
		"MAHAVISHNU_INCIDENT_SEVERITY=" + string(in.Severity),
		"MAHAVISHNU_INCIDENT_SOURCE=" + in.Source,
		"MAHAVISHNU_INCIDENT_COMPONENT=" + in.Component,
		"MAHAVISHNU_ACTION=" + in.Action,
		"MAHAVISHNU_ACTOR=" + in.Actor,
		"MAHAVISHNU_IDEMPOTENCY_KEY=" + in.IdempotencyKey,
	}
}

// mapStrings returns a copy of in with f applied to every string field.
func (in Input) mapStrings(f func(string) string) Input {
	return Input{
		IncidentID: f(in.IncidentID), IncidentType: f(in.IncidentType),
		Severity: schemas.Severity(f(string(in.Severity))), Source: f(in.Source),
		Component: f(in.Component), Action: f(in.Action), Actor: f(in.Actor),
		IdempotencyKey: f(in.IdempotencyKey),
	}
}

// Result is the outcome of one execution or dry run, as it goes on the timeline.
type Result struct {
	// Action is the action's ID (set by Action.Execute and Action.DryRun).
	Action string `json:"action"`
	Status Status `json:"status"`
	// Output is the command's stdout or the HTTP response body, at most MaxOutputBytes.
	Output string `json:"output,omitempty"`
	// Stderr is the command's stderr, at most MaxOutputBytes.
	Stderr string `json:"stderr,omitempty"`
	// ExitCode is the command's exit code; -1 when it was killed or never started.
	ExitCode int `json:"exit_code"`
	// HTTPStatus is the HTTP response status code, 0 without a response.
	HTTPStatus int           `json:"http_status,omitempty"`
	Duration   time.Duration `json:"duration"`
	// Details says in one line what ran (or would run) and how it ended. Header and
	// environment values and URL credentials are never included.
	Details string `json:"details"`
}

// Text returns Details followed by the captured stdout and stderr (each under a heading,
// when not empty), for a record with a single output field.
func (r Result) Text() string {
	parts := []string{r.Details}
	if r.Output != "" {
		parts = append(parts, "--- output\n"+r.Output)
	}
	if r.Stderr != "" {
		parts = append(parts, "--- stderr\n"+r.Stderr)
	}
	return strings.Join(parts, "\n")
}

// Executor runs one kind of action.
type Executor interface {
	// Execute runs the action. The error is nil exactly when Status is StatusSucceeded.
	Execute(ctx context.Context, in Input) (Result, error)
	// DryRun describes exactly what Execute would run for in, without running anything.
	// Its Status is StatusDryRun; an error means Execute would fail before starting.
	DryRun(in Input) (Result, error)
}

// The executors of this package.
var (
	_ Executor = (*CommandExecutor)(nil)
	_ Executor = (*HTTPExecutor)(nil)
	_ Executor = (*ZombieReaper)(nil)
)

// notConfigured is the result of an action without an executor.
func notConfigured(id string) (Result, error) {
	return Result{Action: id, Status: StatusNotConfigured, ExitCode: -1,
			Details: fmt.Sprintf("action %q has no executor configured: nothing was run", id)},
		fmt.Errorf("action %q: %w (configure incident_response.remediation.actions.%s)", id, ErrNotConfigured, id)
}

// templateFuncs are available in every template. json quotes a value as JSON: {{json
// .Source}} gives "\"db-1\"" with quotes, backslashes and newlines escaped.
var templateFuncs = template.FuncMap{
	"json": func(v any) (string, error) {
		b, err := json.Marshal(v)
		if err != nil {
			return "", err
		}
		return string(b), nil
	},
}

// parseTemplate parses one template string with the package's functions.
func parseTemplate(name, text string) (*template.Template, error) {
	t, err := template.New(name).Option("missingkey=error").Funcs(templateFuncs).Parse(text)
	if err != nil {
		return nil, fmt.Errorf("invalid template: %w", trimTemplateErr(err, name))
	}
	return t, nil
}

// render executes t on data.
func render(t *template.Template, data any) (string, error) {
	var b strings.Builder
	if err := t.Execute(&b, data); err != nil {
		return "", fmt.Errorf("template: %w", trimTemplateErr(err, t.Name()))
	}
	return b.String(), nil
}

// trimTemplateErr drops text/template's "template: NAME:" prefix, since our errors name
// the field themselves.
func trimTemplateErr(err error, name string) error {
	msg := strings.TrimPrefix(err.Error(), "template: "+name+":")
	return errors.New(strings.TrimSpace(msg))
}

// sampleInputs are used to check templates when an action is configured: the second
// differs in every field and carries characters that break naive quoting.
var sampleInputs = []Input{
	{IncidentID: "inc_sample1", IncidentType: "error_burst", Severity: schemas.SeverityHigh,
		Source: "api", Component: "api", Action: "sample", Actor: "alice", IdempotencyKey: "k1"},
	{IncidentID: "inc_\"sample2\\", IncidentType: "x\ny", Severity: schemas.SeverityLow,
		Source: "evil.example/?a=1&b=2#f", Component: "c\"; $(rm -rf /) `id` && \n{}", Action: "other",
		Actor: "bob's <b>", IdempotencyKey: "k2"},
}

// capture is an io.Writer keeping the first limit bytes and counting the rest.
type capture struct {
	limit   int
	buf     []byte
	dropped int64
}

func newCapture(limit int) *capture { return &capture{limit: limit} }

// Write never fails, so that a chatty program is not killed by a broken pipe.
func (c *capture) Write(p []byte) (int, error) {
	room := c.limit - len(c.buf)
	if room > len(p) {
		room = len(p)
	}
	if room > 0 {
		c.buf = append(c.buf, p[:room]...)
	}
	c.dropped += int64(len(p) - room)
	return len(p), nil
}

// String returns the kept bytes as valid UTF-8 (a rune split by the cut becomes U+FFFD),
// with a truncation note when bytes were dropped.
func (c *capture) String() string {
	s := strings.ToValidUTF8(string(c.buf), "\uFFFD")
	if c.dropped > 0 {
		s += fmt.Sprintf("\n[truncated %d bytes]", c.dropped)
	}
	return s
}

package remediation

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// MaxTimeout is the longest timeout an action may have.
const MaxTimeout = time.Hour

var actionIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// ActionConfig is one entry of incident_response.remediation.actions, keyed by action ID.
// For a default action every field is optional and overrides the default; a new action
// needs an executor to do anything. At most one of Command, HTTP and Builtin may be set.
type ActionConfig struct {
	Description string `yaml:"description" json:"description,omitempty"`
	// Risk is low, medium or high.
	Risk Risk `yaml:"risk" json:"risk,omitempty"`
	// Safe actions may run unattended; nil keeps the default (false for a new action).
	Safe *bool `yaml:"safe" json:"safe,omitempty"`
	// TimeoutSeconds bounds one run; 0 keeps the default (60).
	TimeoutSeconds int `yaml:"timeout_seconds" json:"timeout_seconds,omitempty"`
	// IncidentTypes recommends the action for these incident types too.
	IncidentTypes []string       `yaml:"incident_types" json:"incident_types,omitempty"`
	Command       *CommandConfig `yaml:"command" json:"command,omitempty"`
	HTTP          *HTTPConfig    `yaml:"http" json:"http,omitempty"`
	// Builtin names a built-in executor: kill_zombie_processes.
	Builtin string `yaml:"builtin" json:"builtin,omitempty"`
}

// CommandConfig runs a program without a shell. Each argv element is a text/template over
// Input ({{.IncidentID}}, {{.Component}}...) and becomes exactly one argument.
type CommandConfig struct {
	Argv []string `yaml:"argv" json:"argv"`
	// Env adds environment variables (values are secrets: never printed). Names may not
	// start with MAHAVISHNU_, which carry the incident's fields.
	Env map[string]Secret `yaml:"env" json:"env,omitempty"`
	// InheritEnv names further variables of the manager's environment to pass on (PATH,
	// HOME, USER, LOGNAME, LANG, LC_ALL, TZ and TMPDIR always are).
	InheritEnv []string `yaml:"inherit_env" json:"inherit_env,omitempty"`
	// Dir is the absolute working directory; empty means the manager's.
	Dir string `yaml:"dir" json:"dir,omitempty"`
}

// HTTPConfig sends one HTTP request.
type HTTPConfig struct {
	// Method is GET, POST (default), PUT, PATCH or DELETE.
	Method string `yaml:"method" json:"method,omitempty"`
	// URL is a template; values in it are percent-encoded. Put credentials in headers,
	// not in the URL.
	URL string `yaml:"url" json:"url"`
	// Headers are templates (control characters in values become spaces); their values
	// are secrets and never printed.
	Headers map[string]Secret `yaml:"headers" json:"headers,omitempty"`
	// Body is a template; values are inserted as they are, so quote them with json in a
	// JSON body: {"component": {{json .Component}}}. Without a Content-Type header a body
	// is sent as application/json and must render valid JSON.
	Body string `yaml:"body" json:"body,omitempty"`
	// ExpectedStatus lists the status codes that mean success; empty means any 2xx.
	ExpectedStatus []int `yaml:"expected_status" json:"expected_status,omitempty"`
}

// NewRegistry returns the default actions with configs applied on top (keyed by action
// ID). Every problem is reported, joined, each naming its key as
// "actions.<id>.<field>: ...".
func NewRegistry(configs map[string]ActionConfig) (*Registry, error) {
	r := &Registry{actions: map[string]Action{}}
	for _, a := range DefaultActions() {
		r.actions[a.ID] = a
	}
	var errs []error
	for _, id := range sortedKeys(configs) {
		base, ok := r.actions[id]
		if !ok {
			base = Action{ID: id, Description: id, Risk: RiskMedium, Timeout: DefaultTimeout}
		}
		a, err := apply(base, configs[id])
		if err != nil {
			errs = append(errs, err)
			continue
		}
		r.actions[id] = a
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return r, nil
}

// apply overrides base with cfg and builds its executor.
func apply(a Action, cfg ActionConfig) (Action, error) {
	key := "actions." + a.ID
	if !actionIDPattern.MatchString(a.ID) {
		return a, fmt.Errorf("actions.%q: want 1-64 lower-case letters, digits, '_', '-' or '.', starting with a letter or digit", a.ID)
	}
	if d := strings.TrimSpace(cfg.Description); d != "" {
		a.Description = d
	}
	if cfg.Risk != "" {
		if !cfg.Risk.Valid() {
			return a, fmt.Errorf("%s.risk: want low, medium or high, got %q", key, cfg.Risk)
		}
		a.Risk = cfg.Risk
	}
	if cfg.Safe != nil {
		a.Safe = *cfg.Safe
	}
	if a.Safe && a.Risk == RiskHigh {
		return a, fmt.Errorf("%s.safe: a high-risk action cannot be safe; lower its risk or set safe: false", key)
	}
	switch {
	case cfg.TimeoutSeconds < 0 || time.Duration(cfg.TimeoutSeconds)*time.Second > MaxTimeout:
		return a, fmt.Errorf("%s.timeout_seconds: want 1-%d, got %d", key, int(MaxTimeout.Seconds()), cfg.TimeoutSeconds)
	case cfg.TimeoutSeconds > 0:
		a.Timeout = time.Duration(cfg.TimeoutSeconds) * time.Second
	}
	if cfg.IncidentTypes != nil {
		for i, t := range cfg.IncidentTypes {
			if strings.TrimSpace(t) == "" || t != strings.TrimSpace(t) {
				return a, fmt.Errorf("%s.incident_types[%d]: %q: must be non-empty without surrounding spaces", key, i, t)
			}
		}
		a.IncidentTypes = slices.Clone(cfg.IncidentTypes)
	}
	set := 0
	for _, isSet := range []bool{cfg.Command != nil, cfg.HTTP != nil, cfg.Builtin != ""} {
		if isSet {
			set++
		}
	}
	if set > 1 {
		return a, fmt.Errorf("%s: set only one of command, http and builtin", key)
	}
	var err error
	switch {
	case cfg.Command != nil:
		var ex *CommandExecutor
		if ex, err = NewCommandExecutor(*cfg.Command, a.Timeout); err != nil {
			return a, fmt.Errorf("%s.command.%w", key, err)
		}
		a.Kind, a.Executor = KindCommand, ex
	case cfg.HTTP != nil:
		var ex *HTTPExecutor
		if ex, err = NewHTTPExecutor(*cfg.HTTP, a.Timeout); err != nil {
			return a, fmt.Errorf("%s.http.%w", key, err)
		}
		a.Kind, a.Executor = KindHTTP, ex
	case cfg.Builtin != "":
		if cfg.Builtin != BuiltinKillZombies {
			return a, fmt.Errorf("%s.builtin: unknown built-in %q; want %s", key, cfg.Builtin, BuiltinKillZombies)
		}
		a.Kind, a.Executor = KindBuiltin, &ZombieReaper{}
	}
	return a, nil
}

// DecodeActionsYAML strictly decodes the YAML of an actions block (a mapping of action ID
// to ActionConfig): unknown keys are errors. The config loader may decode ActionConfig
// itself; this is for tools and tests.
func DecodeActionsYAML(data []byte) (map[string]ActionConfig, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var out map[string]ActionConfig
	if err := dec.Decode(&out); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("actions: %w", err)
	}
	return out, nil
}

// Secret is a string that never prints; see schemas.Secret.
type Secret = schemas.Secret

// sortedKeys returns m's keys in order.
func sortedKeys[K cmp.Ordered, V any](m map[K]V) []K {
	keys := make([]K, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

package schemas

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"
)

// Rule is a windowed threshold detection rule: Threshold matching events from one group
// within Window open an incident of IncidentType at Severity.
//
// An event matches the rule when its event type is in EventTypes, or when it satisfies one
// of the Matchers. A rule whose ID is in another enabled rule's Claims does not count the
// events that other rule matches (a cache error opens cache_failure, not also error_burst).
type Rule struct {
	ID           string   `yaml:"id" json:"id"`
	Name         string   `yaml:"name" json:"name"`
	IncidentType string   `yaml:"type" json:"incident_type"`
	Severity     Severity `yaml:"severity" json:"severity"`
	Enabled      bool     `yaml:"enabled" json:"enabled"`
	Threshold    int      `yaml:"threshold" json:"threshold"`
	// WindowSeconds is the sliding window length.
	WindowSeconds int `yaml:"time_window_seconds" json:"time_window_seconds"`
	// CheckIntervalSeconds is the period of background re-evaluation.
	CheckIntervalSeconds int `yaml:"check_interval_seconds" json:"check_interval_seconds"`
	// EventTypes lists the event types the rule counts unconditionally (exact,
	// case-sensitive).
	EventTypes []string `yaml:"event_types" json:"event_types"`
	// Matchers are further, conditional matches (e.g. "error events mentioning redis").
	Matchers []Matcher `yaml:"matchers" json:"matchers,omitempty"`
	// Claims lists IDs of general rules that must not count an event this rule matches,
	// so that one cause opens one incident. Claims of unknown or disabled rules are inert;
	// a claim only applies while the claiming rule is enabled.
	Claims []string `yaml:"claims" json:"claims,omitempty"`
	// GroupBy is the event field that splits the count: source (default), component or
	// event_type.
	GroupBy string `yaml:"group_by" json:"group_by"`
	// MinComponentsAffected, when above 1, also requires that many distinct components
	// among the events in the window.
	MinComponentsAffected int `yaml:"min_components_affected" json:"min_components_affected,omitempty"`
	// RequireConsecutive requires the Threshold events to follow each other with no
	// recovery event (see IsRecoveryEvent) from the same group in between.
	RequireConsecutive bool `yaml:"require_consecutive" json:"require_consecutive,omitempty"`
	// Description and Runbook are shown to responders with the incident.
	Description string `yaml:"description" json:"description,omitempty"`
	Runbook     string `yaml:"runbook" json:"runbook,omitempty"`
	// Actions are the remediation actions recommended for the incident type.
	Actions []string `yaml:"actions" json:"actions,omitempty"`
}

// Matcher is a conditional match: the event type is in EventTypes, and the message
// contains one of MessageContains (when set), and the source or the component contains
// one of SourceContains (when set).
//
// Keywords compare ASCII case-insensitively as substrings. A keyword starting with '^' must
// match at the start of the text and one ending with '$' at its end, so "^db$" matches the
// source "db" but not "feedback".
type Matcher struct {
	EventTypes      []string `yaml:"event_types" json:"event_types"`
	MessageContains []string `yaml:"message_contains" json:"message_contains,omitempty"`
	SourceContains  []string `yaml:"source_contains" json:"source_contains,omitempty"`
}

// Grouping fields a rule may use.
const (
	GroupBySource    = "source"
	GroupByComponent = "component"
	GroupByEventType = "event_type"
)

// RecoveryEventTypes are the event types that end a run of consecutive events of the same
// group for rules with RequireConsecutive. A resolved Alertmanager alert becomes "resolved".
var RecoveryEventTypes = []string{"recovery", "resolved", "service_up", "ok"}

// IsRecoveryEvent reports whether eventType is one of RecoveryEventTypes.
func IsRecoveryEvent(eventType string) bool {
	switch eventType {
	case "recovery", "resolved", "service_up", "ok":
		return true
	}
	return false
}

var ruleIDPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,63}$`)

// Window returns the sliding window as a duration.
func (r *Rule) Window() time.Duration { return time.Duration(r.WindowSeconds) * time.Second }

// Validate checks the rule; errors name the field.
func (r *Rule) Validate() error {
	switch {
	case !ruleIDPattern.MatchString(r.ID):
		return fmt.Errorf("rule %q: id: want 1-64 lower-case letters, digits, '_', '-' or '.'", r.ID)
	case r.IncidentType == "":
		return fmt.Errorf("rule %q: type: is required", r.ID)
	case !r.Severity.Valid():
		return fmt.Errorf("rule %q: severity: want one of low, medium, high, critical", r.ID)
	case r.Threshold < 1:
		return fmt.Errorf("rule %q: threshold: must be at least 1, got %d", r.ID, r.Threshold)
	case r.WindowSeconds < 1:
		return fmt.Errorf("rule %q: time_window_seconds: must be at least 1, got %d", r.ID, r.WindowSeconds)
	case r.CheckIntervalSeconds < 0:
		return fmt.Errorf("rule %q: check_interval_seconds: must not be negative, got %d", r.ID, r.CheckIntervalSeconds)
	case len(r.EventTypes) == 0:
		return fmt.Errorf("rule %q: event_types: list at least one event type", r.ID)
	case r.MinComponentsAffected < 0:
		return fmt.Errorf("rule %q: min_components_affected: must not be negative, got %d", r.ID, r.MinComponentsAffected)
	case r.MinComponentsAffected > 1 && r.GroupBy == GroupByComponent:
		return fmt.Errorf("rule %q: min_components_affected: a rule grouped by component sees one component per group; group by source or event_type", r.ID)
	}
	switch r.GroupBy {
	case "", GroupBySource, GroupByComponent, GroupByEventType:
	default:
		return fmt.Errorf("rule %q: group_by: want source, component or event_type, got %q", r.ID, r.GroupBy)
	}
	if err := checkNames(r.EventTypes); err != nil {
		return fmt.Errorf("rule %q: event_types%w", r.ID, err)
	}
	for i, m := range r.Matchers {
		if err := m.validate(); err != nil {
			return fmt.Errorf("rule %q: matchers[%d].%w", r.ID, i, err)
		}
	}
	for i, c := range r.Claims {
		switch {
		case !ruleIDPattern.MatchString(c):
			return fmt.Errorf("rule %q: claims[%d]: %q is not a rule id", r.ID, i, c)
		case c == r.ID:
			return fmt.Errorf("rule %q: claims[%d]: a rule cannot claim itself", r.ID, i)
		}
	}
	for i, a := range r.Actions {
		if strings.TrimSpace(a) == "" {
			return fmt.Errorf("rule %q: actions[%d]: must not be empty", r.ID, i)
		}
	}
	return nil
}

// checkNames rejects empty entries; the error starts with the index ("[2]: ...").
func checkNames(names []string) error {
	for i, n := range names {
		if strings.TrimSpace(n) == "" || n != strings.TrimSpace(n) {
			return fmt.Errorf("[%d]: %q: must be non-empty without surrounding spaces", i, n)
		}
	}
	return nil
}

func (m *Matcher) validate() error {
	if len(m.EventTypes) == 0 {
		return errors.New("event_types: list at least one event type")
	}
	if err := checkNames(m.EventTypes); err != nil {
		return fmt.Errorf("event_types%w", err)
	}
	if len(m.MessageContains) == 0 && len(m.SourceContains) == 0 {
		return errors.New("message_contains: set message_contains or source_contains (or move the types to the rule's event_types)")
	}
	for _, f := range []struct {
		name string
		kws  []string
	}{{"message_contains", m.MessageContains}, {"source_contains", m.SourceContains}} {
		for i, kw := range f.kws {
			if strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(kw, "^"), "$")) == "" {
				return fmt.Errorf("%s[%d]: keyword must not be empty", f.name, i)
			}
		}
	}
	return nil
}

// ValidateRules validates each rule, rejects duplicate IDs and claim cycles (a cycle would
// let no rule count the events they share). Claims of IDs not in rules are allowed.
func ValidateRules(rules []Rule) error {
	index := make(map[string]int, len(rules))
	for i := range rules {
		if err := rules[i].Validate(); err != nil {
			return fmt.Errorf("rules[%d]: %w", i, err)
		}
		if j, dup := index[rules[i].ID]; dup {
			return fmt.Errorf("rules[%d]: rule %q: id: duplicate of rules[%d]", i, rules[i].ID, j)
		}
		index[rules[i].ID] = i
	}
	// Depth-first search for a cycle in the claims graph.
	const (
		unvisited = iota
		active
		done
	)
	state := make([]int, len(rules))
	var visit func(i int, path []string) error
	visit = func(i int, path []string) error {
		state[i] = active
		path = append(path, rules[i].ID)
		for _, c := range rules[i].Claims {
			j, ok := index[c]
			if !ok {
				continue
			}
			switch state[j] {
			case active:
				return fmt.Errorf("rule %q: claims: cycle %s -> %s", rules[j].ID, strings.Join(path, " -> "), c)
			case unvisited:
				if err := visit(j, path); err != nil {
					return err
				}
			}
		}
		state[i] = done
		return nil
	}
	for i := range rules {
		if state[i] == unvisited {
			if err := visit(i, nil); err != nil {
				return err
			}
		}
	}
	return nil
}

// Clone returns a deep copy of r: its slices are not shared.
func (r *Rule) Clone() Rule {
	c := *r
	c.EventTypes = cloneStrings(r.EventTypes)
	c.Claims = cloneStrings(r.Claims)
	c.Actions = cloneStrings(r.Actions)
	if r.Matchers != nil {
		c.Matchers = make([]Matcher, len(r.Matchers))
		for i, m := range r.Matchers {
			c.Matchers[i] = Matcher{
				EventTypes:      cloneStrings(m.EventTypes),
				MessageContains: cloneStrings(m.MessageContains),
				SourceContains:  cloneStrings(m.SourceContains),
			}
		}
	}
	return c
}

func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	return append(make([]string, 0, len(s)), s...)
}

// GroupKey returns the value of the rule's grouping field for ev.
func (r *Rule) GroupKey(ev *Event) string {
	switch r.GroupBy {
	case GroupByComponent:
		return ev.Component
	case GroupByEventType:
		return ev.EventType
	}
	return ev.Source
}

// Keywords of the specialised default rules.
var (
	databaseSources = []string{"database", "postgres", "mysql", "mariadb", "mongo", "sqlite", "cassandra",
		"^db$", "^db-", "^db_", "-db", "_db"}
	cacheKeywords     = []string{"cache", "redis", "memcache"}
	rateLimitKeywords = []string{"rate limit", "rate-limit", "ratelimit", "429", "too many requests", "throttl"}
	sslKeywords       = []string{"certificate", "ssl", "tls", "x509"}
	networkKeywords   = []string{"network", "connection refused", "connection reset", "connection timed out",
		"i/o timeout", "unreachable", "no route to host", "dns", "partition", "econnrefused", "etimedout"}
	errorTypes = []string{"error", "api_error"}
	downTypes  = []string{"service_down", "service_unavailable"}
)

// DefaultRules returns the built-in rules: the 15 scenarios of the quickstart, each with
// its manual steps as runbook and its auto-remediation as actions (none for the
// notification-only scenarios). All group by source. Each call returns fresh slices.
func DefaultRules() []Rule {
	rule := func(id, name string, sev Severity, threshold, window, check int, types []string, desc, runbook string, actions ...string) Rule {
		return Rule{ID: id, Name: name, IncidentType: id, Severity: sev, Enabled: true, Threshold: threshold,
			WindowSeconds: window, CheckIntervalSeconds: check, EventTypes: types, GroupBy: GroupBySource,
			Description: desc, Runbook: runbook, Actions: append([]string{}, actions...)}
	}
	rules := []Rule{
		rule("error_burst", "API Error Burst", SeverityHigh, 10, 300, 60, []string{"error", "api_error"},
			"10+ errors from one source within 5 minutes",
			"Check API logs: mahavishnu logs tail api --since 5m\n"+
				"Restart API service: mahavishnu service restart api\n"+
				"Check health: mahavishnu health check api",
			"clear_cache", "scale_up", "restart_service"),
		rule("service_down", "Service Down", SeverityCritical, 5, 60, 30, []string{"service_down", "service_unavailable"},
			"5+ service unavailable events from one source within 1 minute",
			"Check service status: mahavishnu service status auth_service\n"+
				"View service logs: mahavishnu logs tail auth_service\n"+
				"Restart service: mahavishnu service restart auth_service\n"+
				"Rollback if needed: mahavishnu deployment rollback --service auth_service",
			"restart_service", "rollback"),
		rule("memory_exhaustion", "Memory Exhaustion", SeverityCritical, 3, 120, 30, []string{"memory_high"},
			"3+ high memory events from one source within 2 minutes",
			"Check memory usage: mahavishnu metrics memory --detail\n"+
				"Kill zombie processes: mahavishnu processes kill-zombies\n"+
				"Scale up workers: mahavishnu workers scale --count 10",
			"scale_up", "kill_zombie_processes"),
		rule("database_failure", "Database Connection Failures", SeverityCritical, 5, 60, 30, []string{"database_error"},
			"5+ database errors, or service down/errors from a database source, within 1 minute",
			"Check database status: mahavishnu database status\n"+
				"Check connection pool: mahavishnu database pool-stats\n"+
				"Restart database if needed: mahavishnu database restart",
			"scale_up"),
		rule("cache_failure", "Cache Failure", SeverityHigh, 5, 300, 60, []string{"cache_error"},
			"5+ cache errors (or errors mentioning cache/redis/memcached) from one source within 5 minutes",
			"Check cache status: mahavishnu cache status\n"+
				"Clear cache: mahavishnu cache clear --all\n"+
				"Restart cache service: mahavishnu service restart redis",
			"clear_cache"),
		rule("performance_degradation", "Performance Degradation", SeverityMedium, 10, 300, 60, []string{"slow_request"},
			"10+ slow requests from one source within 5 minutes",
			"Check performance metrics: mahavishnu metrics performance\n"+
				"View slow queries: mahavishnu database slow-queries\n"+
				"Scale up: mahavishnu workers scale --count 5",
			"scale_up", "clear_cache"),
		rule("disk_space_low", "Disk Space Low", SeverityHigh, 3, 300, 60, []string{"disk_low", "disk_space_low"},
			"3+ low disk space events from one source within 5 minutes",
			"Check disk usage: mahavishnu metrics disk\n"+
				"Clear old logs: mahavishnu logs clear --older-than 7d\n"+
				"Clear cache: mahavishnu cache clear --all\n"+
				"Add storage (manual)"),
		rule("workflow_failure_spike", "Workflow Failure Spike", SeverityHigh, 8, 300, 60, []string{"workflow_failed"},
			"8+ workflow failures from one source within 5 minutes",
			"Check workflow status: mahavishnu workflows status\n"+
				"View failed workflows: mahavishnu workflows list --status failed\n"+
				"Retry failed workflows: mahavishnu workflows retry --failed-since 10m",
			"clear_cache", "restart_service"),
		rule("quality_drop", "Quality Drop", SeverityMedium, 5, 600, 120, []string{"quality_failed", "quality_check_failed"},
			"5+ quality check failures from one source within 10 minutes",
			"Run quality checks: mahavishnu quality check\n"+
				"View quality report: mahavishnu quality report\n"+
				"Fix issues (manual)"),
		rule("network_partition", "Network Partition", SeverityCritical, 5, 60, 30, []string{"network_error"},
			"5+ network errors, or service down with network causes, from one source within 1 minute",
			"Check network status: mahavishnu network status\n"+
				"Test connectivity: mahavishnu network test --target database\n"+
				"Restart networking (manual)"),
		rule("resource_leak", "Zombie Processes", SeverityMedium, 3, 300, 60, []string{"resource_leak"},
			"3+ resource leak events from one source within 5 minutes",
			"List zombie processes: mahavishnu processes list --zombies\n"+
				"Kill zombies: mahavishnu processes kill-zombies",
			"kill_zombie_processes"),
		rule("rate_limit", "Rate Limiting", SeverityMedium, 10, 300, 60, []string{"rate_limit"},
			"10+ rate limit errors (or errors mentioning rate limits/429) from one source within 5 minutes",
			"Check rate limit status: mahavishnu api rate-limit --status\n"+
				"Implement backoff (code change)\n"+
				"Increase quota (manual)"),
		rule("ssl_expiry", "SSL Certificate Expiry", SeverityCritical, 1, 60, 30, []string{"ssl_error"},
			"Any SSL/TLS certificate error",
			"Check certificates: mahavishnu security check-certs\n"+
				"Renew certificates: mahavishnu security renew-cert --service api"),
		rule("deadlock", "Deadlock Detected", SeverityHigh, 1, 60, 30, []string{"deadlock"},
			"Any deadlock event",
			"Check database locks: mahavishnu database locks\n"+
				"Kill blocking transactions: mahavishnu database kill-transaction --id <txn_id>"),
		rule("security_breach", "Security Breach", SeverityCritical, 1, 60, 30, []string{"security_breach"},
			"Any security breach event (manual or automated)",
			"Lock down systems: mahavishnu security lockdown\n"+
				"Preserve evidence: mahavishnu security preserve-evidence\n"+
				"Notify security team (manual)"),
	}
	clone := func(s []string) []string { return append([]string(nil), s...) }
	for i := range rules {
		r := &rules[i]
		switch r.ID {
		case "database_failure":
			r.Matchers = []Matcher{{EventTypes: append(clone(downTypes), errorTypes...), SourceContains: clone(databaseSources)}}
			r.Claims = []string{"error_burst", "service_down", "network_partition"}
		case "cache_failure":
			r.Matchers = []Matcher{
				{EventTypes: clone(errorTypes), MessageContains: clone(cacheKeywords)},
				{EventTypes: clone(errorTypes), SourceContains: []string{"redis", "memcache"}},
			}
			r.Claims = []string{"error_burst"}
		case "network_partition":
			r.Matchers = []Matcher{{EventTypes: clone(downTypes), MessageContains: clone(networkKeywords)}}
			r.Claims = []string{"service_down"}
		case "rate_limit":
			r.Matchers = []Matcher{{EventTypes: clone(errorTypes), MessageContains: clone(rateLimitKeywords)}}
			r.Claims = []string{"error_burst"}
		case "ssl_expiry":
			r.Matchers = []Matcher{{EventTypes: append(append(clone(errorTypes), downTypes...), "network_error"), MessageContains: clone(sslKeywords)}}
			r.Claims = []string{"error_burst", "service_down", "network_partition", "database_failure"}
		}
	}
	return rules
}

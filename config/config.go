// Package config loads Mahavishnu's configuration: defaults first, then the YAML file
// (settings/mahavishnu.yaml) decoded strictly, ${VAR} expansion in string values, then
// environment overrides, then validation. Errors name the exact key.
//
// Every leaf key can be overridden by an environment variable named MAHAVISHNU_ followed by
// the key path in upper case with dots replaced by underscores, e.g. api.listen ->
// MAHAVISHNU_API_LISTEN. The seed's variable names (SLACK_WEBHOOK_URL, ...) work too, with
// lower precedence. Secrets are typed (Secret) so that printing a Config shows "<secret>".
package config

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/mahavishnu/mahavishnu/remediation"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// DefaultPath is the config file used when Load is given an empty path and the file exists.
const DefaultPath = "settings/mahavishnu.yaml"

// Config is the whole configuration. The incident_response block holds exactly the seed's
// keys plus mttr_target_minutes; the other top-level blocks are this project's additions.
type Config struct {
	IncidentResponse IncidentResponseConfig `yaml:"incident_response" json:"incident_response"`
	// DataDir holds the SQLite files (incidents, embedded Temporal) and other local state.
	DataDir string `yaml:"data_dir" json:"data_dir"`
	// RulesFile names the detection rules that seed the rule store (see Rules).
	RulesFile string         `yaml:"rules_file" json:"rules_file"`
	API       APIConfig      `yaml:"api" json:"api"`
	Database  DatabaseConfig `yaml:"database" json:"database"`
	Temporal  TemporalConfig `yaml:"temporal" json:"temporal"`
}

// IncidentResponseConfig is the seed's incident_response block.
type IncidentResponseConfig struct {
	Enabled         bool `yaml:"enabled" json:"enabled"`
	AutoRemediation bool `yaml:"auto_remediation" json:"auto_remediation"`
	// AutoResolution resolves a stable incident without waiting for a human.
	AutoResolution bool `yaml:"auto_resolution" json:"auto_resolution"`
	// MTTRTargetMinutes is the time to resolve after which a breach is notified.
	MTTRTargetMinutes int `yaml:"mttr_target_minutes" json:"mttr_target_minutes"`
	// ReminderIntervalMinutes is how often an unresolved incident reminds its assignee
	// (0: never).
	ReminderIntervalMinutes int `yaml:"reminder_interval_minutes" json:"reminder_interval_minutes"`
	// Escalation is the acknowledgement targets and the escalation policy.
	Escalation    EscalationConfig    `yaml:"escalation" json:"escalation"`
	Detection     DetectionConfig     `yaml:"detection" json:"detection"`
	Remediation   RemediationConfig   `yaml:"remediation" json:"remediation"`
	Notifications NotificationsConfig `yaml:"notifications" json:"notifications"`
	Dashboard     DashboardConfig     `yaml:"dashboard" json:"dashboard"`
	Retention     RetentionConfig     `yaml:"retention" json:"retention"`
}

// DetectionConfig tunes the detector.
type DetectionConfig struct {
	// CheckIntervalSeconds is the period of the background re-evaluation.
	CheckIntervalSeconds int `yaml:"check_interval_seconds" json:"check_interval_seconds"`
	// EventRetentionSeconds is how long events stay in the detector's memory.
	EventRetentionSeconds int `yaml:"event_retention_seconds" json:"event_retention_seconds"`
	// MaxEvents caps the events held in the detector's memory.
	MaxEvents int `yaml:"max_events" json:"max_events"`
	// AttachSignalInterval is the least time between two events_attached signals to one
	// incident (a Go duration such as "1s"): attachments in between are coalesced.
	AttachSignalInterval string `yaml:"attach_signal_interval" json:"attach_signal_interval"`
}

// RemediationConfig says which actions may run without a human.
type RemediationConfig struct {
	SafeActionsOnly bool `yaml:"safe_actions_only" json:"safe_actions_only"`
	// RequireApprovalFor lists the action names that wait for an approval.
	RequireApprovalFor     []string `yaml:"require_approval_for" json:"require_approval_for"`
	ApprovalTimeoutSeconds int      `yaml:"approval_timeout_seconds" json:"approval_timeout_seconds"`
	// Actions configures what each remediation action runs (see docs/remediation.md).
	Actions map[string]remediation.ActionConfig `yaml:"actions" json:"actions,omitempty"`
}

// EscalationConfig is the acknowledgement targets per severity and the ordered
// escalation levels.
type EscalationConfig struct {
	AckTargetsMinutes AckTargetsConfig `yaml:"ack_targets_minutes" json:"ack_targets_minutes"`
	// Levels are tried in order: level 0 is on call when the incident opens; the first
	// escalation happens at the acknowledgement target, each next one after its delay.
	Levels []EscalationLevelConfig `yaml:"levels" json:"levels"`
	// Repeat is how many more times the levels are cycled through when nobody
	// acknowledges after the last one (issue 11; 0: once through).
	Repeat int `yaml:"repeat" json:"repeat"`
	// Policies are named escalation policies (issue 11), each with its own levels and
	// repeat; a heartbeat chooses one with --escalation NAME. Levels above stay the
	// default policy.
	Policies map[string]EscalationPolicyConfig `yaml:"policies" json:"policies"`
}

// EscalationPolicyConfig is one named escalation policy: levels as in
// incident_response.escalation.levels, and its own repeat.
type EscalationPolicyConfig struct {
	Levels []EscalationLevelConfig `yaml:"levels" json:"levels"`
	Repeat int                     `yaml:"repeat" json:"repeat"`
}

// AckTargetsConfig is the time to acknowledge per severity, in minutes.
type AckTargetsConfig struct {
	Critical int `yaml:"critical" json:"critical"`
	High     int `yaml:"high" json:"high"`
	Medium   int `yaml:"medium" json:"medium"`
	Low      int `yaml:"low" json:"low"`
}

// EscalationLevelConfig is one level of the escalation policy.
type EscalationLevelConfig struct {
	Name string `yaml:"name" json:"name"`
	// Channels are notification channels: slack, pagerduty, email, webhook.
	Channels []string `yaml:"channels" json:"channels"`
	// Targets name who is reached at this level (shown in the notification).
	Targets      []string `yaml:"targets" json:"targets"`
	DelayMinutes int      `yaml:"delay_minutes" json:"delay_minutes"`
	// Schedules and People are paged when the level fires (issue 11): whoever each
	// schedule has on call then, and the people named, on their own channels.
	Schedules []string `yaml:"schedules" json:"schedules,omitempty"`
	People    []string `yaml:"people" json:"people,omitempty"`
}

// AckTargets returns the acknowledgement targets as durations.
func (e EscalationConfig) AckTargets() map[schemas.Severity]time.Duration {
	m := func(n int) time.Duration { return time.Duration(n) * time.Minute }
	return map[schemas.Severity]time.Duration{
		schemas.SeverityCritical: m(e.AckTargetsMinutes.Critical), schemas.SeverityHigh: m(e.AckTargetsMinutes.High),
		schemas.SeverityMedium: m(e.AckTargetsMinutes.Medium), schemas.SeverityLow: m(e.AckTargetsMinutes.Low),
	}
}

// Policy returns the escalation levels as the workflow takes them.
func (e EscalationConfig) Policy() []schemas.EscalationLevel { return levelsPolicy(e.Levels) }

// NamedPolicies returns the named escalation policies as the workflow takes them.
func (e EscalationConfig) NamedPolicies() map[string]schemas.EscalationPolicy {
	out := make(map[string]schemas.EscalationPolicy, len(e.Policies))
	for name, p := range e.Policies {
		out[name] = schemas.EscalationPolicy{Levels: levelsPolicy(p.Levels), Repeat: p.Repeat}
	}
	return out
}

func levelsPolicy(levels []EscalationLevelConfig) []schemas.EscalationLevel {
	out := make([]schemas.EscalationLevel, len(levels))
	for i, l := range levels {
		out[i] = schemas.EscalationLevel{Name: l.Name, Channels: l.Channels, Targets: l.Targets, Schedules: l.Schedules, People: l.People,
			Delay: time.Duration(l.DelayMinutes) * time.Minute}
	}
	return out
}

// ReminderInterval returns reminder_interval_minutes as a duration.
func (c IncidentResponseConfig) ReminderInterval() time.Duration {
	return time.Duration(c.ReminderIntervalMinutes) * time.Minute
}

// NotificationsConfig holds the notification channels.
type NotificationsConfig struct {
	Slack     SlackConfig     `yaml:"slack" json:"slack"`
	PagerDuty PagerDutyConfig `yaml:"pagerduty" json:"pagerduty"`
	Email     EmailConfig     `yaml:"email" json:"email"`
	Webhook   WebhookConfig   `yaml:"webhook" json:"webhook"`
	// Teams and Mattermost are the chat channels of issue 12.
	Teams      TeamsConfig      `yaml:"teams" json:"teams"`
	Mattermost MattermostConfig `yaml:"mattermost" json:"mattermost"`
	// ThrottleSeconds: at most one notification per incident, channel and kind within it.
	ThrottleSeconds int `yaml:"throttle_seconds" json:"throttle_seconds"`
	// RateLimitPerMinute caps each channel's sends, so an event storm cannot flood it.
	RateLimitPerMinute int `yaml:"rate_limit_per_minute" json:"rate_limit_per_minute"`
	// DashboardURL and TemporalUIURL are the bases of the links in notifications; empty
	// means the manager's API address and the embedded Temporal Web UI.
	DashboardURL  string `yaml:"dashboard_url" json:"dashboard_url"`
	TemporalUIURL string `yaml:"temporal_ui_url" json:"temporal_ui_url"`
}

// WebhookConfig is the generic JSON webhook channel.
type WebhookConfig struct {
	Enabled bool   `yaml:"enabled" json:"enabled"`
	URL     Secret `yaml:"url" json:"url"`
	// Secret signs each delivery (HMAC-SHA256 in X-Mahavishnu-Signature).
	Secret           Secret   `yaml:"secret" json:"secret"`
	NotifyOnSeverity []string `yaml:"notify_on_severity" json:"notify_on_severity"`
}

// Configured reports whether the webhook can send.
func (w WebhookConfig) Configured() bool { return w.Enabled && w.URL != "" }

// SlackConfig is the Slack incoming-webhook channel.
type SlackConfig struct {
	Enabled          bool     `yaml:"enabled" json:"enabled"`
	WebhookURL       Secret   `yaml:"webhook_url" json:"webhook_url"`
	NotifyOnSeverity []string `yaml:"notify_on_severity" json:"notify_on_severity"`
	// BotToken and Channel switch Slack to the Web API (chat.postMessage, threads per
	// incident, buttons); APIURL is its base; SigningSecret verifies interactions.
	BotToken      Secret `yaml:"bot_token" json:"bot_token"`
	Channel       string `yaml:"channel" json:"channel"`
	APIURL        string `yaml:"api_url" json:"api_url"`
	SigningSecret Secret `yaml:"signing_secret" json:"signing_secret"`
}

// WebAPI reports whether Slack posts through the Web API (bot token and channel set).
func (s SlackConfig) WebAPI() bool { return s.BotToken != "" && s.Channel != "" }

// TeamsConfig is the Microsoft Teams channel: Adaptive Cards posted to a Workflows (or
// legacy incoming) webhook URL.
type TeamsConfig struct {
	Enabled          bool     `yaml:"enabled" json:"enabled"`
	WebhookURL       Secret   `yaml:"webhook_url" json:"webhook_url"`
	NotifyOnSeverity []string `yaml:"notify_on_severity" json:"notify_on_severity"`
}

// Configured reports whether Teams is enabled and has a webhook URL.
func (t TeamsConfig) Configured() bool { return t.Enabled && t.WebhookURL != "" }

// MattermostConfig is the Mattermost channel: its Slack-compatible incoming webhook.
type MattermostConfig struct {
	Enabled          bool     `yaml:"enabled" json:"enabled"`
	WebhookURL       Secret   `yaml:"webhook_url" json:"webhook_url"`
	NotifyOnSeverity []string `yaml:"notify_on_severity" json:"notify_on_severity"`
}

// Configured reports whether Mattermost is enabled and has a webhook URL.
func (m MattermostConfig) Configured() bool { return m.Enabled && m.WebhookURL != "" }

// PagerDutyConfig is the PagerDuty channel. ServiceKey is the Events API v2 routing
// (integration) key that pages; APIKey is the REST API token.
type PagerDutyConfig struct {
	Enabled          bool     `yaml:"enabled" json:"enabled"`
	APIKey           Secret   `yaml:"api_key" json:"api_key"`
	ServiceKey       Secret   `yaml:"service_key" json:"service_key"`
	NotifyOnSeverity []string `yaml:"notify_on_severity" json:"notify_on_severity"`
	// EventsURL is the Events API v2 endpoint.
	EventsURL string `yaml:"events_url" json:"events_url"`
}

// EmailConfig is the SMTP channel.
type EmailConfig struct {
	Enabled     bool   `yaml:"enabled" json:"enabled"`
	SMTPServer  string `yaml:"smtp_server" json:"smtp_server"`
	SMTPPort    int    `yaml:"smtp_port" json:"smtp_port"`
	FromAddress string `yaml:"from_address" json:"from_address"`
	// To lists the recipients.
	To           []string `yaml:"to" json:"to"`
	SMTPUsername string   `yaml:"smtp_username" json:"smtp_username"`
	SMTPPassword Secret   `yaml:"smtp_password" json:"smtp_password"`
	// TLSPolicy is mandatory (STARTTLS required), opportunistic, none or implicit (SMTPS).
	TLSPolicy        string   `yaml:"tls_policy" json:"tls_policy"`
	NotifyOnSeverity []string `yaml:"notify_on_severity" json:"notify_on_severity"`
}

// DashboardConfig configures the web dashboard.
type DashboardConfig struct {
	Enabled                bool `yaml:"enabled" json:"enabled"`
	Port                   int  `yaml:"port" json:"port"`
	RefreshIntervalSeconds int  `yaml:"refresh_interval_seconds" json:"refresh_interval_seconds"`
}

// RetentionConfig says how long records are kept.
type RetentionConfig struct {
	ResolvedIncidentsDays int `yaml:"resolved_incidents_days" json:"resolved_incidents_days"`
	EventHistoryDays      int `yaml:"event_history_days" json:"event_history_days"`
	PostmortemsDays       int `yaml:"postmortems_days" json:"postmortems_days"`
	// Schedule is when the housekeeping workflow runs: a Go duration ("1h": every hour)
	// or a five-field cron expression ("0 3 * * *"), in UTC. See ScheduleSpec.
	Schedule string `yaml:"schedule" json:"schedule"`
}

// ScheduleSpec parses Schedule: exactly one of interval and cron is set.
func (r RetentionConfig) ScheduleSpec() (interval time.Duration, cron string, err error) {
	s := strings.TrimSpace(r.Schedule)
	if d, derr := time.ParseDuration(s); derr == nil {
		if d < time.Minute || d > 31*24*time.Hour {
			return 0, "", fmt.Errorf("want a duration from 1m to 744h, got %q", r.Schedule)
		}
		return d, "", nil
	}
	if _, cerr := cronParser.Parse(s); cerr != nil || s == "" {
		return 0, "", fmt.Errorf("want a duration such as 1h or a five-field cron expression such as \"0 3 * * *\", got %q", r.Schedule)
	}
	return 0, s, nil
}

// cronParser accepts what Temporal schedules accept in a cron string: five fields, or a
// descriptor such as @hourly or @daily.
var cronParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// EventHistory is event_history_days as a duration.
func (r RetentionConfig) EventHistory() time.Duration { return days(r.EventHistoryDays) }

// ResolvedIncidents is resolved_incidents_days as a duration.
func (r RetentionConfig) ResolvedIncidents() time.Duration { return days(r.ResolvedIncidentsDays) }

// Postmortems is postmortems_days as a duration.
func (r RetentionConfig) Postmortems() time.Duration { return days(r.PostmortemsDays) }

func days(n int) time.Duration { return time.Duration(n) * 24 * time.Hour }

// APIConfig configures the HTTP API server.
type APIConfig struct {
	// Listen is the host:port the API and dashboard listen on.
	Listen string `yaml:"listen" json:"listen"`
	// Token is the bootstrap admin bearer token; empty means none (issue tokens with
	// `mahavishnu tokens create`; with no token at all only loopback clients may write).
	Token Secret `yaml:"token" json:"token"`
	// Access control (issue 10, docs/security.md).
	// PublicURL is the address users reach the dashboard at; https makes the session
	// cookie Secure even behind a TLS-terminating proxy.
	PublicURL string `yaml:"public_url" json:"public_url"`
	// SessionHours is how long a dashboard login lasts.
	SessionHours int `yaml:"session_hours" json:"session_hours"`
	// TrustedProxy names an authenticating proxy whose user header is an identity.
	TrustedProxy TrustedProxyConfig `yaml:"trusted_proxy" json:"trusted_proxy"`
}

// TrustedProxyConfig is an SSO proxy (oauth2-proxy and the like) in front of the API.
type TrustedProxyConfig struct {
	// CIDRs are the proxy's addresses; empty disables the option.
	CIDRs []string `yaml:"cidrs" json:"cidrs"`
	// Header carries the authenticated user's name.
	Header string `yaml:"header" json:"header"`
	// Roles are "name=role" pairs; users not listed get DefaultRole ("" refuses them).
	Roles       []string `yaml:"roles" json:"roles"`
	DefaultRole string   `yaml:"default_role" json:"default_role"`
}

// DatabaseConfig configures the incident store.
type DatabaseConfig struct {
	// URL is sqlite:///relative/path (relative to data_dir), sqlite:////absolute/path or
	// postgres://user:pass@host:5432/db.
	URL Secret `yaml:"url" json:"url"`
}

// TemporalConfig says which Temporal server to use.
type TemporalConfig struct {
	// Address is host:port of an existing Temporal frontend; empty runs the embedded server.
	Address   string `yaml:"address" json:"address"`
	Namespace string `yaml:"namespace" json:"namespace"`
	TaskQueue string `yaml:"task_queue" json:"task_queue"`
	// APIKey and TLS secure the connection to a Temporal cluster (issue 10).
	APIKey   Secret                 `yaml:"api_key" json:"api_key"`
	TLS      TemporalTLSConfig      `yaml:"tls" json:"tls"`
	Embedded EmbeddedTemporalConfig `yaml:"embedded" json:"embedded"`
}

// TemporalTLSConfig is TLS (and mTLS with a client certificate) to a Temporal cluster.
type TemporalTLSConfig struct {
	// Enabled uses TLS with the system roots even without the files below.
	Enabled bool `yaml:"enabled" json:"enabled"`
	// CertFile and KeyFile are the client certificate presented for mTLS.
	CertFile string `yaml:"cert_file" json:"cert_file"`
	KeyFile  string `yaml:"key_file" json:"key_file"`
	// CAFile verifies the server instead of the system roots.
	CAFile string `yaml:"ca_file" json:"ca_file"`
	// ServerName overrides the name checked in the server certificate.
	ServerName string `yaml:"server_name" json:"server_name"`
}

// EmbeddedTemporalConfig configures the embedded Temporal server and its Web UI.
type EmbeddedTemporalConfig struct {
	FrontendPort int `yaml:"frontend_port" json:"frontend_port"`
	UIPort       int `yaml:"ui_port" json:"ui_port"`
}

// Default returns the default configuration: the seed's values plus this project's.
// It equals settings/mahavishnu.yaml loaded with an empty environment.
func Default() *Config {
	return &Config{
		IncidentResponse: IncidentResponseConfig{
			Enabled:                 true,
			AutoRemediation:         true,
			AutoResolution:          false,
			MTTRTargetMinutes:       int(schemas.DefaultMTTRTarget / time.Minute),
			ReminderIntervalMinutes: 30,
			Escalation: EscalationConfig{
				AckTargetsMinutes: AckTargetsConfig{Critical: 15, High: 60, Medium: 240, Low: 1440},
				Levels: []EscalationLevelConfig{
					{Name: "on-call", Channels: []string{"slack", "pagerduty"}},
					{Name: "tech-lead", Channels: []string{"slack", "pagerduty"}, DelayMinutes: 15},
					{Name: "engineering-manager", Channels: []string{"slack", "pagerduty", "email"}, DelayMinutes: 30},
				},
				Policies: map[string]EscalationPolicyConfig{},
			},
			Detection: DetectionConfig{
				CheckIntervalSeconds:  60,
				EventRetentionSeconds: 3600,
				MaxEvents:             10000,
				AttachSignalInterval:  "1s",
			},
			Remediation: RemediationConfig{
				SafeActionsOnly:        true,
				RequireApprovalFor:     []string{"restart_service", "rollback"},
				ApprovalTimeoutSeconds: 300,
				Actions: map[string]remediation.ActionConfig{
					// The quickstart walk's cache (README): empties data/cache below the
					// manager's working directory.
					"clear_cache": {TimeoutSeconds: 30, Command: &remediation.CommandConfig{
						Argv: []string{"find", "data/cache", "-mindepth", "1", "-print", "-delete"}}},
					"kill_zombie_processes": {Builtin: "kill_zombie_processes"},
				},
			},
			Notifications: NotificationsConfig{
				Slack: SlackConfig{
					Enabled:          true,
					NotifyOnSeverity: []string{"critical", "high", "medium"},
					APIURL:           "https://slack.com/api",
				},
				PagerDuty: PagerDutyConfig{
					Enabled:          true,
					NotifyOnSeverity: []string{"critical"},
					EventsURL:        "https://events.pagerduty.com/v2/enqueue",
				},
				Email: EmailConfig{
					Enabled:          false,
					SMTPServer:       "smtp.example.com",
					SMTPPort:         587,
					FromAddress:      "incidents@example.com",
					To:               []string{},
					TLSPolicy:        "mandatory",
					NotifyOnSeverity: []string{"critical", "high"},
				},
				Webhook: WebhookConfig{
					NotifyOnSeverity: []string{"critical", "high", "medium", "low"},
				},
				Teams:              TeamsConfig{NotifyOnSeverity: []string{"critical", "high", "medium"}},
				Mattermost:         MattermostConfig{NotifyOnSeverity: []string{"critical", "high", "medium"}},
				ThrottleSeconds:    300,
				RateLimitPerMinute: 30,
			},
			Dashboard: DashboardConfig{Enabled: true, Port: 8080, RefreshIntervalSeconds: 30},
			Retention: RetentionConfig{
				ResolvedIncidentsDays: 90,
				EventHistoryDays:      7,
				PostmortemsDays:       365,
				Schedule:              "1h",
			},
		},
		DataDir:   "./data",
		RulesFile: DefaultRulesFile,
		API:       APIConfig{Listen: "127.0.0.1:8080", SessionHours: 12, TrustedProxy: TrustedProxyConfig{CIDRs: []string{}, Header: "X-Forwarded-User", Roles: []string{}}},
		Database:  DatabaseConfig{URL: "sqlite:///incidents.db"},
		Temporal: TemporalConfig{
			Namespace: "default",
			TaskQueue: schemas.DefaultTaskQueue,
			Embedded:  EmbeddedTemporalConfig{FrontendPort: 7233, UIPort: 8233},
		},
	}
}

// DataDirAbs returns data_dir as an absolute path; a leading "~/" is the home directory.
func (c *Config) DataDirAbs() (string, error) {
	dir := c.DataDir
	if dir == "~" || strings.HasPrefix(dir, "~/") {
		home, err := os.UserHomeDir()
		if err != nil {
			return "", fmt.Errorf("data_dir: %w", err)
		}
		dir = filepath.Join(home, strings.TrimPrefix(dir, "~"))
	}
	abs, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("data_dir: %w", err)
	}
	return abs, nil
}

// DatabaseURL returns database.url's real value. It may hold a password: never log it;
// print RedactURL(c.DatabaseURL()) instead.
func (c *Config) DatabaseURL() string { return c.Database.URL.Value() }

var schemePattern = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9+.-]{0,20}$`)

// parseDatabaseURL checks a database URL and, for SQLite, returns the file path (relative
// or absolute) and query. Errors never include the URL, which may hold a password.
func parseDatabaseURL(raw string) (driver, path, query string, err error) {
	scheme, rest, ok := strings.Cut(raw, "://")
	if !ok {
		return "", "", "", fmt.Errorf("database.url: want sqlite:///path or postgres://..., got a value without a scheme")
	}
	switch strings.ToLower(scheme) {
	case "postgres", "postgresql":
		if _, err := url.Parse(raw); err != nil {
			return "", "", "", fmt.Errorf("database.url: not a valid postgres:// URL")
		}
		return "postgres", "", "", nil
	case "sqlite":
	default:
		if !schemePattern.MatchString(scheme) {
			return "", "", "", fmt.Errorf("database.url: want sqlite:///path or postgres://..., got a value without a valid scheme")
		}
		return "", "", "", fmt.Errorf("database.url: unsupported scheme %q: want sqlite:// or postgres://", scheme)
	}
	path, query, _ = strings.Cut(rest, "?")
	if !strings.HasPrefix(path, "/") || len(path) < 2 {
		return "", "", "", fmt.Errorf("database.url: want sqlite:///relative/path or sqlite:////absolute/path")
	}
	path = path[1:] // sqlite:///x.db -> x.db (relative); sqlite:////x.db -> /x.db
	if unescaped, err := url.PathUnescape(path); err == nil {
		path = unescaped
	}
	return "sqlite", path, query, nil
}

// Embedded reports whether the embedded Temporal server runs (temporal.address is empty).
func (c *Config) Embedded() bool { return c.Temporal.Address == "" }

// TemporalHostPort returns the Temporal frontend address to dial: temporal.address, or the
// embedded server's loopback frontend port.
func (c *Config) TemporalHostPort() string {
	if !c.Embedded() {
		return c.Temporal.Address
	}
	return fmt.Sprintf("127.0.0.1:%d", c.Temporal.Embedded.FrontendPort)
}

// MTTRTarget returns mttr_target_minutes as a duration.
func (c IncidentResponseConfig) MTTRTarget() time.Duration {
	return time.Duration(c.MTTRTargetMinutes) * time.Minute
}

// CheckInterval returns check_interval_seconds as a duration.
func (d DetectionConfig) CheckInterval() time.Duration {
	return time.Duration(d.CheckIntervalSeconds) * time.Second
}

// AttachInterval returns attach_signal_interval as a duration (validated by Validate).
func (d DetectionConfig) AttachInterval() time.Duration {
	v, err := time.ParseDuration(d.AttachSignalInterval)
	if err != nil {
		return time.Second
	}
	return v
}

// EventRetention returns event_retention_seconds as a duration.
func (d DetectionConfig) EventRetention() time.Duration {
	return time.Duration(d.EventRetentionSeconds) * time.Second
}

// ApprovalTimeout returns approval_timeout_seconds as a duration.
func (r RemediationConfig) ApprovalTimeout() time.Duration {
	return time.Duration(r.ApprovalTimeoutSeconds) * time.Second
}

// RemediationPolicy is what remediation.Decide weighs: auto_remediation,
// remediation.safe_actions_only and remediation.require_approval_for.
func (ir IncidentResponseConfig) RemediationPolicy() remediation.Policy {
	return remediation.Policy{AutoRemediation: ir.AutoRemediation, SafeActionsOnly: ir.Remediation.SafeActionsOnly,
		RequireApprovalFor: slices.Clone(ir.Remediation.RequireApprovalFor)}
}

// RequiresApproval reports whether action is listed in require_approval_for.
func (r RemediationConfig) RequiresApproval(action string) bool {
	return slices.Contains(r.RequireApprovalFor, action)
}

// RefreshInterval returns refresh_interval_seconds as a duration.
func (d DashboardConfig) RefreshInterval() time.Duration {
	return time.Duration(d.RefreshIntervalSeconds) * time.Second
}

// Configured reports whether Slack is enabled and has a webhook URL or a bot token and
// channel.
func (s SlackConfig) Configured() bool { return s.Enabled && (s.WebhookURL != "" || s.WebAPI()) }

// Notifies reports whether an incident of severity sev goes to Slack.
func (s SlackConfig) Notifies(sev schemas.Severity) bool {
	return severityListed(s.NotifyOnSeverity, sev)
}

// Configured reports whether PagerDuty is enabled and has a service (routing) key, which
// is what pages; an api_key alone cannot trigger an incident.
func (p PagerDutyConfig) Configured() bool { return p.Enabled && p.ServiceKey != "" }

// Notice says, when PagerDuty is enabled but cannot page, why and what to set; "" when it
// pages or is disabled. api_key is the REST API token; nothing in Mahavishnu uses it to
// page, so a config with only api_key (as the quickstart's Step 1 shows) is reported here
// rather than left silently inert.
func (p PagerDutyConfig) Notice() string {
	switch {
	case !p.Enabled || p.ServiceKey != "":
		return ""
	case p.APIKey != "":
		return "notifications.pagerduty: api_key is set but paging needs service_key, the Events API v2 integration key " +
			"of a PagerDuty service (PAGERDUTY_SERVICE_KEY); api_key (a REST API token) cannot page: nothing is paged until service_key is set"
	}
	return "notifications.pagerduty: enabled without service_key, the Events API v2 integration key of a PagerDuty service " +
		"(PAGERDUTY_SERVICE_KEY): nothing is paged until it is set"
}

// Notices are one line per enabled notification channel that sends nothing for lack of
// configuration (shown at start, by `incidents status` and by `notify test`).
func (n NotificationsConfig) Notices() []string {
	var out []string
	if msg := n.PagerDuty.Notice(); msg != "" {
		out = append(out, msg)
	}
	if n.Slack.Enabled && !n.Slack.Configured() {
		out = append(out, "notifications.slack: enabled without webhook_url (SLACK_WEBHOOK_URL): nothing is sent to Slack until it is set")
	}
	if n.Email.Enabled && !n.Email.Configured() {
		out = append(out, "notifications.email: enabled without smtp_server, from_address and recipients: no email is sent until they are set")
	}
	if n.Webhook.Enabled && !n.Webhook.Configured() {
		out = append(out, "notifications.webhook: enabled without url: nothing is sent until it is set")
	}
	return out
}

// Notifies reports whether an incident of severity sev goes to PagerDuty.
func (p PagerDutyConfig) Notifies(sev schemas.Severity) bool {
	return severityListed(p.NotifyOnSeverity, sev)
}

// Configured reports whether email is enabled and has an SMTP server and a from address.
func (e EmailConfig) Configured() bool {
	return e.Enabled && e.SMTPServer != "" && e.FromAddress != "" && len(e.To) > 0
}

// SMTPAddr returns smtp_server:smtp_port.
func (e EmailConfig) SMTPAddr() string {
	return fmt.Sprintf("%s:%d", e.SMTPServer, e.SMTPPort)
}

func severityListed(list []string, sev schemas.Severity) bool {
	for _, s := range list {
		if parsed, err := schemas.ParseSeverity(s); err == nil && parsed == sev {
			return true
		}
	}
	return false
}

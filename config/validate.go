package config

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/mail"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/mahavishnu/mahavishnu/schemas"
)

var actionName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]*$`)

// Validate checks every key and returns all problems joined, each naming its key. Secret
// values are never included. An enabled notification channel without its URL or key is
// not an error (see SlackConfig.Configured and friends).
func (c *Config) Validate() error {
	v := &validator{}
	ir := &c.IncidentResponse
	v.positive("incident_response.mttr_target_minutes", ir.MTTRTargetMinutes)
	v.positive("incident_response.detection.check_interval_seconds", ir.Detection.CheckIntervalSeconds)
	v.positive("incident_response.detection.event_retention_seconds", ir.Detection.EventRetentionSeconds)
	v.positive("incident_response.detection.max_events", ir.Detection.MaxEvents)
	if d, err := time.ParseDuration(ir.Detection.AttachSignalInterval); err != nil || d < 10*time.Millisecond || d > time.Hour {
		v.add("incident_response.detection.attach_signal_interval", "want a duration from 10ms to 1h such as 1s, got %q", ir.Detection.AttachSignalInterval)
	}
	for _, a := range ir.Remediation.RequireApprovalFor {
		if !actionName.MatchString(a) {
			v.add("incident_response.remediation.require_approval_for", "want action names like restart_service, got %q", a)
		}
	}
	v.positive("incident_response.remediation.approval_timeout_seconds", ir.Remediation.ApprovalTimeoutSeconds)
	if r := ir.Escalation.Repeat; r < 0 || r > 100 {
		v.add("incident_response.escalation.repeat", "want 0 to 100, got %d", r)
	}
	v.levels("incident_response.escalation.levels", ir.Escalation.Levels)
	for _, name := range slices.Sorted(maps.Keys(ir.Escalation.Policies)) {
		key := "incident_response.escalation.policies." + name
		if !actionName.MatchString(name) {
			v.add(key, "want a policy name like backups or business-hours (lower case, digits, - _ .)")
		}
		p := ir.Escalation.Policies[name]
		if len(p.Levels) == 0 {
			v.add(key+".levels", "a policy needs at least one level")
		}
		v.levels(key+".levels", p.Levels)
		if p.Repeat < 0 || p.Repeat > 100 {
			v.add(key+".repeat", "want 0 to 100, got %d", p.Repeat)
		}
	}

	n := &ir.Notifications
	v.httpURL("incident_response.notifications.slack.webhook_url", n.Slack.WebhookURL)
	v.severities("incident_response.notifications.slack.notify_on_severity", n.Slack.NotifyOnSeverity)
	// Issue 12: Slack Web API, Teams, Mattermost.
	if u, err := url.Parse(n.Slack.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add("incident_response.notifications.slack.api_url", "want an http:// or https:// URL such as https://slack.com/api, got %q", n.Slack.APIURL)
	}
	if (n.Slack.BotToken != "") != (n.Slack.Channel != "") {
		v.add("incident_response.notifications.slack.channel", "bot_token and channel go together: set both for the Web API, or neither")
	}
	v.httpURL("incident_response.notifications.teams.webhook_url", n.Teams.WebhookURL)
	v.severities("incident_response.notifications.teams.notify_on_severity", n.Teams.NotifyOnSeverity)
	v.httpURL("incident_response.notifications.mattermost.webhook_url", n.Mattermost.WebhookURL)
	v.severities("incident_response.notifications.mattermost.notify_on_severity", n.Mattermost.NotifyOnSeverity)
	v.severities("incident_response.notifications.pagerduty.notify_on_severity", n.PagerDuty.NotifyOnSeverity)
	v.port("incident_response.notifications.email.smtp_port", n.Email.SMTPPort)
	if n.Email.FromAddress != "" {
		if _, err := mail.ParseAddress(n.Email.FromAddress); err != nil {
			v.add("incident_response.notifications.email.from_address", "want an email address, got %q", n.Email.FromAddress)
		}
	}

	v.port("incident_response.dashboard.port", ir.Dashboard.Port)
	v.positive("incident_response.dashboard.refresh_interval_seconds", ir.Dashboard.RefreshIntervalSeconds)
	v.positive("incident_response.retention.resolved_incidents_days", ir.Retention.ResolvedIncidentsDays)
	v.positive("incident_response.retention.event_history_days", ir.Retention.EventHistoryDays)
	v.positive("incident_response.retention.postmortems_days", ir.Retention.PostmortemsDays)
	if _, _, err := ir.Retention.ScheduleSpec(); err != nil {
		v.add("incident_response.retention.schedule", "%v", err)
	}

	if c.DataDir == "" {
		v.add("data_dir", "is required")
	}
	v.hostPort("api.listen", c.API.Listen, 0)
	c.validateAccess(v)
	if c.Database.URL == "" {
		v.add("database.url", "is required (e.g. sqlite:///incidents.db)")
	} else if _, _, _, err := parseDatabaseURL(c.DatabaseURL()); err != nil {
		v.errs = append(v.errs, err)
	}

	t := &c.Temporal
	if t.Address != "" {
		v.hostPort("temporal.address", t.Address, 1)
	}
	if t.Namespace == "" {
		v.add("temporal.namespace", "is required")
	}
	if t.TaskQueue == "" {
		v.add("temporal.task_queue", "is required")
	}
	v.port("temporal.embedded.frontend_port", t.Embedded.FrontendPort)
	v.port("temporal.embedded.ui_port", t.Embedded.UIPort)
	if c.Embedded() && t.Embedded.UIPort == t.Embedded.FrontendPort {
		v.add("temporal.embedded.ui_port", "must differ from temporal.embedded.frontend_port (%d)", t.Embedded.FrontendPort)
	}
	return errors.Join(v.errs...)
}

type validator struct{ errs []error }

// escalationChannels are the channels an escalation level may name.
var escalationChannels = []string{"slack", "pagerduty", "email", "webhook"}

// levels checks escalation levels, naming each problem by its path, e.g.
// incident_response.escalation.policies.backups.levels[1].delay_minutes.
func (v *validator) levels(key string, levels []EscalationLevelConfig) {
	for i, l := range levels {
		at := fmt.Sprintf("%s[%d]", key, i)
		if strings.TrimSpace(l.Name) == "" {
			v.add(at+".name", "is required")
		}
		if l.DelayMinutes < 0 {
			v.add(at+".delay_minutes", "must not be negative, got %d", l.DelayMinutes)
		}
		for _, c := range l.Channels {
			if !slices.Contains(escalationChannels, c) {
				v.add(at+".channels", "want %s, got %q", strings.Join(escalationChannels, ", "), c)
			}
		}
		if len(l.Channels) == 0 && len(l.Schedules) == 0 && len(l.People) == 0 {
			v.add(at, "names no channels, schedules or people to reach")
		}
	}
}

func (v *validator) add(key, format string, args ...any) {
	v.errs = append(v.errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
}

func (v *validator) positive(key string, n int) {
	if n <= 0 {
		v.add(key, "must be positive, got %d", n)
	}
}

func (v *validator) port(key string, n int) {
	if n < 1 || n > 65535 {
		v.add(key, "want a port number 1-65535, got %d", n)
	}
}

func (v *validator) severities(key string, list []string) {
	for _, s := range list {
		if _, err := schemas.ParseSeverity(s); err != nil {
			v.add(key, "%v", err)
		}
	}
}

// hostPort checks a host:port value; minPort is 0 where an ephemeral port is allowed.
func (v *validator) hostPort(key, value string, minPort int) {
	_, portStr, err := net.SplitHostPort(value)
	if err != nil {
		v.add(key, "want host:port (e.g. 127.0.0.1:8080), got %q", value)
		return
	}
	port, err := strconv.Atoi(portStr)
	if err != nil || port < minPort || port > 65535 {
		v.add(key, "want a port number %d-65535, got %q", minPort, portStr)
	}
}

// httpURL checks a secret URL without ever printing it.
func (v *validator) httpURL(key string, s Secret) {
	if s == "" {
		return
	}
	u, err := url.Parse(s.Value())
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		v.add(key, "want an http:// or https:// URL (value not shown: it is a secret)")
	}
}

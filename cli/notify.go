package cli

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/activities"
	"github.com/mahavishnu/mahavishnu/config"
	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/notify/email"
	"github.com/mahavishnu/mahavishnu/notify/pagerduty"
	"github.com/mahavishnu/mahavishnu/notify/slack"
	"github.com/mahavishnu/mahavishnu/notify/webhook"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// notifications routes the workflow's notifications through the configured channels;
// it implements activities.Notifications.
type notifications struct {
	router       *notify.Router
	throttle     *notify.Throttle
	dashboardURL string
	// incidentPath is where an incident's page is below dashboardURL: the dashboard's
	// page when it is enabled, else the JSON API.
	incidentPath string
	temporalURL  string
	namespace    string
}

// channels builds each configured channel (unwrapped), by name. A channel that is enabled
// but lacks what it needs (a URL, a key, recipients) is left out with a warning.
func channels(cfg *config.Config, logger *slog.Logger) (map[string]notify.Notifier, map[string][]string, error) {
	n := cfg.IncidentResponse.Notifications
	out := map[string]notify.Notifier{notify.ChannelLog: notify.NewLog(logger)}
	sev := map[string][]string{notify.ChannelLog: {"low", "medium", "high", "critical"}}
	add := func(name string, enabled, configured bool, build func() (notify.Notifier, error), severities []string) error {
		switch {
		case !enabled:
			return nil
		case !configured:
			logger.Warn("notification channel enabled but not configured: nothing is sent there", "channel", name)
			return nil
		}
		ch, err := build()
		if err != nil {
			return fmt.Errorf("incident_response.notifications.%w", err)
		}
		out[name], sev[name] = ch, severities
		return nil
	}
	errs := []error{
		add(notify.ChannelSlack, n.Slack.Enabled, n.Slack.Configured(), func() (notify.Notifier, error) {
			return slack.New(slack.Config{WebhookURL: notify.Secret(n.Slack.WebhookURL.Value())})
		}, n.Slack.NotifyOnSeverity),
		add(notify.ChannelPagerDuty, n.PagerDuty.Enabled, n.PagerDuty.Configured(), func() (notify.Notifier, error) {
			return pagerduty.New(pagerduty.Config{RoutingKey: notify.Secret(n.PagerDuty.ServiceKey.Value()), EventsURL: n.PagerDuty.EventsURL, Source: "mahavishnu"})
		}, n.PagerDuty.NotifyOnSeverity),
		add(notify.ChannelEmail, n.Email.Enabled, n.Email.Configured(), func() (notify.Notifier, error) {
			return email.New(email.Config{Host: n.Email.SMTPServer, Port: n.Email.SMTPPort, From: n.Email.FromAddress, To: n.Email.To,
				Username: n.Email.SMTPUsername, Password: notify.Secret(n.Email.SMTPPassword.Value()), TLSPolicy: email.TLSPolicy(n.Email.TLSPolicy)})
		}, n.Email.NotifyOnSeverity),
		add(notify.ChannelWebhook, n.Webhook.Enabled, n.Webhook.Configured(), func() (notify.Notifier, error) {
			return webhook.New(webhook.Config{URL: notify.Secret(n.Webhook.URL.Value()), Secret: notify.Secret(n.Webhook.Secret.Value())})
		}, n.Webhook.NotifyOnSeverity),
	}
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	return out, sev, nil
}

func newNotifications(cfg *config.Config, logger *slog.Logger) (*notifications, error) {
	n := cfg.IncidentResponse.Notifications
	chans, sevs, err := channels(cfg, logger)
	if err != nil {
		return nil, err
	}
	limits := map[string]notify.RateLimit{}
	for name := range chans {
		if name != notify.ChannelLog {
			limits[name] = notify.RateLimit{PerMinute: n.RateLimitPerMinute}
		}
	}
	th, err := notify.NewThrottle(notify.ThrottleConfig{Interval: time.Duration(n.ThrottleSeconds) * time.Second, RateLimits: limits, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("incident_response.notifications: %w", err)
	}
	var routes []notify.Route
	for name, ch := range chans {
		sev, err := notify.ParseSeverities("incident_response.notifications."+name+".notify_on_severity", sevs[name])
		if err != nil {
			return nil, err
		}
		routes = append(routes, notify.Route{Notifier: th.Wrap(ch), Severities: sev})
	}
	router, err := notify.NewRouter(routes...)
	if err != nil {
		return nil, err
	}
	out := &notifications{router: router, throttle: th, namespace: cfg.Temporal.Namespace,
		dashboardURL: strings.TrimRight(n.DashboardURL, "/"), temporalURL: strings.TrimRight(n.TemporalUIURL, "/"),
		incidentPath: "/api/v1/incidents/"}
	if cfg.IncidentResponse.Dashboard.Enabled {
		out.incidentPath = "/incidents/"
	}
	if out.dashboardURL == "" {
		host, port, _ := net.SplitHostPort(cfg.API.Listen)
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		out.dashboardURL = "http://" + net.JoinHostPort(host, port)
	}
	if out.temporalURL == "" && cfg.Embedded() && cfg.Temporal.Embedded.UIPort != 0 {
		out.temporalURL = fmt.Sprintf("http://127.0.0.1:%d", cfg.Temporal.Embedded.UIPort)
	}
	return out, nil
}

func (n *notifications) message(in activities.NotifyInput) notify.Message {
	inc := in.Incident
	m := notify.Message{
		IncidentID: inc.IncidentID, Kind: notify.Kind(in.Kind), Title: inc.Title, Type: inc.IncidentType,
		Severity: inc.Severity, Status: inc.Status, Source: inc.Source, Text: in.Text, At: in.At,
		Links: notify.Links{Dashboard: n.dashboardURL + n.incidentPath + inc.IncidentID},
	}
	if m.At.IsZero() {
		m.At = time.Now().UTC()
	}
	if n.temporalURL != "" {
		m.Links.TemporalUI = schemas.WorkflowUIURL(n.temporalURL, n.namespace, inc.WorkflowID, inc.RunID)
	}
	if len(in.Targets) > 0 {
		m.Fields = append(m.Fields, notify.Field{Name: "Escalated to", Value: strings.Join(in.Targets, ", ")})
	}
	if inc.AssignedTo != "" {
		m.Fields = append(m.Fields, notify.Field{Name: "Assigned to", Value: inc.AssignedTo})
	}
	return m
}

// Route names the channels for a notification: an escalation level's channels (those
// configured) plus the log, or the channels routed by severity.
func (n *notifications) Route(in activities.NotifyInput) []string {
	var names []string
	if len(in.Channels) > 0 {
		names = append(names, notify.ChannelLog)
		for _, ch := range in.Channels {
			if _, ok := n.router.Notifier(ch); ok && ch != notify.ChannelLog {
				names = append(names, ch)
			}
		}
		return names
	}
	for _, ch := range n.router.Route(n.message(in)) {
		names = append(names, ch.Name())
	}
	return names
}

// Send delivers to one channel.
func (n *notifications) Send(ctx context.Context, channel string, in activities.NotifyInput) error {
	ch, ok := n.router.Notifier(channel)
	if !ok {
		return notify.Permanent(channel, fmt.Errorf("channel %q is not configured", channel))
	}
	return ch.Notify(ctx, n.message(in))
}

func notifyCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "notify",
		Usage: "notification channels",
		Subcommands: []*cli.Command{{
			Name:  "test",
			Usage: "send a real test message through a channel and print the receiver's answer",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "channel", Required: true, Usage: "slack, pagerduty, email, webhook or log"},
				outputFlag(),
			},
			Action: func(c *cli.Context) error {
				format, err := outputFormat(c)
				if err != nil {
					return err
				}
				logger := slog.New(slog.NewTextHandler(c.App.ErrWriter, nil))
				chans, _, err := channels(r.cfg, logger)
				if err != nil {
					return err
				}
				name := c.String("channel")
				ch, ok := chans[name]
				if !ok {
					return fmt.Errorf("--channel %s: not enabled or not configured (see `mahavishnu incidents config get notifications`)", name)
				}
				receipt, err := notify.Send(c.Context, ch, notify.NewTestMessage(time.Now().UTC()))
				if format == outputJSON {
					out := map[string]any{"receipt": receipt, "ok": err == nil}
					if err != nil {
						out["error"] = err.Error()
					}
					if werr := writeJSON(c.App.Writer, out); werr != nil {
						return werr
					}
				} else if err == nil {
					fmt.Fprintf(c.App.Writer, "Test message sent to %s: %d %s\n", name, receipt.Code, receipt.Response)
				}
				if err != nil {
					return fmt.Errorf("test message to %s failed: %w", name, err)
				}
				return nil
			},
		}},
	}
}

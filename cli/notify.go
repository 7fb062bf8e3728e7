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
	"github.com/mahavishnu/mahavishnu/notify/mattermost"
	"github.com/mahavishnu/mahavishnu/notify/pagerduty"
	"github.com/mahavishnu/mahavishnu/notify/slack"
	"github.com/mahavishnu/mahavishnu/notify/teams"
	"github.com/mahavishnu/mahavishnu/notify/webhook"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// notifications adapts the notify.Service to activities.Notifications: the worker's
// router lives in notify; this file only translates the config into its inputs.
type notifications struct {
	service  *notify.Service
	throttle *notify.Throttle
}

// channels builds each configured channel (unwrapped), by name. A channel that is enabled
// but lacks what it needs (a URL, a key, recipients) is left out with a warning.
//
// threads keeps the Slack Web API's thread per incident (nil: in memory).
func channels(cfg *config.Config, logger *slog.Logger, threads slack.Threads) (map[string]notify.Notifier, map[string][]string, error) {
	n := cfg.IncidentResponse.Notifications
	out := map[string]notify.Notifier{notify.ChannelLog: notify.NewLog(logger)}
	sev := map[string][]string{notify.ChannelLog: {"low", "medium", "high", "critical"}}
	for _, msg := range n.Notices() {
		logger.Warn(msg) // an enabled channel that sends nothing is said so at once
	}
	add := func(name string, enabled, configured bool, build func() (notify.Notifier, error), severities []string) error {
		if !enabled || !configured {
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
			if n.Slack.WebAPI() { // issue 12: threads and buttons
				return slack.NewAPI(slack.APIConfig{BotToken: notify.Secret(n.Slack.BotToken.Value()), Channel: n.Slack.Channel,
					APIURL: n.Slack.APIURL, Threads: threads})
			}
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
		// Issue 12: Teams and Mattermost.
		add(notify.ChannelTeams, n.Teams.Enabled, n.Teams.Configured(), func() (notify.Notifier, error) {
			return teams.New(teams.Config{WebhookURL: notify.Secret(n.Teams.WebhookURL.Value())})
		}, n.Teams.NotifyOnSeverity),
		add(notify.ChannelMattermost, n.Mattermost.Enabled, n.Mattermost.Configured(), func() (notify.Notifier, error) {
			return mattermost.New(mattermost.Config{WebhookURL: notify.Secret(n.Mattermost.WebhookURL.Value())})
		}, n.Mattermost.NotifyOnSeverity),
	}
	for _, err := range errs {
		if err != nil {
			return nil, nil, err
		}
	}
	return out, sev, nil
}

// newNotifications builds the worker's notification router from the config, with the
// throttle's windows and rate limits kept in this process.
func newNotifications(cfg *config.Config, logger *slog.Logger) (*notifications, error) {
	return buildNotifications(cfg, logger, nil, nil)
}

// newNotificationsWithStore is newNotifications with the throttle's windows and rate
// limits kept in the store, so that they hold across every worker sharing it (cluster
// mode). A nil st keeps them in this process.
func newNotificationsWithStore(cfg *config.Config, logger *slog.Logger, st *store.Store) (*notifications, error) {
	var state notify.ThrottleState
	var threads slack.Threads
	if st != nil {
		state, threads = storeThrottleState{st}, st
	}
	return buildNotifications(cfg, logger, state, threads)
}

// buildNotifications builds the notification router; state nil keeps the throttle's
// state in memory.
func buildNotifications(cfg *config.Config, logger *slog.Logger, state notify.ThrottleState, threads slack.Threads) (*notifications, error) {
	n := cfg.IncidentResponse.Notifications
	chans, sevs, err := channels(cfg, logger, threads)
	if err != nil {
		return nil, err
	}
	limits := map[string]notify.RateLimit{}
	for name := range chans {
		if name != notify.ChannelLog {
			limits[name] = notify.RateLimit{PerMinute: n.RateLimitPerMinute}
		}
	}
	th, err := notify.NewThrottle(notify.ThrottleConfig{Interval: time.Duration(n.ThrottleSeconds) * time.Second, RateLimits: limits, State: state, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("incident_response.notifications: %w", err)
	}
	routes := map[string][]schemas.Severity{}
	for name := range chans {
		sev, err := notify.ParseSeverities("incident_response.notifications."+name+".notify_on_severity", sevs[name])
		if err != nil {
			return nil, err
		}
		routes[name] = sev
	}
	svc, err := notify.NewService(notify.ServiceConfig{Channels: chans, Severities: routes, Throttle: th, Links: notificationLinks(cfg)})
	if err != nil {
		return nil, err
	}
	return &notifications{service: svc, throttle: th}, nil
}

// notificationLinks says where the links in a message point: notifications.dashboard_url
// (else the API's listen address) and notifications.temporal_ui_url (else the embedded
// server's UI).
func notificationLinks(cfg *config.Config) notify.LinkConfig {
	n := cfg.IncidentResponse.Notifications
	links := notify.LinkConfig{DashboardURL: strings.TrimRight(n.DashboardURL, "/"), IncidentPath: "/api/v1/incidents/",
		TemporalUIURL: strings.TrimRight(n.TemporalUIURL, "/"), Namespace: cfg.Temporal.Namespace}
	if cfg.IncidentResponse.Dashboard.Enabled {
		links.IncidentPath = "/incidents/"
	}
	if links.DashboardURL == "" {
		host, port, _ := net.SplitHostPort(cfg.API.Listen)
		if host == "" || host == "0.0.0.0" || host == "::" {
			host = "127.0.0.1"
		}
		links.DashboardURL = "http://" + net.JoinHostPort(host, port)
	}
	if links.TemporalUIURL == "" && cfg.Embedded() && cfg.Temporal.Embedded.UIPort != 0 {
		links.TemporalUIURL = fmt.Sprintf("http://127.0.0.1:%d", cfg.Temporal.Embedded.UIPort)
	}
	return links
}

// notifyRequest translates the activity's input.
func notifyRequest(in activities.NotifyInput) notify.Request {
	return notify.Request{Incident: in.Incident, Kind: notify.Kind(in.Kind), Text: in.Text, At: in.At,
		Channels: in.Channels, Targets: in.Targets, Action: in.Action, People: in.People}
}

// Route implements activities.Notifications.
func (n *notifications) Route(in activities.NotifyInput) []string {
	return n.service.Route(notifyRequest(in))
}

// Send implements activities.Notifications.
func (n *notifications) Send(ctx context.Context, channel string, in activities.NotifyInput) error {
	return n.service.Send(ctx, channel, notifyRequest(in))
}

// Stats returns each channel's send counters (for /healthz and /metrics).
func (n *notifications) Stats() map[string]notify.Stats { return n.throttle.Stats() }

// storeThrottleState keeps a notify.Throttle's windows and rate limits in the store.
type storeThrottleState struct{ st *store.Store }

func (s storeThrottleState) Admit(ctx context.Context, a notify.Admission) (string, error) {
	verdict, err := s.st.AdmitNotification(ctx, store.NotifyAdmission{
		IncidentID: a.Key.IncidentID, Channel: a.Key.Channel, Kind: a.Key.StoredKind(), At: a.At,
		Dedup: a.Dedup, Window: a.Window, InFlight: a.InFlight, Token: a.Token,
		Every: a.Rate.Every, Burst: a.Rate.Burst,
	})
	switch {
	case err != nil:
		return "", err
	case verdict == store.NotifyDuplicate:
		return notify.ReasonDuplicate, nil
	case verdict == store.NotifyRateLimited:
		return notify.ReasonRateLimited, nil
	case verdict != store.NotifyAdmitted:
		return "", fmt.Errorf("notification throttle: unknown verdict %q", verdict)
	}
	return "", nil
}

func (s storeThrottleState) Release(ctx context.Context, key notify.ThrottleKey, token string, sent bool) error {
	return s.st.ReleaseNotification(ctx, key.IncidentID, key.Channel, key.StoredKind(), token, sent)
}

func (s storeThrottleState) Sweep(ctx context.Context, sentBefore, reservedBefore time.Time) error {
	_, err := s.st.SweepNotifications(ctx, sentBefore, reservedBefore)
	return err
}

func notifyCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "notify",
		Usage: "notification channels",
		Subcommands: []*cli.Command{{
			Name:  "test",
			Usage: "send a real test message through a channel and print the receiver's answer",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "channel", Required: true, Usage: "slack, pagerduty, email, webhook, teams, mattermost or log"},
				outputFlag(),
			},
			Action: func(c *cli.Context) error {
				format, err := outputFormat(c)
				if err != nil {
					return err
				}
				logger := slog.New(slog.NewTextHandler(c.App.ErrWriter, nil))
				chans, _, err := channels(r.cfg, logger, nil)
				if err != nil {
					return err
				}
				name := c.String("channel")
				ch, ok := chans[name]
				if !ok {
					for _, msg := range r.cfg.IncidentResponse.Notifications.Notices() {
						if strings.HasPrefix(msg, "notifications."+name+":") {
							return fmt.Errorf("--channel %s: %s", name, strings.TrimPrefix(msg, "notifications."+name+": "))
						}
					}
					return fmt.Errorf("--channel %s: not enabled or not configured (see `mahavishnu incidents config get notifications`)", name)
				}
				receipt, err := notify.Send(c.Context, ch, notify.NewTestMessage(time.Now().UTC()))
				if format == outputJSON {
					out := map[string]any{"receipt": receipt, "ok": err == nil}
					if name == notify.ChannelSlack {
						out["slack_mode"] = "webhook" // unthreaded, no buttons
						if r.cfg.IncidentResponse.Notifications.Slack.WebAPI() {
							out["slack_mode"] = "web_api" // threads per incident, buttons
						}
					}
					if err != nil {
						out["error"] = err.Error()
					}
					if werr := writeJSON(c.App.Writer, out); werr != nil {
						return werr
					}
				} else if err == nil {
					fmt.Fprintf(c.App.Writer, "Test message sent to %s: %d %s\n", name, receipt.Code, receipt.Response)
					if name == notify.ChannelSlack && !r.cfg.IncidentResponse.Notifications.Slack.WebAPI() {
						fmt.Fprintln(c.App.Writer, "Slack is in webhook mode: messages are not threaded and carry no buttons. "+
							"Set notifications.slack.bot_token and notifications.slack.channel for threads and Acknowledge/Resolve/Approve buttons (docs/chatops.md).")
					}
				}
				if err != nil {
					return fmt.Errorf("test message to %s failed: %w", name, err)
				}
				return nil
			},
		}},
	}
}

package procedures

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/mahavishnu/mahavishnu/activities"
	"github.com/mahavishnu/mahavishnu/config"
	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// capture routes notifications exactly as the worker does (the notify.Service with the
// config's channels, severities, throttle and rate limits) but delivers them to memory.
// A channel counts when it is enabled, whether or not its secrets are set where the test
// runs: CI rarely has the production webhook URLs.
type capture struct {
	service *notify.Service
	mu      sync.Mutex
	sent    []capturedMessage
}

type capturedMessage struct {
	channel string
	msg     notify.Message
}

// sink is one captured channel.
type sink struct {
	name string
	c    *capture
}

func (s sink) Name() string { return s.name }

func (s sink) Notify(_ context.Context, m notify.Message) error {
	s.c.mu.Lock()
	defer s.c.mu.Unlock()
	s.c.sent = append(s.c.sent, capturedMessage{channel: s.name, msg: m})
	return nil
}

func newCapture(cfg *config.Config, now func() time.Time, logger *slog.Logger) (*capture, error) {
	n := cfg.IncidentResponse.Notifications
	c := &capture{}
	chans := map[string]notify.Notifier{notify.ChannelLog: sink{notify.ChannelLog, c}}
	sevs := map[string][]string{notify.ChannelLog: {"low", "medium", "high", "critical"}}
	for _, ch := range []struct {
		name       string
		enabled    bool
		severities []string
	}{
		{notify.ChannelSlack, n.Slack.Enabled, n.Slack.NotifyOnSeverity},
		{notify.ChannelPagerDuty, n.PagerDuty.Enabled, n.PagerDuty.NotifyOnSeverity},
		{notify.ChannelEmail, n.Email.Enabled, n.Email.NotifyOnSeverity},
		{notify.ChannelWebhook, n.Webhook.Enabled, n.Webhook.NotifyOnSeverity},
	} {
		if ch.enabled {
			chans[ch.name], sevs[ch.name] = sink{ch.name, c}, ch.severities
		}
	}
	limits := map[string]notify.RateLimit{}
	routes := map[string][]schemas.Severity{}
	for name := range chans {
		if name != notify.ChannelLog {
			limits[name] = notify.RateLimit{PerMinute: n.RateLimitPerMinute}
		}
		sev, err := notify.ParseSeverities("incident_response.notifications."+name+".notify_on_severity", sevs[name])
		if err != nil {
			return nil, err
		}
		routes[name] = sev
	}
	th, err := notify.NewThrottle(notify.ThrottleConfig{Interval: time.Duration(n.ThrottleSeconds) * time.Second,
		RateLimits: limits, Now: now, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("incident_response.notifications: %w", err)
	}
	svc, err := notify.NewService(notify.ServiceConfig{Channels: chans, Severities: routes, Throttle: th, Now: now,
		Links: notify.LinkConfig{DashboardURL: "http://mahavishnu.invalid", IncidentPath: "/incidents/"}})
	if err != nil {
		return nil, err
	}
	c.service = svc
	return c, nil
}

func request(in activities.NotifyInput) notify.Request {
	return notify.Request{Incident: in.Incident, Kind: notify.Kind(in.Kind), Text: in.Text, At: in.At,
		Channels: in.Channels, Targets: in.Targets, People: in.People}
}

// Route implements activities.Notifications.
func (c *capture) Route(in activities.NotifyInput) []string { return c.service.Route(request(in)) }

// Send implements activities.Notifications.
func (c *capture) Send(ctx context.Context, channel string, in activities.NotifyInput) error {
	return c.service.Send(ctx, channel, request(in))
}

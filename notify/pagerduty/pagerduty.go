// Package pagerduty is the PagerDuty channel: Events API v2. An incident opening (or
// escalating) triggers an alert whose dedup_key is the incident ID; acknowledging and
// resolving the incident acknowledge and resolve that alert.
package pagerduty

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/notify/internal/httppost"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// DefaultEventsURL is the Events API v2 endpoint (US service region).
const DefaultEventsURL = "https://events.pagerduty.com/v2/enqueue"

// Events API v2 limits and values.
const (
	// RoutingKeyLen is the length of an integration (routing) key.
	RoutingKeyLen = 32
	// MaxSummary is the longest payload.summary PagerDuty accepts.
	MaxSummary = 1024
	// MaxDedupKey is the longest dedup_key PagerDuty accepts.
	MaxDedupKey = 255

	ActionTrigger     = "trigger"
	ActionAcknowledge = "acknowledge"
	ActionResolve     = "resolve"
)

// Config configures the PagerDuty channel.
type Config struct {
	// RoutingKey is the Events API v2 integration key (notifications.pagerduty.service_key).
	RoutingKey notify.Secret
	// EventsURL overrides DefaultEventsURL (EU region, tests).
	EventsURL string
	// Source is payload.source when a message has none; default "mahavishnu".
	Source string
	// HTTPClient sends the requests; nil means a client with a 10 s timeout that does
	// not follow redirects.
	HTTPClient *http.Client
}

// Event is an Events API v2 event.
type Event struct {
	RoutingKey  string   `json:"routing_key"`
	EventAction string   `json:"event_action"`
	DedupKey    string   `json:"dedup_key,omitempty"`
	Payload     *Payload `json:"payload,omitempty"`
	Client      string   `json:"client,omitempty"`
	ClientURL   string   `json:"client_url,omitempty"`
	Links       []Link   `json:"links,omitempty"`
}

// Payload is the alert content of a trigger event.
type Payload struct {
	Summary       string         `json:"summary"`
	Source        string         `json:"source"`
	Severity      string         `json:"severity"`
	Timestamp     string         `json:"timestamp,omitempty"`
	Component     string         `json:"component,omitempty"`
	Class         string         `json:"class,omitempty"`
	CustomDetails map[string]any `json:"custom_details,omitempty"`
}

// Link is a link shown on the alert.
type Link struct {
	Href string `json:"href"`
	Text string `json:"text,omitempty"`
}

// answer is the Events API's JSON answer, on success and on error.
type answer struct {
	Status   string   `json:"status"`
	Message  string   `json:"message"`
	DedupKey string   `json:"dedup_key"`
	Errors   []string `json:"errors"`
}

// Notifier sends events to one PagerDuty integration.
type Notifier struct {
	routingKey string
	url        string
	source     string
	client     *http.Client
	red        *notify.Redactor
}

// New checks cfg and returns the channel. Errors name the key and never show the key's value.
func New(cfg Config) (*Notifier, error) {
	key := cfg.RoutingKey.Value()
	switch {
	case key == "":
		return nil, errors.New("pagerduty.service_key: is required (the Events API v2 routing key)")
	case len(key) != RoutingKeyLen:
		return nil, fmt.Errorf("pagerduty.service_key: want a %d-character Events API v2 routing key, got %d characters (value not shown: it is a secret)", RoutingKeyLen, len(key))
	}
	n := &Notifier{routingKey: key, url: cfg.EventsURL, source: cfg.Source, client: cfg.HTTPClient}
	if n.url == "" {
		n.url = DefaultEventsURL
	}
	if u, err := url.Parse(n.url); err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return nil, fmt.Errorf("pagerduty.events_url: want an http:// or https:// URL, got %q", n.url)
	}
	if n.source == "" {
		n.source = "mahavishnu"
	}
	if n.client == nil {
		n.client = httppost.NewClient()
	}
	n.red = notify.NewRedactor(key)
	return n, nil
}

// Name returns notify.ChannelPagerDuty.
func (n *Notifier) Name() string { return notify.ChannelPagerDuty }

// Handles reports the kinds PagerDuty takes: opened and escalated (trigger), acknowledged,
// resolved, and test. Reminders, approvals and MTTR breaches stay in chat and email.
func (n *Notifier) Handles(k notify.Kind) bool {
	switch k {
	case notify.KindOpened, notify.KindEscalated, notify.KindAcknowledged, notify.KindResolved, notify.KindTest:
		return true
	}
	return false
}

// Notify sends the event for m.
func (n *Notifier) Notify(ctx context.Context, m notify.Message) error {
	_, err := n.Send(ctx, m)
	return err
}

// Send sends the event for m and returns PagerDuty's answer. A test message triggers an
// alert and resolves it at once, so that it pages nobody for long. 429 and 5xx are
// retryable; 400 (an invalid event) is not and its message is in the error.
func (n *Notifier) Send(ctx context.Context, m notify.Message) (notify.Receipt, error) {
	if err := m.Validate(); err != nil {
		return notify.Receipt{}, notify.Permanent(notify.ChannelPagerDuty, err)
	}
	if !n.Handles(m.Kind) {
		return notify.Receipt{}, notify.Permanent(notify.ChannelPagerDuty, fmt.Errorf("kind %q is not sent to PagerDuty", m.Kind))
	}
	receipt, err := n.post(ctx, BuildEvent(n.routingKey, n.source, m))
	if err != nil || m.Kind != notify.KindTest {
		return receipt, err
	}
	resolve := Event{RoutingKey: n.routingKey, EventAction: ActionResolve, DedupKey: dedupKey(m)}
	if _, err := n.post(ctx, resolve); err != nil {
		return receipt, fmt.Errorf("test alert triggered but not resolved: %w", err)
	}
	receipt.Response += " (test alert resolved)"
	return receipt, nil
}

func (n *Notifier) post(ctx context.Context, ev Event) (notify.Receipt, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return notify.Receipt{}, notify.Permanent(notify.ChannelPagerDuty, fmt.Errorf("encode event: %w", err))
	}
	resp, err := httppost.Post(ctx, n.client, httppost.Request{
		Channel: notify.ChannelPagerDuty, URL: n.url, Body: body, Redactor: n.red,
	})
	if err != nil {
		return notify.Receipt{}, err
	}
	shown := resp.Shown(n.red)
	if resp.Code < 200 || resp.Code > 299 {
		detail := shown
		var a answer
		if json.Unmarshal(resp.Body, &a) == nil && a.Message != "" {
			detail = a.Message
			if len(a.Errors) > 0 {
				detail += ": " + strings.Join(a.Errors, "; ")
			}
		}
		return notify.Receipt{}, httppost.StatusError(notify.ChannelPagerDuty, resp, notify.Truncate(detail, 512), n.red, time.Now())
	}
	return notify.Receipt{Channel: notify.ChannelPagerDuty, Code: resp.Code, Response: shown}, nil
}

// BuildEvent returns the event for m: trigger for opened, escalated and test (with the
// full payload), acknowledge and resolve with the dedup key only. source is the
// payload.source when m has none.
func BuildEvent(routingKey, source string, m notify.Message) Event {
	ev := Event{RoutingKey: routingKey, DedupKey: dedupKey(m)}
	switch m.Kind {
	case notify.KindAcknowledged:
		ev.EventAction = ActionAcknowledge
		return ev
	case notify.KindResolved:
		ev.EventAction = ActionResolve
		return ev
	}
	ev.EventAction = ActionTrigger
	summary := m.Subject()
	if m.Kind != notify.KindOpened {
		summary = m.Kind.Label() + ": " + summary
	}
	if m.Source != "" {
		source = m.Source
	}
	details := map[string]any{
		"incident_id":   m.IncidentID,
		"incident_type": m.Type,
		"severity":      string(m.Severity),
		"kind":          string(m.Kind),
	}
	for k, v := range map[string]string{"status": string(m.Status), "text": m.Text, "actor": m.Actor,
		"dashboard_url": m.Links.Dashboard, "temporal_ui_url": m.Links.TemporalUI} {
		if v != "" {
			details[k] = v
		}
	}
	for _, f := range m.Fields {
		details[f.Name] = f.Value
	}
	ev.Payload = &Payload{
		Summary:       notify.OneLine(summary, MaxSummary),
		Source:        notify.OneLine(source, 255),
		Severity:      Severity(m.Severity),
		Timestamp:     m.Time().UTC().Format(time.RFC3339),
		Class:         m.Type,
		CustomDetails: details,
	}
	ev.Client = "Mahavishnu Incident Response"
	ev.ClientURL = m.Links.Dashboard
	if m.Links.Dashboard != "" {
		ev.Links = append(ev.Links, Link{Href: m.Links.Dashboard, Text: "Incident dashboard"})
	}
	if m.Links.TemporalUI != "" {
		ev.Links = append(ev.Links, Link{Href: m.Links.TemporalUI, Text: "Temporal workflow history"})
	}
	return ev
}

// Severity maps an incident severity to PagerDuty's: critical->critical, high->error,
// medium->warning, low->info.
func Severity(s schemas.Severity) string {
	switch s {
	case schemas.SeverityCritical:
		return "critical"
	case schemas.SeverityHigh:
		return "error"
	case schemas.SeverityMedium:
		return "warning"
	}
	return "info"
}

func dedupKey(m notify.Message) string { return notify.Truncate(m.IncidentID, MaxDedupKey) }

package notify

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// Service is the notification router the worker uses: for each notification the incident
// workflow asks for (a Request), it builds the Message (links to the dashboard and the
// Temporal Web UI, escalation targets, assignee), picks the channels (an escalation
// level's channels, or the channels routed by severity), and sends it to one channel at a
// time through the Throttle. It knows nothing of the config file: the CLI translates the
// config into a ServiceConfig.
//
// Send is called once per channel so that the caller (the Notify activity) can record and
// retry each channel's delivery on its own.
type Service struct {
	router *Router
	// channels are the configured channels behind the throttle, by name.
	channels map[string]Notifier
	throttle *Throttle
	links    LinkConfig
	now      func() time.Time
}

// ServiceConfig is what a Service is built from.
type ServiceConfig struct {
	// Channels are the configured channels by name (Notifier.Name must equal the key). The
	// log channel is usually among them.
	Channels map[string]Notifier
	// Severities lists, per channel name, the severities routed to it (notify_on_severity).
	// A channel without severities is reached only by name (an escalation level).
	Severities map[string][]schemas.Severity
	// Throttle, when set, wraps every channel (deduplication, rate limits, Stats).
	Throttle *Throttle
	// Links says where the links in a message point.
	Links LinkConfig
	// Now is the clock for requests without a time; nil means time.Now.
	Now func() time.Time
}

// LinkConfig says where a message's links point.
type LinkConfig struct {
	// DashboardURL is the dashboard's base URL (http://host:port), without trailing slash.
	DashboardURL string
	// IncidentPath is where an incident's page is below DashboardURL, ending in "/": the
	// dashboard's page ("/incidents/") or the JSON API ("/api/v1/incidents/").
	IncidentPath string
	// TemporalUIURL is the Temporal Web UI's base URL; empty leaves the link out.
	TemporalUIURL string
	// Namespace is the Temporal namespace of the incident workflows.
	Namespace string
}

// Request is one notification about an incident, as the workflow asks for it.
type Request struct {
	Incident schemas.Incident
	Kind     Kind
	// Text is the message body.
	Text string
	// At is when the workflow asked (stable across retries); zero means now.
	At time.Time
	// Channels, when set, are an escalation level's channels: the configured ones among
	// them get the message, and the log always does. Otherwise it is routed by severity.
	Channels []string
	// Targets are the people an escalation notifies ("Escalated to").
	Targets []string
	// Action is the action an approval request or expiry is about (Message.Action).
	Action string
	// People are paged on their own channels (see Message.Recipients): the channels that
	// reach them (slack for a Slack user, email for an address) are added to the route.
	People []schemas.Contact
}

// NewService builds a Service. Routes are kept in a stable order: the log channel first,
// then the others by name.
func NewService(cfg ServiceConfig) (*Service, error) {
	var errs []error
	for name := range cfg.Severities {
		if _, ok := cfg.Channels[name]; !ok {
			errs = append(errs, fmt.Errorf("channel %q has severities but is not configured", name))
		}
	}
	names := make([]string, 0, len(cfg.Channels))
	for name, n := range cfg.Channels {
		if n == nil {
			errs = append(errs, fmt.Errorf("channel %q: notifier is nil", name))
			continue
		}
		if n.Name() != name {
			errs = append(errs, fmt.Errorf("channel %q: notifier is named %q", name, n.Name()))
			continue
		}
		names = append(names, name)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortFunc(names, func(a, b string) int {
		switch {
		case a == b:
			return 0
		case a == ChannelLog:
			return -1
		case b == ChannelLog:
			return 1
		}
		return strings.Compare(a, b)
	})
	s := &Service{channels: map[string]Notifier{}, throttle: cfg.Throttle, links: cfg.Links, now: cfg.Now}
	if s.now == nil {
		s.now = time.Now
	}
	routes := make([]Route, 0, len(names))
	for _, name := range names {
		n := cfg.Channels[name]
		if s.throttle != nil {
			n = s.throttle.Wrap(n)
		}
		s.channels[name] = n
		routes = append(routes, Route{Notifier: n, Severities: cfg.Severities[name]})
	}
	router, err := NewRouter(routes...)
	if err != nil {
		return nil, err
	}
	s.router = router
	return s, nil
}

// Message builds the message of r.
func (s *Service) Message(r Request) Message {
	inc := r.Incident
	m := Message{
		IncidentID: inc.IncidentID, Kind: r.Kind, Title: inc.Title, Type: inc.IncidentType,
		Severity: inc.Severity, Status: inc.Status, Source: inc.Source, Text: r.Text, At: r.At,
		Action: r.Action, Links: Links{Dashboard: s.links.DashboardURL + s.links.IncidentPath + inc.IncidentID},
	}
	if m.At.IsZero() {
		m.At = s.now().UTC()
	}
	if s.links.TemporalUIURL != "" {
		m.Links.TemporalUI = schemas.WorkflowUIURL(s.links.TemporalUIURL, s.links.Namespace, inc.WorkflowID, inc.RunID)
	}
	if len(r.Targets) > 0 {
		m.Fields = append(m.Fields, Field{Name: "Escalated to", Value: strings.Join(r.Targets, ", ")})
	}
	if inc.AssignedTo != "" {
		m.Fields = append(m.Fields, Field{Name: "Assigned to", Value: inc.AssignedTo})
	}
	if r.Kind == KindApprovalRequested && m.Action == "" {
		m.Action = ApprovalAction(r.Text)
	}
	m.Recipients = r.People
	return m
}

// approvalText is how the incident workflow words an approval request (workflows/response.go
// requestApproval): "approval needed to run ACTION: ...". The wording is part of recorded
// histories, so it changes only behind a workflow version.
var approvalText = regexp.MustCompile(`^approval needed to run ([a-z0-9][a-z0-9_.-]*):`)

// ApprovalAction returns the action an approval request's text names, or "".
func ApprovalAction(text string) string {
	if m := approvalText.FindStringSubmatch(text); m != nil {
		return m[1]
	}
	return ""
}

// Route names the channels r goes to: an escalation level's channels (those configured)
// plus the log, or the channels routed by the incident's severity and the message kind.
func (s *Service) Route(r Request) []string {
	var names []string
	if len(r.Channels) > 0 {
		names = append(names, ChannelLog)
		for _, ch := range r.Channels {
			if _, ok := s.channels[ch]; ok && ch != ChannelLog && !slices.Contains(names, ch) {
				names = append(names, ch)
			}
		}
		return s.routePeople(names, r.People)
	}
	for _, n := range s.router.Route(s.Message(r)) {
		names = append(names, n.Name())
	}
	return s.routePeople(names, r.People)
}

// routePeople adds the configured channels that reach the paged people.
func (s *Service) routePeople(names []string, people []Contact) []string {
	for _, p := range people {
		for _, c := range []struct {
			ch  string
			has bool
		}{{ChannelSlack, p.SlackUser != ""}, {ChannelEmail, p.Email != ""}} {
			if _, ok := s.channels[c.ch]; ok && c.has && !slices.Contains(names, c.ch) {
				names = append(names, c.ch)
			}
		}
	}
	return names
}

// Contact is a paged person's contact details.
type Contact = schemas.Contact

// Send delivers r to one channel. An unconfigured channel is a permanent error; a send the
// throttle holds back matches ErrSuppressed.
func (s *Service) Send(ctx context.Context, channel string, r Request) error {
	n, ok := s.channels[channel]
	if !ok {
		return Permanent(channel, fmt.Errorf("channel %q is not configured", channel))
	}
	return n.Notify(ctx, s.Message(r))
}

// Channels returns the configured channel names, the log first.
func (s *Service) Channels() []string { return s.router.Channels() }

// Stats returns the throttle's per-channel counters (nil without a throttle).
func (s *Service) Stats() map[string]Stats {
	if s.throttle == nil {
		return nil
	}
	return s.throttle.Stats()
}

package notify

import (
	"errors"
	"fmt"
	"slices"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// Route sends the severities listed to one channel.
type Route struct {
	Notifier Notifier
	// Severities the channel receives (a channel's notify_on_severity). An empty list
	// routes nothing there: the channel is reachable only by name (Router.Notifier).
	Severities []schemas.Severity
}

// Router picks the channels of a message by its severity and kind.
type Router struct {
	routes []Route
}

// NewRouter returns a Router over routes, kept in the order given (the order Route
// returns). Channel names must be unique and severities valid.
func NewRouter(routes ...Route) (*Router, error) {
	var errs []error
	seen := map[string]bool{}
	for i, r := range routes {
		if r.Notifier == nil {
			errs = append(errs, fmt.Errorf("route %d: notifier is nil", i))
			continue
		}
		name := r.Notifier.Name()
		if seen[name] {
			errs = append(errs, fmt.Errorf("route %d: channel %q is routed twice", i, name))
		}
		seen[name] = true
		for _, sev := range r.Severities {
			if !sev.Valid() {
				errs = append(errs, fmt.Errorf("route %d (channel %q): invalid severity %q", i, name, sev))
			}
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return &Router{routes: slices.Clone(routes)}, nil
}

// Route returns the channels m goes to: those whose severities include m.Severity and
// that handle m.Kind (see KindFilter).
func (r *Router) Route(m Message) []Notifier {
	var out []Notifier
	for _, route := range r.routes {
		if slices.Contains(route.Severities, m.Severity) && Handles(route.Notifier, m.Kind) {
			out = append(out, route.Notifier)
		}
	}
	return out
}

// Notifier returns the channel named name, whatever its severities.
func (r *Router) Notifier(name string) (Notifier, bool) {
	for _, route := range r.routes {
		if route.Notifier.Name() == name {
			return route.Notifier, true
		}
	}
	return nil, false
}

// Channels returns the names of every routed channel, in route order.
func (r *Router) Channels() []string {
	names := make([]string, len(r.routes))
	for i, route := range r.routes {
		names[i] = route.Notifier.Name()
	}
	return names
}

// ParseSeverities parses a notify_on_severity list (any letter case). key names the config
// key in the error.
func ParseSeverities(key string, list []string) ([]schemas.Severity, error) {
	out := make([]schemas.Severity, 0, len(list))
	for _, s := range list {
		sev, err := schemas.ParseSeverity(s)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", key, err)
		}
		if !slices.Contains(out, sev) {
			out = append(out, sev)
		}
	}
	return out, nil
}

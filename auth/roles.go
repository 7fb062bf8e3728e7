// Package auth holds who may do what: the roles a token or a person has, the permissions
// each role grants, and the identity a request carries through the code.
package auth

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// Role is what an identity may do. Every token and every person has exactly one.
type Role string

// The roles, from least to most powerful, plus Ingest, which is apart: it is what
// monitoring systems get and allows posting events and nothing else.
const (
	Viewer    Role = "viewer"
	Responder Role = "responder"
	Approver  Role = "approver"
	Admin     Role = "admin"
	Ingest    Role = "ingest"
)

// Roles lists every role, in the order help text and docs show them.
var Roles = []Role{Viewer, Responder, Approver, Admin, Ingest}

// Permission is one kind of operation.
type Permission string

const (
	// Read: list and show incidents, events, timelines, rules, metrics.
	Read Permission = "read"
	// PostEvents: POST events and Alertmanager alerts, heartbeat pings.
	PostEvents Permission = "ingest"
	// Respond: acknowledge, assign, update, resolve, close, run safe actions, silences.
	Respond Permission = "respond"
	// Approve: approve or reject unsafe actions.
	Approve Permission = "approve"
	// Administer: rules, config, tokens, people, schedules, retention.
	Administer Permission = "admin"
)

var grants = map[Role][]Permission{
	Viewer:    {Read},
	Responder: {Read, PostEvents, Respond},
	Approver:  {Read, PostEvents, Respond, Approve},
	Admin:     {Read, PostEvents, Respond, Approve, Administer},
	Ingest:    {PostEvents},
}

// Can reports whether the role grants p. An unknown role grants nothing.
func (r Role) Can(p Permission) bool { return slices.Contains(grants[r], p) }

// ParseRole reads a role name as a user typed it.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if _, ok := grants[r]; !ok {
		names := make([]string, len(Roles))
		for i, x := range Roles {
			names[i] = string(x)
		}
		return "", fmt.Errorf("unknown role %q (want one of %s)", s, strings.Join(names, ", "))
	}
	return r, nil
}

// Identity is who is making a request.
type Identity struct {
	// Name is the token's or person's name; it becomes the actor of every write.
	Name string
	Role Role
	// Authenticated is false in the no-token loopback mode of the quickstart, where
	// names are self-asserted; the timeline marks such actors as unauthenticated.
	Authenticated bool
	// Via says how the identity was established: "token", "session", "proxy",
	// "slack", "loopback".
	Via string
}

// Can reports whether the identity's role grants p.
func (id Identity) Can(p Permission) bool { return id.Role.Can(p) }

type identityKey struct{}

// WithIdentity returns a context that carries id.
func WithIdentity(ctx context.Context, id Identity) context.Context {
	return context.WithValue(ctx, identityKey{}, id)
}

// FromContext returns the identity a context carries, if any.
func FromContext(ctx context.Context) (Identity, bool) {
	id, ok := ctx.Value(identityKey{}).(Identity)
	return id, ok
}

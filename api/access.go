package api

// Access control (issue 10, docs/security.md): who the caller is, what the route needs,
// and the audit row of every write and every refusal.

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mahavishnu/mahavishnu/auth"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// TimelineUnauthenticated marks, on an incident's timeline, a write whose actor named
// itself: the no-token loopback mode of the quickstart.
const TimelineUnauthenticated = "unauthenticated"

// routePermissions names the permission of each route that needs more than the default
// (Read for GET, Respond for other methods).
var routePermissions = map[string]auth.Permission{
	"GET /metrics":                            auth.Read,
	"POST /api/v1/events":                     auth.PostEvents,
	"POST /api/v1/alertmanager":               auth.PostEvents,
	"POST /api/v1/rules":                      auth.Administer,
	"PATCH /api/v1/rules/{id}":                auth.Administer,
	"POST /api/v1/rules/{id}/enable":          auth.Administer,
	"POST /api/v1/rules/{id}/disable":         auth.Administer,
	"POST /api/v1/incidents/{id}/approve":     auth.Approve,
	"POST /api/v1/incidents/{id}/reject":      auth.Approve,
	"GET /api/v1/audit":                       auth.Administer,
	"POST /api/v1/incidents/{id}/mitigate":    auth.Respond, // and Approve with approved_by
	"POST /api/v1/incidents/{id}/update":      auth.Respond,
	"POST /api/v1/incidents":                  auth.Respond,
	"POST /api/v1/incidents/{id}/acknowledge": auth.Respond,
	"POST /api/v1/incidents/{id}/assign":      auth.Respond,
	"POST /api/v1/incidents/{id}/resolve":     auth.Respond,
	"POST /api/v1/incidents/{id}/close":       auth.Respond,
	"POST /api/v1/silences":                   auth.Respond,
	"POST /api/v1/silences/{id}/expire":       auth.Respond,
	// Issue 11: the directory, schedules and heartbeats are configuration (admin); a
	// ping is ingest, whatever the method (GET and HEAD serve cron lines with curl).
	"POST /api/v1/people":                     auth.Administer,
	"PATCH /api/v1/people/{name}":             auth.Administer,
	"DELETE /api/v1/people/{name}":            auth.Administer,
	"POST /api/v1/schedules":                  auth.Administer,
	"DELETE /api/v1/schedules/{name}":         auth.Administer,
	"POST /api/v1/schedules/{name}/layers":    auth.Administer,
	"POST /api/v1/schedules/{name}/overrides": auth.Administer,
	"DELETE /api/v1/overrides/{id}":           auth.Administer,
	"POST /api/v1/heartbeats":                 auth.Administer,
	"DELETE /api/v1/heartbeats/{name}":        auth.Administer,
	"POST /api/v1/heartbeats/{name}/pause":    auth.Administer,
	"POST /api/v1/heartbeats/{name}/resume":   auth.Administer,
	"POST /api/v1/heartbeats/{name}/ping":     auth.PostEvents,
	"GET /api/v1/heartbeats/{name}/ping":      auth.PostEvents,
}

// permissionFor returns the permission a route pattern needs.
func permissionFor(pattern string) auth.Permission {
	if p, ok := routePermissions[pattern]; ok {
		return p
	}
	if strings.HasPrefix(pattern, "GET ") {
		return auth.Read
	}
	return auth.Respond
}

// notAuditedWhenAllowed are writes whose accepted calls are not audited: event ingest is
// recorded in the event log itself, and an audit row per batch would double its writes.
// Refused ingest calls are audited like every refusal.
var notAuditedWhenAllowed = map[string]bool{
	"POST /api/v1/events":       true,
	"POST /api/v1/alertmanager": true,
}

// identify establishes who makes the request, or returns why it may not proceed. It does
// not check the route's permission.
func (s *Server) identify(r *http.Request, write bool) (auth.Identity, error) {
	return identifyRequest(r.Context(), s.auth, r, write)
}

func identifyRequest(ctx context.Context, a *auth.Authenticator, r *http.Request, write bool) (auth.Identity, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		secret, ok := strings.CutPrefix(h, "Bearer ")
		if !ok {
			return auth.Identity{}, &httpError{status: http.StatusUnauthorized, msg: "Authorization: want a Bearer token"}
		}
		id, _, err := a.Token(ctx, secret)
		if err != nil {
			return auth.Identity{}, authError(err)
		}
		return id, nil
	}
	if id, ok, err := a.ProxyIdentity(r.RemoteAddr, r.Header.Get); ok {
		if err != nil {
			return auth.Identity{}, &httpError{status: http.StatusForbidden, msg: err.Error()}
		}
		return id, nil
	}
	required, err := a.TokensRequired(ctx)
	if err != nil {
		return auth.Identity{}, err
	}
	if required {
		return auth.Identity{}, &httpError{status: http.StatusUnauthorized, msg: auth.ErrNoToken.Error()}
	}
	// No token exists: the quickstart's loopback mode.
	if !loopbackPeer(r.RemoteAddr) {
		if write {
			return auth.Identity{}, &httpError{status: http.StatusForbidden,
				msg: "no API token exists: writes are only accepted from loopback clients (create one with `mahavishnu tokens create`)"}
		}
		return auth.Identity{Role: auth.Viewer, Via: "anonymous"}, nil
	}
	if write {
		if err := checkLoopbackWrite(r); err != nil {
			return auth.Identity{}, err
		}
	}
	return auth.Identity{Role: auth.Admin, Via: "loopback"}, nil
}

// checkLoopbackWrite refuses what a web page in a browser on this host could send
// without any token: a cross-origin or DNS-rebound request, or a "simple" (text/plain,
// form) POST that needs no CORS preflight.
func checkLoopbackWrite(r *http.Request) error {
	if origin := r.Header.Get("Origin"); origin != "" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host || !loopbackHost(u.Host) {
			return &httpError{status: http.StatusForbidden, msg: "cross-origin write refused (Origin " + fmt.Sprintf("%q", origin) + " is not this loopback server)"}
		}
	}
	if !loopbackHost(r.Host) {
		return &httpError{status: http.StatusForbidden, msg: "without an API token, reach the API as localhost or 127.0.0.1 to write"}
	}
	if r.ContentLength == 0 && r.Body == http.NoBody {
		return nil // nothing to forge: a POST without a body (expire, enable, disable)
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return &httpError{status: http.StatusUnsupportedMediaType,
			msg: "Content-Type: without an API token, writes must be application/json"}
	}
	return nil
}

func loopbackPeer(remoteAddr string) bool {
	host, _, err := net.SplitHostPort(remoteAddr)
	ip := net.ParseIP(host)
	return err == nil && ip != nil && ip.IsLoopback()
}

func authError(err error) error {
	switch {
	case errors.Is(err, auth.ErrNoToken), errors.Is(err, auth.ErrBadToken), errors.Is(err, auth.ErrRevoked), errors.Is(err, auth.ErrExpired):
		return &httpError{status: http.StatusUnauthorized, msg: err.Error()}
	}
	return err
}

func permissionError(id auth.Identity, p auth.Permission) error {
	who := "an unauthenticated caller"
	if id.Name != "" {
		who = fmt.Sprintf("%q", id.Name)
	}
	return &httpError{status: http.StatusForbidden, msg: fmt.Sprintf("%s has role %s, which may not %s", who, roleName(id.Role), permissionVerb(p))}
}

func roleName(r auth.Role) string {
	if r == "" {
		return "none"
	}
	return string(r)
}

func permissionVerb(p auth.Permission) string {
	switch p {
	case auth.Read:
		return "read"
	case auth.PostEvents:
		return "post events"
	case auth.Respond:
		return "respond to incidents (acknowledge, assign, resolve, close, safe actions, silences)"
	case auth.Approve:
		return "approve or reject unsafe actions"
	case auth.Administer:
		return "administer (rules, tokens, audit)"
	}
	return string(p)
}

// statusRecorder remembers the status a handler answered.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

// Flush lets streaming handlers flush through the recorder.
func (w *statusRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// guarded wraps a route: identity, permission, handler, audit.
func (s *Server) guarded(pattern string, h func(http.ResponseWriter, *http.Request) error) http.HandlerFunc {
	perm := permissionFor(pattern)
	write := !strings.HasPrefix(pattern, "GET ")
	return func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		id, err := s.identify(r, write)
		if err == nil && !id.Can(perm) {
			err = permissionError(id, perm)
		}
		if err != nil {
			s.writeError(rec, r, err)
			s.audit(r, pattern, id, rec.status, err)
			return
		}
		named := new(string)
		r = r.WithContext(context.WithValue(auth.WithIdentity(r.Context(), id), assertedKey{}, named))
		err = h(rec, r)
		if err != nil {
			s.writeError(rec, r, err)
		}
		if write && !(notAuditedWhenAllowed[pattern] && err == nil) {
			if !id.Authenticated && *named != "" {
				id.Name = *named // the self-asserted name, audited as unauthenticated
			}
			s.audit(r, pattern, id, rec.status, err)
		}
	}
}

// audit writes one audit row; a failure to write it is logged, not answered.
func (s *Server) audit(r *http.Request, pattern string, id auth.Identity, status int, err error) {
	writeAudit(r, s.m.Store(), s.log, pattern, id, status, err)
}

func writeAudit(r *http.Request, st *store.Store, log interface {
	Error(msg string, args ...any)
}, pattern string, id auth.Identity, status int, err error) {
	e := store.AuditEntry{At: time.Now().UTC(), Actor: id.Name, Role: string(id.Role), Authenticated: id.Authenticated, Via: id.Via,
		Action: pattern, Target: r.URL.Path, RemoteAddr: r.RemoteAddr, Status: status, Result: store.AuditAllowed}
	if strings.Contains(pattern, "/incidents/{id}") {
		e.IncidentID = r.PathValue("id")
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden || status == http.StatusUnsupportedMediaType:
		e.Result = store.AuditDenied
	case err != nil || status >= 400:
		e.Result = store.AuditFailed
	}
	var he *httpError
	if errors.As(err, &he) {
		e.Detail = he.msg
	} else if err != nil {
		e.Detail = "error"
	}
	// The request may be cancelled already; the row is written regardless.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	if aerr := st.AddAudit(ctx, e); aerr != nil {
		log.Error("audit row not written", "action", pattern, "error", aerr)
	}
}

// assertedKey carries, for the audit, the name an unauthenticated caller gave.
type assertedKey struct{}

// actor returns the name a write records as its actor: the caller's identity when it is
// authenticated (a different by is refused), else the self-asserted by.
func actor(ctx context.Context, by string) (string, error) {
	by = strings.TrimSpace(by)
	id, _ := auth.FromContext(ctx)
	if !id.Authenticated {
		if by == "" {
			return "", badRequest("by: who does this is required")
		}
		if named, ok := ctx.Value(assertedKey{}).(*string); ok {
			*named = by
		}
		return by, nil
	}
	if by != "" && by != id.Name {
		return "", &httpError{status: http.StatusForbidden,
			msg: fmt.Sprintf("by: you are authenticated as %q; a write is recorded under the caller's own identity, not %q", id.Name, by)}
	}
	return id.Name, nil
}

// approver checks an approval given with a write (mitigate --approved-by): with an
// authenticated caller it must name the caller, who must hold Approve.
func approver(ctx context.Context, approvedBy string) (string, error) {
	approvedBy = strings.TrimSpace(approvedBy)
	if approvedBy == "" {
		return "", nil
	}
	id, _ := auth.FromContext(ctx)
	if !id.Authenticated {
		return approvedBy, nil
	}
	if approvedBy != id.Name {
		return "", &httpError{status: http.StatusForbidden,
			msg: fmt.Sprintf("approved_by: you are authenticated as %q and cannot approve in the name of %q: an approval is given with the approver's own token", id.Name, approvedBy)}
	}
	if !id.Can(auth.Approve) {
		return "", permissionError(id, auth.Approve)
	}
	return id.Name, nil
}

// markUnauthenticated notes on the incident's timeline that the actor of a write named
// itself (no token exists). It is best effort: the write has happened.
func (s *Server) markUnauthenticated(ctx context.Context, incidentID, name, what string) {
	markUnauthenticated(ctx, s.m.Store(), s.log, incidentID, name, what)
}

func markUnauthenticated(ctx context.Context, st *store.Store, log interface {
	Error(msg string, args ...any)
}, incidentID, name, what string) {
	id, _ := auth.FromContext(ctx)
	if id.Authenticated || incidentID == "" {
		return
	}
	e := schemas.TimelineEntry{IncidentID: incidentID, At: time.Now().UTC(), Kind: TimelineUnauthenticated, Actor: name,
		Message: fmt.Sprintf("%s by %q: unauthenticated, the name is self-asserted (no API token exists; loopback client)", what, name)}
	if err := st.AddTimeline(context.WithoutCancel(ctx), e); err != nil {
		log.Error("unauthenticated mark not written", "incident", incidentID, "error", err)
	}
}

// statusOf returns an httpError's status, or def.
func statusOf(err error, def int) int {
	var he *httpError
	if errors.As(err, &he) {
		return he.status
	}
	return def
}

// Package api is the manager's HTTP server: event ingest, the incident JSON API and
// /healthz. Handlers return errors into one function that maps them to status codes and
// JSON bodies; internal error details are logged, never sent to clients.
package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mahavishnu/mahavishnu/auth"
	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// MaxBodyBytes bounds a request body; larger ingest requests get 413.
const MaxBodyBytes = 1 << 20

// MaxBatch is the most events one ingest request may carry.
const MaxBatch = 5000

// Options configure the server.
type Options struct {
	Manager *manager.Manager
	// Token is the config's bootstrap admin token (api.token); "" for none. Issued
	// tokens live in the store (access.go).
	Token string
	// Proxy is a trusted authenticating proxy (api.trusted_proxy); nil for none.
	Proxy *auth.Proxy
	// PublicURL is api.public_url; https makes the dashboard's session cookie Secure.
	PublicURL string
	// SessionTTL is how long a dashboard login lasts (default 12h).
	SessionTTL time.Duration
	Logger     *slog.Logger
	// WorkflowURL links an incident to the Temporal Web UI ("" when there is none).
	WorkflowURL func(workflowID, runID string) string
	// ChannelStats reports the notification channels' counters (nil: none).
	ChannelStats func() map[string]notify.Stats
	// Dashboard configures the web dashboard served at / (dashboard.go).
	Dashboard DashboardOptions
	// HealthOnly serves /healthz and /metrics only: a process without the api role.
	HealthOnly bool
	// Slack configures the Slack interactions endpoint (slack.go, issue 12).
	Slack SlackOptions
	// Declare starts an incident declared by hand (nil: POST /api/v1/incidents answers 503).
	Declare func(ctx context.Context, req DeclareRequest) (schemas.IncidentInput, error)
}

// Server is the HTTP API.
type Server struct {
	opts Options
	m    *manager.Manager
	log  *slog.Logger
	auth *auth.Authenticator
}

// New returns the API server.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	return &Server{opts: opts, m: opts.Manager, log: opts.Logger,
		auth: &auth.Authenticator{Store: opts.Manager.Store(), Bootstrap: opts.Token, Proxy: opts.Proxy}}
}

// Handler returns the routes.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	// handle mounts a route behind access control (access.go): the permission comes from
	// the pattern (routePermissions; GET needs Read, other methods Respond), so write is
	// only documentation at the call site.
	handle := func(pattern string, write bool, h func(http.ResponseWriter, *http.Request) error) {
		mux.HandleFunc(pattern, s.guarded(pattern, h))
	}
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		if err := s.health(w, r); err != nil {
			s.writeError(w, r, err)
		}
	})
	metrics := s.metricsHandler()
	handle("GET /metrics", false, func(w http.ResponseWriter, r *http.Request) error {
		metrics.ServeHTTP(w, r)
		return nil
	})
	if s.opts.HealthOnly {
		return mux
	}
	s.mountDashboard(mux, handle) // the dashboard at / when enabled, else the JSON index
	handle("POST /api/v1/events", true, s.postEvents)
	handle("GET /api/v1/events", false, s.listEvents)
	handle("GET /api/v1/incidents", false, s.listIncidents)
	handle("GET /api/v1/incidents/{id}", false, s.getIncident)
	handle("GET /api/v1/incidents/{id}/timeline", false, s.timeline)
	handle("POST /api/v1/incidents/{id}/acknowledge", true, s.acknowledge)
	handle("POST /api/v1/incidents/{id}/assign", true, s.assign)
	handle("POST /api/v1/incidents/{id}/resolve", true, s.resolve)
	handle("POST /api/v1/incidents/{id}/close", true, s.closeIncident)
	// Detection: the Alertmanager webhook, rules and silences (rules.go, silences.go,
	// alertmanager.go).
	handle("POST /api/v1/alertmanager", true, s.postAlertmanager)
	handle("GET /api/v1/rules", false, s.listRules)
	handle("POST /api/v1/rules", true, s.createRule)
	handle("GET /api/v1/rules/review", false, s.reviewRules)
	handle("GET /api/v1/rules/{id}", false, s.getRule)
	handle("PATCH /api/v1/rules/{id}", true, s.updateRule)
	handle("POST /api/v1/rules/{id}/enable", true, s.enableRule)
	handle("POST /api/v1/rules/{id}/disable", true, s.disableRule)
	handle("GET /api/v1/rules/{id}/backtest", false, s.backtestRule)
	handle("GET /api/v1/silences", false, s.listSilences)
	handle("POST /api/v1/silences", true, s.createSilence)
	handle("GET /api/v1/silences/{id}", false, s.getSilence)
	handle("POST /api/v1/silences/{id}/expire", true, s.expireSilence)
	// Issue 9: the API contract (openapi.go).
	handle("GET /api/v1/openapi.json", false, s.openAPI)
	// Issue 10: one door for every responder operation, and the audit log (response.go).
	handle("POST /api/v1/incidents", true, s.declare)
	handle("POST /api/v1/incidents/{id}/mitigate", true, s.mitigate)
	handle("POST /api/v1/incidents/{id}/approve", true, s.approve)
	handle("POST /api/v1/incidents/{id}/reject", true, s.reject)
	handle("POST /api/v1/incidents/{id}/update", true, s.updateIncident)
	handle("GET /api/v1/incidents/{id}/approvals", false, s.approvals)
	handle("GET /api/v1/audit", false, s.listAudit)
	handle("GET /api/v1/incidents/{id}/events", false, s.incidentEvents) // the CLI's reads (response.go)
	handle("GET /api/v1/activity", false, s.activity)
	handle("GET /api/v1/actions", false, s.listActions)
	handle("GET /api/v1/incidents/{id}/postmortem", false, s.postMortem)
	handle("GET /api/v1/stats/groups", false, s.incidentGroups)
	// Issue 11, on call: people, schedules, overrides, heartbeats (oncall.go, heartbeats.go).
	// Permissions: routePermissions in access.go (writes Administer, pings PostEvents).
	handle("GET /api/v1/people", false, s.listPeople)
	handle("POST /api/v1/people", true, s.createPerson)
	handle("GET /api/v1/people/{name}", false, s.getPerson)
	handle("PATCH /api/v1/people/{name}", true, s.updatePerson)
	handle("DELETE /api/v1/people/{name}", true, s.deletePerson)
	handle("GET /api/v1/schedules", false, s.listSchedules)
	handle("POST /api/v1/schedules", true, s.createSchedule)
	handle("GET /api/v1/schedules/{name}", false, s.getSchedule) // {name}.ics: iCalendar
	handle("DELETE /api/v1/schedules/{name}", true, s.deleteSchedule)
	handle("POST /api/v1/schedules/{name}/layers", true, s.addLayer)
	handle("GET /api/v1/schedules/{name}/oncall", false, s.whoOnCall)
	handle("GET /api/v1/schedules/{name}/shifts", false, s.scheduleShifts)
	handle("GET /api/v1/schedules/{name}/overrides", false, s.listOverrides)
	handle("POST /api/v1/schedules/{name}/overrides", true, s.createOverride)
	handle("DELETE /api/v1/overrides/{id}", true, s.deleteOverride)
	handle("GET /api/v1/oncall", false, s.whoOnCallAll)
	handle("GET /api/v1/heartbeats", false, s.listHeartbeats)
	handle("POST /api/v1/heartbeats", true, s.createHeartbeat)
	handle("GET /api/v1/heartbeats/{name}", false, s.getHeartbeat)
	handle("DELETE /api/v1/heartbeats/{name}", true, s.heartbeatOp(s.deleteHeartbeat, http.StatusNoContent))
	handle("POST /api/v1/heartbeats/{name}/pause", true, s.heartbeatOp(s.pauseHeartbeat, http.StatusOK))
	handle("POST /api/v1/heartbeats/{name}/resume", true, s.heartbeatOp(s.resumeHeartbeat, http.StatusOK))
	// Pings (auth.PostEvents): GET and HEAD too, so that a cron line with curl works.
	handle("POST /api/v1/heartbeats/{name}/ping", true, s.heartbeatOp(s.pingHeartbeat, http.StatusAccepted))
	handle("GET /api/v1/heartbeats/{name}/ping", true, s.heartbeatOp(s.pingHeartbeat, http.StatusAccepted))
	// Issue 12: Slack buttons and the /incident command. Slack's signature authenticates
	// these requests (slack.go), not the API token; each one is audited like a guarded write.
	mux.HandleFunc("POST /api/v1/slack/interactions", s.slackRoute("POST /api/v1/slack/interactions"))
	return mux
}

// httpError is an error with a status code and a message safe to show the client.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

func badRequest(format string, args ...any) error {
	return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf(format, args...)}
}

func (s *Server) writeError(w http.ResponseWriter, r *http.Request, err error) {
	body := map[string]any{}
	status := http.StatusInternalServerError
	var (
		he       *httpError
		fe       *schemas.FieldError
		tooLarge *http.MaxBytesError
		rej      *manager.RejectedError
		unavail  *manager.UnavailableError
	)
	switch {
	case errors.As(err, &he):
		status, body["error"] = he.status, he.msg
	case errors.As(err, &fe):
		status, body["error"], body["field"] = http.StatusBadRequest, fe.Error(), fe.Field
		if fe.Index >= 0 {
			body["index"] = fe.Index
		}
	case errors.As(err, &tooLarge):
		status, body["error"] = http.StatusRequestEntityTooLarge, fmt.Sprintf("request body larger than %d bytes", tooLarge.Limit)
	case errors.Is(err, store.ErrNotFound):
		status, body["error"] = http.StatusNotFound, "incident not found"
	case errors.As(err, &rej):
		status, body["error"] = http.StatusConflict, rej.Reason
	case errors.As(err, &unavail):
		// Nothing of the request was stored: the client sends it again.
		s.log.Error("request failed: store unavailable", "method", r.Method, "path", r.URL.Path, "error", err)
		w.Header().Set("Retry-After", "1")
		status, body["error"] = http.StatusServiceUnavailable, "the event store is unavailable: nothing was stored, send the request again"
	default:
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "error", err)
		body["error"] = "internal error"
	}
	writeJSON(w, status, body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	return io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
}

func decodeBody(w http.ResponseWriter, r *http.Request, v any) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil
	}
	dec := json.NewDecoder(strings.NewReader(string(body)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badRequest("invalid JSON body: %s", strings.TrimPrefix(err.Error(), "json: "))
	}
	return nil
}

func (s *Server) index(w http.ResponseWriter, _ *http.Request) error {
	writeJSON(w, http.StatusOK, map[string]any{
		"service": "mahavishnu incident manager",
		"endpoints": []string{"GET /healthz", "GET /metrics", "POST /api/v1/events", "GET /api/v1/events",
			"GET /api/v1/incidents", "GET /api/v1/incidents/{id}", "GET /api/v1/incidents/{id}/timeline",
			"POST /api/v1/incidents/{id}/acknowledge|assign|resolve|close|mitigate|approve|reject|update",
			"POST /api/v1/incidents", "GET /api/v1/incidents/{id}/approvals", "GET /api/v1/audit",
			"POST /api/v1/alertmanager", "GET|POST /api/v1/rules", "GET /api/v1/rules/review",
			"GET|PATCH /api/v1/rules/{id}", "POST /api/v1/rules/{id}/enable|disable", "GET /api/v1/rules/{id}/backtest",
			"GET|POST /api/v1/silences", "GET /api/v1/silences/{id}", "POST /api/v1/silences/{id}/expire",
			"GET /api/v1/openapi.json",
			"GET|POST /api/v1/people", "GET|PATCH|DELETE /api/v1/people/{name}", "GET|POST /api/v1/schedules",
			"GET|DELETE /api/v1/schedules/{name}", "GET /api/v1/schedules/{name}.ics", "POST /api/v1/schedules/{name}/layers",
			"GET /api/v1/schedules/{name}/oncall|shifts", "GET|POST /api/v1/schedules/{name}/overrides",
			"DELETE /api/v1/overrides/{id}", "GET /api/v1/oncall"},
	})
	return nil
}

// Health is the body of GET /healthz. It is built from state the manager refreshes in
// the background, so it answers at once even while Temporal or the store hangs.
type Health struct {
	Status        string                 `json:"status"`
	Reasons       []string               `json:"reasons"`
	Manager       manager.Status         `json:"manager"`
	Store         string                 `json:"store"`
	Temporal      string                 `json:"temporal"`
	Outbox        manager.OutboxHealth   `json:"outbox"`
	Detector      manager.DetectorHealth `json:"detector"`
	CheckedAt     time.Time              `json:"checked_at"`
	Notifications NotificationHealth     `json:"notifications"`
}

// NotificationHealth shows notifications that did not go out.
type NotificationHealth struct {
	// FailedLast24h counts deliveries that failed after their retries in the last day.
	FailedLast24h int `json:"failed_last_24h"`
	// Channels counts sends per channel since start (sent, failed, suppressed).
	Channels map[string]notify.Stats `json:"channels,omitempty"`
}

func (s *Server) health(w http.ResponseWriter, _ *http.Request) error {
	mh := s.m.Health()
	h := Health{Status: mh.Status, Reasons: mh.Reasons, Manager: s.m.Status(), Store: mh.Store, Temporal: mh.Temporal,
		Outbox: mh.Outbox, Detector: mh.Detector, CheckedAt: mh.CheckedAt,
		Notifications: NotificationHealth{FailedLast24h: mh.NotificationsFailed24h}}
	if s.opts.ChannelStats != nil {
		h.Notifications.Channels = s.opts.ChannelStats()
	}
	status := http.StatusOK
	if h.Status != manager.HealthOK {
		status = http.StatusServiceUnavailable
	}
	writeJSON(w, status, h)
	return nil
}

// IngestResponse is the body of a 202 answer to POST /api/v1/events.
type IngestResponse struct {
	Accepted int      `json:"accepted"`
	EventIDs []string `json:"event_ids"`
}

func (s *Server) postEvents(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	events, err := schemas.DecodeEvents(body)
	if err != nil {
		return err
	}
	if len(events) > MaxBatch {
		return &httpError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("batch of %d events: at most %d per request", len(events), MaxBatch)}
	}
	ids, err := s.m.SubmitEvents(r.Context(), events)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusAccepted, IngestResponse{Accepted: len(ids), EventIDs: ids})
	return nil
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.EventFilter{Type: q.Get("type"), Source: q.Get("source"), IncidentID: q.Get("incident_id")}
	var err error
	if f.Last, err = intParam(q.Get("last"), "last"); err != nil {
		return err
	}
	if f.Since, err = sinceParam(q.Get("since")); err != nil {
		return err
	}
	events, err := s.m.Store().ListEvents(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": nonNil(events)})
	return nil
}

func (s *Server) listIncidents(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.IncidentFilter{Status: q.Get("status"), Type: q.Get("type")}
	if f.Status != "" && f.Status != schemas.StatusActive {
		if _, err := schemas.ParseStatus(f.Status); err != nil {
			return badRequest("status: %s", err)
		}
	}
	if v := q.Get("severity"); v != "" {
		sev, err := schemas.ParseSeverity(v)
		if err != nil {
			return badRequest("severity: %s", err)
		}
		f.Severity = sev
	}
	var err error
	if f.Limit, err = intParam(q.Get("limit"), "limit"); err != nil {
		return err
	}
	if f.Since, err = sinceParam(q.Get("since")); err != nil {
		return err
	}
	incs, err := s.m.Store().ListIncidents(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"incidents": nonNil(incs)})
	return nil
}

// IncidentDetail is an incident with its links.
type IncidentDetail struct {
	schemas.Incident
	TemporalURL string `json:"temporal_url,omitempty"`
}

func (s *Server) getIncident(w http.ResponseWriter, r *http.Request) error {
	inc, err := s.m.Store().GetIncident(r.Context(), r.PathValue("id"))
	if err != nil {
		return err
	}
	d := IncidentDetail{Incident: *inc}
	if s.opts.WorkflowURL != nil {
		d.TemporalURL = s.opts.WorkflowURL(inc.WorkflowID, inc.RunID)
	}
	writeJSON(w, http.StatusOK, d)
	return nil
}

func (s *Server) timeline(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := s.m.Store().GetIncident(r.Context(), id); err != nil {
		return err
	}
	entries, err := s.m.Store().Timeline(r.Context(), id)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"timeline": nonNil(entries)})
	return nil
}

type actorRequest struct {
	By    string `json:"by"`
	To    string `json:"to"`
	Notes string `json:"notes"`
}

func (s *Server) incidentOp(w http.ResponseWriter, r *http.Request, op func(ctx context.Context, id string, req actorRequest) (*schemas.Incident, error)) error {
	var req actorRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	by, err := actor(r.Context(), req.By)
	if err != nil {
		return err
	}
	req.By = by
	inc, err := op(r.Context(), r.PathValue("id"), req)
	if err != nil {
		return err
	}
	s.markUnauthenticated(r.Context(), r.PathValue("id"), by, strings.TrimPrefix(r.URL.Path[strings.LastIndex(r.URL.Path, "/"):], "/"))
	writeJSON(w, http.StatusOK, inc)
	return nil
}

func (s *Server) acknowledge(w http.ResponseWriter, r *http.Request) error {
	return s.incidentOp(w, r, func(ctx context.Context, id string, req actorRequest) (*schemas.Incident, error) {
		return s.m.Ops().Acknowledge(ctx, id, req.By)
	})
}

func (s *Server) assign(w http.ResponseWriter, r *http.Request) error {
	return s.incidentOp(w, r, func(ctx context.Context, id string, req actorRequest) (*schemas.Incident, error) {
		if strings.TrimSpace(req.To) == "" {
			return nil, badRequest("to: the assignee is required")
		}
		return s.m.Ops().Assign(ctx, id, req.To, req.By)
	})
}

func (s *Server) resolve(w http.ResponseWriter, r *http.Request) error {
	return s.incidentOp(w, r, func(ctx context.Context, id string, req actorRequest) (*schemas.Incident, error) {
		return s.m.Ops().Resolve(ctx, id, req.By, req.Notes)
	})
}

func (s *Server) closeIncident(w http.ResponseWriter, r *http.Request) error {
	return s.incidentOp(w, r, func(ctx context.Context, id string, req actorRequest) (*schemas.Incident, error) {
		return s.m.Ops().Close(ctx, id, req.By)
	})
}

func intParam(v, name string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, badRequest("%s: want a non-negative integer, got %q", name, v)
	}
	return n, nil
}

// sinceParam parses "10m", "1h", "7d" (days allowed) or an RFC 3339 time.
func sinceParam(v string) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	t, err := ParseSince(v, time.Now())
	if err != nil {
		return time.Time{}, badRequest("since: %s", err)
	}
	return t, nil
}

// ParseSince turns "10m", "2h", "7d" or an RFC 3339 time into an instant before now.
func ParseSince(v string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t.UTC(), nil
	}
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err != nil || n < 0 {
			return time.Time{}, fmt.Errorf("want a duration like 10m, 2h, 7d or an RFC 3339 time, got %q", v)
		}
		return now.Add(-time.Duration(n) * 24 * time.Hour).UTC(), nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d < 0 {
		return time.Time{}, fmt.Errorf("want a duration like 10m, 2h, 7d or an RFC 3339 time, got %q", v)
	}
	return now.Add(-d).UTC(), nil
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

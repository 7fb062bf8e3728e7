package api

// Responder endpoints beyond acknowledge/assign/resolve/close, so that every client (the
// CLI included) goes through one door with its own identity (issue 10):
//
//	POST /api/v1/incidents                       DeclareRequest -> incident input (202)
//	POST /api/v1/incidents/{id}/mitigate         {"action", "approved_by", "by"} -> action record
//	POST /api/v1/incidents/{id}/approve|reject   {"action", "reason", "by"} -> approval
//	POST /api/v1/incidents/{id}/update           {"status", "severity", "title", "note", "by"} -> incident
//	GET  /api/v1/incidents/{id}/approvals        -> pending approvals (asks the workflow)
//	GET  /api/v1/audit?since=&actor=&incident_id= -> audit rows (admin)
//	GET  /api/v1/incidents/{id}/events           -> every attached event, oldest first
//	GET  /api/v1/incidents/{id}/postmortem       -> {"incident_id", "markdown", "written_at"}
//	GET  /api/v1/activity?incident_id=&since=&kind=&exclude_kind=&last= -> timeline entries
//	GET  /api/v1/actions?incident_id=&since=&last= -> remediation action runs
//	GET  /api/v1/stats/groups?since=&severity=   -> incident counts and time sums (`incidents stats`)

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// MitigateRequest is the body of POST /api/v1/incidents/{id}/mitigate.
type MitigateRequest struct {
	Action     string `json:"action"`
	ApprovedBy string `json:"approved_by,omitempty"`
	By         string `json:"by,omitempty"`
}

// DecisionRequest is the body of POST /api/v1/incidents/{id}/approve and /reject.
type DecisionRequest struct {
	Action string `json:"action"`
	Reason string `json:"reason,omitempty"`
	By     string `json:"by,omitempty"`
}

// UpdateRequest is the body of POST /api/v1/incidents/{id}/update.
type UpdateRequest struct {
	Status   schemas.Status   `json:"status,omitempty"`
	Severity schemas.Severity `json:"severity,omitempty"`
	Title    string           `json:"title,omitempty"`
	Note     string           `json:"note,omitempty"`
	By       string           `json:"by,omitempty"`
}

// DeclareRequest is the body of POST /api/v1/incidents: an incident declared by hand.
type DeclareRequest struct {
	Type        string           `json:"type"`
	Severity    schemas.Severity `json:"severity"`
	Title       string           `json:"title"`
	Source      string           `json:"source,omitempty"`
	Description string           `json:"description,omitempty"`
	By          string           `json:"by,omitempty"`
}

func (s *Server) mitigate(w http.ResponseWriter, r *http.Request) error {
	var req MitigateRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Action) == "" {
		return badRequest("action: the action to run is required")
	}
	ctx, id := r.Context(), r.PathValue("id")
	by, err := actor(ctx, req.By)
	if err != nil {
		return err
	}
	approvedBy, err := approver(ctx, req.ApprovedBy)
	if err != nil {
		return err
	}
	rec, err := s.m.Ops().Mitigate(ctx, id, schemas.Mitigate{Action: req.Action, Actor: by, ApprovedBy: approvedBy})
	if err != nil {
		return err
	}
	what := "mitigate " + req.Action
	if approvedBy != "" {
		what += " approved by " + approvedBy
	}
	s.markUnauthenticated(ctx, id, by, what)
	writeJSON(w, http.StatusOK, rec)
	return nil
}

func (s *Server) approve(w http.ResponseWriter, r *http.Request) error { return s.decide(w, r, true) }

func (s *Server) reject(w http.ResponseWriter, r *http.Request) error { return s.decide(w, r, false) }

func (s *Server) decide(w http.ResponseWriter, r *http.Request, approve bool) error {
	var req DecisionRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if strings.TrimSpace(req.Action) == "" {
		return badRequest("action: the pending action is required")
	}
	ctx, id := r.Context(), r.PathValue("id")
	by, err := actor(ctx, req.By)
	if err != nil {
		return err
	}
	do, what := s.m.Ops().Approve, "approve "
	if !approve {
		do, what = s.m.Ops().Reject, "reject "
	}
	ap, err := do(ctx, id, req.Action, by, req.Reason)
	if err != nil {
		return err
	}
	s.markUnauthenticated(ctx, id, by, what+req.Action)
	writeJSON(w, http.StatusOK, ap)
	return nil
}

func (s *Server) updateIncident(w http.ResponseWriter, r *http.Request) error {
	var req UpdateRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	ctx, id := r.Context(), r.PathValue("id")
	by, err := actor(ctx, req.By)
	if err != nil {
		return err
	}
	inc, err := s.m.Ops().Update(ctx, id, schemas.Update{By: by, Status: req.Status, Severity: req.Severity, Title: req.Title, Note: req.Note})
	if err != nil {
		return err
	}
	s.markUnauthenticated(ctx, id, by, "update")
	writeJSON(w, http.StatusOK, inc)
	return nil
}

func (s *Server) declare(w http.ResponseWriter, r *http.Request) error {
	var req DeclareRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if s.opts.Declare == nil {
		return &httpError{status: http.StatusServiceUnavailable, msg: "this server cannot declare incidents"}
	}
	ctx := r.Context()
	by, err := actor(ctx, req.By)
	if err != nil {
		return err
	}
	req.By = by
	switch {
	case strings.TrimSpace(req.Type) == "":
		return badRequest("type: the incident type is required")
	case !req.Severity.Valid():
		return badRequest("severity: want low, medium, high or critical, got %q", req.Severity)
	case strings.TrimSpace(req.Title) == "":
		return badRequest("title: must not be empty")
	}
	in, err := s.opts.Declare(ctx, req)
	if err != nil {
		return err
	}
	s.markUnauthenticated(ctx, in.IncidentID, by, "declare")
	writeJSON(w, http.StatusAccepted, in)
	return nil
}

func (s *Server) approvals(w http.ResponseWriter, r *http.Request) error {
	ctx, id := r.Context(), r.PathValue("id")
	inc, err := s.m.Store().GetIncident(ctx, id)
	if err != nil {
		return err
	}
	ops := s.m.Ops()
	if ops == nil || ops.Client == nil {
		return &httpError{status: http.StatusServiceUnavailable, msg: "this server cannot ask workflows"}
	}
	qctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	aps, err := ops.PendingApprovals(qctx, inc.IncidentID) // the dashboard's query too
	if err != nil {
		s.log.Warn("pending approvals query failed", "incident", id, "error", err)
		return &httpError{status: http.StatusServiceUnavailable, msg: "the incident's workflow did not answer (Temporal unreachable?)"}
	}
	writeJSON(w, http.StatusOK, map[string]any{"approvals": nonNil(aps)})
	return nil
}

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.AuditFilter{Actor: q.Get("actor"), IncidentID: q.Get("incident_id"), Result: q.Get("result")}
	var err error
	if f.Since, err = sinceParam(q.Get("since")); err != nil {
		return err
	}
	if f.Limit, err = intParam(q.Get("limit"), "limit"); err != nil {
		return err
	}
	rows, err := s.m.Store().Audit(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"audit": nonNil(rows)})
	return nil
}

// incidentEvents lists every event attached to an incident, oldest first (what
// `incidents get --full` shows). The store reads them page by page.
func (s *Server) incidentEvents(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := s.m.Store().GetIncident(r.Context(), id); err != nil {
		return err
	}
	events := []schemas.Event{}
	if err := s.m.Store().ScanIncidentEvents(r.Context(), id, func(e schemas.Event) error {
		events = append(events, e)
		return nil
	}); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": events})
	return nil
}

// activity lists the latest timeline entries across incidents, oldest first (what
// `incidents history` shows): incident_id, since, kind and exclude_kind (repeatable),
// last (default 100, at most 10,000).
func (s *Server) activity(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	f := store.ActivityFilter{IncidentID: q.Get("incident_id"), Kinds: q["kind"], ExcludeKinds: q["exclude_kind"]}
	var err error
	if f.Since, err = sinceParam(q.Get("since")); err != nil {
		return err
	}
	if f.Last, err = intParam(q.Get("last"), "last"); err != nil {
		return err
	}
	entries, err := s.m.Store().Activity(r.Context(), f)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"activity": nonNil(entries)})
	return nil
}

// ActionRun is one remediation action run with its incident.
type ActionRun struct {
	IncidentID string `json:"incident_id"`
	schemas.ActionRecord
}

// listActions lists the latest remediation action runs, oldest first (`incidents history
// --remediation`): incident_id, since, last (default 100, at most 10,000).
func (s *Server) listActions(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	since, err := sinceParam(q.Get("since"))
	if err != nil {
		return err
	}
	last, err := intParam(q.Get("last"), "last")
	if err != nil {
		return err
	}
	recs, ids, err := s.m.Store().ListActions(r.Context(), q.Get("incident_id"), since, last)
	if err != nil {
		return err
	}
	runs := make([]ActionRun, len(recs))
	for i := range recs {
		runs[i] = ActionRun{IncidentID: ids[i], ActionRecord: recs[i]}
	}
	writeJSON(w, http.StatusOK, map[string]any{"actions": runs})
	return nil
}

// PostMortem is an incident's post-mortem, written when it is resolved.
type PostMortem struct {
	IncidentID string    `json:"incident_id"`
	Markdown   string    `json:"markdown"`
	WrittenAt  time.Time `json:"written_at"`
}

// postMortem serves an incident's post-mortem; 404 names the incident, or says it has
// none yet.
func (s *Server) postMortem(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	if _, err := s.m.Store().GetIncident(r.Context(), id); err != nil {
		return err
	}
	md, at, err := s.m.Store().PostMortem(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return &httpError{status: http.StatusNotFound, msg: fmt.Sprintf("incident %s has no post-mortem yet", id)}
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, PostMortem{IncidentID: id, Markdown: md, WrittenAt: at})
	return nil
}

// AutoResolver is the actor the workflow records when it resolves an incident by itself
// (workflows.SystemActor).
const AutoResolver = "mahavishnu"

// incidentGroups serves the per severity, status and type aggregates of the incidents
// detected since a time, from which `incidents stats` computes its figures.
func (s *Server) incidentGroups(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	since, err := sinceParam(q.Get("since"))
	if err != nil {
		return err
	}
	var sev schemas.Severity
	if v := q.Get("severity"); v != "" {
		if sev, err = schemas.ParseSeverity(v); err != nil {
			return badRequest("severity: %s", err)
		}
	}
	groups, err := s.m.Store().IncidentGroups(r.Context(), since, sev, AutoResolver)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"groups": nonNil(groups)})
	return nil
}

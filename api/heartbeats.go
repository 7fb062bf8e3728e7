package api

import (
	"net/http"
	"strings"

	"github.com/mahavishnu/mahavishnu/oncall"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// Heartbeats (issue 11):
//
//	GET    /api/v1/heartbeats                  {"heartbeats": [heartbeat...]}
//	POST   /api/v1/heartbeats                  CreateHeartbeatRequest -> 201 heartbeat
//	GET    /api/v1/heartbeats/{name}           heartbeat
//	DELETE /api/v1/heartbeats/{name}           204
//	POST   /api/v1/heartbeats/{name}/pause     heartbeat
//	POST   /api/v1/heartbeats/{name}/resume    heartbeat
//	POST|GET|HEAD /api/v1/heartbeats/{name}/ping   202 {"pinged": name}

// CreateHeartbeatRequest is the body of POST /api/v1/heartbeats.
type CreateHeartbeatRequest struct {
	Name string `json:"name"`
	// Every and Grace are durations: "1h", "10m", "1d".
	Every      string `json:"every"`
	Grace      string `json:"grace,omitempty"`
	Severity   string `json:"severity,omitempty"`
	Escalation string `json:"escalation,omitempty"`
	CreatedBy  string `json:"created_by,omitempty"`
}

func (s *Server) listHeartbeats(w http.ResponseWriter, r *http.Request) error {
	list, err := s.m.Store().Heartbeats(r.Context())
	if err != nil {
		return err
	}
	if list == nil {
		list = []oncall.Heartbeat{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"heartbeats": list})
	return nil
}

func (s *Server) getHeartbeat(w http.ResponseWriter, r *http.Request) error {
	name := r.PathValue("name")
	h, err := s.m.Store().GetHeartbeat(r.Context(), name)
	if err != nil {
		return oncallError("heartbeat "+name, err)
	}
	writeJSON(w, http.StatusOK, h)
	return nil
}

func (s *Server) createHeartbeat(w http.ResponseWriter, r *http.Request) error {
	var req CreateHeartbeatRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	h := oncall.Heartbeat{Name: strings.TrimSpace(req.Name), Escalation: req.Escalation}
	every, err := ParseDuration(req.Every)
	if err != nil {
		return badRequest("every: %s", err)
	}
	h.Every = every
	if req.Grace != "" {
		if h.Grace, err = ParseDuration(req.Grace); err != nil {
			return badRequest("grace: %s", err)
		}
	}
	if req.Severity != "" {
		sev, err := schemas.ParseSeverity(req.Severity)
		if err != nil {
			return badRequest("severity: %s", err)
		}
		h.Severity = sev
	}
	if err := h.Validate(); err != nil {
		return validationError("heartbeat", err)
	}
	if h.CreatedBy, err = actor(r.Context(), req.CreatedBy); err != nil {
		return err
	}
	created, err := s.m.CreateHeartbeat(r.Context(), h)
	if err != nil {
		return silenceOrOncallError("heartbeat "+h.Name, err)
	}
	writeJSON(w, http.StatusCreated, created)
	return nil
}

// silenceOrOncallError maps manager validation errors, then store errors.
func silenceOrOncallError(what string, err error) error {
	if e := silenceError("", err); e != err {
		if he, ok := e.(*httpError); ok && he.status == http.StatusBadRequest {
			return e
		}
	}
	return oncallError(what, err)
}

func (s *Server) heartbeatOp(op func(r *http.Request, name string) error, status int) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		name := r.PathValue("name")
		if err := op(r, name); err != nil {
			return oncallError("heartbeat "+name, err)
		}
		if status == http.StatusNoContent {
			w.WriteHeader(status)
			return nil
		}
		if status == http.StatusAccepted {
			if r.Method == http.MethodHead {
				w.WriteHeader(status)
				return nil
			}
			writeJSON(w, status, map[string]string{"pinged": name})
			return nil
		}
		h, err := s.m.Store().GetHeartbeat(r.Context(), name)
		if err != nil {
			return err
		}
		writeJSON(w, status, h)
		return nil
	}
}

func (s *Server) pingHeartbeat(r *http.Request, name string) error {
	return s.m.PingHeartbeat(r.Context(), name)
}

func (s *Server) pauseHeartbeat(r *http.Request, name string) error {
	return s.m.PauseHeartbeat(r.Context(), name)
}

func (s *Server) resumeHeartbeat(r *http.Request, name string) error {
	return s.m.ResumeHeartbeat(r.Context(), name)
}

func (s *Server) deleteHeartbeat(r *http.Request, name string) error {
	by, err := actor(r.Context(), r.URL.Query().Get("by"))
	if err != nil {
		return err
	}
	return s.m.DeleteHeartbeat(r.Context(), name, by)
}

package api

import (
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mahavishnu/mahavishnu/auth"
	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// Silences (maintenance windows):
//
//	GET  /api/v1/silences[?all=true]     {"silences": [silence...]}: not ended (all: every one)
//	GET  /api/v1/silences/{id}           silence
//	POST /api/v1/silences                CreateSilenceRequest -> 201 silence
//	POST /api/v1/silences/{id}/expire    {"by": "alice"} -> silence

// CreateSilenceRequest is the body of POST /api/v1/silences. Give duration or ends_at.
type CreateSilenceRequest struct {
	// Matchers are "key=value" conditions, all of which an event must meet.
	Matchers []string `json:"matchers"`
	// Duration is how long the silence lasts from starts_at: "2h", "30m", "1d".
	Duration string     `json:"duration,omitempty"`
	StartsAt *time.Time `json:"starts_at,omitempty"`
	EndsAt   *time.Time `json:"ends_at,omitempty"`
	Comment  string     `json:"comment"`
	// CreatedBy names who creates it (required).
	CreatedBy string `json:"created_by"`
}

// SilenceView is a silence with its state, as the API and CLI show it.
type SilenceView struct {
	schemas.Silence
	// State is "active", "pending" (starts later) or "expired".
	State string `json:"state"`
	// EventsSilenced counts the stored events the silence muted.
	EventsSilenced int `json:"events_silenced"`
}

// Silence states of SilenceView.
const (
	SilenceActive  = "active"
	SilencePending = "pending"
	SilenceExpired = "expired"
)

// NewSilenceViews adds state and counts to silences; counts may be nil.
func NewSilenceViews(list []schemas.Silence, counts map[string]int, now time.Time) []SilenceView {
	out := make([]SilenceView, len(list))
	for i, s := range list {
		state := SilenceActive
		switch {
		case !now.Before(s.EndsAt):
			state = SilenceExpired
		case now.Before(s.StartsAt):
			state = SilencePending
		}
		out[i] = SilenceView{Silence: s, State: state, EventsSilenced: counts[s.ID]}
	}
	return out
}

// Silence builds the silence the request describes, relative to now.
func (req *CreateSilenceRequest) Silence(now time.Time) (schemas.Silence, error) {
	s := schemas.Silence{Comment: req.Comment, CreatedBy: strings.TrimSpace(req.CreatedBy), StartsAt: now}
	for i, raw := range req.Matchers {
		m, err := schemas.ParseSilenceMatcher(raw)
		if err != nil {
			return s, fmt.Errorf("matchers[%d]: %w", i, err)
		}
		s.Matchers = append(s.Matchers, m)
	}
	if req.StartsAt != nil {
		s.StartsAt = req.StartsAt.UTC()
	}
	switch {
	case req.Duration != "" && req.EndsAt != nil:
		return s, errors.New("duration: give duration or ends_at, not both")
	case req.Duration != "":
		d, err := ParseDuration(req.Duration)
		if err != nil {
			return s, fmt.Errorf("duration: %w", err)
		}
		s.EndsAt = s.StartsAt.Add(d)
	case req.EndsAt != nil:
		s.EndsAt = req.EndsAt.UTC()
	default:
		return s, errors.New("duration: how long the silence lasts is required (e.g. 2h), or ends_at")
	}
	return s, nil
}

func silenceError(id string, err error) error {
	var inv *manager.InvalidError
	switch {
	case errors.As(err, &inv):
		return badRequest("%s", inv.Error())
	case errors.Is(err, store.ErrNotFound):
		return &httpError{status: http.StatusNotFound, msg: fmt.Sprintf("silence %s not found", id)}
	}
	return err
}

func (s *Server) listSilences(w http.ResponseWriter, r *http.Request) error {
	all := false
	if v := r.URL.Query().Get("all"); v != "" {
		var err error
		if all, err = boolParam(v, "all"); err != nil {
			return err
		}
	}
	list, err := s.m.Silences(r.Context(), all)
	if err != nil {
		return err
	}
	ids := make([]string, len(list))
	for i := range list {
		ids[i] = list[i].ID
	}
	counts, err := s.m.Store().SilencedCounts(r.Context(), ids)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"silences": NewSilenceViews(list, counts, time.Now())})
	return nil
}

func (s *Server) getSilence(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	sil, err := s.m.Store().GetSilence(r.Context(), id)
	if err != nil {
		return silenceError(id, err)
	}
	counts, err := s.m.Store().SilencedCounts(r.Context(), []string{id})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NewSilenceViews([]schemas.Silence{*sil}, counts, time.Now())[0])
	return nil
}

func (s *Server) createSilence(w http.ResponseWriter, r *http.Request) error {
	var req CreateSilenceRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	if id, _ := auth.FromContext(r.Context()); id.Authenticated {
		by, err := actor(r.Context(), req.CreatedBy)
		if err != nil {
			return &httpError{status: statusOf(err, http.StatusBadRequest), msg: "created_by: " + strings.TrimPrefix(err.Error(), "by: ")}
		}
		req.CreatedBy = by
	}
	sil, err := req.Silence(time.Now().UTC())
	if err != nil {
		return badRequest("silence: %s", err)
	}
	created, err := s.m.CreateSilence(r.Context(), sil)
	if err != nil {
		return silenceError("", err)
	}
	writeJSON(w, http.StatusCreated, NewSilenceViews([]schemas.Silence{*created}, nil, time.Now())[0])
	return nil
}

func (s *Server) expireSilence(w http.ResponseWriter, r *http.Request) error {
	var req actorRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	by, err := actor(r.Context(), req.By)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	sil, err := s.m.ExpireSilence(r.Context(), id, by)
	if err != nil {
		return silenceError(id, err)
	}
	counts, err := s.m.Store().SilencedCounts(r.Context(), []string{id})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, NewSilenceViews([]schemas.Silence{*sil}, counts, time.Now())[0])
	return nil
}

// ParseDuration parses a positive duration such as "90s", "30m", "2h" or "7d".
func ParseDuration(v string) (time.Duration, error) {
	v = strings.TrimSpace(v)
	if days, ok := strings.CutSuffix(v, "d"); ok {
		n, err := strconv.Atoi(days)
		if err == nil && n > 0 {
			return time.Duration(n) * 24 * time.Hour, nil
		}
	} else if d, err := time.ParseDuration(v); err == nil && d > 0 {
		return d, nil
	}
	return 0, fmt.Errorf("want a positive duration like 30m, 2h or 1d, got %q", v)
}

package api

import (
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// Rule management: reads come from the store, changes go through the manager so that the
// running detector applies them at once.
//
//	GET   /api/v1/rules[?enabled=true]          {"rules": [rule...]}
//	GET   /api/v1/rules/review[?since=7d]       {"since": ..., "rules": [review...]}
//	GET   /api/v1/rules/{id}                    rule
//	GET   /api/v1/rules/{id}/backtest[?threshold=N&time_window=S&since=7d&until=T]
//	POST  /api/v1/rules                         {"rule": {...}, "by": "alice"}
//	PATCH /api/v1/rules/{id}                    {"threshold": 15, ..., "by": "alice"}
//	POST  /api/v1/rules/{id}/enable|disable     {"by": "alice"}

// CreateRuleRequest is the body of POST /api/v1/rules.
type CreateRuleRequest struct {
	Rule schemas.Rule `json:"rule"`
	By   string       `json:"by"`
}

// UpdateRuleRequest is the body of PATCH /api/v1/rules/{id}: the settings to change.
type UpdateRuleRequest struct {
	manager.RulePatch
	By string `json:"by"`
}

// ReviewResponse is the body of GET /api/v1/rules/review.
type ReviewResponse struct {
	Since time.Time            `json:"since"`
	Rules []manager.RuleReview `json:"rules"`
}

// ruleError maps the manager's answers about rules to HTTP errors.
func ruleError(id string, err error) error {
	var inv *manager.InvalidError
	switch {
	case errors.As(err, &inv):
		return badRequest("%s", inv.Error())
	case errors.Is(err, store.ErrNotFound):
		return &httpError{status: http.StatusNotFound, msg: fmt.Sprintf("rule %s not found", id)}
	}
	return err
}

func (s *Server) listRules(w http.ResponseWriter, r *http.Request) error {
	recs, err := s.m.RuleRecords(r.Context())
	if err != nil {
		return err
	}
	if v := r.URL.Query().Get("enabled"); v != "" {
		want, err := boolParam(v, "enabled")
		if err != nil {
			return err
		}
		kept := recs[:0]
		for _, rec := range recs {
			if rec.Enabled == want {
				kept = append(kept, rec)
			}
		}
		recs = kept
	}
	writeJSON(w, http.StatusOK, map[string]any{"rules": nonNil(recs)})
	return nil
}

func (s *Server) getRule(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	rec, err := s.m.Rule(r.Context(), id)
	if err != nil {
		return ruleError(id, err)
	}
	writeJSON(w, http.StatusOK, rec)
	return nil
}

func (s *Server) createRule(w http.ResponseWriter, r *http.Request) error {
	var req CreateRuleRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	by, err := actor(r.Context(), req.By)
	if err != nil {
		return err
	}
	rec, err := s.m.CreateRule(r.Context(), req.Rule, by)
	if err != nil {
		return ruleError(req.Rule.ID, err)
	}
	writeJSON(w, http.StatusCreated, rec)
	return nil
}

func (s *Server) updateRule(w http.ResponseWriter, r *http.Request) error {
	var req UpdateRuleRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	return s.changeRule(w, r, req.RulePatch, req.By)
}

func (s *Server) enableRule(w http.ResponseWriter, r *http.Request) error {
	return s.setRuleEnabled(w, r, true)
}

func (s *Server) disableRule(w http.ResponseWriter, r *http.Request) error {
	return s.setRuleEnabled(w, r, false)
}

func (s *Server) setRuleEnabled(w http.ResponseWriter, r *http.Request, enabled bool) error {
	var req actorRequest
	if err := decodeBody(w, r, &req); err != nil {
		return err
	}
	return s.changeRule(w, r, manager.RulePatch{Enabled: &enabled}, req.By)
}

func (s *Server) changeRule(w http.ResponseWriter, r *http.Request, patch manager.RulePatch, by string) error {
	by, err := actor(r.Context(), by)
	if err != nil {
		return err
	}
	id := r.PathValue("id")
	rec, err := s.m.UpdateRule(r.Context(), id, patch, by)
	if err != nil {
		return ruleError(id, err)
	}
	writeJSON(w, http.StatusOK, rec)
	return nil
}

func (s *Server) reviewRules(w http.ResponseWriter, r *http.Request) error {
	since, err := sinceParam(r.URL.Query().Get("since"))
	if err != nil {
		return err
	}
	if since.IsZero() {
		since = time.Now().Add(-7 * 24 * time.Hour).UTC()
	}
	rules, err := s.m.Store().Rules(r.Context())
	if err != nil {
		return err
	}
	noisy, err := intParam(r.URL.Query().Get("noisy_fires"), "noisy_fires")
	if err != nil {
		return err
	}
	revs, err := manager.Review(r.Context(), s.m.Store(), rules, manager.ReviewOptions{Since: since, NoisyFires: noisy})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, ReviewResponse{Since: since, Rules: revs})
	return nil
}

func (s *Server) backtestRule(w http.ResponseWriter, r *http.Request) error {
	q := r.URL.Query()
	opts := manager.BacktestOptions{RuleID: r.PathValue("id")}
	var err error
	if opts.Threshold, err = intParam(q.Get("threshold"), "threshold"); err != nil {
		return err
	}
	if opts.WindowSeconds, err = intParam(q.Get("time_window"), "time_window"); err != nil {
		return err
	}
	if opts.Since, err = sinceParam(q.Get("since")); err != nil {
		return err
	}
	if opts.Since.IsZero() {
		opts.Since = time.Now().Add(-7 * 24 * time.Hour).UTC()
	}
	if v := q.Get("until"); v != "" {
		if opts.Until, err = ParseSince(v, time.Now()); err != nil {
			return badRequest("until: %s", err)
		}
	}
	res, err := manager.Backtest(r.Context(), s.m.Store(), s.m.Rules(), opts)
	if err != nil {
		return ruleError(opts.RuleID, err)
	}
	writeJSON(w, http.StatusOK, res)
	return nil
}

func boolParam(v, name string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "1", "yes":
		return true, nil
	case "false", "0", "no":
		return false, nil
	}
	return false, badRequest("%s: want true or false, got %q", name, v)
}

package api

import (
	"fmt"
	"net/http"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// postAlertmanager is the Prometheus Alertmanager webhook receiver (payload version 4):
// each alert becomes an event (schemas.DecodeAlertmanager), stored before the 202, with
// the limits and authorization of POST /api/v1/events. A refused payload gets a 4xx,
// which Alertmanager does not retry; a 5xx it retries.
func (s *Server) postAlertmanager(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	events, err := schemas.DecodeAlertmanager(body)
	if err != nil {
		return err
	}
	if len(events) > MaxBatch {
		return &httpError{status: http.StatusRequestEntityTooLarge, msg: fmt.Sprintf("%d alerts: at most %d per request (set max_alerts in the receiver)", len(events), MaxBatch)}
	}
	ids, err := s.m.SubmitEvents(r.Context(), events)
	if err != nil {
		return err
	}
	// Issue 11: incidents whose every alert is now resolved count as recovered. The events
	// are stored either way, so a failure here is logged, not answered.
	if _, err := s.m.AlertsResolved(r.Context(), events); err != nil {
		s.log.Warn("alertmanager resolution", "error", err)
	}
	writeJSON(w, http.StatusAccepted, IngestResponse{Accepted: len(ids), EventIDs: ids})
	return nil
}

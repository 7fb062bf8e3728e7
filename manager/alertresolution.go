package manager

import (
	"context"
	"fmt"
	"strings"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// AlertsResolved is called after an Alertmanager webhook's events are stored (issue
// 11). For every open incident all of whose attached alerts are now resolved (paired by
// fingerprint), it signals the incident that it recovered: stabilisation is satisfied
// at once, and with auto_resolution the incident resolves. It reports how many incidents
// it signalled; a failed signal is logged and returned, the events stay stored.
func (m *Manager) AlertsResolved(ctx context.Context, events []schemas.Event) (int, error) {
	var fps []string
	for _, ev := range events {
		if ev.EventType == "resolved" && ev.CorrelationID != "" {
			fps = append(fps, ev.CorrelationID)
		}
	}
	if len(fps) == 0 {
		return 0, nil
	}
	recs, err := m.opts.Store.AlertRecoveries(ctx, fps)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, r := range recs {
		if !r.Recovered {
			continue
		}
		rec := schemas.Recovered{By: "alertmanager", At: m.now().UTC(),
			Reason: fmt.Sprintf("every alert resolved by Alertmanager (%d: %s)", len(r.Resolved), strings.Join(r.Resolved, ", "))}
		if err := m.opts.Client.SignalWorkflow(ctx, r.WorkflowID, "", schemas.SignalRecovered, rec); err != nil {
			m.logger.Warn("recovered signal failed", "incident", r.IncidentID, "error", err)
			return n, fmt.Errorf("signal %s recovered: %w", r.IncidentID, err)
		}
		m.logger.Info("incident recovered: every alert resolved", "incident", r.IncidentID, "alerts", len(r.Resolved))
		n++
	}
	return n, nil
}

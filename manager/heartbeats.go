package manager

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/mahavishnu/mahavishnu/oncall"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/workflows"
)

// CreateHeartbeat stores a heartbeat and starts its workflow (issue 11).
func (m *Manager) CreateHeartbeat(ctx context.Context, h oncall.Heartbeat) (*oncall.Heartbeat, error) {
	h.State = oncall.HeartbeatWaiting
	if err := h.Validate(); err != nil {
		return nil, &InvalidError{Err: fmt.Errorf("heartbeat: %w", err)}
	}
	settings, err := m.heartbeatSettings(h.Escalation)
	if err != nil {
		return nil, err
	}
	if err := m.opts.Store.InsertHeartbeat(ctx, h); err != nil {
		return nil, err
	}
	_, err = m.opts.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.HeartbeatWorkflowID(h.Name), TaskQueue: m.opts.TaskQueue,
	}, workflows.HeartbeatWorkflowType, workflows.HeartbeatInput{Heartbeat: h, Settings: settings})
	if err != nil {
		_ = m.opts.Store.DeleteHeartbeat(ctx, h.Name)
		return nil, fmt.Errorf("start heartbeat %s: %w", h.Name, err)
	}
	m.logger.Info("heartbeat created", "heartbeat", h.Name, "every", h.Every, "grace", h.Grace)
	return m.opts.Store.GetHeartbeat(ctx, h.Name)
}

// heartbeatSettings are the settings a heartbeat's incidents run with: the default ones,
// with the levels and repeat of the named escalation policy when there is one. The
// workflow takes this copy along, so the existing escalation code uses the policy.
func (m *Manager) heartbeatSettings(policy string) (schemas.IncidentSettings, error) {
	settings := m.opts.Settings
	if policy == "" {
		return settings, nil
	}
	p, ok := m.opts.EscalationPolicies[policy]
	if !ok {
		known := "none are configured"
		if len(m.opts.EscalationPolicies) > 0 {
			known = "known: " + strings.Join(slices.Sorted(maps.Keys(m.opts.EscalationPolicies)), ", ")
		}
		return settings, invalid("heartbeat: escalation: unknown escalation policy %q (%s; see incident_response.escalation.policies)", policy, known)
	}
	settings.Escalation = slices.Clone(p.Levels)
	settings.EscalationRepeat = p.Repeat
	return settings, nil
}

// signalHeartbeat sends a heartbeat's workflow a signal; the heartbeat must exist.
func (m *Manager) signalHeartbeat(ctx context.Context, name, signal string, arg any) error {
	if _, err := m.opts.Store.GetHeartbeat(ctx, name); err != nil {
		return err
	}
	if err := m.opts.Client.SignalWorkflow(ctx, workflows.HeartbeatWorkflowID(name), "", signal, arg); err != nil {
		return fmt.Errorf("heartbeat %s: %w", name, err)
	}
	return nil
}

// PingHeartbeat records a ping now.
func (m *Manager) PingHeartbeat(ctx context.Context, name string) error {
	return m.signalHeartbeat(ctx, name, workflows.SignalHeartbeatPing, workflows.HeartbeatPing{At: m.now().UTC()})
}

// PauseHeartbeat stops watching a heartbeat; ResumeHeartbeat starts its deadline again.
func (m *Manager) PauseHeartbeat(ctx context.Context, name string) error {
	return m.signalHeartbeat(ctx, name, workflows.SignalHeartbeatPause, nil)
}

// ResumeHeartbeat starts a paused heartbeat's deadline again from now.
func (m *Manager) ResumeHeartbeat(ctx context.Context, name string) error {
	return m.signalHeartbeat(ctx, name, workflows.SignalHeartbeatResume, nil)
}

// DeleteHeartbeat ends a heartbeat's workflow and removes it.
func (m *Manager) DeleteHeartbeat(ctx context.Context, name, by string) error {
	if _, err := m.opts.Store.GetHeartbeat(ctx, name); err != nil {
		return err
	}
	err := m.opts.Client.TerminateWorkflow(ctx, workflows.HeartbeatWorkflowID(name), "", "heartbeat deleted by "+by)
	var nf *serviceerror.NotFound
	if err != nil && !errors.As(err, &nf) {
		return fmt.Errorf("heartbeat %s: %w", name, err)
	}
	return m.opts.Store.DeleteHeartbeat(ctx, name)
}

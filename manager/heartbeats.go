package manager

import (
	"context"
	"errors"
	"fmt"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/sdk/client"

	"github.com/mahavishnu/mahavishnu/oncall"
	"github.com/mahavishnu/mahavishnu/workflows"
)

// CreateHeartbeat stores a heartbeat and starts its workflow (issue 11).
func (m *Manager) CreateHeartbeat(ctx context.Context, h oncall.Heartbeat) (*oncall.Heartbeat, error) {
	h.State = oncall.HeartbeatWaiting
	if err := h.Validate(); err != nil {
		return nil, &InvalidError{Err: fmt.Errorf("heartbeat: %w", err)}
	}
	if h.Escalation != "" {
		return nil, invalid("heartbeat: escalation: named escalation policies are not supported yet; leave it empty to use incident_response.escalation")
	}
	if err := m.opts.Store.InsertHeartbeat(ctx, h); err != nil {
		return nil, err
	}
	_, err := m.opts.Client.ExecuteWorkflow(ctx, client.StartWorkflowOptions{
		ID: workflows.HeartbeatWorkflowID(h.Name), TaskQueue: m.opts.TaskQueue,
	}, workflows.HeartbeatWorkflowType, workflows.HeartbeatInput{Heartbeat: h, Settings: m.opts.Settings})
	if err != nil {
		_ = m.opts.Store.DeleteHeartbeat(ctx, h.Name)
		return nil, fmt.Errorf("start heartbeat %s: %w", h.Name, err)
	}
	m.logger.Info("heartbeat created", "heartbeat", h.Name, "every", h.Every, "grace", h.Grace)
	return m.opts.Store.GetHeartbeat(ctx, h.Name)
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

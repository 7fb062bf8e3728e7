package notify

import (
	"context"
	"log/slog"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// Log is the "log" channel: it writes each message as one slog record. It receives every
// severity and never fails.
type Log struct {
	logger *slog.Logger
}

// NewLog returns the log channel writing to logger (slog.Default() when nil).
func NewLog(logger *slog.Logger) *Log {
	if logger == nil {
		logger = slog.Default()
	}
	return &Log{logger: logger}
}

// Name returns ChannelLog.
func (l *Log) Name() string { return ChannelLog }

// Notify writes m at a level following its severity: critical at Error, high at Warn, the
// rest (and acknowledgements, resolutions and tests) at Info.
func (l *Log) Notify(ctx context.Context, m Message) error {
	_, err := l.Send(ctx, m)
	return err
}

// Send writes m; the receipt says "logged".
func (l *Log) Send(ctx context.Context, m Message) (Receipt, error) {
	if err := m.Validate(); err != nil {
		return Receipt{}, Permanent(ChannelLog, err)
	}
	level := slog.LevelInfo
	switch {
	case m.Kind == KindAcknowledged || m.Kind == KindResolved || m.Kind == KindTest:
	case m.Severity == schemas.SeverityCritical:
		level = slog.LevelError
	case m.Severity == schemas.SeverityHigh:
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("incident_id", m.IncidentID),
		slog.String("kind", string(m.Kind)),
		slog.String("severity", string(m.Severity)),
		slog.String("incident_type", m.Type),
		slog.String("title", m.Title),
	}
	optional := []struct{ key, value string }{
		{"status", string(m.Status)}, {"source", m.Source}, {"actor", m.Actor}, {"text", m.Text},
		{"dashboard_url", m.Links.Dashboard}, {"temporal_ui_url", m.Links.TemporalUI},
	}
	for _, o := range optional {
		if o.value != "" {
			attrs = append(attrs, slog.String(o.key, o.value))
		}
	}
	for _, f := range m.Fields {
		attrs = append(attrs, slog.String("field."+f.Name, f.Value))
	}
	l.logger.LogAttrs(ctx, level, "incident notification: "+m.Kind.Label(), attrs...)
	return Receipt{Channel: ChannelLog, Response: "logged"}, nil
}

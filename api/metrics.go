package api

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// metricsCollector reads the manager's counters, the store's incident counts and the
// notification channels' counters at scrape time, so /metrics never drifts from what
// `incidents status` shows.
type metricsCollector struct {
	m        *manager.Manager
	channels func() map[string]notify.Stats
	log      *slog.Logger

	events, opened, attached, silenced, detectErr, uptime, incidents, notifications              *prometheus.Desc
	outboxDepth, outboxAge, outboxOpens, cursor, head, lag, signals, commits, ingested, degraded *prometheus.Desc
	retained, retainedAt                                                                         *prometheus.Desc
}

func newMetricsCollector(m *manager.Manager, channels func() map[string]notify.Stats, log *slog.Logger) *metricsCollector {
	d := func(name, help string, labels ...string) *prometheus.Desc {
		return prometheus.NewDesc("mahavishnu_"+name, help, labels, nil)
	}
	return &metricsCollector{m: m, channels: channels, log: log,
		events:        d("events_accepted_total", "Events accepted and stored since start."),
		opened:        d("incidents_opened_total", "Incidents this process opened since start."),
		attached:      d("events_attached_total", "Events attached to open incidents since start."),
		silenced:      d("events_silenced_total", "Events muted by a silence since start."),
		detectErr:     d("detection_errors_total", "Detections that failed to reach Temporal (retried)."),
		outboxDepth:   d("outbox_depth", "Messages waiting in the outbox for Temporal."),
		outboxAge:     d("outbox_oldest_age_seconds", "Age of the oldest message waiting in the outbox."),
		outboxOpens:   d("outbox_pending_opens", "Incident openings waiting in the outbox for Temporal."),
		cursor:        d("detector_cursor", "Sequence number of the last event the detector consumed."),
		head:          d("detector_head", "Sequence number of the newest event in the log."),
		lag:           d("detector_lag_events", "Events in the log not consumed by the detector yet (head - cursor)."),
		signals:       d("temporal_signals_total", "Outbox messages Temporal accepted from this process.", "kind"),
		commits:       d("ingest_commits_total", "Group commits of ingest since start."),
		ingested:      d("ingest_events_total", "New events stored by ingest since start."),
		degraded:      d("degraded", "1 when /healthz reports degraded."),
		uptime:        d("uptime_seconds", "Seconds since the manager started."),
		incidents:     d("active_incidents", "Active (not resolved, not closed) incidents by status and severity.", "status", "severity"),
		notifications: d("notifications_total", "Notifications per channel and outcome since start.", "channel", "outcome"),
		retained:      d("retention_deleted_total", "Rows deleted by housekeeping (retention.*), all runs of all processes, by kind.", "kind"),
		retainedAt:    d("retention_last_deleted_timestamp_seconds", "When a housekeeping run last deleted something (Unix time)."),
	}
}

func (c *metricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.events, c.opened, c.attached, c.silenced, c.detectErr, c.uptime, c.incidents, c.notifications,
		c.outboxDepth, c.outboxAge, c.outboxOpens, c.cursor, c.head, c.lag, c.signals, c.commits, c.ingested, c.degraded,
		c.retained, c.retainedAt} {
		ch <- d
	}
}

func (c *metricsCollector) Collect(ch chan<- prometheus.Metric) {
	st := c.m.Status()
	counter := func(d *prometheus.Desc, v int64) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v))
	}
	counter(c.events, st.EventsAccepted)
	counter(c.opened, st.IncidentsOpened)
	counter(c.attached, st.EventsAttached)
	counter(c.silenced, st.EventsSilenced)
	counter(c.detectErr, st.DetectionErrors)
	h := c.m.Health()
	gauge := func(d *prometheus.Desc, v float64) { ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, v) }
	gauge(c.outboxDepth, float64(h.Outbox.Depth))
	gauge(c.outboxAge, h.Outbox.OldestAgeSeconds)
	gauge(c.outboxOpens, float64(h.Outbox.PendingOpens))
	gauge(c.cursor, float64(h.Detector.Cursor))
	gauge(c.head, float64(h.Detector.Head))
	gauge(c.lag, float64(h.Detector.Lag))
	degraded := 0.0
	if h.Status != manager.HealthOK {
		degraded = 1
	}
	gauge(c.degraded, degraded)
	for kind, n := range st.TemporalSignals {
		ch <- prometheus.MustNewConstMetric(c.signals, prometheus.CounterValue, float64(n), kind)
	}
	counter(c.commits, st.IngestCommits)
	counter(c.ingested, st.EventsAccepted)
	ch <- prometheus.MustNewConstMetric(c.uptime, prometheus.GaugeValue, st.UptimeSeconds)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	counts, err := c.m.Store().CountActiveByStatusSeverity(ctx)
	if err != nil {
		c.log.Warn("metrics: count active incidents", "error", err)
	}
	for _, status := range schemas.Statuses {
		if !status.Active() {
			continue
		}
		for _, sev := range schemas.Severities {
			ch <- prometheus.MustNewConstMetric(c.incidents, prometheus.GaugeValue,
				float64(counts[[2]string{string(status), string(sev)}]), string(status), string(sev))
		}
	}
	// Retention (issue 9): what the housekeeping runs deleted, from the store, so that every
	// process reports the same totals whichever worker ran them.
	if totals, last, err := c.m.Store().RetentionTotals(ctx); err != nil {
		c.log.Warn("metrics: retention totals", "error", err)
	} else {
		for kind, n := range totals {
			ch <- prometheus.MustNewConstMetric(c.retained, prometheus.CounterValue, float64(n), kind)
		}
		if !last.IsZero() {
			gauge(c.retainedAt, float64(last.Unix()))
		}
	}
	if c.channels != nil {
		for name, s := range c.channels() {
			ch <- prometheus.MustNewConstMetric(c.notifications, prometheus.CounterValue, float64(s.Sent), name, "sent")
			ch <- prometheus.MustNewConstMetric(c.notifications, prometheus.CounterValue, float64(s.Failed), name, "failed")
			ch <- prometheus.MustNewConstMetric(c.notifications, prometheus.CounterValue, float64(s.Suppressed), name, "suppressed")
		}
	}
}

// metricsHandler serves the Prometheus exposition of this manager's metrics.
func (s *Server) metricsHandler() http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newMetricsCollector(s.m, s.opts.ChannelStats, s.log))
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(s.log.Handler(), slog.LevelWarn)})
}

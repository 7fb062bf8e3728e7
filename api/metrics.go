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
	"github.com/mahavishnu/mahavishnu/store"
)

// metricsCollector reads the manager's counters, the store's incident counts and the
// notification channels' counters at scrape time, so /metrics never drifts from what
// `incidents status` shows.
type metricsCollector struct {
	m        *manager.Manager
	channels func() map[string]notify.Stats
	log      *slog.Logger

	events, opened, attached, silenced, detectErr, retries, uptime, incidents, notifications *prometheus.Desc
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
		retries:       d("detection_pending_retries", "Detections waiting to be retried."),
		uptime:        d("uptime_seconds", "Seconds since the manager started."),
		incidents:     d("active_incidents", "Active (not resolved, not closed) incidents by status and severity.", "status", "severity"),
		notifications: d("notifications_total", "Notifications per channel and outcome since start.", "channel", "outcome"),
	}
}

func (c *metricsCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.events, c.opened, c.attached, c.silenced, c.detectErr, c.retries, c.uptime, c.incidents, c.notifications} {
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
	ch <- prometheus.MustNewConstMetric(c.retries, prometheus.GaugeValue, float64(st.PendingRetries))
	ch <- prometheus.MustNewConstMetric(c.uptime, prometheus.GaugeValue, st.UptimeSeconds)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	incs, err := c.m.Store().ListIncidents(ctx, store.IncidentFilter{Status: schemas.StatusActive, Limit: 10000})
	if err != nil {
		c.log.Warn("metrics: list incidents", "error", err)
	}
	counts := map[[2]string]int{}
	for _, inc := range incs {
		counts[[2]string{string(inc.Status), string(inc.Severity)}]++
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

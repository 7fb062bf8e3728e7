package cli

import (
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/config"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// statusReport is what `incidents status` shows.
type statusReport struct {
	Manager   string                 `json:"manager"`
	APIURL    string                 `json:"api_url"`
	Health    *api.Health            `json:"health,omitempty"`
	Temporal  string                 `json:"temporal_address"`
	Namespace string                 `json:"namespace"`
	Database  string                 `json:"database"`
	Incidents map[schemas.Status]int `json:"incidents"`
	Active    int                    `json:"active_incidents"`
	// Notices name enabled notification channels that send nothing (PagerDuty without
	// service_key...), from this command's config.
	Notices []string `json:"notices,omitempty"`
	Error   string   `json:"error,omitempty"`
}

func statusCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "status",
		Usage: "show whether the incident manager is running, and incident counts; exits 1 when it is not healthy",
		Flags: []cli.Flag{outputFlag()},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c)
			if err != nil {
				return err
			}
			cl := r.api()
			rep := statusReport{
				APIURL: cl.base, Temporal: r.cfg.TemporalHostPort(), Namespace: r.cfg.Temporal.Namespace,
				Database: config.RedactURL(r.cfg.DatabaseURL()),
				Notices:  r.cfg.IncidentResponse.Notifications.Notices(),
			}
			var h api.Health
			code, err := cl.do(c.Context, http.MethodGet, "/healthz", nil, &h)
			switch {
			case err != nil && code == 0:
				rep.Manager, rep.Error = "not running", err.Error()
			case code == http.StatusOK:
				rep.Manager, rep.Health = "running", &h
			default:
				rep.Manager, rep.Health = "degraded", &h
			}
			if counts, err := r.incidentCounts(c); err == nil {
				rep.Incidents = counts
				for s, n := range counts {
					if s.Active() {
						rep.Active += n
					}
				}
			}
			if format == outputJSON {
				if err := writeJSON(c.App.Writer, rep); err != nil {
					return err
				}
			} else {
				printStatus(c, rep)
			}
			if rep.Manager != "running" {
				return cli.Exit("", 1)
			}
			return nil
		},
	}
}

func printStatus(c *cli.Context, rep statusReport) {
	tw := newTable(c.App.Writer)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("Incident manager", rep.Manager+" ("+rep.APIURL+")")
	if rep.Error != "" {
		row("Error", rep.Error)
	}
	if h := rep.Health; h != nil {
		row("Health", h.Status)
		for _, reason := range h.Reasons {
			row("  reason", reason)
		}
		row("Roles", strings.Join(h.Manager.Roles, ", "))
		row("Store", h.Store)
		row("Temporal", h.Temporal+" ("+rep.Temporal+", namespace "+rep.Namespace+")")
		row("Uptime", fmtSeconds(&h.Manager.UptimeSeconds))
		row("Rules enabled", fmt.Sprintf("%d of %d", h.Manager.RulesEnabled, h.Manager.Rules))
		row("Events accepted", fmt.Sprint(h.Manager.EventsAccepted))
		row("Incidents opened", fmt.Sprint(h.Manager.IncidentsOpened))
		row("Detection errors", fmt.Sprint(h.Manager.DetectionErrors))
		row("Silences active", fmt.Sprint(h.Manager.ActiveSilences))
		row("Events silenced", fmt.Sprint(h.Manager.EventsSilenced))
		row("Event log", fmt.Sprintf("head %d, detector cursor %d, lag %d", h.Detector.Head, h.Detector.Cursor, h.Detector.Lag))
		row("Detector role", map[bool]string{true: "active in this process", false: "not in this process"}[h.Detector.Active])
		row("Outbox", fmt.Sprintf("%d waiting (%d openings), oldest %.0fs", h.Outbox.Depth, h.Outbox.PendingOpens, h.Outbox.OldestAgeSeconds))
		if h.Manager.LastError != "" {
			row("Last error", h.Manager.LastError)
		}
		row("Notifications failed (24h)", fmt.Sprint(h.Notifications.FailedLast24h))
		for _, ch := range sortedKeys(h.Notifications.Channels) {
			st := h.Notifications.Channels[ch]
			row("  "+ch, fmt.Sprintf("%d sent, %d failed, %d suppressed", st.Sent, st.Failed, st.Suppressed))
		}
	}
	for _, msg := range rep.Notices {
		row("Notice", msg)
	}
	row("Database", rep.Database)
	if rep.Incidents != nil {
		row("Active incidents", fmt.Sprint(rep.Active))
		for _, s := range schemas.Statuses {
			if n := rep.Incidents[s]; n > 0 {
				row("  "+string(s), fmt.Sprint(n))
			}
		}
	}
	_ = tw.Flush()
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// incidentCounts counts the incidents by status, from the store or, once tokens exist,
// from the API's aggregates.
func (r *runtime) incidentCounts(c *cli.Context) (map[schemas.Status]int, error) {
	viaAPI, err := r.readsThroughAPI(c)
	if err != nil {
		return nil, err
	}
	if !viaAPI {
		st, err := r.Store(c.Context)
		if err != nil {
			return nil, err
		}
		return st.CountIncidentsByStatus(c.Context)
	}
	groups, err := apiReader{a: r.api()}.IncidentGroups(c.Context, time.Time{}, "", api.AutoResolver)
	if err != nil {
		return nil, err
	}
	counts := map[schemas.Status]int{}
	for _, g := range groups {
		counts[schemas.Status(g.Status)] += g.Count
	}
	return counts, nil
}

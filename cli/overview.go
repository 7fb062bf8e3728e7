package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

func createCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "create",
		Usage: "declare an incident by hand; it runs the same response procedure as a detected one",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "type", Required: true, Usage: "incident type, e.g. error_burst (its rule's runbook and actions apply)"},
			&cli.StringFlag{Name: "severity", Required: true, Usage: "low, medium, high or critical"},
			&cli.StringFlag{Name: "title", Required: true},
			&cli.StringFlag{Name: "source", Value: "manual", Usage: "the affected service"},
			&cli.StringFlag{Name: "description"},
			byFlag(), outputFlag(),
		},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c)
			if err != nil {
				return err
			}
			sev, err := schemas.ParseSeverity(c.String("severity"))
			if err != nil {
				return fmt.Errorf("--severity: %w", err)
			}
			title := strings.TrimSpace(c.String("title"))
			if title == "" {
				return fmt.Errorf("--title: must not be empty")
			}
			cl := r.api()
			var in schemas.IncidentInput
			req := api.DeclareRequest{Type: c.String("type"), Severity: sev, Title: title, Source: c.String("source"),
				Description: c.String("description"), By: r.by(c)}
			if _, err := cl.do(c.Context, http.MethodPost, "/api/v1/incidents", req, &in); err != nil {
				return err
			}
			id := in.IncidentID
			inc, err := waitForIncident(c.Context, cl, id, 20*time.Second)
			if err != nil {
				return fmt.Errorf("incident %s started, but the manager's worker has not recorded it yet (is `incidents start` running?): %w", id, err)
			}
			if format == outputJSON {
				return writeJSON(c.App.Writer, inc)
			}
			fmt.Fprintf(c.App.Writer, "Incident %s declared: %s %s, %s.\n", id, inc.Severity, inc.IncidentType, inc.Status)
			return nil
		},
	}
}

// waitForIncident waits, through the API, for the incident's workflow to write its first
// snapshot.
func waitForIncident(ctx context.Context, cl *apiClient, id string, wait time.Duration) (*schemas.Incident, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		var inc schemas.Incident
		status, err := cl.do(ctx, http.MethodGet, "/api/v1/incidents/"+url.PathEscape(id), nil, &inc)
		if err == nil {
			return &inc, nil
		}
		if status != http.StatusNotFound {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-tick.C:
		}
	}
}

// waitForRow waits for the incident's workflow to write its first snapshot.
func waitForRow(ctx context.Context, st *store.Store, id string, wait time.Duration) (*schemas.Incident, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		inc, err := st.GetIncident(ctx, id)
		if err == nil {
			return inc, nil
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-tick.C:
		}
	}
}

// incidentStats is what `incidents stats` reports.
type incidentStats struct {
	Total      int                      `json:"total"`
	Active     int                      `json:"active"`
	ByStatus   map[schemas.Status]int   `json:"by_status"`
	BySeverity map[schemas.Severity]int `json:"by_severity"`
	ByType     map[string]int           `json:"by_type"`
	// Mean times in seconds over the incidents that have them.
	MeanMTTD *float64 `json:"mean_mttd_seconds"`
	MeanMTTA *float64 `json:"mean_mtta_seconds"`
	MeanMTTR *float64 `json:"mean_mttr_seconds"`
	// AutoResolved is the share of resolved incidents that resolved themselves.
	AutoResolvedRate *float64 `json:"auto_resolution_rate"`
	MTTRBreached     int      `json:"mttr_breached"`
	Since            string   `json:"since,omitempty"`
}

// autoResolver is the actor the workflow records when it resolves an incident by itself
// (workflows.SystemActor; cli does not import the workflows package).
const autoResolver = api.AutoResolver

// statsFromGroups adds up the store's incident groups (computed in SQL over every incident)
// into the statistics of those groups keep says to.
func statsFromGroups(groups []store.IncidentGroup, keep func(store.IncidentGroup) bool) incidentStats {
	st := incidentStats{ByStatus: map[schemas.Status]int{}, BySeverity: map[schemas.Severity]int{}, ByType: map[string]int{}}
	var mttdSum, mttaSum, mttrSum float64
	var mttdN, mttaN, mttrN, resolved, auto int
	for _, g := range groups {
		if !keep(g) {
			continue
		}
		st.Total += g.Count
		if schemas.Status(g.Status).Active() {
			st.Active += g.Count
		}
		st.ByStatus[schemas.Status(g.Status)] += g.Count
		st.BySeverity[schemas.Severity(g.Severity)] += g.Count
		st.ByType[g.IncidentType] += g.Count
		st.MTTRBreached += g.Breached
		mttdSum, mttdN = mttdSum+g.MTTDSum, mttdN+g.MTTDCount
		mttaSum, mttaN = mttaSum+g.MTTASum, mttaN+g.MTTACount
		mttrSum, mttrN = mttrSum+g.MTTRSum, mttrN+g.MTTRCount
		resolved, auto = resolved+g.Resolved, auto+g.AutoResolved
	}
	st.MeanMTTD, st.MeanMTTA, st.MeanMTTR = mean(mttdSum, mttdN), mean(mttaSum, mttaN), mean(mttrSum, mttrN)
	if resolved > 0 {
		rate := float64(auto) / float64(resolved)
		st.AutoResolvedRate = &rate
	}
	return st
}

func mean(sum float64, n int) *float64 {
	if n == 0 {
		return nil
	}
	m := sum / float64(n)
	return &m
}

func statsCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "stats",
		Usage: "incident statistics: counts, mean MTTD/MTTA/MTTR, auto-resolution rate",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "by-severity", Usage: "break the counts and mean times down by severity"},
			&cli.StringFlag{Name: "since", Usage: "only incidents detected since: 24h, 7d or an RFC 3339 time"},
			outputFlag(),
		},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c)
			if err != nil {
				return err
			}
			var since time.Time
			if v := c.String("since"); v != "" {
				if since, err = api.ParseSince(v, time.Now()); err != nil {
					return fmt.Errorf("--since: %w", err)
				}
			}
			st, err := r.reader(c)
			if err != nil {
				return err
			}
			groups, err := st.IncidentGroups(c.Context, since, "", autoResolver)
			if err != nil {
				return err
			}
			all := statsFromGroups(groups, func(store.IncidentGroup) bool { return true })
			all.Since = c.String("since")
			bySev := map[schemas.Severity]incidentStats{}
			if c.Bool("by-severity") {
				for _, sev := range schemas.Severities {
					if all.BySeverity[sev] > 0 {
						bySev[sev] = statsFromGroups(groups, func(g store.IncidentGroup) bool { return g.Severity == string(sev) })
					}
				}
			}
			if format == outputJSON {
				out := map[string]any{"all": all}
				if c.Bool("by-severity") {
					out["by_severity"] = bySev
				}
				return writeJSON(c.App.Writer, out)
			}
			printStats(c, "All incidents", all)
			if c.Bool("by-severity") {
				for i := len(schemas.Severities) - 1; i >= 0; i-- {
					sev := schemas.Severities[i]
					if s, ok := bySev[sev]; ok {
						fmt.Fprintln(c.App.Writer)
						printStats(c, strings.ToUpper(string(sev)), s)
					}
				}
			}
			return nil
		},
	}
}

func printStats(c *cli.Context, heading string, s incidentStats) {
	fmt.Fprintln(c.App.Writer, heading+":")
	tw := newTable(c.App.Writer)
	row := func(k, v string) { fmt.Fprintf(tw, "  %s:\t%s\n", k, v) }
	row("Incidents", fmt.Sprintf("%d (%d active)", s.Total, s.Active))
	var parts []string
	for _, st := range schemas.Statuses {
		if n := s.ByStatus[st]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", st, n))
		}
	}
	row("By status", orDash(strings.Join(parts, ", ")))
	parts = parts[:0]
	for i := len(schemas.Severities) - 1; i >= 0; i-- {
		if n := s.BySeverity[schemas.Severities[i]]; n > 0 {
			parts = append(parts, fmt.Sprintf("%s %d", schemas.Severities[i], n))
		}
	}
	row("By severity", orDash(strings.Join(parts, ", ")))
	types := make([]string, 0, len(s.ByType))
	for t := range s.ByType {
		types = append(types, t)
	}
	sort.Strings(types)
	parts = parts[:0]
	for _, t := range types {
		parts = append(parts, fmt.Sprintf("%s %d", t, s.ByType[t]))
	}
	row("By type", orDash(strings.Join(parts, ", ")))
	row("Mean MTTD", fmtSeconds(s.MeanMTTD))
	row("Mean MTTA", fmtSeconds(s.MeanMTTA))
	row("Mean MTTR", fmtSeconds(s.MeanMTTR))
	row("MTTR breached", fmt.Sprint(s.MTTRBreached))
	rate := "-"
	if s.AutoResolvedRate != nil {
		rate = fmt.Sprintf("%.0f%%", *s.AutoResolvedRate*100)
	}
	row("Auto-resolved", rate)
	_ = tw.Flush()
}

func watchCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "watch",
		Usage: "print incidents as they open and change, until Ctrl-C",
		Flags: []cli.Flag{
			&cli.DurationFlag{Name: "interval", Value: 2 * time.Second, Usage: "how often to look"},
			&cli.IntFlag{Name: "count", Usage: "stop after this many looks (0: never)"},
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c); err != nil {
				return err
			}
			if c.Duration("interval") < 100*time.Millisecond {
				return fmt.Errorf("--interval: at least 100ms")
			}
			seen := map[string]schemas.Incident{}
			first := true
			tick := time.NewTicker(c.Duration("interval"))
			defer tick.Stop()
			for n := 1; ; n++ {
				incs, err := r.listIncidents(c, store.IncidentFilter{Limit: 500})
				if err != nil {
					return err
				}
				for i := len(incs) - 1; i >= 0; i-- {
					inc := incs[i]
					old, known := seen[inc.IncidentID]
					seen[inc.IncidentID] = inc
					if change := describeChange(old, inc, known); change != "" && (!first || inc.Status.Active()) {
						fmt.Fprintf(c.App.Writer, "%s  %s  %-8s %-13s %s: %s\n", time.Now().Format("15:04:05"), inc.IncidentID,
							strings.ToUpper(string(inc.Severity)), inc.Status, inc.Title, change)
					}
				}
				first = false
				if count := c.Int("count"); count > 0 && n >= count {
					return nil
				}
				select {
				case <-c.Context.Done():
					return nil
				case <-tick.C:
				}
			}
		},
	}
}

// describeChange says what changed in an incident since the last look ("" for nothing).
func describeChange(old, inc schemas.Incident, known bool) string {
	if !known {
		return fmt.Sprintf("%s (%d events)", inc.Status, inc.EventCount)
	}
	var parts []string
	if old.Status != inc.Status {
		parts = append(parts, fmt.Sprintf("%s -> %s", old.Status, inc.Status))
	}
	if old.Severity != inc.Severity {
		parts = append(parts, fmt.Sprintf("severity %s -> %s", old.Severity, inc.Severity))
	}
	if old.EventCount != inc.EventCount {
		parts = append(parts, fmt.Sprintf("%d events", inc.EventCount))
	}
	if old.AcknowledgedBy != inc.AcknowledgedBy {
		parts = append(parts, "acknowledged by "+inc.AcknowledgedBy)
	}
	if old.AssignedTo != inc.AssignedTo {
		parts = append(parts, "assigned to "+inc.AssignedTo)
	}
	if old.EscalationLevel != inc.EscalationLevel {
		parts = append(parts, fmt.Sprintf("escalated to %s", inc.EscalationName))
	}
	if !old.MTTRBreached && inc.MTTRBreached {
		parts = append(parts, "MTTR target breached")
	}
	return strings.Join(parts, ", ")
}

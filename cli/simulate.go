package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// scenario is a realistic symptom of one quickstart scenario.
type scenario struct {
	source   string
	messages []string
}

// scenarios holds the quickstart's symptoms per incident type; types without an entry
// get a generic message.
var scenarios = map[string]scenario{
	"error_burst":             {"api", []string{"POST /api/users returned 500", "GET /api/orders timeout"}},
	"service_down":            {"auth_service", []string{"auth_service unavailable: health check failed"}},
	"memory_exhaustion":       {"worker", []string{"Memory at 95%"}},
	"database_failure":        {"database", []string{"Connection pool exhausted"}},
	"cache_failure":           {"redis", []string{"Redis connection refused"}},
	"performance_degradation": {"api", []string{"Request took 5.2s"}},
	"disk_space_low":          {"storage", []string{"Disk at 92%"}},
	"workflow_failure_spike":  {"etl", []string{"ETL pipeline failed"}},
	"quality_drop":            {"ci", []string{"Coverage dropped to 72%"}},
	"network_partition":       {"network", []string{"Connection refused"}},
	"resource_leak":           {"worker", []string{"High process count"}},
	"rate_limit":              {"api", []string{"Rate limit exceeded"}},
	"ssl_expiry":              {"api", []string{"Certificate expired"}},
	"deadlock":                {"database", []string{"Database deadlock detected"}},
	"security_breach":         {"auth_service", []string{"Unauthorized access detected"}},
}

func simulateCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "simulate",
		Usage: "post realistic events of one scenario to the running manager and report the incident it opens",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "type", Required: true, Usage: "incident type or rule id, e.g. error_burst"},
			&cli.StringFlag{Name: "severity", Value: "high", Usage: "severity of the simulated events"},
			&cli.IntFlag{Name: "count", Usage: "number of events (default: the rule's threshold)"},
			&cli.StringFlag{Name: "source", Usage: "source of the events (default: the scenario's usual source)"},
			&cli.DurationFlag{Name: "wait", Value: 20 * time.Second, Usage: "how long to wait for the incident to appear"},
			outputFlag(),
		},
		Action: func(c *cli.Context) error {
			format, err := outputFormat(c)
			if err != nil {
				return err
			}
			if err := exactArgs(c); err != nil {
				return err
			}
			sev, err := schemas.ParseSeverity(c.String("severity"))
			if err != nil {
				return fmt.Errorf("--severity: %w", err)
			}
			rule, err := findRule(c.String("type"))
			if err != nil {
				return err
			}
			count := c.Int("count")
			if count == 0 {
				count = rule.Threshold
			}
			if count < 1 || count > api.MaxBatch {
				return fmt.Errorf("--count: want 1 to %d, got %d", api.MaxBatch, count)
			}
			sc, ok := scenarios[rule.IncidentType]
			if !ok {
				sc = scenario{source: "simulator", messages: []string{"simulated " + rule.IncidentType + " event"}}
			}
			source := c.String("source")
			if source == "" {
				source = sc.source
			}
			events := make([]map[string]any, count)
			now := time.Now().UTC()
			for i := range events {
				events[i] = map[string]any{
					"timestamp":  now.Add(time.Duration(i-count) * time.Second).Format(time.RFC3339Nano),
					"event_type": rule.EventTypes[i%len(rule.EventTypes)],
					"source":     source,
					"severity":   sev,
					"message":    "[simulated] " + sc.messages[i%len(sc.messages)],
					"metadata":   map[string]any{"simulated": true, "sequence": i + 1},
				}
			}
			cl := r.api()
			var accepted api.IngestResponse
			if _, err := cl.do(c.Context, http.MethodPost, "/api/v1/events", map[string]any{"events": events}, &accepted); err != nil {
				return err
			}
			if format == outputTable {
				fmt.Fprintf(c.App.Writer, "Posted %d %s events from %s (rule %s: %d within %ds).\n",
					accepted.Accepted, rule.EventTypes[0], source, rule.ID, rule.Threshold, rule.WindowSeconds)
			}
			inc, err := waitForIncident(c.Context, cl, rule, source, now.Add(-time.Second), c.Duration("wait"))
			if format == outputJSON {
				return writeJSON(c.App.Writer, map[string]any{"accepted": accepted.Accepted, "event_ids": accepted.EventIDs, "incident": inc})
			}
			switch {
			case err != nil:
				return err
			case inc == nil:
				fmt.Fprintf(c.App.Writer, "No %s incident appeared within %s (below the threshold, or the rule is disabled?).\n", rule.IncidentType, c.Duration("wait"))
				return cli.Exit("", 1)
			}
			fmt.Fprintf(c.App.Writer, "Incident %s: %s %s, %s, %d events.\n", inc.IncidentID,
				inc.Severity, inc.IncidentType, inc.Status, inc.EventCount)
			return nil
		},
	}
}

func findRule(name string) (schemas.Rule, error) {
	for _, r := range schemas.DefaultRules() {
		if r.ID == name || r.IncidentType == name {
			return r, nil
		}
	}
	return schemas.Rule{}, fmt.Errorf("--type: no rule or incident type %q", name)
}

// waitForIncident polls the API for the active incident of the rule and source.
func waitForIncident(ctx context.Context, cl *apiClient, rule schemas.Rule, source string, since time.Time, wait time.Duration) (*schemas.Incident, error) {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	fp := schemas.Fingerprint(rule.ID, source)
	q := url.Values{"status": {schemas.StatusActive}, "type": {rule.IncidentType}}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		var list struct {
			Incidents []schemas.Incident `json:"incidents"`
		}
		if _, err := cl.do(ctx, http.MethodGet, "/api/v1/incidents?"+q.Encode(), nil, &list); err != nil && !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return nil, err
		}
		for i := range list.Incidents {
			if list.Incidents[i].Fingerprint == fp {
				return &list.Incidents[i], nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, nil
		case <-tick.C:
		}
	}
}

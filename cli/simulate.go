package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// typeAll runs every scenario.
const typeAll = "all"

func simulateCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "simulate",
		Usage: "post realistic events of a scenario to the running manager and report the incident it opens",
		Description: "--type names a rule or incident type (error_burst, service_down, ... or a custom rule), or\n" +
			"\"all\" to run the 15 scenarios of the quickstart at once and report which rule fired for each.\n" +
			"By default each scenario posts its rule's threshold of events, at the rule's severity, from\n" +
			"the scenario's usual source. Exits 1 when an expected incident does not appear.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "type", Required: true, Usage: "rule id or incident type (e.g. error_burst), or all"},
			&cli.StringFlag{Name: "severity", Usage: "severity of the simulated events (default: the rule's)"},
			&cli.IntFlag{Name: "count", Usage: "events per scenario (default: the rule's threshold)"},
			&cli.StringFlag{Name: "source", Usage: "source of the events (default: the scenario's usual source)"},
			&cli.DurationFlag{Name: "wait", Value: 30 * time.Second, Usage: "how long to wait for the incidents to appear"},
			outputFlag(),
		},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c)
			if err != nil {
				return err
			}
			var sev schemas.Severity
			if c.IsSet("severity") {
				if sev, err = schemas.ParseSeverity(c.String("severity")); err != nil {
					return fmt.Errorf("--severity: %w", err)
				}
			}
			if count := c.Int("count"); c.IsSet("count") && (count < 1 || count > api.MaxBatch) {
				return fmt.Errorf("--count: want 1 to %d, got %d", api.MaxBatch, count)
			}
			cl := r.api()
			rules, err := fetchRules(c.Context, cl)
			if err != nil {
				return err
			}
			var runs []*simRun
			if c.String("type") == typeAll {
				runs = allRuns(rules)
			} else {
				rule, err := pickRule(rules, c.String("type"))
				if err != nil {
					return err
				}
				sc, ok := findScenario(rule.ID)
				if !ok {
					sc = genericScenario(rule)
				}
				runs = []*simRun{newSimRun(sc, rule)}
			}
			now := time.Now().UTC()
			for _, run := range runs {
				if run.Skipped != "" {
					continue
				}
				if !run.rule.Enabled {
					run.Skipped = "rule disabled"
					continue
				}
				count := c.Int("count")
				if count == 0 {
					count = run.rule.Threshold
				}
				evSev := sev
				if evSev == "" {
					evSev = run.rule.Severity
				}
				run.events = run.scenario.events(count, c.String("source"), evSev, now)
				if err := run.post(c.Context, cl); err != nil {
					return err
				}
				if format == outputTable && len(runs) == 1 {
					fmt.Fprintf(c.App.Writer, "Posted %d %s events from %s (rule %s: %d within %ds).\n",
						run.Accepted, run.events[0].EventType, run.Source, run.rule.ID, run.rule.Threshold, run.rule.WindowSeconds)
				}
			}
			if err := waitForIncidents(c.Context, cl, runs, c.Duration("wait")); err != nil {
				return err
			}
			if c.String("type") == typeAll {
				return reportAll(c, format, runs)
			}
			return reportOne(c, format, runs[0])
		},
	}
}

// simRun is one scenario posted and what came of it.
type simRun struct {
	scenario scenario
	rule     schemas.Rule
	events   []schemas.Event

	Scenario     string             `json:"scenario"`
	ExpectedRule string             `json:"expected_rule"`
	Source       string             `json:"source"`
	Accepted     int                `json:"accepted"`
	EventIDs     []string           `json:"event_ids"`
	FiredRules   []string           `json:"fired_rules"`
	Incidents    []schemas.Incident `json:"incidents"`
	OK           bool               `json:"ok"`
	Skipped      string             `json:"skipped,omitempty"`
	// Result is ok, skipped or failed.
	Result string `json:"result"`
}

// allRuns is one run per quickstart scenario; a scenario whose rule is gone (deleted) is
// kept, skipped, so that the report shows it instead of leaving it out.
func allRuns(rules []schemas.Rule) []*simRun {
	var runs []*simRun
	for _, sc := range scenarios {
		if i := slices.IndexFunc(rules, func(r schemas.Rule) bool { return r.ID == sc.rule }); i >= 0 {
			runs = append(runs, newSimRun(sc, rules[i]))
			continue
		}
		run := newSimRun(sc, schemas.Rule{ID: sc.rule})
		run.Skipped = "no rule " + sc.rule + " (deleted?)"
		runs = append(runs, run)
	}
	return runs
}

// Simulation results.
const (
	simOK      = "ok"
	simSkipped = "skipped"
	simFailed  = "failed"
)

// judge sets each run's Result and reports whether none failed: a skipped scenario is
// not a failure, an expected incident that did not open is.
func judge(runs []*simRun) (ok bool, counts map[string]int) {
	counts = map[string]int{simOK: 0, simSkipped: 0, simFailed: 0}
	for _, run := range runs {
		switch {
		case run.Skipped != "":
			run.Result = simSkipped
		case run.OK:
			run.Result = simOK
		default:
			run.Result = simFailed
		}
		counts[run.Result]++
	}
	return counts[simFailed] == 0, counts
}

func newSimRun(sc scenario, r schemas.Rule) *simRun {
	return &simRun{scenario: sc, rule: r, Scenario: sc.rule, ExpectedRule: r.ID, Source: sc.source, EventIDs: []string{}}
}

func (run *simRun) post(ctx context.Context, cl *apiClient) error {
	var accepted api.IngestResponse
	if _, err := cl.do(ctx, http.MethodPost, "/api/v1/events", map[string]any{"events": run.events}, &accepted); err != nil {
		return err
	}
	run.Source, run.Accepted, run.EventIDs = run.events[0].Source, accepted.Accepted, accepted.EventIDs
	return nil
}

// fetchRules asks the running manager for its rules (custom rules and changed thresholds
// included).
func fetchRules(ctx context.Context, cl *apiClient) ([]schemas.Rule, error) {
	var list struct {
		Rules []schemas.Rule `json:"rules"`
	}
	if _, err := cl.do(ctx, http.MethodGet, "/api/v1/rules", nil, &list); err != nil {
		return nil, err
	}
	return list.Rules, nil
}

// pickRule finds a rule by ID, else the first enabled rule of that incident type.
func pickRule(rules []schemas.Rule, name string) (schemas.Rule, error) {
	for _, r := range rules {
		if r.ID == name {
			return r, nil
		}
	}
	for _, r := range rules {
		if r.IncidentType == name && r.Enabled {
			return r, nil
		}
	}
	ids := make([]string, len(rules))
	for i, r := range rules {
		ids[i] = r.ID
	}
	return schemas.Rule{}, fmt.Errorf("--type: no rule or incident type %q (rules: %s, or all)", name, strings.Join(ids, ", "))
}

// waitForIncidents polls the events each run posted until each has reached an incident,
// or wait passes; it then records the incidents and the rules that opened them.
func waitForIncidents(ctx context.Context, cl *apiClient, runs []*simRun, wait time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, wait)
	defer cancel()
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	cache := map[string]schemas.Incident{}
poll:
	for {
		pending := 0
		for _, run := range runs {
			if run.Skipped != "" || len(run.Incidents) > 0 {
				continue
			}
			pending++
			found, err := run.incidentIDs(ctx, cl)
			if err != nil {
				if ctx.Err() != nil {
					break poll
				}
				return err
			}
			for _, id := range found {
				inc, ok := cache[id]
				if !ok {
					if _, err := cl.do(ctx, http.MethodGet, "/api/v1/incidents/"+url.PathEscape(id), nil, &inc); err != nil {
						continue // not in the read model yet
					}
					cache[id] = inc
				}
				run.Incidents = append(run.Incidents, inc)
				if !slices.Contains(run.FiredRules, inc.RuleID) {
					run.FiredRules = append(run.FiredRules, inc.RuleID)
				}
			}
		}
		if pending == 0 {
			break
		}
		select {
		case <-ctx.Done():
			break poll
		case <-tick.C:
		}
	}
	for _, run := range runs {
		run.OK = run.Skipped == "" && len(run.FiredRules) == 1 && run.FiredRules[0] == run.ExpectedRule
		if run.FiredRules == nil {
			run.FiredRules = []string{}
		}
		if run.Incidents == nil {
			run.Incidents = []schemas.Incident{}
		}
	}
	return nil
}

// incidentIDs returns the incidents the run's events are attached to so far.
func (run *simRun) incidentIDs(ctx context.Context, cl *apiClient) ([]string, error) {
	q := url.Values{"source": {run.Source}, "since": {run.events[0].Timestamp.Add(-time.Second).Format(time.RFC3339)},
		"last": {"10000"}}
	var list struct {
		Events []schemas.Event `json:"events"`
	}
	if _, err := cl.do(ctx, http.MethodGet, "/api/v1/events?"+q.Encode(), nil, &list); err != nil {
		return nil, err
	}
	mine := make(map[string]bool, len(run.EventIDs))
	for _, id := range run.EventIDs {
		mine[id] = true
	}
	var ids []string
	for _, ev := range list.Events {
		if mine[ev.EventID] && ev.IncidentID != "" && !slices.Contains(ids, ev.IncidentID) {
			ids = append(ids, ev.IncidentID)
		}
	}
	return ids, nil
}

func reportOne(c *cli.Context, format string, run *simRun) error {
	var inc *schemas.Incident
	if len(run.Incidents) > 0 {
		inc = &run.Incidents[0]
	}
	if format == outputJSON {
		if err := writeJSON(c.App.Writer, map[string]any{"accepted": run.Accepted, "event_ids": run.EventIDs, "incident": inc}); err != nil {
			return err
		}
		if inc == nil {
			return cli.Exit("", 1)
		}
		return nil
	}
	switch {
	case run.Skipped != "":
		fmt.Fprintf(c.App.Writer, "Rule %s is disabled: nothing posted (enable it with `mahavishnu incidents rules enable %s`).\n", run.rule.ID, run.rule.ID)
		return cli.Exit("", 1)
	case inc == nil:
		fmt.Fprintf(c.App.Writer, "No incident appeared within %s (below the threshold, silenced, or another rule claims these events?).\n", c.Duration("wait"))
		return cli.Exit("", 1)
	}
	fmt.Fprintf(c.App.Writer, "Incident %s: %s %s, %s, %d events.\n", inc.IncidentID, inc.Severity, inc.IncidentType, inc.Status, inc.EventCount)
	if inc.RuleID != run.rule.ID {
		fmt.Fprintf(c.App.Writer, "Note: rule %s opened it, not %s.\n", inc.RuleID, run.rule.ID)
	}
	return nil
}

func reportAll(c *cli.Context, format string, runs []*simRun) error {
	ok, counts := judge(runs)
	if format == outputJSON {
		if err := writeJSON(c.App.Writer, map[string]any{"ok": ok, "counts": counts, "scenarios": runs}); err != nil {
			return err
		}
	} else {
		tw := newTable(c.App.Writer)
		fmt.Fprintln(tw, "SCENARIO\tSOURCE\tEVENTS\tFIRED\tSEVERITY\tINCIDENT\tRESULT")
		for _, run := range runs {
			result, sev, id := "ok", "-", "-"
			switch {
			case run.Skipped != "":
				result = "skipped: " + run.Skipped
			case len(run.Incidents) == 0:
				result = "FAILED: no incident"
			case !run.OK:
				result = "FAILED: expected " + run.ExpectedRule
			}
			if len(run.Incidents) > 0 {
				sev, id = string(run.Incidents[0].Severity), run.Incidents[0].IncidentID
			}
			fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", run.Scenario, orDash(run.Source), run.Accepted,
				orDash(strings.Join(run.FiredRules, ",")), sev, id, result)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintf(c.App.Writer, "%d ok, %d skipped, %d failed.\n", counts[simOK], counts[simSkipped], counts[simFailed])
	}
	if !ok {
		return cli.Exit("", 1)
	}
	return nil
}

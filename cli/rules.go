package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// rulesCommand manages the detection rules. Reads come from the store (they work while
// the manager is stopped); changes go through the manager's API so that the running
// detector applies them at once.
func rulesCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "rules",
		Usage: "list, inspect and tune the detection rules (changes apply at once, without a restart)",
		Subcommands: []*cli.Command{
			rulesListCommand(r), rulesShowCommand(r),
			rulesEnableCommand(r, true), rulesEnableCommand(r, false),
			rulesUpdateCommand(r), rulesCreateCommand(r), rulesReviewCommand(r),
		},
	}
}

// ruleRecords returns the stored rules; before the manager's first start (nothing
// stored yet) the configured rules, with seeded false.
func (r *runtime) ruleRecords(c *cli.Context) (recs []store.RuleRecord, seeded bool, err error) {
	ctx := c.Context
	st, err := r.reader(c)
	if err != nil {
		return nil, false, err
	}
	if recs, err = st.RuleRecords(ctx); err != nil || len(recs) > 0 {
		return recs, true, err
	}
	rules, err := r.cfg.Rules()
	if err != nil {
		return nil, false, err
	}
	for _, rule := range rules {
		recs = append(recs, store.RuleRecord{Rule: rule})
	}
	return recs, false, nil
}

func (r *runtime) rules(c *cli.Context) ([]schemas.Rule, error) {
	recs, _, err := r.ruleRecords(c)
	if err != nil {
		return nil, err
	}
	rules := make([]schemas.Rule, len(recs))
	for i := range recs {
		rules[i] = recs[i].Rule
	}
	return rules, nil
}

const notSeededNote = "(The manager has not started yet: these are the configured rules; it stores them at its first start.)"

func rulesListCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list the detection rules",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "enabled", Usage: "only the enabled rules"}, outputFlag()},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c)
			if err != nil {
				return err
			}
			recs, seeded, err := r.ruleRecords(c)
			if err != nil {
				return err
			}
			if c.Bool("enabled") {
				kept := recs[:0]
				for _, rec := range recs {
					if rec.Enabled {
						kept = append(kept, rec)
					}
				}
				recs = kept
			}
			if format == outputJSON {
				if recs == nil {
					recs = []store.RuleRecord{}
				}
				return writeJSON(c.App.Writer, recs)
			}
			if len(recs) == 0 {
				fmt.Fprintln(c.App.Writer, "No rules.")
				return nil
			}
			tw := newTable(c.App.Writer)
			fmt.Fprintln(tw, "ID\tENABLED\tSEVERITY\tTHRESHOLD\tWINDOW\tCHECK\tMATCHES\tNAME")
			for _, rec := range recs {
				threshold := fmt.Sprint(rec.Threshold)
				if rec.RequireConsecutive {
					threshold += " consecutive"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%ds\t%ds\t%s\t%s\n", rec.ID, yesNo(rec.Enabled), strings.ToUpper(string(rec.Severity)),
					threshold, rec.WindowSeconds, rec.CheckIntervalSeconds, ruleMatches(&rec.Rule), rec.Name)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			if !seeded {
				fmt.Fprintln(c.App.Writer, notSeededNote)
			}
			return nil
		},
	}
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// ruleMatches sums up what a rule counts: "error,api_error +2 matchers".
func ruleMatches(r *schemas.Rule) string {
	s := strings.Join(r.EventTypes, ",")
	switch n := len(r.Matchers); n {
	case 0:
	case 1:
		s += " +1 matcher"
	default:
		s += fmt.Sprintf(" +%d matchers", n)
	}
	return s
}

func rulesShowCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "show one rule with its matchers, runbook and actions",
		ArgsUsage: "RULE_ID",
		Flags:     []cli.Flag{outputFlag()},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c, "rule_id")
			if err != nil {
				return err
			}
			recs, _, err := r.ruleRecords(c)
			if err != nil {
				return err
			}
			id := c.Args().First()
			for _, rec := range recs {
				if rec.ID != id {
					continue
				}
				if format == outputJSON {
					return writeJSON(c.App.Writer, rec)
				}
				printRule(c, &rec)
				return nil
			}
			return fmt.Errorf("rule %s not found (see `mahavishnu incidents rules list`)", id)
		},
	}
}

func printRule(c *cli.Context, rec *store.RuleRecord) {
	tw := newTable(c.App.Writer)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("Rule", rec.ID)
	row("Name", rec.Name)
	row("Incident type", rec.IncidentType)
	row("Severity", strings.ToUpper(string(rec.Severity)))
	row("Enabled", yesNo(rec.Enabled))
	row("Threshold", fmt.Sprintf("%d events within %ds, per %s", rec.Threshold, rec.WindowSeconds, orDash(rec.GroupBy)))
	row("Check interval", fmt.Sprintf("%ds", rec.CheckIntervalSeconds))
	row("Require consecutive", yesNo(rec.RequireConsecutive))
	if rec.MinComponentsAffected > 1 {
		row("Min components affected", fmt.Sprint(rec.MinComponentsAffected))
	}
	row("Event types", strings.Join(rec.EventTypes, ", "))
	for i, m := range rec.Matchers {
		desc := "types " + strings.Join(m.EventTypes, ", ")
		if len(m.MessageContains) > 0 {
			desc += "; message contains " + strings.Join(m.MessageContains, " | ")
		}
		if len(m.SourceContains) > 0 {
			desc += "; source or component contains " + strings.Join(m.SourceContains, " | ")
		}
		row(fmt.Sprintf("Matcher %d", i+1), desc)
	}
	if len(rec.Claims) > 0 {
		row("Claims from", strings.Join(rec.Claims, ", "))
	}
	row("Actions", orDash(strings.Join(rec.Actions, ", ")))
	row("Description", orDash(rec.Description))
	if !rec.UpdatedAt.IsZero() {
		updated := fmtTime(&rec.UpdatedAt)
		if rec.UpdatedBy != "" {
			updated += " by " + rec.UpdatedBy
		}
		row("Updated", updated)
	}
	_ = tw.Flush()
	if rec.Runbook != "" {
		fmt.Fprintln(c.App.Writer, "\nRunbook:")
		for line := range strings.Lines(rec.Runbook) {
			fmt.Fprintln(c.App.Writer, "  "+strings.TrimRight(line, "\n"))
		}
	}
}

func rulesEnableCommand(r *runtime, enable bool) *cli.Command {
	name, done := "enable", "enabled"
	if !enable {
		name, done = "disable", "disabled"
	}
	return &cli.Command{
		Name:      name,
		Usage:     name + " a rule",
		ArgsUsage: "RULE_ID",
		Flags:     []cli.Flag{byFlag(), outputFlag()},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c, "rule_id")
			if err != nil {
				return err
			}
			id := c.Args().First()
			var rec store.RuleRecord
			if _, err := r.api().do(c.Context, http.MethodPost, "/api/v1/rules/"+url.PathEscape(id)+"/"+name,
				map[string]string{"by": r.by(c)}, &rec); err != nil {
				return err
			}
			if format == outputJSON {
				return writeJSON(c.App.Writer, rec)
			}
			fmt.Fprintf(c.App.Writer, "Rule %s %s.\n", rec.ID, done)
			return nil
		},
	}
}

func rulesUpdateCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:      "update",
		Usage:     "change a rule's settings; the running detector applies them at once",
		ArgsUsage: "RULE_ID",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "threshold", Usage: "matching events that open an incident"},
			&cli.IntFlag{Name: "time-window", Usage: "sliding window in seconds"},
			&cli.IntFlag{Name: "check-interval", Usage: "background re-evaluation period in seconds"},
			&cli.BoolFlag{Name: "require-consecutive", Usage: "count only an unbroken run (no recovery event between); --require-consecutive=false turns it off"},
			&cli.StringFlag{Name: "severity", Usage: "low, medium, high or critical"},
			&cli.IntFlag{Name: "min-components", Usage: "distinct components the window must hold"},
			&cli.StringFlag{Name: "group-by", Usage: "source, component or event_type"},
			&cli.StringFlag{Name: "name", Usage: "display name"},
			byFlag(), outputFlag(),
		},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c, "rule_id")
			if err != nil {
				return err
			}
			patch, err := rulePatchFromFlags(c)
			if err != nil {
				return err
			}
			if patch.IsZero() {
				return fmt.Errorf("nothing to change: give --threshold, --time-window, --check-interval, --require-consecutive, --severity, --min-components, --group-by or --name")
			}
			id := c.Args().First()
			path := "/api/v1/rules/" + url.PathEscape(id)
			cl := r.api()
			var before, after store.RuleRecord
			if _, err := cl.do(c.Context, http.MethodGet, path, nil, &before); err != nil {
				return err
			}
			if _, err := cl.do(c.Context, http.MethodPatch, path, api.UpdateRuleRequest{RulePatch: patch, By: r.by(c)}, &after); err != nil {
				return err
			}
			if format == outputJSON {
				return writeJSON(c.App.Writer, after)
			}
			fmt.Fprintf(c.App.Writer, "Rule %s updated: %s.\n", after.ID, ruleDiff(&before.Rule, &after.Rule))
			return nil
		},
	}
}

func rulePatchFromFlags(c *cli.Context) (manager.RulePatch, error) {
	var p manager.RulePatch
	intFlag := func(name string) *int {
		if !c.IsSet(name) {
			return nil
		}
		v := c.Int(name)
		return &v
	}
	p.Threshold = intFlag("threshold")
	p.WindowSeconds = intFlag("time-window")
	p.CheckIntervalSeconds = intFlag("check-interval")
	p.MinComponentsAffected = intFlag("min-components")
	if c.IsSet("require-consecutive") {
		v := c.Bool("require-consecutive")
		p.RequireConsecutive = &v
	}
	if c.IsSet("severity") {
		sev, err := schemas.ParseSeverity(c.String("severity"))
		if err != nil {
			return p, fmt.Errorf("--severity: %w", err)
		}
		p.Severity = &sev
	}
	for _, f := range []struct {
		name string
		dst  **string
	}{{"group-by", &p.GroupBy}, {"name", &p.Name}} {
		if c.IsSet(f.name) {
			v := c.String(f.name)
			*f.dst = &v
		}
	}
	return p, nil
}

// ruleDiff lists the changed settings: "threshold 10 -> 15, require_consecutive false -> true".
func ruleDiff(a, b *schemas.Rule) string {
	var parts []string
	add := func(name string, x, y any) {
		if x != y {
			parts = append(parts, fmt.Sprintf("%s %v -> %v", name, x, y))
		}
	}
	add("name", a.Name, b.Name)
	add("severity", a.Severity, b.Severity)
	add("enabled", a.Enabled, b.Enabled)
	add("threshold", a.Threshold, b.Threshold)
	add("time_window_seconds", a.WindowSeconds, b.WindowSeconds)
	add("check_interval_seconds", a.CheckIntervalSeconds, b.CheckIntervalSeconds)
	add("require_consecutive", a.RequireConsecutive, b.RequireConsecutive)
	add("min_components_affected", a.MinComponentsAffected, b.MinComponentsAffected)
	add("group_by", a.GroupBy, b.GroupBy)
	if len(parts) == 0 {
		return "no change"
	}
	return strings.Join(parts, ", ")
}

func rulesCreateCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "create",
		Usage: "create a custom rule; the running detector applies it at once",
		Description: "Settings not given are taken from the built-in rule of the same --type (window, check\n" +
			"interval, event types, runbook, actions), else window 300s and check 60s; without such a\n" +
			"rule, --match must name the event types the rule counts.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "id", Required: true, Usage: "rule id: lower-case letters, digits, '_', '-', '.'"},
			&cli.StringFlag{Name: "name", Usage: "display name (default: the id)"},
			&cli.StringFlag{Name: "type", Required: true, Usage: "incident type it opens, e.g. performance_degradation"},
			&cli.StringFlag{Name: "severity", Required: true, Usage: "low, medium, high or critical"},
			&cli.IntFlag{Name: "threshold", Required: true, Usage: "matching events that open an incident"},
			&cli.IntFlag{Name: "time-window", Usage: "sliding window in seconds"},
			&cli.IntFlag{Name: "check-interval", Usage: "background re-evaluation period in seconds"},
			listFlag("match", "an event type the rule counts"),
			&cli.StringFlag{Name: "group-by", Value: schemas.GroupBySource, Usage: "source, component or event_type"},
			&cli.IntFlag{Name: "min-components", Usage: "distinct components the window must hold"},
			&cli.BoolFlag{Name: "require-consecutive", Usage: "count only an unbroken run (no recovery event between)"},
			&cli.StringFlag{Name: "description", Usage: "what the rule detects"},
			&cli.BoolFlag{Name: "disabled", Usage: "create it disabled"},
			byFlag(), outputFlag(),
		},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c)
			if err != nil {
				return err
			}
			rule, err := ruleFromFlags(c)
			if err != nil {
				return err
			}
			var rec store.RuleRecord
			if _, err := r.api().do(c.Context, http.MethodPost, "/api/v1/rules", api.CreateRuleRequest{Rule: rule, By: r.by(c)}, &rec); err != nil {
				return err
			}
			if format == outputJSON {
				return writeJSON(c.App.Writer, rec)
			}
			fmt.Fprintf(c.App.Writer, "Rule %s created: %s %s when %d events (%s) arrive within %ds from one %s.\n", rec.ID,
				strings.ToUpper(string(rec.Severity)), rec.IncidentType, rec.Threshold, strings.Join(rec.EventTypes, ", "),
				rec.WindowSeconds, rec.GroupBy)
			return nil
		},
	}
}

func ruleFromFlags(c *cli.Context) (schemas.Rule, error) {
	sev, err := schemas.ParseSeverity(c.String("severity"))
	if err != nil {
		return schemas.Rule{}, fmt.Errorf("--severity: %w", err)
	}
	typ := c.String("type")
	rule := schemas.Rule{ID: c.String("id"), Name: c.String("name"), IncidentType: typ, Severity: sev,
		Enabled: !c.Bool("disabled"), Threshold: c.Int("threshold"), WindowSeconds: 300, CheckIntervalSeconds: 60,
		GroupBy: c.String("group-by"), MinComponentsAffected: c.Int("min-components"),
		RequireConsecutive: c.Bool("require-consecutive"), Description: c.String("description")}
	for _, tmpl := range schemas.DefaultRules() {
		if tmpl.IncidentType == typ || tmpl.ID == typ {
			rule.WindowSeconds, rule.CheckIntervalSeconds = tmpl.WindowSeconds, tmpl.CheckIntervalSeconds
			rule.EventTypes, rule.Runbook, rule.Actions = tmpl.EventTypes, tmpl.Runbook, tmpl.Actions
			if rule.Description == "" {
				rule.Description = tmpl.Description
			}
			break
		}
	}
	if matches := listOf(c, "match"); len(matches) > 0 {
		rule.EventTypes = matches
	}
	if len(rule.EventTypes) == 0 {
		return rule, fmt.Errorf("--match: name the event types the rule counts (no built-in rule has type %q)", typ)
	}
	if c.IsSet("time-window") {
		rule.WindowSeconds = c.Int("time-window")
	}
	if c.IsSet("check-interval") {
		rule.CheckIntervalSeconds = c.Int("check-interval")
	}
	if rule.Name == "" {
		rule.Name = rule.ID
	}
	if err := rule.Validate(); err != nil {
		return rule, err
	}
	return rule, nil
}

func rulesReviewCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "review",
		Usage: "per rule: incidents opened, resolved without action, time to acknowledge; flags noisy and silent rules",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "since", Value: "7d", Usage: "the period reviewed: 7d, 24h or an RFC 3339 time"},
			&cli.IntFlag{Name: "noisy-fires", Value: 10, Usage: "incidents in the period that make a rule noisy"},
			outputFlag(),
		},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c)
			if err != nil {
				return err
			}
			since, err := api.ParseSince(c.String("since"), time.Now())
			if err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			revs, err := r.review(c, manager.ReviewOptions{Since: since, NoisyFires: c.Int("noisy-fires")})
			if err != nil {
				return err
			}
			if format == outputJSON {
				return writeJSON(c.App.Writer, api.ReviewResponse{Since: since, Rules: revs})
			}
			fmt.Fprintf(c.App.Writer, "Rules since %s:\n", fmtTime(&since))
			tw := newTable(c.App.Writer)
			fmt.Fprintln(tw, "RULE\tENABLED\tFIRES\tRESOLVED\tNO ACTION\tACKED\tMEDIAN ACK\tMEAN ACK\tFLAGS")
			for _, rv := range revs {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%d\t%d\t%d\t%s\t%s\t%s\n", rv.RuleID, yesNo(rv.Enabled), rv.Fires, rv.Resolved,
					rv.ResolvedWithoutAction, rv.Acknowledged, fmtSeconds(rv.MedianAckSeconds), fmtSeconds(rv.MeanAckSeconds),
					orDash(strings.Join(rv.Flags, ",")))
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			first := true
			for _, rv := range revs {
				if rv.Advice == "" {
					continue
				}
				if first {
					fmt.Fprintln(c.App.Writer, "\nAdvice:")
					first = false
				}
				fmt.Fprintf(c.App.Writer, "  %s (%s): %s\n", rv.RuleID, strings.Join(rv.Flags, ","), rv.Advice)
			}
			return nil
		},
	}
}

// review reviews the rules on the store, or asks the API once tokens exist.
func (r *runtime) review(c *cli.Context, opts manager.ReviewOptions) ([]manager.RuleReview, error) {
	viaAPI, err := r.readsThroughAPI(c)
	if err != nil {
		return nil, err
	}
	if viaAPI {
		q := url.Values{}
		setSince(q, opts.Since)
		if opts.NoisyFires > 0 {
			q.Set("noisy_fires", strconv.Itoa(opts.NoisyFires))
		}
		var out api.ReviewResponse
		if _, err := r.api().do(c.Context, http.MethodGet, "/api/v1/rules/review?"+q.Encode(), nil, &out); err != nil {
			return nil, err
		}
		return out.Rules, nil
	}
	rules, err := r.rules(c)
	if err != nil {
		return nil, err
	}
	st, err := r.Store(c.Context)
	if err != nil {
		return nil, err
	}
	return manager.Review(c.Context, st, rules, opts)
}

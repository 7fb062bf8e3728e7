package cli

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/store"
)

// testRuleCommand backtests a rule against the stored events, locally: it needs the
// store, not the running manager, and opens nothing.
func testRuleCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:      "test-rule",
		Usage:     "backtest a rule: replay the stored events with the given settings and report the incidents it would have opened (opens none)",
		ArgsUsage: "RULE_ID",
		Description: "All rules run, so that claims apply as in production; only the tested rule's incidents are\n" +
			"reported. A simulated incident collects its group's events until the group has been quiet for\n" +
			"one window. Silenced events are skipped, as they were when they arrived.",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "threshold", Usage: "test this threshold instead of the rule's"},
			&cli.IntFlag{Name: "time-window", Usage: "test this window (seconds) instead of the rule's"},
			&cli.StringFlag{Name: "since", Value: "7d", Usage: "replay events since then: 24h, 7d or an RFC 3339 time"},
			&cli.StringFlag{Name: "until", Usage: "replay events until then (default: now)"},
			outputFlag(),
		},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c, "rule_id")
			if err != nil {
				return err
			}
			now := time.Now()
			opts := manager.BacktestOptions{RuleID: c.Args().First(), Threshold: c.Int("threshold"), WindowSeconds: c.Int("time-window")}
			if c.IsSet("threshold") && opts.Threshold < 1 {
				return fmt.Errorf("--threshold: must be at least 1, got %d", opts.Threshold)
			}
			if c.IsSet("time-window") && opts.WindowSeconds < 1 {
				return fmt.Errorf("--time-window: must be at least 1 second, got %d", opts.WindowSeconds)
			}
			if opts.Since, err = api.ParseSince(c.String("since"), now); err != nil {
				return fmt.Errorf("--since: %w", err)
			}
			opts.Until = now.UTC()
			if v := c.String("until"); v != "" {
				if opts.Until, err = api.ParseSince(v, now); err != nil {
					return fmt.Errorf("--until: %w", err)
				}
			}
			res, err := r.backtest(c, opts)
			if errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("rule %s not found (see `mahavishnu incidents rules list`)", opts.RuleID)
			}
			if err != nil {
				return err
			}
			if format == outputJSON {
				return writeJSON(c.App.Writer, res)
			}
			rule := res.Rule
			fmt.Fprintf(c.App.Writer, "Backtest of %s (%d events within %ds per %s) over %d events from %s to %s:\n",
				rule.ID, rule.Threshold, rule.WindowSeconds, orDash(rule.GroupBy), res.EventsReplayed, fmtTime(&res.Since), fmtTime(&res.Until))
			if res.EventsSilenced > 0 {
				fmt.Fprintf(c.App.Writer, "(%d silenced events skipped.)\n", res.EventsSilenced)
			}
			fmt.Fprintf(c.App.Writer, "It would have opened %d %s; it actually opened %d. Nothing was opened now.\n",
				len(res.Incidents), plural(len(res.Incidents), "incident", "incidents"), res.ActualIncidents)
			if len(res.Incidents) == 0 {
				return nil
			}
			tw := newTable(c.App.Writer)
			fmt.Fprintln(tw, "DETECTED\tGROUP\tSEVERITY\tEVENTS\tFIRST EVENT\tLAST EVENT")
			for _, inc := range res.Incidents {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\n", fmtTime(&inc.DetectedAt), inc.GroupKey, strings.ToUpper(string(inc.Severity)),
					inc.Events, fmtTime(&inc.FirstEventAt), fmtTime(&inc.LastEventAt))
			}
			return tw.Flush()
		},
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// backtest runs the backtest on the store, or asks the API for it once tokens exist.
func (r *runtime) backtest(c *cli.Context, opts manager.BacktestOptions) (*manager.BacktestResult, error) {
	viaAPI, err := r.readsThroughAPI(c)
	if err != nil {
		return nil, err
	}
	if viaAPI {
		q := url.Values{}
		if opts.Threshold > 0 {
			q.Set("threshold", strconv.Itoa(opts.Threshold))
		}
		if opts.WindowSeconds > 0 {
			q.Set("time_window", strconv.Itoa(opts.WindowSeconds))
		}
		setSince(q, opts.Since)
		q.Set("until", opts.Until.UTC().Format(time.RFC3339Nano))
		var res manager.BacktestResult
		_, err := r.api().do(c.Context, http.MethodGet, "/api/v1/rules/"+url.PathEscape(opts.RuleID)+"/backtest?"+q.Encode(), nil, &res)
		var ae *apiError
		if errors.As(err, &ae) && ae.Status == http.StatusNotFound {
			return nil, store.ErrNotFound
		}
		if err != nil {
			return nil, err
		}
		return &res, nil
	}
	rules, err := r.rules(c)
	if err != nil {
		return nil, err
	}
	st, err := r.Store(c.Context)
	if err != nil {
		return nil, err
	}
	return manager.Backtest(c.Context, st, rules, opts)
}

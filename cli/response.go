package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/config"
	"github.com/mahavishnu/mahavishnu/remediation"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// responseCommands are the responder commands beyond acknowledge/assign/resolve/close.
func responseCommands(r *runtime) []*cli.Command {
	return []*cli.Command{mitigateCommand(r), approveCommand(r, true), approveCommand(r, false), updateCommand(r),
		postmortemCommand(r), historyCommand(r), configCommand(r), replayCommand(r), notifyCommand(r), createCommand(r), statsCommand(r), watchCommand(r), dashboardCommand(r)}
}

func (r *runtime) registry() (*remediation.Registry, error) {
	reg, err := remediation.NewRegistry(r.cfg.IncidentResponse.Remediation.Actions)
	if err != nil {
		return nil, fmt.Errorf("incident_response.remediation.%w", err)
	}
	return reg, nil
}

func mitigateCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:      "mitigate",
		Usage:     "list the recommended remediation actions of an incident, or run one",
		ArgsUsage: "INCIDENT_ID",
		Description: "Safe actions run at once; the others (restart_service, rollback, ...) need a named\n" +
			"approver with --approved-by, which also approves a pending request for the action.\n" +
			"--dry-run shows exactly what would run without running it.",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "list-actions", Usage: "list the actions: safe or approval-needed, already run or pending"},
			&cli.StringFlag{Name: "action", Usage: "the action to run"},
			&cli.StringFlag{Name: "approved-by", Usage: "the approver of an action that needs approval"},
			&cli.BoolFlag{Name: "dry-run", Usage: "show what would run, run nothing"},
			byFlag(), outputFlag(),
		},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c, "incident_id")
			if err != nil {
				return err
			}
			id := c.Args().First()
			st, err := r.reader(c)
			if err != nil {
				return err
			}
			inc, err := st.GetIncident(c.Context, id)
			if err != nil {
				return incidentError(id, err)
			}
			reg, err := r.registry()
			if err != nil {
				return err
			}
			action := c.String("action")
			switch {
			case c.Bool("list-actions") || action == "":
				return r.listActions(c, format, inc, reg, st)
			case c.Bool("dry-run"):
				a, ok := reg.Get(action)
				if !ok {
					return fmt.Errorf("--action: unknown action %q", action)
				}
				res, err := a.DryRun(remediation.Input{IncidentID: inc.IncidentID, IncidentType: inc.IncidentType,
					Severity: inc.Severity, Source: inc.Source, Component: inc.Source, Action: action, Actor: c.String("by")})
				if format == outputJSON {
					return writeJSON(c.App.Writer, res)
				}
				fmt.Fprintf(c.App.Writer, "%s (%s): %s\n", action, res.Status, res.Details)
				return err
			}
			var rec *schemas.ActionRecord
			if err := r.incidentCall(c, id, "mitigate", api.MitigateRequest{Action: action, ApprovedBy: c.String("approved-by"), By: r.by(c)}, &rec); err != nil {
				return err
			}
			if format == outputJSON {
				return writeJSON(c.App.Writer, rec)
			}
			fmt.Fprintf(c.App.Writer, "%s %s on incident %s (%s)\n", rec.Action, strings.ReplaceAll(rec.Status, "_", " "), id,
				(time.Duration(rec.DurationMS) * time.Millisecond).String())
			if rec.Output != "" {
				fmt.Fprintln(c.App.Writer, rec.Output)
			}
			if rec.Error != "" {
				fmt.Fprintln(c.App.Writer, "error:", rec.Error)
			}
			if rec.Status != schemas.ActionSucceeded {
				return cli.Exit("", 1)
			}
			return nil
		},
	}
}

type actionRow struct {
	Action      string `json:"action"`
	Description string `json:"description"`
	Safe        bool   `json:"safe"`
	Configured  bool   `json:"configured"`
	State       string `json:"state"`
}

func (r *runtime) listActions(c *cli.Context, format string, inc *schemas.Incident, reg *remediation.Registry, st storeReader) error {
	rule, err := storedRule(c.Context, st, inc.RuleID)
	if err != nil {
		return err
	}
	recs, _, err := st.ListActions(c.Context, inc.IncidentID, time.Time{}, 1000)
	if err != nil {
		return err
	}
	var rows []actionRow
	for _, a := range reg.Recommended(inc.IncidentType, rule.Actions) {
		row := actionRow{Action: a.ID, Description: a.Description,
			Safe: !remediation.NeedsApprover(a, r.cfg.IncidentResponse.RemediationPolicy()), Configured: a.Configured(), State: "not run"}
		for _, rec := range recs {
			if rec.Action == a.ID {
				row.State = rec.Status
			}
		}
		rows = append(rows, row)
	}
	if format == outputJSON {
		return writeJSON(c.App.Writer, rows)
	}
	if len(rows) == 0 {
		fmt.Fprintf(c.App.Writer, "No remediation actions for %s: notifications only.\n", inc.IncidentType)
		return nil
	}
	tw := newTable(c.App.Writer)
	fmt.Fprintln(tw, "ACTION\tKIND\tCONFIGURED\tSTATE\tDESCRIPTION")
	for _, row := range rows {
		kind := "safe"
		if !row.Safe {
			kind = "needs approval"
		}
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\t%s\n", row.Action, kind, row.Configured, row.State, row.Description)
	}
	return tw.Flush()
}

// storedRule is the rule an incident's actions come from, as the dashboard takes it: the
// stored rule with this ID (edited with `rules update`, or a custom one), else the
// built-in one.
func storedRule(ctx context.Context, st interface {
	GetRule(ctx context.Context, id string) (*store.RuleRecord, error)
}, id string) (schemas.Rule, error) {
	rec, err := st.GetRule(ctx, id)
	switch {
	case err == nil:
		return rec.Rule, nil
	case errors.Is(err, store.ErrNotFound):
		return findRuleByID(id), nil
	}
	return schemas.Rule{}, err
}

// ruleForType is the rule a declared incident of this type (or rule ID) takes its runbook
// and actions from: a stored rule with that ID, else the first stored rule of that
// incident type, else the built-in ones likewise.
func ruleForType(ctx context.Context, st *store.Store, typ string) (schemas.Rule, error) {
	rules, err := st.Rules(ctx)
	if err != nil {
		return schemas.Rule{}, err
	}
	for _, set := range [][]schemas.Rule{rules, schemas.DefaultRules()} {
		if i := slices.IndexFunc(set, func(r schemas.Rule) bool { return r.ID == typ }); i >= 0 {
			return set[i], nil
		}
		if i := slices.IndexFunc(set, func(r schemas.Rule) bool { return r.IncidentType == typ }); i >= 0 {
			return set[i], nil
		}
	}
	return schemas.Rule{}, nil
}

func findRuleByID(id string) schemas.Rule {
	for _, r := range schemas.DefaultRules() {
		if r.ID == id {
			return r
		}
	}
	return schemas.Rule{}
}

func approveCommand(r *runtime, approve bool) *cli.Command {
	name, usage := "approve", "approve a remediation action waiting for approval"
	if !approve {
		name, usage = "reject", "reject a remediation action waiting for approval"
	}
	return &cli.Command{
		Name: name, Usage: usage, ArgsUsage: "INCIDENT_ID",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "action", Required: true, Usage: "the pending action"},
			&cli.StringFlag{Name: "reason", Usage: "why (recorded on the timeline)"},
			byFlag(), outputFlag(),
		},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c, "incident_id")
			if err != nil {
				return err
			}
			id := c.Args().First()
			var ap *schemas.Approval
			if err := r.incidentCall(c, id, name, api.DecisionRequest{Action: c.String("action"), Reason: c.String("reason"), By: r.by(c)}, &ap); err != nil {
				return err
			}
			if format == outputJSON {
				return writeJSON(c.App.Writer, ap)
			}
			fmt.Fprintf(c.App.Writer, "%s %s by %s on incident %s.\n", ap.Action, ap.Status, ap.By, id)
			return nil
		},
	}
}

func updateCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name: "update", Usage: "change an incident's status, severity, title or assignee, or add a note", ArgsUsage: "INCIDENT_ID",
		Description: "A status set here stays until the procedure reaches a later stage: a stage that starts\n" +
			"behind it leaves it (and says so on the timeline); the first stage further along takes over\n" +
			"and records whose status it replaced. Use resolve and close for those statuses.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "status", Usage: "a stage status: " + statusNames()},
			&cli.StringFlag{Name: "severity", Usage: "low, medium, high or critical"},
			&cli.StringFlag{Name: "title"},
			&cli.StringFlag{Name: "assigned-to", Usage: "assign the incident"},
			&cli.StringFlag{Name: "note", Usage: "add a note to the timeline"},
			byFlag(), outputFlag(),
		},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c, "incident_id")
			if err != nil {
				return err
			}
			id := c.Args().First()
			req := api.UpdateRequest{By: r.by(c), Title: c.String("title"), Note: c.String("note")}
			if v := c.String("status"); v != "" {
				if req.Status, err = schemas.ParseStatus(strings.ToLower(v)); err != nil {
					return fmt.Errorf("--status: %w", err)
				}
			}
			if v := c.String("severity"); v != "" {
				if req.Severity, err = schemas.ParseSeverity(v); err != nil {
					return fmt.Errorf("--severity: %w", err)
				}
			}
			assignee := c.String("assigned-to")
			if assignee == "" && req.Status == "" && req.Severity == "" && req.Title == "" && req.Note == "" {
				return fmt.Errorf("nothing to update: give --status, --severity, --title, --assigned-to or --note")
			}
			var inc *schemas.Incident
			if assignee != "" {
				if err := r.incidentCall(c, id, "assign", map[string]string{"to": assignee, "by": req.By}, &inc); err != nil {
					return err
				}
			}
			if req.Status != "" || req.Severity != "" || req.Title != "" || req.Note != "" {
				if err := r.incidentCall(c, id, "update", req, &inc); err != nil {
					return err
				}
			}
			if format == outputJSON {
				return writeJSON(c.App.Writer, inc)
			}
			fmt.Fprintf(c.App.Writer, "Incident %s updated: %s, %s, assigned to %s.\n", id, inc.Status, inc.Severity, orDash(inc.AssignedTo))
			return nil
		},
	}
}

func postmortemCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name: "postmortem", Usage: "show an incident's post-mortem (Markdown), written when it is resolved", ArgsUsage: "INCIDENT_ID",
		Flags: []cli.Flag{&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write it to this file instead of printing it"}},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, "incident_id"); err != nil {
				return err
			}
			id := c.Args().First()
			st, err := r.reader(c)
			if err != nil {
				return err
			}
			inc, err := st.GetIncident(c.Context, id)
			if err != nil {
				return incidentError(id, err)
			}
			md, _, err := st.PostMortem(c.Context, id)
			if err != nil {
				if inc.Status.Active() {
					return fmt.Errorf("incident %s is %s: its post-mortem is written when it is resolved", id, inc.Status)
				}
				return incidentError(id, err)
			}
			if path := c.String("output"); path != "" {
				if err := os.WriteFile(path, []byte(md), 0o644); err != nil {
					return fmt.Errorf("--output: %w", err)
				}
				fmt.Fprintf(c.App.Writer, "Post-mortem of %s written to %s.\n", id, path)
				return nil
			}
			_, err = fmt.Fprint(c.App.Writer, md)
			return err
		},
	}
}

func configCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name: "config", Usage: "inspect or change the configuration (secrets show as <secret>)",
		Subcommands: []*cli.Command{{
			Name: "get", Usage: "print a key (e.g. auto_remediation, notifications) or, without one, everything", ArgsUsage: "[KEY]",
			Action: func(c *cli.Context) error {
				if c.NArg() > 1 {
					return fmt.Errorf("unexpected argument %q", c.Args().Get(1))
				}
				v, err := config.Get(r.cfg, c.Args().First())
				if err != nil {
					return err
				}
				return writeJSON(c.App.Writer, v)
			},
		}, {
			Name:      "set",
			Usage:     "set keys in the config file (e.g. auto_remediation=true); the manager applies them when it starts",
			ArgsUsage: "KEY=VALUE...",
			Action: func(c *cli.Context) error {
				if c.NArg() == 0 {
					return fmt.Errorf("missing KEY=VALUE: e.g. mahavishnu incidents config set auto_remediation=true")
				}
				path := c.String("config")
				if path == "" {
					path = config.DefaultPath
				}
				for _, arg := range c.Args().Slice() {
					key, value, ok := strings.Cut(arg, "=")
					if !ok {
						return fmt.Errorf("%q: want KEY=VALUE", arg)
					}
					full, err := config.SetInFile(path, key, value)
					if err != nil {
						return err
					}
					shown := value
					if v, err := config.Get(r.cfg, full); err == nil {
						if _, secret := v.(config.Secret); secret {
							shown = config.Secret(value).String()
						}
					}
					fmt.Fprintf(c.App.Writer, "%s = %s in %s\n", full, shown, path)
				}
				fmt.Fprintln(c.App.Writer, "Restart the incident manager (mahavishnu incidents start) to apply.")
				return nil
			},
		}},
	}
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

func incidentsCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "incidents",
		Usage: "detect, respond to and inspect incidents",
		Subcommands: append([]*cli.Command{
			startCommand(r),
			statusCommand(r),
			listCommand(r),
			getCommand(r),
			timelineCommand(r),
			acknowledgeCommand(r),
			assignCommand(r),
			resolveCommand(r),
			closeCommand(r),
			eventsCommand(r),
			simulateCommand(r),
			rulesCommand(r),
			testRuleCommand(r),
			silencesCommand(r),
			retentionCommand(r),
		}, responseCommands(r)...),
	}
}

func listCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list incidents, newest first",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "status", Usage: "active (not resolved or closed), or one status: " + statusNames()},
			&cli.StringFlag{Name: "severity", Usage: "low, medium, high or critical"},
			&cli.StringFlag{Name: "type", Usage: "incident type, e.g. error_burst"},
			&cli.IntFlag{Name: "limit", Value: 50, Usage: "at most this many incidents"},
			outputFlag(),
		},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c)
			if err != nil {
				return err
			}
			f := store.IncidentFilter{Status: strings.ToLower(c.String("status")), Type: c.String("type"), Limit: c.Int("limit")}
			if f.Status != "" && f.Status != schemas.StatusActive {
				if _, err := schemas.ParseStatus(f.Status); err != nil {
					return fmt.Errorf("--status: %w", err)
				}
			}
			if v := c.String("severity"); v != "" {
				if f.Severity, err = schemas.ParseSeverity(v); err != nil {
					return fmt.Errorf("--severity: %w", err)
				}
			}
			incs, err := r.listIncidents(c, f)
			if err != nil {
				return err
			}
			if format == outputJSON {
				if incs == nil {
					incs = []schemas.Incident{}
				}
				return writeJSON(c.App.Writer, incs)
			}
			if len(incs) == 0 {
				fmt.Fprintln(c.App.Writer, "No incidents.")
				return nil
			}
			tw := newTable(c.App.Writer)
			fmt.Fprintln(tw, "ID\tSEVERITY\tSTATUS\tTYPE\tTITLE\tEVENTS\tDETECTED\tACK BY\tASSIGNED")
			for _, inc := range incs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", inc.IncidentID, strings.ToUpper(string(inc.Severity)),
					inc.Status, inc.IncidentType, inc.Title, inc.EventCount, fmtTime(&inc.DetectedAt),
					orDash(inc.AcknowledgedBy), orDash(inc.AssignedTo))
			}
			return tw.Flush()
		},
	}
}

func statusNames() string {
	names := make([]string, len(schemas.Statuses))
	for i, s := range schemas.Statuses {
		names[i] = string(s)
	}
	return strings.Join(names, ", ")
}

func getCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:      "get",
		Usage:     "show one incident",
		ArgsUsage: "INCIDENT_ID",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "timeline", Usage: "also show the timeline"},
			&cli.BoolFlag{Name: "full", Usage: "also show the timeline and the attached events"},
			outputFlag(),
		},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c, "incident_id")
			if err != nil {
				return err
			}
			st, err := r.reader(c)
			if err != nil {
				return err
			}
			inc, err := st.GetIncident(c.Context, c.Args().First())
			if err != nil {
				return incidentError(c.Args().First(), err)
			}
			detail := incidentDetail{Incident: *inc, TemporalURL: r.workflowURL(inc)}
			if inc.Status.Active() {
				detail.PendingApprovals, detail.PendingApprovalsError = r.pendingApprovals(c.Context, inc)
			}
			// Who was paged when (issue 11): the timeline's paged entries.
			all, err := st.Timeline(c.Context, inc.IncidentID)
			if err != nil {
				return err
			}
			detail.Paged = []schemas.TimelineEntry{}
			for _, e := range all {
				if e.Kind == schemas.TimelinePaged {
					detail.Paged = append(detail.Paged, e)
				}
			}
			full := c.Bool("full")
			if c.Bool("timeline") || full {
				if detail.Timeline, err = st.Timeline(c.Context, inc.IncidentID); err != nil {
					return err
				}
			}
			if full {
				// Every attached event, read from the store page by page (oldest first).
				detail.Events = []schemas.Event{}
				if err := st.ScanIncidentEvents(c.Context, inc.IncidentID, func(e schemas.Event) error {
					detail.Events = append(detail.Events, e)
					return nil
				}); err != nil {
					return err
				}
			}
			if format == outputJSON {
				return writeJSON(c.App.Writer, detail)
			}
			printIncident(c, detail)
			return nil
		},
	}
}

type incidentDetail struct {
	schemas.Incident
	TemporalURL string `json:"temporal_url,omitempty"`
	// PendingApprovals come from the running workflow (the store does not hold them).
	PendingApprovals      []schemas.Approval      `json:"pending_approvals"`
	PendingApprovalsError string                  `json:"pending_approvals_error,omitempty"`
	Timeline              []schemas.TimelineEntry `json:"timeline,omitempty"`
	Events                []schemas.Event         `json:"events,omitempty"`
	// Paged lists who escalation paged, and when (issue 11).
	Paged []schemas.TimelineEntry `json:"paged"`
}

func printIncident(c *cli.Context, d incidentDetail) {
	inc := d.Incident
	tw := newTable(c.App.Writer)
	row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	row("Incident", inc.IncidentID)
	row("Title", inc.Title)
	row("Type", inc.IncidentType)
	row("Severity", strings.ToUpper(string(inc.Severity)))
	row("Status", string(inc.Status))
	row("Rule", orDash(inc.RuleID))
	row("Source", orDash(inc.Source))
	row("Affected components", orDash(strings.Join(inc.AffectedComponents, ", ")))
	row("Events", fmt.Sprint(inc.EventCount))
	row("First event", fmtTime(inc.FirstEventAt))
	row("Detected", fmtTime(&inc.DetectedAt))
	ack := fmtTime(inc.AcknowledgedAt)
	if inc.AcknowledgedBy != "" {
		ack += " by " + inc.AcknowledgedBy
	}
	row("Acknowledged", ack)
	row("Assigned to", orDash(inc.AssignedTo))
	escalation := fmt.Sprintf("level %d", inc.EscalationLevel)
	if inc.EscalationName != "" {
		escalation += " (" + inc.EscalationName + ")"
	}
	row("Escalation", escalation)
	for i, e := range d.Paged {
		label := ""
		if i == 0 {
			label = "Paged"
		}
		at := e.At
		fmt.Fprintf(tw, "%s\t%s  %s\n", labelColon(label), fmtTime(&at), strings.TrimPrefix(e.Message, "paged "))
	}
	resolved := fmtTime(inc.ResolvedAt)
	if inc.ResolvedBy != "" {
		resolved += " by " + inc.ResolvedBy
	}
	row("Resolved", resolved)
	if inc.ResolutionNotes != "" {
		row("Resolution notes", inc.ResolutionNotes)
	}
	if inc.ClosedAt != nil {
		row("Closed", fmtTime(inc.ClosedAt)+" by "+orDash(inc.ClosedBy))
	}
	row("MTTD", fmtSeconds(inc.MTTDSeconds))
	row("MTTA", fmtSeconds(inc.MTTASeconds))
	row("MTTR", fmtSeconds(inc.MTTRSeconds))
	if inc.MTTRBreached {
		row("MTTR target", "BREACHED")
	}
	switch {
	case d.PendingApprovalsError != "":
		row("Pending approvals", "unknown: "+d.PendingApprovalsError)
	case len(d.PendingApprovals) > 0:
		var parts []string
		for _, ap := range d.PendingApprovals {
			parts = append(parts, fmt.Sprintf("%s (expires %s)", ap.Action, fmtTime(&ap.ExpiresAt)))
		}
		row("Pending approvals", strings.Join(parts, ", "))
	}
	row("Workflow", inc.WorkflowID)
	if d.TemporalURL != "" {
		row("Temporal UI", d.TemporalURL)
	}
	_ = tw.Flush()
	if d.Timeline != nil {
		fmt.Fprintln(c.App.Writer, "\nTimeline:")
		printTimeline(c, d.Timeline)
	}
	if d.Events != nil {
		fmt.Fprintf(c.App.Writer, "\nEvents (%d, oldest first):\n", len(d.Events))
		printEvents(c, d.Events)
	}
}

func timelineCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:      "timeline",
		Usage:     "show an incident's timeline, oldest first",
		ArgsUsage: "INCIDENT_ID",
		Flags:     []cli.Flag{outputFlag()},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c, "incident_id")
			if err != nil {
				return err
			}
			st, err := r.reader(c)
			if err != nil {
				return err
			}
			id := c.Args().First()
			if _, err := st.GetIncident(c.Context, id); err != nil {
				return incidentError(id, err)
			}
			entries, err := st.Timeline(c.Context, id)
			if err != nil {
				return err
			}
			if format == outputJSON {
				if entries == nil {
					entries = []schemas.TimelineEntry{}
				}
				return writeJSON(c.App.Writer, entries)
			}
			printTimeline(c, entries)
			return nil
		},
	}
}

func printTimeline(c *cli.Context, entries []schemas.TimelineEntry) {
	tw := newTable(c.App.Writer)
	fmt.Fprintln(tw, "TIME\tKIND\tACTOR\tMESSAGE")
	for _, e := range entries {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", fmtTime(&e.At), e.Kind, orDash(e.Actor), e.Message)
	}
	_ = tw.Flush()
}

func byFlag() *cli.StringFlag {
	return &cli.StringFlag{Name: "by", Value: currentUser(), Usage: "who does this (recorded on the timeline)"}
}

func acknowledgeCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:      "acknowledge",
		Aliases:   []string{"ack"},
		Usage:     "acknowledge an incident",
		ArgsUsage: "INCIDENT_ID",
		Flags:     []cli.Flag{byFlag(), outputFlag()},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, "incident_id"); err != nil {
				return err
			}
			return r.op(c, "acknowledge", map[string]string{"by": r.by(c)}, func(inc *schemas.Incident) string {
				return fmt.Sprintf("Incident %s acknowledged by %s.", inc.IncidentID, inc.AcknowledgedBy)
			})
		},
	}
}

func assignCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:      "assign",
		Usage:     "assign an incident to a responder",
		ArgsUsage: "INCIDENT_ID ASSIGNEE",
		Flags:     []cli.Flag{byFlag(), outputFlag()},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, "incident_id", "assignee"); err != nil {
				return err
			}
			return r.op(c, "assign", map[string]string{"to": c.Args().Get(1), "by": r.by(c)}, func(inc *schemas.Incident) string {
				return fmt.Sprintf("Incident %s assigned to %s.", inc.IncidentID, inc.AssignedTo)
			})
		},
	}
}

func resolveCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:      "resolve",
		Usage:     "resolve an incident; the post-mortem is generated next",
		ArgsUsage: "INCIDENT_ID",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "notes", Usage: "how it was resolved (shown in the post-mortem)"},
			byFlag(), outputFlag(),
		},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, "incident_id"); err != nil {
				return err
			}
			return r.op(c, "resolve", map[string]string{"notes": c.String("notes"), "by": r.by(c)}, func(inc *schemas.Incident) string {
				return fmt.Sprintf("Incident %s resolved by %s (MTTR %s).", inc.IncidentID, inc.ResolvedBy, fmtSeconds(inc.MTTRSeconds))
			})
		},
	}
}

func closeCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:      "close",
		Usage:     "close a resolved incident",
		ArgsUsage: "INCIDENT_ID",
		Flags:     []cli.Flag{byFlag(), outputFlag()},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, "incident_id"); err != nil {
				return err
			}
			return r.op(c, "close", map[string]string{"by": r.by(c)}, func(inc *schemas.Incident) string {
				return fmt.Sprintf("Incident %s closed by %s.", inc.IncidentID, inc.ClosedBy)
			})
		},
	}
}

// op runs a responder operation through the manager's API (POST
// /api/v1/incidents/{id}/{name}), with the caller's token.
func (r *runtime) op(c *cli.Context, name string, body any, done func(*schemas.Incident) string) error {
	format, err := outputFormat(c)
	if err != nil {
		return err
	}
	id := c.Args().First()
	var inc *schemas.Incident
	if err := r.incidentCall(c, id, name, body, &inc); err != nil {
		return err
	}
	if format == outputJSON {
		return writeJSON(c.App.Writer, inc)
	}
	fmt.Fprintln(c.App.Writer, done(inc))
	return nil
}

func incidentError(id string, err error) error {
	var ae *apiError
	switch {
	case errors.Is(err, store.ErrNotFound), errors.As(err, &ae) && ae.Status == http.StatusNotFound:
		return fmt.Errorf("incident %s not found", id)
	case errors.As(err, &ae) && (ae.Status == http.StatusConflict || ae.Status == http.StatusForbidden):
		return errors.New(ae.Msg)
	}
	return err
}

func (r *runtime) workflowURL(inc *schemas.Incident) string {
	if !r.cfg.Embedded() || r.cfg.Temporal.Embedded.UIPort == 0 {
		return ""
	}
	return schemas.WorkflowUIURL(fmt.Sprintf("http://127.0.0.1:%d", r.cfg.Temporal.Embedded.UIPort),
		r.cfg.Temporal.Namespace, inc.WorkflowID, inc.RunID)
}

// pendingApprovals asks the incident's running workflow for its pending approvals. It
// gives up quickly: `get` must work when Temporal is down, saying so.
func (r *runtime) pendingApprovals(ctx context.Context, inc *schemas.Incident) ([]schemas.Approval, string) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	tc, err := r.Client(ctx)
	if err != nil {
		return nil, "Temporal unreachable"
	}
	v, err := tc.QueryWorkflow(ctx, inc.WorkflowID, "", schemas.QueryPendingApprovals)
	if err != nil {
		return nil, "query failed: " + err.Error()
	}
	var aps []schemas.Approval
	if err := v.Get(&aps); err != nil {
		return nil, "query failed: " + err.Error()
	}
	return aps, ""
}

func labelColon(s string) string {
	if s == "" {
		return ""
	}
	return s + ":"
}

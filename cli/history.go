package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// historyRow is one line of `incidents history`: who did what, when, to which incident.
type historyRow struct {
	At         time.Time `json:"at"`
	IncidentID string    `json:"incident_id,omitempty"`
	Kind       string    `json:"kind"`
	Actor      string    `json:"actor"`
	Message    string    `json:"message"`
	// Source is where the row comes from: "timeline" (responder and system activity on
	// incidents) or "audit" (every write through the API, allowed or denied, with the
	// caller's identity and address).
	Source string `json:"source"`
}

// historyQuery selects the rows of `incidents history`.
type historyQuery struct {
	IncidentID string
	Since      time.Time
	// Kinds keeps only these kinds (empty: every kind).
	Kinds []string
	Last  int
}

// errAuditNotAllowed: the caller's token may not read the audit log, so history shows
// the timelines alone (and says so on stderr).
var errAuditNotAllowed = errors.New("the audit rows are left out: reading the audit log needs an admin token")

// historyReader is what history reads: the store, or the API once tokens exist.
type historyReader interface {
	Activity(ctx context.Context, f store.ActivityFilter) ([]schemas.TimelineEntry, error)
	Audit(ctx context.Context, f store.AuditFilter) ([]store.AuditEntry, error)
	ListActions(ctx context.Context, incidentID string, since time.Time, limit int) ([]schemas.ActionRecord, []string, error)
}

// historySource returns its latest rows matching q, oldest first.
type historySource func(ctx context.Context, st historyReader, q historyQuery) ([]historyRow, error)

// historySources are merged by `incidents history`; add a source here to list more
// (an audit log of configuration changes, say).
var historySources = []historySource{timelineHistory, auditHistory}

// historyNoise are the timeline kinds history leaves out unless asked for by --kind: the
// detector's attachment counters, many per incident.
var historyNoise = []string{schemas.TimelineEventsAdded}

// timelineHistory is the incidents' timelines: acknowledge, assign, approve, reject,
// resolve, close, updates and notes, action runs, approval requests and expiries,
// escalations, notifications sent or failed, stages.
func timelineHistory(ctx context.Context, st historyReader, q historyQuery) ([]historyRow, error) {
	f := store.ActivityFilter{IncidentID: q.IncidentID, Since: q.Since, Kinds: q.Kinds, Last: q.Last}
	if len(q.Kinds) == 0 {
		f.ExcludeKinds = historyNoise
	}
	entries, err := st.Activity(ctx, f)
	if err != nil {
		return nil, err
	}
	rows := make([]historyRow, len(entries))
	for i, e := range entries {
		rows[i] = historyRow{At: e.At, IncidentID: e.IncidentID, Kind: e.Kind, Actor: e.Actor, Message: e.Message, Source: "timeline"}
	}
	return rows, nil
}

// activityHistory merges the sources' rows, oldest first, and keeps the latest q.Last;
// notes (a source left out) go to notes.
func activityHistory(ctx context.Context, st historyReader, q historyQuery, notes io.Writer) ([]historyRow, error) {
	var rows []historyRow
	for _, src := range historySources {
		more, err := src(ctx, st, q)
		if errors.Is(err, errAuditNotAllowed) {
			fmt.Fprintf(notes, "note: %s\n", err)
			continue
		}
		if err != nil {
			return nil, err
		}
		rows = append(rows, more...)
	}
	slices.SortStableFunc(rows, func(a, b historyRow) int { return a.At.Compare(b.At) })
	if q.Last > 0 && len(rows) > q.Last {
		rows = rows[len(rows)-q.Last:]
	}
	return rows, nil
}

func historyCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "history",
		Usage: "show what responders and the system did (the audit trail), or with --remediation the action runs",
		Description: "Without flags, lists the latest activity on every incident, oldest first: acknowledge,\n" +
			"assign, approve, reject, resolve, close, updates and notes, remediation actions, approval\n" +
			"requests, escalations and notifications, with who did it and when. --remediation lists\n" +
			"the remediation action runs instead (status, who ran and approved them, duration, error).",
		Flags: []cli.Flag{
			&cli.BoolFlag{Name: "remediation", Usage: "only the remediation action runs"},
			&cli.StringFlag{Name: "incident", Usage: "only this incident"},
			&cli.StringFlag{Name: "since", Usage: "10m, 2h, 7d or an RFC 3339 time"},
			&cli.StringSliceFlag{Name: "kind", Usage: "only these timeline kinds (acknowledged, approved, action, notification_sent, ...)"},
			&cli.IntFlag{Name: "last", Value: 50, Usage: "how many of the latest rows"},
			outputFlag(),
		},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c)
			if err != nil {
				return err
			}
			if c.Int("last") < 1 {
				return fmt.Errorf("--last: want at least 1, got %d", c.Int("last"))
			}
			var since time.Time
			if v := c.String("since"); v != "" {
				if since, err = api.ParseSince(v, time.Now()); err != nil {
					return fmt.Errorf("--since: %w", err)
				}
			}
			st, err := r.historyReader(c)
			if err != nil {
				return err
			}
			if c.Bool("remediation") {
				return remediationHistory(c, format, st, since)
			}
			rows, err := activityHistory(c.Context, st, historyQuery{IncidentID: c.String("incident"), Since: since,
				Kinds: c.StringSlice("kind"), Last: c.Int("last")}, c.App.ErrWriter)
			if err != nil {
				return err
			}
			if format == outputJSON {
				if rows == nil {
					rows = []historyRow{}
				}
				return writeJSON(c.App.Writer, rows)
			}
			if len(rows) == 0 {
				fmt.Fprintln(c.App.Writer, "No activity recorded.")
				return nil
			}
			tw := newTable(c.App.Writer)
			fmt.Fprintln(tw, "TIME\tINCIDENT\tKIND\tBY\tWHAT")
			for _, row := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", fmtTime(&row.At), orDash(row.IncidentID), row.Kind, orDash(row.Actor),
					strings.ReplaceAll(firstLine(row.Message), "\t", " "))
			}
			return tw.Flush()
		},
	}
}

// firstLine is s up to its first line break.
func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// remediationHistory lists the action runs (history --remediation).
func remediationHistory(c *cli.Context, format string, st historyReader, since time.Time) error {
	recs, ids, err := st.ListActions(c.Context, c.String("incident"), since, c.Int("last"))
	if err != nil {
		return err
	}
	if format == outputJSON {
		type row struct {
			IncidentID string `json:"incident_id"`
			schemas.ActionRecord
		}
		rows := make([]row, len(recs))
		for i := range recs {
			rows[i] = row{ids[i], recs[i]}
		}
		return writeJSON(c.App.Writer, rows)
	}
	if len(recs) == 0 {
		fmt.Fprintln(c.App.Writer, "No remediation actions have run.")
		return nil
	}
	tw := newTable(c.App.Writer)
	fmt.Fprintln(tw, "TIME\tINCIDENT\tACTION\tSTATUS\tRUN BY\tAPPROVED BY\tDURATION\tERROR")
	for i, rec := range recs {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", fmtTime(&rec.At), ids[i], rec.Action, rec.Status, orDash(rec.Actor),
			orDash(rec.ApprovedBy), (time.Duration(rec.DurationMS) * time.Millisecond).String(), orDash(firstLine(rec.Error)))
	}
	return tw.Flush()
}

// auditHistory is the audit log: every write through the API and every refused attempt,
// as kind "audit". It is left out when --kind names only timeline kinds.
func auditHistory(ctx context.Context, st historyReader, q historyQuery) ([]historyRow, error) {
	if len(q.Kinds) > 0 && !slices.Contains(q.Kinds, "audit") {
		return nil, nil
	}
	entries, err := st.Audit(ctx, store.AuditFilter{Since: q.Since, IncidentID: q.IncidentID, Limit: q.Last})
	var ae *apiError
	if errors.As(err, &ae) && ae.Status == http.StatusForbidden {
		// Through the API only admins read the audit log; others get the timelines.
		return nil, errAuditNotAllowed
	}
	if err != nil {
		return nil, err
	}
	rows := make([]historyRow, 0, len(entries))
	for _, e := range entries {
		actor := e.Actor
		if !e.Authenticated && actor != "" {
			actor += " (unauthenticated)"
		}
		msg := fmt.Sprintf("%s %s: %s (%d)", e.Action, e.Target, e.Result, e.Status)
		if e.RemoteAddr != "" {
			msg += " from " + e.RemoteAddr
		}
		rows = append(rows, historyRow{At: e.At, IncidentID: e.IncidentID, Kind: "audit", Actor: actor, Message: msg, Source: "audit"})
	}
	return rows, nil
}

// historyReader returns the store, or the API once reads must go through it.
func (r *runtime) historyReader(c *cli.Context) (historyReader, error) {
	viaAPI, err := r.readsThroughAPI(c)
	if err != nil {
		return nil, err
	}
	if viaAPI {
		return apiReader{a: r.api()}, nil
	}
	return r.Store(c.Context)
}

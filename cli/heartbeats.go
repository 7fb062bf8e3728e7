package cli

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/oncall"
)

// heartbeatsCommand manages dead-man's switches: a job pings; a missed ping opens an
// incident.
func heartbeatsCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "heartbeats",
		Usage: "dead-man's switches: a job pings POST /api/v1/heartbeats/NAME/ping; a missed ping opens a heartbeat_missed incident",
		Subcommands: []*cli.Command{
			heartbeatsCreateCommand(r), heartbeatsListCommand(r), heartbeatsShowCommand(r),
			heartbeatOpCommand(r, "pause", "stop watching a heartbeat (no incident while paused)"),
			heartbeatOpCommand(r, "resume", "watch a paused heartbeat again; its deadline counts from now"),
			heartbeatsDeleteCommand(r),
		},
	}
}

func heartbeatsCreateCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "create a heartbeat",
		ArgsUsage: "NAME",
		Description: "Example, a nightly backup job: mahavishnu heartbeats create nightly-backup --every 1d --grace 1h --escalation backups\n" +
			"and at the end of the job: curl -fsS -X POST http://127.0.0.1:8080/api/v1/heartbeats/nightly-backup/ping",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "every", Usage: "how often the job pings: 1h, 1d"},
			&cli.StringFlag{Name: "grace", Value: "0s", Usage: "extra time after --every before the ping counts as missed"},
			&cli.StringFlag{Name: "severity", Value: "high", Usage: "severity of the heartbeat_missed incident"},
			&cli.StringFlag{Name: "escalation", Usage: "named escalation policy (incident_response.escalation.policies) the heartbeat_missed incident escalates with; default: incident_response.escalation.levels"},
			&cli.StringFlag{Name: "created-by", Value: currentUser(), Usage: "who creates it"},
			outputFlag(),
		},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c, "name")
			if err != nil {
				return err
			}
			if c.String("every") == "" {
				return fmt.Errorf("--every: how often the job pings is required, e.g. --every 1h")
			}
			if _, err := api.ParseDuration(c.String("every")); err != nil {
				return fmt.Errorf("--every: %w", err)
			}
			req := api.CreateHeartbeatRequest{Name: c.Args().First(), Every: c.String("every"), Severity: c.String("severity"),
				CreatedBy: r.byFlag(c, "created-by"), Escalation: c.String("escalation")}
			if g := c.String("grace"); g != "0s" && g != "0" && g != "" {
				if _, err := api.ParseDuration(g); err != nil {
					return fmt.Errorf("--grace: %w", err)
				}
				req.Grace = g
			}
			var h oncall.Heartbeat
			if _, err := r.api().do(c.Context, http.MethodPost, "/api/v1/heartbeats", req, &h); err != nil {
				var ae *apiError
				if errors.As(err, &ae) && ae.Status == http.StatusBadRequest && strings.Contains(ae.Msg, "escalation: ") {
					return fmt.Errorf("--escalation %s: %w", req.Escalation, err)
				}
				return err
			}
			if format == outputJSON {
				return writeJSON(c.App.Writer, h)
			}
			policy := "incident_response.escalation"
			if h.Escalation != "" {
				policy = "escalation policy " + h.Escalation
			}
			fmt.Fprintf(c.App.Writer, "Heartbeat %s created: ping at least every %s (grace %s) at %s/api/v1/heartbeats/%s/ping; a miss escalates with %s\n",
				h.Name, h.Every, h.Grace, r.api().base, url.PathEscape(h.Name), policy)
			return nil
		},
	}
}

func printHeartbeats(c *cli.Context, list []oncall.Heartbeat) error {
	tw := newTable(c.App.Writer)
	fmt.Fprintln(tw, "NAME\tSTATE\tEVERY\tGRACE\tSEVERITY\tESCALATION\tLAST PING\tNEXT DEADLINE\tINCIDENT")
	for _, h := range list {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", h.Name, h.State, h.Every, h.Grace, h.Severity, orDash(h.Escalation),
			fmtTime(h.LastPingAt), fmtTime(h.NextDeadline), orDash(h.IncidentID))
	}
	return tw.Flush()
}

func heartbeatsListCommand(r *runtime) *cli.Command {
	return listAllCommand(r, "list heartbeats with their last ping, next deadline and state", "No heartbeats.",
		storeReader.Heartbeats, printHeartbeats)
}

func heartbeatsShowCommand(r *runtime) *cli.Command {
	return showCommand(r, "show one heartbeat", "NAME", storeReader.GetHeartbeat, func(c *cli.Context, h *oncall.Heartbeat) error {
		return printHeartbeats(c, []oncall.Heartbeat{*h})
	})
}

func heartbeatOpCommand(r *runtime, op, usage string) *cli.Command {
	return &cli.Command{
		Name:      op,
		Usage:     usage,
		ArgsUsage: "NAME",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, "name"); err != nil {
				return err
			}
			name := c.Args().First()
			if _, err := r.api().do(c.Context, http.MethodPost, "/api/v1/heartbeats/"+url.PathEscape(name)+"/"+op, nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "Heartbeat %s: %s requested (%s).\n", name, op, time.Now().Format(time.RFC3339))
			return nil
		},
	}
}

func heartbeatsDeleteCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Usage:     "delete a heartbeat and end its workflow",
		ArgsUsage: "NAME",
		Flags:     []cli.Flag{byFlag()},
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, "name"); err != nil {
				return err
			}
			name := c.Args().First()
			path := "/api/v1/heartbeats/" + url.PathEscape(name) + "?by=" + url.QueryEscape(r.by(c))
			if _, err := r.api().do(c.Context, http.MethodDelete, path, nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "Heartbeat %s deleted.\n", name)
			return nil
		},
	}
}

package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

func eventsCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "events",
		Usage: "inspect ingested events",
		Subcommands: []*cli.Command{{
			Name:  "list",
			Usage: "list stored events, newest first",
			Flags: []cli.Flag{
				&cli.IntFlag{Name: "last", Value: 20, Usage: "show the last N events"},
				&cli.StringFlag{Name: "type", Usage: "only this event type"},
				&cli.StringFlag{Name: "source", Usage: "only this source"},
				&cli.StringFlag{Name: "since", Usage: "only events since then: 10m, 2h, 7d or an RFC 3339 time"},
				&cli.StringFlag{Name: "incident", Usage: "only events attached to this incident"},
				outputFlag(),
			},
			Action: func(c *cli.Context) error {
				format, err := formatAndArgs(c)
				if err != nil {
					return err
				}
				if c.Int("last") < 1 {
					return fmt.Errorf("--last: want a positive number, got %d", c.Int("last"))
				}
				f := store.EventFilter{Last: c.Int("last"), Type: c.String("type"), Source: c.String("source"), IncidentID: c.String("incident")}
				if v := c.String("since"); v != "" {
					if f.Since, err = api.ParseSince(v, time.Now()); err != nil {
						return fmt.Errorf("--since: %w", err)
					}
				}
				st, err := r.reader(c)
				if err != nil {
					return err
				}
				events, err := st.ListEvents(c.Context, f)
				if err != nil {
					return err
				}
				if format == outputJSON {
					if events == nil {
						events = []schemas.Event{}
					}
					return writeJSON(c.App.Writer, events)
				}
				if len(events) == 0 {
					fmt.Fprintln(c.App.Writer, "No events.")
					return nil
				}
				printEvents(c, events)
				return nil
			},
		}},
	}
}

func printEvents(c *cli.Context, events []schemas.Event) {
	tw := newTable(c.App.Writer)
	fmt.Fprintln(tw, "TIME\tID\tTYPE\tSOURCE\tSEVERITY\tINCIDENT\tMESSAGE")
	for _, ev := range events {
		msg := ev.Message
		if len(msg) > 80 {
			msg = msg[:77] + "..."
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", fmtTime(&ev.Timestamp), ev.EventID, ev.EventType, ev.Source,
			strings.ToUpper(string(ev.Severity)), orDash(ev.IncidentID), strings.ReplaceAll(msg, "\n", " "))
	}
	_ = tw.Flush()
}

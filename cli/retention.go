package cli

import (
	"fmt"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

func retentionCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "retention",
		Usage: "enforce the retention.* keys: delete old events, resolved incidents and post-mortems",
		Description: "The manager runs this on a Temporal Schedule (" + schemas.HousekeepingScheduleID + ", every\n" +
			"retention.schedule). `retention run` does it now, against the store, without waiting for it.",
		Subcommands: []*cli.Command{{
			Name:  "run",
			Usage: "delete now what retention says is old (--dry-run: only count it)",
			Description: "Deletes, in batches of " + fmt.Sprint(store.DefaultRetentionBatch) + " rows per transaction:\n" +
				"  - resolved or closed incidents closed (else resolved) more than resolved_incidents_days ago,\n" +
				"    with their timeline, action runs and notification records; never an open incident;\n" +
				"  - events older than event_history_days, except those of open incidents, those the\n" +
				"    detector has not consumed, and those newer than detection.event_retention_seconds;\n" +
				"  - post-mortems generated more than postmortems_days ago (they may outlive their incident).\n" +
				"Prints what it deleted, or with --dry-run what it would delete.",
			Flags: []cli.Flag{
				&cli.BoolFlag{Name: "dry-run", Usage: "count what would be deleted; delete nothing"},
				outputFlag(),
			},
			Action: func(c *cli.Context) error {
				format, err := formatAndArgs(c)
				if err != nil {
					return err
				}
				st, err := r.Store(c.Context)
				if err != nil {
					return err
				}
				dry := c.Bool("dry-run")
				p := retentionSettings(r.cfg).Policy(time.Now().UTC(), dry)
				steps := 0
				counts, err := st.RunRetention(c.Context, p, func(total store.RetentionCounts) {
					steps++
					if format == outputTable && steps%10 == 0 {
						fmt.Fprintf(c.App.ErrWriter, "... %d rows deleted so far\n", total.Total())
					}
				})
				if err != nil {
					return err
				}
				cut := p.Cutoffs()
				if format == outputJSON {
					return writeJSON(c.App.Writer, struct {
						DryRun  bool                  `json:"dry_run"`
						Deleted store.RetentionCounts `json:"deleted"`
						Cutoffs map[string]time.Time  `json:"cutoffs"`
					}{dry, counts, map[string]time.Time{
						store.RetentionEvents: cut.Events, store.RetentionIncidents: cut.Incidents, store.RetentionPostmortems: cut.Postmortems,
					}})
				}
				verb := "Deleted"
				if dry {
					verb = "Would delete (dry run)"
				}
				fmt.Fprintf(c.App.Writer, "%s:\n", verb)
				tw := newTable(c.App.Writer)
				fmt.Fprintln(tw, "KIND\tROWS\tOLDER THAN")
				by := counts.ByKind()
				older := map[string]time.Time{
					store.RetentionEvents: cut.Events, store.RetentionIncidents: cut.Incidents, store.RetentionTimeline: cut.Incidents,
					store.RetentionActions: cut.Incidents, store.RetentionNotifications: cut.Incidents, store.RetentionPostmortems: cut.Postmortems,
				}
				for _, k := range store.RetentionKinds {
					t := older[k]
					fmt.Fprintf(tw, "%s\t%d\t%s\n", k, by[k], fmtTime(&t))
				}
				return tw.Flush()
			},
		}},
	}
}

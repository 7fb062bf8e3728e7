package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/oncall"
)

// oncallCommand manages schedules and overrides and answers who is on call.
func oncallCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "oncall",
		Usage: "on-call schedules (rotation layers, overrides) and who is on call",
		Subcommands: []*cli.Command{
			{
				Name:  "schedules",
				Usage: "create, extend, list, show and delete schedules",
				Subcommands: []*cli.Command{
					schedulesCreateCommand(r), schedulesAddLayerCommand(r), schedulesListCommand(r),
					schedulesShowCommand(r), schedulesDeleteCommand(r),
				},
			},
			oncallWhoCommand(r), oncallShowCommand(r),
			{
				Name:  "override",
				Usage: "put someone on call in place of a layer's person for a while",
				Subcommands: []*cli.Command{
					overrideCreateCommand(r), overrideListCommand(r), overrideDeleteCommand(r),
				},
			},
		},
	}
}

func layerFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "people", Usage: "people in turn order, comma-separated: alice,bob (each must be in `people list`)"},
		&cli.StringFlag{Name: "rotation", Value: oncall.Weekly, Usage: "daily or weekly"},
		&cli.IntFlag{Name: "every", Value: 1, Usage: "hand off every N days (daily) or weeks (weekly)"},
		&cli.StringFlag{Name: "handoff", Usage: `handoff time: "mon 09:00" (weekly) or "09:00" (daily), in --tz`},
		&cli.StringFlag{Name: "tz", Value: "UTC", Usage: "time zone of the handoff, e.g. Europe/Berlin (DST is followed)"},
		&cli.StringFlag{Name: "start", Usage: "when the rotation starts: the first person's turn contains it (default: now)"},
		outputFlag(),
	}
}

func layerRequest(c *cli.Context) (api.LayerRequest, error) {
	var people []string
	for _, p := range strings.Split(c.String("people"), ",") {
		if p = strings.TrimSpace(p); p != "" {
			people = append(people, p)
		}
	}
	req := api.LayerRequest{People: people, Rotation: c.String("rotation"), Every: c.Int("every"),
		Handoff: c.String("handoff"), TimeZone: c.String("tz")}
	if len(people) == 0 {
		return req, fmt.Errorf("--people: at least one person is required, e.g. --people alice,bob")
	}
	if req.Handoff == "" {
		if req.Rotation == oncall.Daily {
			req.Handoff = "09:00"
		} else {
			return req, fmt.Errorf(`--handoff: required for a weekly rotation, e.g. --handoff "mon 09:00"`)
		}
	}
	if v := c.String("start"); v != "" {
		t, err := parseWhen(v, c.String("tz"))
		if err != nil {
			return req, fmt.Errorf("--start: %w", err)
		}
		req.Start = &t
	}
	l := oncall.Layer{People: req.People, Rotation: req.Rotation, Every: req.Every, Handoff: req.Handoff, TimeZone: req.TimeZone, Start: time.Now()}
	if err := l.Validate(); err != nil {
		return req, fmt.Errorf("--%s", strings.Replace(strings.Replace(err.Error(), "time_zone:", "tz:", 1), "people[", "people: [", 1))
	}
	return req, nil
}

// parseWhen reads a time: RFC 3339, or "2006-01-02 15:04" / "2006-01-02T15:04" / "2006-01-02" in zone ("" local).
func parseWhen(v, zone string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	loc := time.Local
	if zone != "" {
		l, err := time.LoadLocation(zone)
		if err != nil {
			return time.Time{}, fmt.Errorf("unknown zone %q", zone)
		}
		loc = l
	}
	for _, layout := range []string{"2006-01-02 15:04", "2006-01-02T15:04", "2006-01-02"} {
		if t, err := time.ParseInLocation(layout, v, loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf(`want an RFC 3339 time (2026-01-02T15:04:05Z) or "2026-01-02 15:04", got %q`, v)
}

func printSchedule(c *cli.Context, sc *oncall.Schedule) error {
	w := c.App.Writer
	fmt.Fprintf(w, "Schedule %s\n", sc.Name)
	tw := newTable(w)
	fmt.Fprintln(tw, "LAYER\tPEOPLE\tROTATION\tHANDOFF\tTIME ZONE\tSTARTS")
	for i, l := range sc.Layers {
		rot := l.Rotation
		if l.Every > 1 {
			rot = fmt.Sprintf("every %d %s", l.Every, map[string]string{oncall.Daily: "days", oncall.Weekly: "weeks"}[l.Rotation])
		}
		st := l.Start
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", i+1, strings.Join(l.People, ", "), rot, l.Handoff, l.TimeZone, fmtTime(&st))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if on, err := sc.At(time.Now()); err == nil {
		for _, o := range on {
			until := o.Until
			extra := ""
			if o.Override != "" {
				extra = " (override " + o.Override + ")"
			}
			fmt.Fprintf(w, "On call now, layer %d: %s until %s%s\n", o.Layer, o.Person, fmtTime(&until), extra)
		}
	}
	return nil
}

func schedulesCreateCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "create a schedule with its first rotation layer",
		ArgsUsage: "SCHEDULE",
		Description: "Example: mahavishnu oncall schedules create payments --people alice,bob --rotation weekly \\\n" +
			"           --handoff \"mon 09:00\" --tz Europe/Berlin\n" +
			"Further layers (on call at the same time, e.g. a secondary) with `oncall schedules add-layer`.",
		Flags: layerFlags(),
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c, "schedule")
			if err != nil {
				return err
			}
			layer, err := layerRequest(c)
			if err != nil {
				return err
			}
			var sc oncall.Schedule
			if _, err := r.api().do(c.Context, http.MethodPost, "/api/v1/schedules", api.CreateScheduleRequest{Name: c.Args().First(), Layer: layer}, &sc); err != nil {
				return err
			}
			if format == outputJSON {
				return writeJSON(c.App.Writer, sc)
			}
			return printSchedule(c, &sc)
		},
	}
}

func schedulesAddLayerCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:      "add-layer",
		Usage:     "add a rotation layer to a schedule (its people are on call alongside the other layers')",
		ArgsUsage: "SCHEDULE",
		Flags:     layerFlags(),
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c, "schedule")
			if err != nil {
				return err
			}
			layer, err := layerRequest(c)
			if err != nil {
				return err
			}
			var sc oncall.Schedule
			if _, err := r.api().do(c.Context, http.MethodPost, "/api/v1/schedules/"+url.PathEscape(c.Args().First())+"/layers", layer, &sc); err != nil {
				return err
			}
			if format == outputJSON {
				return writeJSON(c.App.Writer, sc)
			}
			return printSchedule(c, &sc)
		},
	}
}

func schedulesListCommand(r *runtime) *cli.Command {
	return listAllCommand(r, "list schedules and who is on call in each now",
		"No schedules. Create one with `mahavishnu oncall schedules create`.", storeReader.Schedules,
		func(c *cli.Context, list []oncall.Schedule) error {
			tw := newTable(c.App.Writer)
			fmt.Fprintln(tw, "SCHEDULE\tLAYERS\tOVERRIDES\tON CALL NOW")
			for i := range list {
				now, err := list[i].People(time.Now())
				if err != nil {
					return err
				}
				fmt.Fprintf(tw, "%s\t%d\t%d\t%s\n", list[i].Name, len(list[i].Layers), len(list[i].Overrides), strings.Join(now, ", "))
			}
			return tw.Flush()
		})
}

func schedulesShowCommand(r *runtime) *cli.Command {
	return showCommand(r, "show a schedule's layers and who is on call now", "SCHEDULE", storeReader.GetSchedule, printSchedule)
}

func schedulesDeleteCommand(r *runtime) *cli.Command {
	return deleteCommand(r, "delete", "delete a schedule and its overrides", "SCHEDULE", "/api/v1/schedules/", "Schedule %s deleted.")
}

func oncallWhoCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "who",
		Usage: "who is on call now (or --at a time), in every schedule or one",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "schedule", Usage: "only this schedule"},
			&cli.StringFlag{Name: "at", Usage: `when: RFC 3339 or "2026-01-02 15:04" local (default: now)`},
			outputFlag(),
		},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c)
			if err != nil {
				return err
			}
			at := time.Now()
			if v := c.String("at"); v != "" {
				if at, err = parseWhen(v, ""); err != nil {
					return fmt.Errorf("--at: %w", err)
				}
			}
			st, err := r.reader(c)
			if err != nil {
				return err
			}
			var list []oncall.Schedule
			if name := c.String("schedule"); name != "" {
				sc, err := st.GetSchedule(c.Context, name)
				if err != nil {
					return fmt.Errorf("--schedule: %w", err)
				}
				list = []oncall.Schedule{*sc}
			} else if list, err = st.Schedules(c.Context); err != nil {
				return err
			}
			views := []api.WhoView{}
			for i := range list {
				on, err := list[i].At(at)
				if err != nil {
					return err
				}
				views = append(views, api.WhoView{Schedule: list[i].Name, At: at.UTC(), OnCall: on})
			}
			if format == outputJSON {
				return writeJSON(c.App.Writer, views)
			}
			if len(views) == 0 {
				fmt.Fprintln(c.App.Writer, "No schedules.")
				return nil
			}
			tw := newTable(c.App.Writer)
			fmt.Fprintln(tw, "SCHEDULE\tLAYER\tON CALL\tSINCE\tUNTIL\tOVERRIDE")
			for _, v := range views {
				for _, o := range v.OnCall {
					since, until := o.Since, o.Until
					fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", v.Schedule, o.Layer, o.Person, fmtTime(&since), fmtTime(&until), orDash(o.Override))
				}
			}
			return tw.Flush()
		},
	}
}

func oncallShowCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:      "show",
		Usage:     "a table of a schedule's shifts from now (or --from) for --days days",
		ArgsUsage: "SCHEDULE",
		Flags: []cli.Flag{
			&cli.IntFlag{Name: "days", Value: 14, Usage: "how many days"},
			&cli.StringFlag{Name: "from", Usage: "start (default: now)"},
			outputFlag(),
		},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c, "schedule")
			if err != nil {
				return err
			}
			if d := c.Int("days"); d < 1 || d > 366 {
				return fmt.Errorf("--days: want 1 to 366, got %d", d)
			}
			from := time.Now()
			if v := c.String("from"); v != "" {
				if from, err = parseWhen(v, ""); err != nil {
					return fmt.Errorf("--from: %w", err)
				}
			}
			st, err := r.reader(c)
			if err != nil {
				return err
			}
			sc, err := st.GetSchedule(c.Context, c.Args().First())
			if err != nil {
				return err
			}
			shifts, err := sc.Shifts(from, from.AddDate(0, 0, c.Int("days")))
			if err != nil {
				return err
			}
			if format == outputJSON {
				return writeJSON(c.App.Writer, shifts)
			}
			tw := newTable(c.App.Writer)
			fmt.Fprintln(tw, "LAYER\tPERSON\tFROM\tTO\tOVERRIDE")
			for _, s := range shifts {
				start, end := s.Start, s.End
				fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", s.Layer, s.Person, fmtTime(&start), fmtTime(&end), orDash(s.Override))
			}
			return tw.Flush()
		},
	}
}

func overrideCreateCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:      "create",
		Usage:     "put --person on call in place of a layer's person from --from to --to (the latest override wins)",
		ArgsUsage: "SCHEDULE",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "person", Usage: "who covers"},
			&cli.StringFlag{Name: "from", Usage: `start: RFC 3339 or "2026-01-02 15:04" local`},
			&cli.StringFlag{Name: "to", Usage: "end, same forms"},
			&cli.IntFlag{Name: "layer", Value: 1, Usage: "which layer the person covers"},
			byFlag(),
			outputFlag(),
		},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c, "schedule")
			if err != nil {
				return err
			}
			if c.String("person") == "" {
				return fmt.Errorf("--person: who covers is required")
			}
			req := api.OverrideRequest{Person: c.String("person"), Layer: c.Int("layer"), CreatedBy: r.by(c)}
			for _, f := range []struct {
				name string
				dst  *time.Time
			}{{"from", &req.From}, {"to", &req.To}} {
				v := c.String(f.name)
				if v == "" {
					return fmt.Errorf("--%s: is required", f.name)
				}
				t, err := parseWhen(v, "")
				if err != nil {
					return fmt.Errorf("--%s: %w", f.name, err)
				}
				*f.dst = t
			}
			if !req.To.After(req.From) {
				return fmt.Errorf("--to: must be after --from")
			}
			var o oncall.Override
			if _, err := r.api().do(c.Context, http.MethodPost, "/api/v1/schedules/"+url.PathEscape(c.Args().First())+"/overrides", req, &o); err != nil {
				return err
			}
			if format == outputJSON {
				return writeJSON(c.App.Writer, o)
			}
			fmt.Fprintf(c.App.Writer, "Override %s: %s covers layer %d of %s from %s to %s.\n", o.ID, o.Person, o.Layer,
				c.Args().First(), fmtTime(&o.From), fmtTime(&o.To))
			return nil
		},
	}
}

func overrideListCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:      "list",
		Usage:     "list the overrides of every schedule, or of one",
		ArgsUsage: "[SCHEDULE]",
		Flags:     []cli.Flag{outputFlag()},
		Action: func(c *cli.Context) error {
			format, err := outputFormat(c)
			if err != nil {
				return err
			}
			if c.NArg() > 1 {
				return fmt.Errorf("unexpected argument %q: usage: %s %s", c.Args().Get(1), c.Command.HelpName, c.Command.ArgsUsage)
			}
			st, err := r.reader(c)
			if err != nil {
				return err
			}
			var list []oncall.Schedule
			if name := c.Args().First(); name != "" {
				sc, err := st.GetSchedule(c.Context, name)
				if err != nil {
					return err
				}
				list = []oncall.Schedule{*sc}
			} else if list, err = st.Schedules(c.Context); err != nil {
				return err
			}
			type row struct {
				Schedule string `json:"schedule"`
				oncall.Override
			}
			rows := []row{}
			for _, sc := range list {
				for _, o := range sc.Overrides {
					rows = append(rows, row{sc.Name, o})
				}
			}
			if format == outputJSON {
				return writeJSON(c.App.Writer, rows)
			}
			if len(rows) == 0 {
				fmt.Fprintln(c.App.Writer, "No overrides.")
				return nil
			}
			tw := newTable(c.App.Writer)
			fmt.Fprintln(tw, "ID\tSCHEDULE\tLAYER\tPERSON\tFROM\tTO\tCREATED BY")
			for _, x := range rows {
				fmt.Fprintf(tw, "%s\t%s\t%d\t%s\t%s\t%s\t%s\n", x.ID, x.Schedule, x.Layer, x.Person, fmtTime(&x.From), fmtTime(&x.To), orDash(x.CreatedBy))
			}
			return tw.Flush()
		},
	}
}

func overrideDeleteCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:      "delete",
		Usage:     "delete an override",
		ArgsUsage: "OVERRIDE_ID",
		Action: func(c *cli.Context) error {
			if err := exactArgs(c, "override_id"); err != nil {
				return err
			}
			id := c.Args().First()
			if _, err := r.api().do(c.Context, http.MethodDelete, "/api/v1/overrides/"+url.PathEscape(id), nil, nil); err != nil {
				return err
			}
			fmt.Fprintf(c.App.Writer, "Override %s deleted.\n", id)
			return nil
		},
	}
}

package cli

import (
	"errors"
	"fmt"
	"log/slog"
	"os"

	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/procedures"
	"github.com/mahavishnu/mahavishnu/store"
)

func proceduresCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "procedures",
		Usage: "test response procedures (rules, escalation, approvals, notifications) before they reach production",
		Description: "A scenario file declares the config, events at relative times, what responders do and when,\n" +
			"and what must happen. `procedures test` runs the real incident workflow on Temporal's\n" +
			"time-skipping test server (a day of incident time takes seconds); `procedures record` turns a\n" +
			"past incident into a scenario. See docs/procedures.md.",
		Subcommands: []*cli.Command{proceduresTestCommand(r), proceduresRecordCommand(r)},
	}
}

func proceduresTestCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:      "test",
		Usage:     "run scenario files and check their expectations",
		ArgsUsage: "[PATH...]",
		Description: "Runs each scenario file (YAML, one scenario each; a directory runs every *.yaml in it,\n" +
			"default: procedures/) with the configuration given by --config (or the scenario's config.file)\n" +
			"plus the scenario's config.overrides. The real detector turns the events into an incident and the\n" +
			"real IncidentWorkflow runs it with the real activities, except that notifications are captured,\n" +
			"not sent, and remediation actions are dry-run. Prints one line per expectation, PASS or FAIL, with\n" +
			"what was expected and what happened. Exits 1 when anything fails.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "junit", Usage: "also write a JUnit XML report to this file"},
			outputFlag(),
			&cli.BoolFlag{Name: "verbose", Aliases: []string{"v"}, Usage: "show the workflow's and activities' warnings"},
		},
		Action: func(c *cli.Context) error {
			format, err := outputFormat(c)
			if err != nil {
				return err
			}
			paths := c.Args().Slice()
			if len(paths) == 0 {
				paths = []string{"procedures"}
			}
			files, err := procedures.Files(paths)
			if err != nil {
				return err
			}
			level := slog.LevelError + 4
			if c.Bool("verbose") {
				level = slog.LevelWarn
			}
			logger := slog.New(slog.NewTextHandler(r.opts.Stderr, &slog.HandlerOptions{Level: level}))
			// Each scenario's private store logs its migrations to the default logger.
			slog.SetDefault(logger)
			runner := &procedures.Runner{Config: r.cfg, Settings: incidentSettings, Logger: logger}
			var results []*procedures.Result
			for i, f := range files {
				if format != outputJSON {
					fmt.Fprintf(r.opts.Stderr, "[%d/%d] %s\n", i+1, len(files), f)
				}
				sc, err := procedures.Load(f)
				if err != nil {
					results = append(results, &procedures.Result{Name: f, File: f, Error: err.Error()})
					continue
				}
				results = append(results, runner.Run(c.Context, sc))
			}
			if path := c.String("junit"); path != "" {
				if err := writeJUnitFile(path, results); err != nil {
					return err
				}
			}
			if format == outputJSON {
				if err := writeJSON(c.App.Writer, results); err != nil {
					return err
				}
			} else if err := procedures.WriteText(c.App.Writer, results); err != nil {
				return err
			}
			for _, res := range results {
				if !res.Passed() {
					return cli.Exit("", 1)
				}
			}
			return nil
		},
	}
}

func writeJUnitFile(path string, results []*procedures.Result) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("--junit: %w", err)
	}
	if err := procedures.WriteJUnit(f, results); err != nil {
		f.Close()
		return fmt.Errorf("--junit: %w", err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("--junit: %w", err)
	}
	return nil
}

func proceduresRecordCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:      "record",
		Usage:     "turn a past incident into a scenario file (a regression test)",
		ArgsUsage: "INCIDENT_ID",
		Description: "Reads the incident's stored events and timeline and writes a scenario: the events at their\n" +
			"relative times, the responders' acknowledge, assign, approve, reject and resolve at the times\n" +
			"they happened, and what was observed (stages, escalations, approvals, actions, notifications,\n" +
			"resolution, post-mortem sections, MTTA and MTTR) as expectations, each time bound by what\n" +
			"happened plus a minute. It runs with the current configuration: `procedures test FILE` then\n" +
			"says whether today's rules and policies still handle that incident the same way.",
		Flags: []cli.Flag{
			&cli.StringFlag{Name: "output", Aliases: []string{"o"}, Usage: "write the scenario to this file instead of printing it"},
		},
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
			events, err := st.ListEvents(c.Context, store.EventFilter{IncidentID: id, Last: 10000})
			if err != nil {
				return err
			}
			timeline, err := st.Timeline(c.Context, id)
			if err != nil {
				return err
			}
			md, _, err := st.PostMortem(c.Context, id)
			if err != nil && !errors.Is(err, store.ErrNotFound) {
				return err
			}
			rec := procedures.Recorded{Incident: *inc, Events: events, Timeline: timeline, PostMortem: md}
			if procedures.Pages(timeline) {
				if rec.People, err = st.People(c.Context, nil); err != nil {
					return err
				}
				if rec.Schedules, err = st.Schedules(c.Context); err != nil {
					return err
				}
			}
			sc, err := procedures.Record(rec)
			if err != nil {
				return err
			}
			data, err := procedures.Marshal(sc)
			if err != nil {
				return err
			}
			if path := c.String("output"); path != "" {
				if err := os.WriteFile(path, data, 0o644); err != nil {
					return fmt.Errorf("--output: %w", err)
				}
				fmt.Fprintf(c.App.Writer, "Scenario of %s written to %s (%d events, %d responder steps, %d expectations).\n",
					id, path, len(sc.Events), len(sc.Responders), len(sc.Expect))
				return nil
			}
			_, err = c.App.Writer.Write(data)
			return err
		},
	}
}

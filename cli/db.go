package cli

import (
	"fmt"

	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/config"
	"github.com/mahavishnu/mahavishnu/store"
)

// dbCommand manages the incident store's schema. The manager migrates at start-up by
// itself; these are for operators (checking, upgrading ahead, rolling back).
func dbCommand(r *runtime) *cli.Command {
	connect := func(c *cli.Context) (*store.Store, error) {
		dir, err := r.cfg.DataDirAbs()
		if err != nil {
			return nil, err
		}
		st, err := store.Connect(c.Context, r.cfg.DatabaseURL(), dir)
		if err != nil {
			return nil, fmt.Errorf("open %s: %w", config.RedactURL(r.cfg.DatabaseURL()), err)
		}
		return st, nil
	}
	return &cli.Command{
		Name:  "db",
		Usage: "the incident store's schema migrations",
		Subcommands: []*cli.Command{
			{
				Name: "status", Usage: "list applied and pending migrations; exits 1 when some are pending",
				Flags: []cli.Flag{outputFlag()},
				Action: func(c *cli.Context) error {
					format, err := outputFormat(c)
					if err != nil {
						return err
					}
					st, err := connect(c)
					if err != nil {
						return err
					}
					defer st.Close()
					applied, pending, err := st.MigrationStatus(c.Context)
					if err != nil {
						return err
					}
					if format == outputJSON {
						if err := writeJSON(c.App.Writer, map[string][]string{"applied": nonNilStrings(applied), "pending": nonNilStrings(pending)}); err != nil {
							return err
						}
					} else {
						fmt.Fprintf(c.App.Writer, "Database: %s (%s)\n", config.RedactURL(r.cfg.DatabaseURL()), st.Dialect())
						for _, m := range applied {
							fmt.Fprintf(c.App.Writer, "  applied  %s\n", m)
						}
						for _, m := range pending {
							fmt.Fprintf(c.App.Writer, "  pending  %s\n", m)
						}
					}
					if len(pending) > 0 {
						return cli.Exit("", 1)
					}
					return nil
				},
			},
			{
				Name: "migrate", Usage: "apply the pending migrations (under a lock; safe with other replicas starting)",
				Action: func(c *cli.Context) error {
					st, err := connect(c)
					if err != nil {
						return err
					}
					defer st.Close()
					done, err := st.Migrate(c.Context)
					if err != nil {
						return err
					}
					if len(done) == 0 {
						fmt.Fprintln(c.App.Writer, "Nothing to migrate.")
					}
					for _, m := range done {
						fmt.Fprintf(c.App.Writer, "Applied %s\n", m)
					}
					return nil
				},
			},
			{
				Name: "rollback", Usage: "roll back the last group of migrations (drops what they created: data is lost)",
				Flags: []cli.Flag{&cli.BoolFlag{Name: "yes", Usage: "confirm: the rolled-back tables and their data are dropped"}},
				Action: func(c *cli.Context) error {
					if !c.Bool("yes") {
						return fmt.Errorf("rollback drops tables and their data: run again with --yes to confirm")
					}
					st, err := connect(c)
					if err != nil {
						return err
					}
					defer st.Close()
					rolled, err := st.Rollback(c.Context)
					if err != nil {
						return err
					}
					if rolled == "" {
						fmt.Fprintln(c.App.Writer, "Nothing to roll back.")
						return nil
					}
					fmt.Fprintf(c.App.Writer, "Rolled back %s\n", rolled)
					return nil
				},
			},
		},
	}
}

func nonNilStrings(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

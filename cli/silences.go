package cli

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// silencesCommand manages maintenance windows: events matching a silence are stored and
// counted as silenced but open no incident.
func silencesCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "silences",
		Usage: "mute matching events for a maintenance window: stored and counted, but they open no incident",
		Subcommands: []*cli.Command{
			silencesCreateCommand(r), silencesListCommand(r), silencesExpireCommand(r),
		},
	}
}

func silencesCreateCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "create",
		Usage: "create a silence; it applies at once",
		Description: "Every --match key=value must hold for an event to be silenced. Keys: event_type, source,\n" +
			"component, severity, correlation_id, or a metadata key (a dotted key reaches into nested\n" +
			"metadata, e.g. labels.team for an Alertmanager alert's label). Values match exactly.",
		Flags: []cli.Flag{
			listFlag("match", "key=value condition, e.g. source=api"),
			&cli.StringFlag{Name: "duration", Value: "2h", Usage: "how long it lasts: 30m, 2h, 1d"},
			&cli.StringFlag{Name: "starts-at", Usage: "when it starts, RFC 3339 (default: now)"},
			&cli.StringFlag{Name: "comment", Usage: "why (shown in silences list)"},
			&cli.StringFlag{Name: "created-by", Value: currentUser(), Usage: "who creates it"},
			outputFlag(),
		},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c)
			if err != nil {
				return err
			}
			req := api.CreateSilenceRequest{Matchers: listOf(c, "match"), Duration: c.String("duration"),
				Comment: c.String("comment"), CreatedBy: c.String("created-by")}
			if !c.IsSet("created-by") && r.apiToken() != "" {
				req.CreatedBy = "" // the server records the token's identity
			}
			if len(req.Matchers) == 0 {
				return fmt.Errorf("--match: at least one key=value is required, e.g. --match source=api")
			}
			for _, m := range req.Matchers {
				if _, err := schemas.ParseSilenceMatcher(m); err != nil {
					return fmt.Errorf("--match %w", err)
				}
			}
			if _, err := api.ParseDuration(req.Duration); err != nil {
				return fmt.Errorf("--duration: %w", err)
			}
			if v := c.String("starts-at"); v != "" {
				t, err := time.Parse(time.RFC3339, v)
				if err != nil {
					return fmt.Errorf("--starts-at: want an RFC 3339 time such as 2026-01-02T15:04:05Z, got %q", v)
				}
				req.StartsAt = &t
			}
			var sil api.SilenceView
			if _, err := r.api().do(c.Context, http.MethodPost, "/api/v1/silences", req, &sil); err != nil {
				return err
			}
			if format == outputJSON {
				return writeJSON(c.App.Writer, sil)
			}
			fmt.Fprintf(c.App.Writer, "Silence %s created (%s): %s, until %s.\n", sil.ID, sil.State,
				matchersString(sil.Matchers), fmtTime(&sil.EndsAt))
			return nil
		},
	}
}

func matchersString(ms []schemas.SilenceMatcher) string {
	parts := make([]string, len(ms))
	for i, m := range ms {
		parts[i] = m.String()
	}
	return strings.Join(parts, " ")
}

func silencesListCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "list",
		Usage: "list the silences that have not ended, soonest to end first",
		Flags: []cli.Flag{&cli.BoolFlag{Name: "all", Usage: "also the expired ones, newest first"}, outputFlag()},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c)
			if err != nil {
				return err
			}
			views, err := r.silenceViews(c)
			if err != nil {
				return err
			}
			if format == outputJSON {
				return writeJSON(c.App.Writer, views)
			}
			if len(views) == 0 {
				fmt.Fprintln(c.App.Writer, "No silences.")
				return nil
			}
			tw := newTable(c.App.Writer)
			fmt.Fprintln(tw, "ID\tSTATE\tMATCHERS\tSTARTS\tENDS\tEVENTS SILENCED\tCREATED BY\tCOMMENT")
			for _, v := range views {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", v.ID, v.State, matchersString(v.Matchers),
					fmtTime(&v.StartsAt), fmtTime(&v.EndsAt), v.EventsSilenced, v.CreatedBy, orDash(v.Comment))
			}
			return tw.Flush()
		},
	}
}

func silencesExpireCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:      "expire",
		Usage:     "end a silence now",
		ArgsUsage: "SILENCE_ID",
		Flags:     []cli.Flag{byFlag(), outputFlag()},
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c, "silence_id")
			if err != nil {
				return err
			}
			var sil api.SilenceView
			path := "/api/v1/silences/" + url.PathEscape(c.Args().First()) + "/expire"
			if _, err := r.api().do(c.Context, http.MethodPost, path, map[string]string{"by": r.by(c)}, &sil); err != nil {
				return err
			}
			if format == outputJSON {
				return writeJSON(c.App.Writer, sil)
			}
			fmt.Fprintf(c.App.Writer, "Silence %s expired by %s (%d events silenced).\n", sil.ID, sil.ExpiredBy, sil.EventsSilenced)
			return nil
		},
	}
}

// silenceViews lists the silences from the store, or through the API once tokens exist.
func (r *runtime) silenceViews(c *cli.Context) ([]api.SilenceView, error) {
	viaAPI, err := r.readsThroughAPI(c)
	if err != nil {
		return nil, err
	}
	if viaAPI {
		var out struct {
			Silences []api.SilenceView `json:"silences"`
		}
		path := "/api/v1/silences?all=" + strconv.FormatBool(c.Bool("all"))
		if _, err := r.api().do(c.Context, http.MethodGet, path, nil, &out); err != nil {
			return nil, err
		}
		return out.Silences, nil
	}
	st, err := r.Store(c.Context)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	list, err := st.Silences(c.Context, now, c.Bool("all"))
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(list))
	for i := range list {
		ids[i] = list[i].ID
	}
	counts, err := st.SilencedCounts(c.Context, ids)
	if err != nil {
		return nil, err
	}
	return api.NewSilenceViews(list, counts, now), nil
}

package cli

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/auth"
	"github.com/mahavishnu/mahavishnu/store"
)

// tokensCommand issues, lists and revokes API tokens. It works on the store directly:
// the local operator's bootstrap, like createuser (docs/security.md).
func tokensCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "tokens",
		Usage: "issue, list and revoke API tokens (works on the store directly: the operator's bootstrap)",
		Description: "Each token has a name (the actor recorded on every write made with it) and one role:\n" +
			"viewer (read), responder (ingest, acknowledge, assign, update, resolve, close, safe actions,\n" +
			"silences), approver (responder + approve/reject unsafe actions), admin (everything: rules,\n" +
			"config, tokens, audit) or ingest (post events and Alertmanager alerts only).\n" +
			"Once any token exists, every API call (reads too) needs one. Only a SHA-256 of the token is\n" +
			"stored: `tokens create` shows it once, alone on stdout, so TOKEN=$(mahavishnu tokens create ...) works.",
		Subcommands: []*cli.Command{
			{
				Name: "create", Usage: "issue a token and print it (only the token, on stdout)",
				Flags: []cli.Flag{
					&cli.StringFlag{Name: "name", Required: true, Usage: "who or what holds the token (recorded as the actor of its writes)"},
					&cli.StringFlag{Name: "role", Required: true, Usage: "viewer, responder, approver, admin or ingest"},
					&cli.StringFlag{Name: "expires", Value: "never", Usage: "lifetime such as 90d or 12h, or never"},
				},
				Action: func(c *cli.Context) error {
					if err := exactArgs(c); err != nil {
						return err
					}
					name := strings.TrimSpace(c.String("name"))
					if name == "" || strings.ContainsAny(name, " \t\r\n") {
						return fmt.Errorf("--name: want a name without spaces, got %q", c.String("name"))
					}
					role, err := auth.ParseRole(c.String("role"))
					if err != nil {
						return fmt.Errorf("--role: %w", err)
					}
					life, err := auth.ParseExpiry(c.String("expires"))
					if err != nil {
						return fmt.Errorf("--expires: %w", err)
					}
					st, err := r.Store(c.Context)
					if err != nil {
						return err
					}
					secret, id, err := auth.NewToken()
					if err != nil {
						return err
					}
					now := time.Now().UTC()
					t := store.APIToken{ID: id, Name: name, Role: string(role), Hash: auth.Hash(secret), CreatedBy: currentUser(), CreatedAt: now}
					if life > 0 {
						exp := now.Add(life)
						t.ExpiresAt = &exp
					}
					if err := st.InsertToken(c.Context, t); err != nil {
						if errors.Is(err, store.ErrNameTaken) {
							return fmt.Errorf("--name: %w", err)
						}
						return err
					}
					_ = st.AddAudit(c.Context, store.AuditEntry{At: now, Actor: currentUser(), Via: "cli", Action: "tokens create",
						Target: id + " " + name + " (" + string(role) + ")", Result: store.AuditAllowed})
					fmt.Fprintln(c.App.Writer, secret)
					fmt.Fprintf(c.App.ErrWriter, "Token %s issued to %s (%s)%s. It is shown only this once.\n", id, name, role, expiryNote(t.ExpiresAt))
					return nil
				},
			},
			{
				Name: "list", Usage: "list tokens (never their secrets)",
				Flags: []cli.Flag{outputFlag()},
				Action: func(c *cli.Context) error {
					format, err := formatAndArgs(c)
					if err != nil {
						return err
					}
					st, err := r.Store(c.Context)
					if err != nil {
						return err
					}
					tokens, err := st.Tokens(c.Context)
					if err != nil {
						return err
					}
					now := time.Now()
					type row struct {
						store.APIToken
						State string `json:"state"`
					}
					rows := make([]row, len(tokens))
					for i, t := range tokens {
						rows[i] = row{t, t.State(now)}
					}
					if format == outputJSON {
						return writeJSON(c.App.Writer, rows)
					}
					tw := newTable(c.App.Writer)
					fmt.Fprintln(tw, "ID\tNAME\tROLE\tSTATE\tCREATED\tEXPIRES\tLAST USED")
					for _, t := range rows {
						fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t.ID, t.Name, t.Role, t.State, fmtTime(&t.CreatedAt), fmtTime(t.ExpiresAt), fmtTime(t.LastUsedAt))
					}
					if len(rows) == 0 {
						fmt.Fprintln(tw, "(no token: loopback clients may write without one)")
					}
					return tw.Flush()
				},
			},
			{
				Name: "revoke", Usage: "revoke a token by ID or name; its dashboard sessions end too", ArgsUsage: "ID|NAME",
				Flags: []cli.Flag{outputFlag()},
				Action: func(c *cli.Context) error {
					format, err := formatAndArgs(c, "id_or_name")
					if err != nil {
						return err
					}
					st, err := r.Store(c.Context)
					if err != nil {
						return err
					}
					now := time.Now().UTC()
					revoked, err := st.RevokeTokens(c.Context, c.Args().First(), now)
					if err != nil {
						if errors.Is(err, store.ErrNotFound) {
							return fmt.Errorf("id_or_name: %w", err)
						}
						return err
					}
					for _, t := range revoked {
						_ = st.AddAudit(c.Context, store.AuditEntry{At: now, Actor: currentUser(), Via: "cli", Action: "tokens revoke",
							Target: t.ID + " " + t.Name, Result: store.AuditAllowed})
					}
					if format == outputJSON {
						return writeJSON(c.App.Writer, revoked)
					}
					for _, t := range revoked {
						fmt.Fprintf(c.App.Writer, "Token %s (%s, %s) revoked.\n", t.ID, t.Name, t.Role)
					}
					return nil
				},
			},
		},
	}
}

func expiryNote(t *time.Time) string {
	if t == nil {
		return ", no expiry"
	}
	return ", expires " + t.UTC().Format(time.RFC3339)
}

// auditCommand lists the audit log through the API (an admin token once tokens exist).
func auditCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "audit",
		Usage: "the audit log: every write and every denied attempt",
		Subcommands: []*cli.Command{{
			Name: "list", Usage: "list audit rows, oldest first (needs the admin role once tokens exist)",
			Flags: []cli.Flag{
				&cli.StringFlag{Name: "since", Usage: "only rows since 10m, 2h, 7d or an RFC 3339 time"},
				&cli.StringFlag{Name: "actor", Usage: "only this actor's rows"},
				&cli.StringFlag{Name: "incident", Usage: "only rows about this incident"},
				&cli.StringFlag{Name: "result", Usage: "only allowed, denied or failed rows"},
				&cli.IntFlag{Name: "limit", Value: 1000, Usage: "at most this many (the newest)"},
				outputFlag(),
			},
			Action: func(c *cli.Context) error {
				format, err := formatAndArgs(c)
				if err != nil {
					return err
				}
				q := url.Values{}
				for flag, key := range map[string]string{"since": "since", "actor": "actor", "incident": "incident_id", "result": "result"} {
					if v := c.String(flag); v != "" {
						q.Set(key, v)
					}
				}
				q.Set("limit", fmt.Sprint(c.Int("limit")))
				var out struct {
					Audit []store.AuditEntry `json:"audit"`
				}
				if _, err := r.api().do(c.Context, http.MethodGet, "/api/v1/audit?"+q.Encode(), nil, &out); err != nil {
					return err
				}
				if format == outputJSON {
					return writeJSON(c.App.Writer, out.Audit)
				}
				printAudit(c, out.Audit)
				return nil
			},
		}},
	}
}

func printAudit(c *cli.Context, rows []store.AuditEntry) {
	tw := newTable(c.App.Writer)
	fmt.Fprintln(tw, "TIME\tACTOR\tROLE\tRESULT\tSTATUS\tACTION\tTARGET\tFROM")
	for _, e := range rows {
		who := orDash(e.Actor)
		if !e.Authenticated && e.Actor != "" {
			who += " (unauthenticated)"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", fmtTime(&e.At), who, orDash(e.Role), e.Result, e.Status, e.Action, orDash(e.Target), orDash(e.RemoteAddr))
	}
	_ = tw.Flush()
}

package cli

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/urfave/cli/v2"

	"github.com/mahavishnu/mahavishnu/api"
	"github.com/mahavishnu/mahavishnu/auth"
	"github.com/mahavishnu/mahavishnu/oncall"
)

// peopleCommand manages the directory of responders that schedules and escalation
// levels page.
func peopleCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:  "people",
		Usage: "the directory of responders: who schedules and escalation levels page, and how to reach them",
		Subcommands: []*cli.Command{
			peopleAddCommand(r), peopleListCommand(r), peopleShowCommand(r), peopleUpdateCommand(r), peopleRemoveCommand(r),
		},
	}
}

func personFlags() []cli.Flag {
	return []cli.Flag{
		&cli.StringFlag{Name: "email", Usage: "email address (escalation emails go here)"},
		&cli.StringFlag{Name: "slack-user", Usage: "Slack member ID, e.g. U0123ABCD (escalations mention it)"},
		&cli.StringFlag{Name: "chat-handle", Usage: "Teams or Mattermost handle"},
		&cli.StringFlag{Name: "phone", Usage: "phone number for a webhook-based SMS or voice provider"},
		&cli.StringFlag{Name: "tz", Usage: "time zone, e.g. Europe/Berlin"},
		&cli.StringFlag{Name: "role", Usage: fmt.Sprintf("role: %v (default responder)", auth.Roles)},
		outputFlag(),
	}
}

func peopleAddCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:      "add",
		Usage:     "add a person; NAME is also the identity tokens are issued to",
		ArgsUsage: "NAME",
		Flags:     personFlags(),
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c, "name")
			if err != nil {
				return err
			}
			p := oncall.Person{Name: c.Args().First(), Email: c.String("email"), SlackUser: c.String("slack-user"),
				ChatHandle: c.String("chat-handle"), Phone: c.String("phone"), TimeZone: c.String("tz"), Role: auth.Role(c.String("role"))}
			if err := p.Validate(); err != nil {
				return flagError(err)
			}
			var out oncall.Person
			if _, err := r.api().do(c.Context, http.MethodPost, "/api/v1/people", p, &out); err != nil {
				return err
			}
			if format == outputJSON {
				return writeJSON(c.App.Writer, out)
			}
			fmt.Fprintf(c.App.Writer, "Person %s added (role %s).\n", out.Name, out.Role)
			return nil
		},
	}
}

// flagError renames a field error for the command line: "slack_user: ..." -> "--slack-user: ...".
func flagError(err error) error {
	msg := err.Error()
	for field, flag := range map[string]string{"slack_user:": "--slack-user:", "time_zone:": "--tz:", "email:": "--email:",
		"role:": "--role:", "phone:": "--phone:", "name:": "NAME:"} {
		if len(msg) >= len(field) && msg[:len(field)] == field {
			return fmt.Errorf("%s%s", flag, msg[len(field):])
		}
	}
	return err
}

func peopleListCommand(r *runtime) *cli.Command {
	return listAllCommand(r, "list people", "No people. Add one with `mahavishnu people add NAME --email E`.",
		func(rd storeReader, ctx context.Context) ([]oncall.Person, error) { return rd.People(ctx, nil) },
		func(c *cli.Context, list []oncall.Person) error {
			tw := newTable(c.App.Writer)
			fmt.Fprintln(tw, "NAME\tROLE\tEMAIL\tSLACK\tPHONE\tTIME ZONE")
			for _, p := range list {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, p.Role, orDash(p.Email), orDash(p.SlackUser), orDash(p.Phone), orDash(p.TimeZone))
			}
			return tw.Flush()
		})
}

func peopleShowCommand(r *runtime) *cli.Command {
	return showCommand(r, "show one person", "NAME", storeReader.GetPerson, func(c *cli.Context, p *oncall.Person) error {
		tw := newTable(c.App.Writer)
		for _, kv := range [][2]string{{"Name", p.Name}, {"Role", string(p.Role)}, {"Email", p.Email}, {"Slack user", p.SlackUser},
			{"Chat handle", p.ChatHandle}, {"Phone", p.Phone}, {"Time zone", p.TimeZone}} {
			fmt.Fprintf(tw, "%s:\t%s\n", kv[0], orDash(kv[1]))
		}
		return tw.Flush()
	})
}

func peopleUpdateCommand(r *runtime) *cli.Command {
	return &cli.Command{
		Name:      "update",
		Usage:     "change a person's details; only the flags given change (an empty value clears)",
		ArgsUsage: "NAME",
		Flags:     personFlags(),
		Action: func(c *cli.Context) error {
			format, err := formatAndArgs(c, "name")
			if err != nil {
				return err
			}
			var patch api.PersonPatch
			set := func(flag string, dst **string) {
				if c.IsSet(flag) {
					v := c.String(flag)
					*dst = &v
				}
			}
			set("email", &patch.Email)
			set("slack-user", &patch.SlackUser)
			set("chat-handle", &patch.ChatHandle)
			set("phone", &patch.Phone)
			set("tz", &patch.TimeZone)
			set("role", &patch.Role)
			if patch == (api.PersonPatch{}) {
				return fmt.Errorf("nothing to change: give at least one of --email, --slack-user, --chat-handle, --phone, --tz, --role")
			}
			var out oncall.Person
			if _, err := r.api().do(c.Context, http.MethodPatch, "/api/v1/people/"+url.PathEscape(c.Args().First()), patch, &out); err != nil {
				return err
			}
			if format == outputJSON {
				return writeJSON(c.App.Writer, out)
			}
			fmt.Fprintf(c.App.Writer, "Person %s updated.\n", out.Name)
			return nil
		},
	}
}

func peopleRemoveCommand(r *runtime) *cli.Command {
	return deleteCommand(r, "remove", "remove a person from the directory", "NAME", "/api/v1/people/", "Person %s removed.")
}

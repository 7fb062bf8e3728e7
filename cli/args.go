package cli

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// permuteArgs moves the flags of the command being run in front of its positional
// arguments, so that `incidents resolve ID --notes "..."` works as the quickstart writes
// it: urfave/cli v2 stops parsing flags at the first positional argument. A "--" ends
// flag parsing as usual; unknown flags are left in place for the parser to report.
func permuteArgs(app *cli.App, args []string) []string {
	if len(args) < 2 {
		return args
	}
	out := []string{args[0]}
	flags, commands := app.Flags, app.Commands
	i := 1
	// Walk down the command path; flags before a command name belong to its parent.
	for i < len(args) {
		a := args[i]
		if strings.HasPrefix(a, "-") && a != "-" && a != "--" {
			out = append(out, a)
			if takesValue(flags, a) && i+1 < len(args) {
				out = append(out, args[i+1])
				i++
			}
			i++
			continue
		}
		cmd := findCommand(commands, a)
		if cmd == nil {
			break
		}
		out = append(out, a)
		flags, commands = cmd.Flags, cmd.Subcommands
		i++
		if len(commands) == 0 {
			break
		}
	}
	var positional []string
	for ; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--":
			positional = append(positional, args[i:]...)
			i = len(args)
		case strings.HasPrefix(a, "-") && a != "-":
			out = append(out, a)
			if takesValue(flags, a) && i+1 < len(args) {
				out = append(out, args[i+1])
				i++
			}
		default:
			positional = append(positional, a)
		}
	}
	return append(out, positional...)
}

func findCommand(cmds []*cli.Command, name string) *cli.Command {
	for _, c := range cmds {
		if c.HasName(name) {
			return c
		}
	}
	return nil
}

// takesValue reports whether the flag token needs the next argument as its value.
func takesValue(flags []cli.Flag, token string) bool {
	name := strings.TrimLeft(token, "-")
	if strings.Contains(name, "=") {
		return false
	}
	if name == "help" || name == "h" {
		return false
	}
	for _, f := range flags {
		for _, n := range f.Names() {
			if n != name {
				continue
			}
			if bf, ok := f.(*cli.BoolFlag); ok && bf != nil {
				return false
			}
			return true
		}
	}
	return false
}

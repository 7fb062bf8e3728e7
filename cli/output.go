package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/urfave/cli/v2"
)

const (
	outputTable = "table"
	outputJSON  = "json"
)

func outputFlag() *cli.StringFlag {
	return &cli.StringFlag{Name: "output", Aliases: []string{"o"}, Value: outputTable, Usage: "output format: table or json"}
}

// outputFormat returns the validated --output value.
func outputFormat(c *cli.Context) (string, error) {
	switch f := c.String("output"); f {
	case outputTable, outputJSON:
		return f, nil
	default:
		return "", fmt.Errorf("--output: want table or json, got %q", f)
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // print "<secret>", not "\u003csecret\u003e"
	return enc.Encode(v)
}

func newTable(w io.Writer) *tabwriter.Writer { return tabwriter.NewWriter(w, 0, 0, 2, ' ', 0) }

func fmtTime(t *time.Time) string {
	if t == nil || t.IsZero() {
		return "-"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func fmtSeconds(s *float64) string {
	if s == nil {
		return "-"
	}
	return (time.Duration(*s * float64(time.Second))).Round(time.Second).String()
}

func orDash(s string) string {
	if strings.TrimSpace(s) == "" {
		return "-"
	}
	return s
}

// exactArgs checks the positional arguments and names the missing one.
func exactArgs(c *cli.Context, names ...string) error {
	if c.NArg() < len(names) {
		return fmt.Errorf("missing argument %s: usage: %s %s", strings.ToUpper(names[c.NArg()]), c.Command.HelpName, c.Command.ArgsUsage)
	}
	if c.NArg() > len(names) {
		return fmt.Errorf("unexpected argument %q: usage: %s %s", c.Args().Get(len(names)), c.Command.HelpName, c.Command.ArgsUsage)
	}
	return nil
}

// formatAndArgs checks --output and the positional arguments, the preamble of most
// commands, and returns the output format.
func formatAndArgs(c *cli.Context, names ...string) (string, error) {
	format, err := outputFormat(c)
	if err != nil {
		return "", err
	}
	return format, exactArgs(c, names...)
}

package cli

import (
	"strings"

	"github.com/urfave/cli/v2"
)

// listValue collects every occurrence of a repeatable flag as is. Unlike
// cli.StringSliceFlag it never splits a value on commas, so `--match msg=a,b` stays one
// matcher.
type listValue []string

func (l *listValue) Set(v string) error {
	*l = append(*l, v)
	return nil
}

func (l *listValue) String() string { return strings.Join(*l, ", ") }

// listFlag is a repeatable string flag read with listOf.
func listFlag(name, usage string) *cli.GenericFlag {
	return &cli.GenericFlag{Name: name, Value: &listValue{}, Usage: usage + " (repeat the flag for several)"}
}

// listOf returns the values given to a listFlag.
func listOf(c *cli.Context, name string) []string {
	if l, ok := c.Generic(name).(*listValue); ok && l != nil {
		return append([]string(nil), (*l)...)
	}
	return nil
}

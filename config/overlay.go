package config

import (
	"fmt"
	"os"
	"reflect"

	"gopkg.in/yaml.v3"
)

// Overlay applies a YAML mapping in the config file's shape onto c (strictly, like Load:
// an unknown key is an error naming its path and the node's own line), then validates the
// result. A procedure scenario's config overrides use it. lookupEnv expands ${VAR} in
// string values (nil means os.LookupEnv); the environment overrides are not applied again.
func (c *Config) Overlay(n *yaml.Node, lookupEnv func(string) (string, bool)) error {
	if n == nil {
		return nil
	}
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	if n.Kind == yaml.DocumentNode && len(n.Content) == 1 {
		n = n.Content[0]
	}
	d := decoder{lookupEnv: lookupEnv}
	if err := d.value(n, reflect.ValueOf(c).Elem(), ""); err != nil {
		return err
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("after the overrides: %w", err)
	}
	return nil
}

package config

import (
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// node is one key of the config tree: a section (struct) or a leaf (string, Secret, bool,
// int or []string), found by reflection over the yaml tags.
type node struct {
	path  string
	index []int
	leaf  bool
	// opaque keys (maps and lists of mappings, such as remediation.actions) are set in
	// the file only: no environment override, no `config set`.
	opaque bool
}

// tree lists every node in declaration order, sections before their children.
var tree = sync.OnceValue(func() []node {
	var nodes []node
	var walk func(t reflect.Type, prefix string, index []int)
	walk = func(t reflect.Type, prefix string, index []int) {
		for i := range t.NumField() {
			f := t.Field(i)
			name := yamlName(f)
			if name == "" {
				continue
			}
			path := name
			if prefix != "" {
				path = prefix + "." + name
			}
			idx := append(slices.Clone(index), i)
			switch {
			case f.Type.Kind() == reflect.Struct:
				nodes = append(nodes, node{path: path, index: idx})
				walk(f.Type, path, idx)
			case leafKind(f.Type):
				nodes = append(nodes, node{path: path, index: idx, leaf: true})
			case opaqueKind(f.Type):
				nodes = append(nodes, node{path: path, index: idx, opaque: true})
			default:
				panic(fmt.Sprintf("config: key %s has unsupported type %s", path, f.Type))
			}
		}
	}
	walk(reflect.TypeFor[Config](), "", nil)
	return nodes
})

// nodesByPath indexes tree by key path.
var nodesByPath = sync.OnceValue(func() map[string]node {
	m := make(map[string]node)
	for _, n := range tree() {
		m[n.path] = n
	}
	return m
})

func yamlName(f reflect.StructField) string {
	if !f.IsExported() {
		return ""
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	if name == "-" {
		return ""
	}
	return name
}

func leafKind(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String
	}
	return false
}

// opaqueKind reports a type decoded as a whole subtree: a map, a list of non-strings.
func opaqueKind(t reflect.Type) bool {
	return t.Kind() == reflect.Map || (t.Kind() == reflect.Slice && t.Elem().Kind() != reflect.String)
}

// fieldIndex returns the index of t's field whose yaml name is name.
func fieldIndex(t reflect.Type, name string) (int, bool) {
	for i := range t.NumField() {
		if yamlName(t.Field(i)) == name {
			return i, true
		}
	}
	return 0, false
}

// Keys lists every leaf key path (e.g. "incident_response.detection.max_events") in the
// order of the config file.
func (c *Config) Keys() []string { return leafKeys() }

func leafKeys() []string {
	var keys []string
	for _, n := range tree() {
		if n.leaf {
			keys = append(keys, n.path)
		}
	}
	return keys
}

// OpaqueKeys lists the keys set in the file only, as whole subtrees (maps and lists of
// mappings): they have no environment override.
func OpaqueKeys() []string {
	var keys []string
	for _, n := range tree() {
		if n.opaque {
			keys = append(keys, n.path)
		}
	}
	return keys
}

// EnvName returns the environment variable that overrides key: MAHAVISHNU_ followed by the
// key path upper-cased with dots replaced by underscores.
func EnvName(key string) string {
	return "MAHAVISHNU_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

// envAliases are the seed's variable names. They apply before, and lose to, the
// MAHAVISHNU_<PATH> names; an empty value is ignored.
var envAliases = []struct{ env, key string }{
	{"MAHAVISHNU_INCIDENT_ENABLED", "incident_response.enabled"},
	{"MAHAVISHNU_INCIDENT_AUTO_REMEDIATION", "incident_response.auto_remediation"},
	{"SLACK_WEBHOOK_URL", "incident_response.notifications.slack.webhook_url"},
	{"PAGERDUTY_API_KEY", "incident_response.notifications.pagerduty.api_key"},
	{"PAGERDUTY_SERVICE_KEY", "incident_response.notifications.pagerduty.service_key"},
	{"INCIDENT_DATABASE_URL", "database.url"},
}

// EnvVars lists the environment variables that set key, highest precedence first:
// EnvName(key), then the seed's alias if there is one.
func EnvVars(key string) []string {
	vars := []string{EnvName(key)}
	for _, a := range envAliases {
		if a.key == key {
			vars = append(vars, a.env)
		}
	}
	return vars
}

// applyEnv applies the seed aliases, then the MAHAVISHNU_<PATH> variables. Errors name the
// variable; all bad variables are reported.
func applyEnv(c *Config, lookupEnv func(string) (string, bool)) error {
	var errs []error
	root := reflect.ValueOf(c).Elem()
	for _, a := range envAliases {
		if v, ok := lookupEnv(a.env); ok && v != "" {
			if err := setLeaf(root.FieldByIndex(nodesByPath()[a.key].index), v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", a.env, err))
			}
		}
	}
	for _, n := range tree() {
		if !n.leaf {
			continue
		}
		name := EnvName(n.path)
		if v, ok := lookupEnv(name); ok {
			if err := setLeaf(root.FieldByIndex(n.index), v); err != nil {
				errs = append(errs, fmt.Errorf("%s: %w", name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// setLeaf parses raw into the leaf v: strings as is, integers in decimal, booleans as
// true/false/1/0/yes/no, lists as comma-separated values.
func setLeaf(v reflect.Value, raw string) error {
	switch v.Kind() {
	case reflect.String:
		v.SetString(raw)
	case reflect.Bool:
		b, err := parseBool(raw)
		if err != nil {
			return err
		}
		v.SetBool(b)
	case reflect.Int:
		n, err := strconv.Atoi(strings.TrimSpace(raw))
		if err != nil {
			return fmt.Errorf("want an integer, got %q", raw)
		}
		v.SetInt(int64(n))
	case reflect.Slice:
		v.Set(reflect.ValueOf(splitList(raw)))
	default:
		return fmt.Errorf("unsupported type %s", v.Type())
	}
	return nil
}

func parseBool(raw string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(raw)) {
	case "true", "1", "yes":
		return true, nil
	case "false", "0", "no":
		return false, nil
	}
	return false, fmt.Errorf("want a boolean (true/false/1/0/yes/no), got %q", raw)
}

// splitList splits a comma-separated list, trimming spaces and dropping empty items.
func splitList(raw string) []string {
	list := []string{}
	for item := range strings.SplitSeq(raw, ",") {
		if item = strings.TrimSpace(item); item != "" {
			list = append(list, item)
		}
	}
	return list
}

// ResolveKey returns the full path of key: it is looked up under incident_response first
// (so "auto_remediation" is incident_response.auto_remediation), then at the top level.
// The empty key is the whole config.
func ResolveKey(key string) (string, error) {
	key = strings.ToLower(strings.TrimSpace(key))
	if key == "" {
		return "", nil
	}
	for _, candidate := range []string{"incident_response." + key, key} {
		if _, ok := nodesByPath()[candidate]; ok {
			return candidate, nil
		}
	}
	return "", fmt.Errorf("unknown key %q", key)
}

// Get returns the value at key (see ResolveKey): a leaf's value (string, Secret, bool, int,
// []string) or a section as its struct value; the empty key returns the whole Config.
// Secrets stay typed as Secret, so printing or marshalling the result shows "<secret>".
// The result is a copy.
func Get(c *Config, key string) (any, error) {
	full, err := ResolveKey(key)
	if err != nil {
		return nil, err
	}
	clone := c.Clone()
	if full == "" {
		return *clone, nil
	}
	return reflect.ValueOf(clone).Elem().FieldByIndex(nodesByPath()[full].index).Interface(), nil
}

// Set parses value into the leaf at key (see ResolveKey) like an environment override, then
// validates the whole config. On any error c is left unchanged.
func Set(c *Config, key, value string) error {
	full, err := ResolveKey(key)
	if err != nil {
		return err
	}
	n := nodesByPath()[full]
	if n.opaque {
		return fmt.Errorf("%s: set it in the config file", full)
	}
	if !n.leaf {
		var example string
		for _, k := range leafKeys() {
			if strings.HasPrefix(k, full+".") || full == "" {
				example = k
				break
			}
		}
		return fmt.Errorf("%s: is a section, not a value; set one of its keys, e.g. %s", displayKey(full), example)
	}
	old := c.Clone()
	if err := setLeaf(reflect.ValueOf(c).Elem().FieldByIndex(n.index), value); err != nil {
		return fmt.Errorf("%s: %w", full, err)
	}
	if err := c.Validate(); err != nil {
		*c = *old
		return err
	}
	return nil
}

// Clone returns a deep copy of c.
func (c *Config) Clone() *Config {
	out := *c
	root := reflect.ValueOf(&out).Elem()
	for _, n := range tree() {
		if f := root.FieldByIndex(n.index); n.leaf && f.Kind() == reflect.Slice && !f.IsNil() {
			f.Set(reflect.ValueOf(slices.Clone(f.Interface().([]string))))
		}
	}
	return &out
}

func displayKey(path string) string {
	if path == "" {
		return "top level"
	}
	return path
}

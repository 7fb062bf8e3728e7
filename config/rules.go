package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"

	"gopkg.in/yaml.v3"

	"github.com/mahavishnu/mahavishnu/schemas"
)

// DefaultRulesFile is the default of rules_file. Like DefaultPath, it is relative to the
// working directory, and when it does not exist the built-in rules are used.
const DefaultRulesFile = "settings/rules.yaml"

// RulesFileHeader starts the shipped rules file (MarshalRules writes it).
const RulesFileHeader = `# Mahavishnu detection rules: the 15 scenarios of the quickstart.
#
# These rules seed the rule store when the incident manager starts: a rule whose id is not
# stored yet is added; a stored rule keeps its stored settings. Change rules at run time,
# without a restart, with ` + "`mahavishnu incidents rules ...`" + ` (list, show, enable, disable,
# update, create, review). Every key is described in docs/detection.md.
#
# Keys a rule may leave out: enabled (true), type (the id), group_by (source),
# check_interval_seconds (60), matchers, claims, min_components_affected,
# require_consecutive, description, runbook, actions.
`

// Rules returns the configured detection rules: those of rules_file, or
// schemas.DefaultRules() when rules_file is empty, or is DefaultRulesFile and that file
// does not exist.
func (c *Config) Rules() ([]schemas.Rule, error) {
	if c.RulesFile == "" {
		return schemas.DefaultRules(), nil
	}
	rules, err := LoadRulesFile(c.RulesFile)
	if errors.Is(err, fs.ErrNotExist) && c.RulesFile == DefaultRulesFile {
		return schemas.DefaultRules(), nil
	}
	if err != nil {
		return nil, fmt.Errorf("rules_file: %w", err)
	}
	return rules, nil
}

// LoadRulesFile reads a rules file: a mapping with one key, "rules", holding a list of
// rules (schemas.Rule's yaml keys). Decoding is strict: an unknown key is an error naming
// its line and rule. Every rule is validated (schemas.ValidateRules).
func LoadRulesFile(path string) ([]schemas.Rule, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	rules, err := decodeRules(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rules, nil
}

func decodeRules(data []byte) ([]schemas.Rule, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("empty file: want a list of rules under \"rules:\"")
		}
		return nil, err
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}
	if root.Kind != yaml.MappingNode {
		return nil, fmt.Errorf("line %d: want a mapping with the key \"rules\"", root.Line)
	}
	var list *yaml.Node
	for i := 0; i+1 < len(root.Content); i += 2 {
		k := root.Content[i]
		if k.Value != "rules" {
			return nil, fmt.Errorf("line %d: unknown key %q (a rules file holds only \"rules\")", k.Line, k.Value)
		}
		list = root.Content[i+1]
	}
	if list == nil || list.Kind != yaml.SequenceNode {
		return nil, fmt.Errorf("line %d: rules: want a list of rules", root.Line)
	}
	rules := make([]schemas.Rule, 0, len(list.Content))
	for i, item := range list.Content {
		if err := checkKeys(item, reflect.TypeFor[schemas.Rule](), fmt.Sprintf("rules[%d]", i)); err != nil {
			return nil, err
		}
		r := schemas.Rule{Enabled: true, GroupBy: schemas.GroupBySource, CheckIntervalSeconds: 60}
		if err := item.Decode(&r); err != nil {
			return nil, fmt.Errorf("line %d: rules[%d]: %w", item.Line, i, err)
		}
		if r.IncidentType == "" {
			r.IncidentType = r.ID
		}
		nilEmptyLists(&r)
		if err := r.Validate(); err != nil {
			return nil, fmt.Errorf("line %d: rules[%d]: %w", item.Line, i, err)
		}
		rules = append(rules, r)
	}
	if err := schemas.ValidateRules(rules); err != nil {
		return nil, err
	}
	return rules, nil
}

// checkKeys rejects keys of the mapping n that are not yaml keys of t (a struct), and
// checks the items of list fields of struct type (matchers) the same way.
func checkKeys(n *yaml.Node, t reflect.Type, path string) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: %s: want a mapping of keys", n.Line, path)
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		idx, ok := fieldIndex(t, k.Value)
		if !ok {
			return fmt.Errorf("line %d: %s: unknown key %q", k.Line, path, k.Value)
		}
		ft := t.Field(idx).Type
		if ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct && v.Kind == yaml.SequenceNode {
			for j, item := range v.Content {
				if err := checkKeys(item, ft.Elem(), fmt.Sprintf("%s.%s[%d]", path, k.Value, j)); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// MarshalRules writes rules in the rules file format, after RulesFileHeader.
func MarshalRules(rules []schemas.Rule) ([]byte, error) {
	out := make([]schemas.Rule, len(rules))
	for i := range rules {
		out[i] = rules[i].Clone()
		// Spell out the empty lists, so that every key shows.
		for _, l := range []*[]string{&out[i].Claims, &out[i].Actions} {
			if *l == nil {
				*l = []string{}
			}
		}
		if out[i].Matchers == nil {
			out[i].Matchers = []schemas.Matcher{}
		}
	}
	var buf bytes.Buffer
	buf.WriteString(RulesFileHeader)
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(map[string]any{"rules": out}); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// nilEmptyLists sets the empty lists of a decoded rule ("claims: []") to nil.
func nilEmptyLists(r *schemas.Rule) {
	nilEmpty := func(l *[]string) {
		if len(*l) == 0 {
			*l = nil
		}
	}
	nilEmpty(&r.Claims)
	nilEmpty(&r.Actions)
	if len(r.Matchers) == 0 {
		r.Matchers = nil
	}
	for i := range r.Matchers {
		nilEmpty(&r.Matchers[i].MessageContains)
		nilEmpty(&r.Matchers[i].SourceContains)
	}
}

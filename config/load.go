package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"reflect"
	"regexp"
	"strings"

	"gopkg.in/yaml.v3"
)

// Load returns the configuration: Default(), then the YAML file at path decoded strictly
// (an unknown key is an error naming its path and line), ${VAR} expansion in the file's
// string values, then the environment overrides, then Validate.
//
// An empty path means DefaultPath if that file exists, else defaults only; an explicit path
// must exist. lookupEnv reads the environment (nil means os.LookupEnv).
func Load(path string, lookupEnv func(string) (string, bool)) (*Config, error) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	c := Default()
	source := path
	if source == "" {
		switch _, err := os.Stat(DefaultPath); {
		case err == nil:
			source = DefaultPath
		case !errors.Is(err, fs.ErrNotExist):
			return nil, fmt.Errorf("config: %w", err)
		}
	}
	if source != "" {
		data, err := os.ReadFile(source)
		if err != nil {
			return nil, fmt.Errorf("config: %w", err)
		}
		if err := decode(data, c, lookupEnv); err != nil {
			return nil, fmt.Errorf("%s: %w", source, err)
		}
	}
	if err := applyEnv(c, lookupEnv); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		if source == "" {
			source = "config"
		}
		return nil, fmt.Errorf("%s: %w", source, err)
	}
	return c, nil
}

// decode applies one YAML document onto c. Keys absent from the document keep their values.
func decode(data []byte, c *Config, lookupEnv func(string) (string, bool)) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	switch err := dec.Decode(&doc); {
	case errors.Is(err, io.EOF):
		return nil // empty file: defaults
	case err != nil:
		return err
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		if err != nil {
			return err
		}
		return fmt.Errorf("line %d: a config file holds one YAML document, found another", extra.Line)
	}
	root := &doc
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		root = doc.Content[0]
	}
	d := decoder{lookupEnv: lookupEnv}
	return d.value(root, reflect.ValueOf(c).Elem(), "")
}

type decoder struct {
	lookupEnv func(string) (string, bool)
}

// value decodes n into v, the config node at path. A null leaves a section unchanged and
// sets a leaf to its zero value.
func (d decoder) value(n *yaml.Node, v reflect.Value, path string) error {
	for n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		if v.Kind() != reflect.Struct {
			v.Set(reflect.Zero(v.Type()))
		}
		return nil
	}
	switch v.Kind() {
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: %s: want a mapping of keys, got %s", n.Line, displayKey(path), describe(n))
		}
		seen := make(map[string]int)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			full := k.Value
			if path != "" {
				full = path + "." + k.Value
			}
			idx, ok := fieldIndex(v.Type(), k.Value)
			if k.Kind != yaml.ScalarNode || !ok {
				return fmt.Errorf("line %d: unknown key %q", k.Line, full)
			}
			if first, dup := seen[k.Value]; dup {
				return fmt.Errorf("line %d: duplicate key %q (first on line %d)", k.Line, full, first)
			}
			seen[k.Value] = k.Line
			if err := d.value(val, v.Field(idx), full); err != nil {
				return err
			}
		}
		return nil
	case reflect.Pointer:
		elem := reflect.New(v.Type().Elem())
		if err := d.value(n, elem.Elem(), path); err != nil {
			return err
		}
		v.Set(elem)
		return nil
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return fmt.Errorf("line %d: %s: want a mapping, got %s", n.Line, displayKey(path), describe(n))
		}
		m := reflect.MakeMapWithSize(v.Type(), len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, val := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: %s: keys must be plain names", k.Line, path)
			}
			if m.MapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key())).IsValid() {
				return fmt.Errorf("line %d: duplicate key %q", k.Line, path+"."+k.Value)
			}
			elem := reflect.New(v.Type().Elem()).Elem()
			if err := d.value(val, elem, path+"."+k.Value); err != nil {
				return err
			}
			m.SetMapIndex(reflect.ValueOf(k.Value).Convert(v.Type().Key()), elem)
		}
		v.Set(m)
		return nil
	case reflect.Slice:
		if v.Type().Elem().Kind() != reflect.String {
			if n.Kind != yaml.SequenceNode {
				return fmt.Errorf("line %d: %s: want a list, got %s", n.Line, path, describe(n))
			}
			list := reflect.MakeSlice(v.Type(), 0, len(n.Content))
			for i, item := range n.Content {
				elem := reflect.New(v.Type().Elem()).Elem()
				if err := d.value(item, elem, fmt.Sprintf("%s[%d]", path, i)); err != nil {
					return err
				}
				list = reflect.Append(list, elem)
			}
			v.Set(list)
			return nil
		}
		if n.Kind != yaml.SequenceNode {
			return fmt.Errorf("line %d: %s: want a list, got %s", n.Line, path, describe(n))
		}
		list := make([]string, 0, len(n.Content))
		for _, item := range n.Content {
			for item.Kind == yaml.AliasNode {
				item = item.Alias
			}
			if item.Kind != yaml.ScalarNode {
				return fmt.Errorf("line %d: %s: want a list of strings, got an item that is %s", item.Line, path, describe(item))
			}
			list = append(list, d.expand(item.Value))
		}
		v.Set(reflect.ValueOf(list))
		return nil
	}
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: %s: want a single value, got %s", n.Line, path, describe(n))
	}
	raw := n.Value
	if v.Kind() == reflect.String {
		raw = d.expand(raw)
	}
	if err := setLeaf(v, raw); err != nil {
		if strings.Contains(raw, "${") {
			err = fmt.Errorf("%w (${VAR} is expanded in string values only; set %s instead)", err, EnvName(path))
		}
		return fmt.Errorf("line %d: %s: %w", n.Line, path, err)
	}
	return nil
}

func describe(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		return "a single value" // never the value itself: it may be a secret
	}
	return "nothing"
}

// envRef matches ${NAME}; other forms ($NAME, ${NAME:-x}) stay literal.
var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expand replaces each ${NAME} with the variable's value (empty when unset). It runs on
// values after YAML parsing, so a variable's value can never change the file's structure.
func (d decoder) expand(s string) string {
	if !strings.Contains(s, "${") {
		return s
	}
	return envRef.ReplaceAllStringFunc(s, func(ref string) string {
		v, _ := d.lookupEnv(ref[2 : len(ref)-1])
		return v
	})
}

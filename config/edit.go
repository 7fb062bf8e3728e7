package config

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"

	"gopkg.in/yaml.v3"
)

// SetInFile sets key (see ResolveKey) to value in the config file at path, keeping the
// file's other keys and comments, and returns the key's full path. The value is parsed
// like an environment override (lists comma-separated) and the whole file must still load
// (with an empty environment) afterwards; otherwise the file is left as it was. Keys
// holding maps or lists of mappings cannot be set this way.
func SetInFile(path, key, value string) (string, error) {
	full, err := ResolveKey(key)
	if err != nil {
		return "", err
	}
	// Parse and validate the value on a scratch config first: errors name the key.
	if err := Set(Default(), full, value); err != nil {
		return "", err
	}
	old, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(old, &doc); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if len(doc.Content) == 0 {
		doc = yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	leaf := nodesByPath()[full]
	field := reflect.ValueOf(Default()).Elem().FieldByIndex(leaf.index)
	if err := setNode(doc.Content[0], strings.Split(full, "."), value, field.Kind() == reflect.Slice); err != nil {
		return "", fmt.Errorf("%s: %s: %w", path, full, err)
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&doc); err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if err := writeFileAtomic(path, buf.Bytes()); err != nil {
		return "", err
	}
	if _, err := Load(path, func(string) (string, bool) { return "", false }); err != nil {
		return "", errors.Join(err, writeFileAtomic(path, old))
	}
	return full, nil
}

// setNode sets the scalar (or list) at keys below the mapping m, creating mappings.
func setNode(m *yaml.Node, keys []string, value string, list bool) error {
	if m.Kind != yaml.MappingNode {
		return fmt.Errorf("line %d: want a mapping", m.Line)
	}
	var child *yaml.Node
	for i := 0; i+1 < len(m.Content); i += 2 {
		if m.Content[i].Value == keys[0] {
			child = m.Content[i+1]
			break
		}
	}
	if child == nil {
		child = &yaml.Node{Kind: yaml.MappingNode}
		m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: keys[0]}, child)
	}
	if len(keys) > 1 {
		if child.Kind != yaml.MappingNode {
			*child = yaml.Node{Kind: yaml.MappingNode}
		}
		return setNode(child, keys[1:], value, list)
	}
	comment := child.LineComment
	if list {
		seq := yaml.Node{Kind: yaml.SequenceNode, Style: yaml.FlowStyle, LineComment: comment}
		for _, item := range splitList(value) {
			seq.Content = append(seq.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: item})
		}
		*child = seq
		return nil
	}
	*child = yaml.Node{Kind: yaml.ScalarNode, Value: value, LineComment: comment}
	return nil
}

func writeFileAtomic(path string, data []byte) error {
	mode := os.FileMode(0o644)
	if st, err := os.Stat(path); err == nil {
		mode = st.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".mahavishnu-*.yaml")
	if err != nil {
		return fmt.Errorf("config: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("config: %w", err)
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("config: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

package config

import (
	"reflect"
	"strconv"
	"strings"
	"time"
)

// EnvPrefix starts the environment variable of every config key:
// BRIDGE_<PATH>, the key path uppercased with "." replaced by "_".
const EnvPrefix = "BRIDGE_"

var (
	configType   = reflect.TypeFor[Config]()
	durationType = reflect.TypeFor[time.Duration]()
)

// A key is one leaf of the configuration tree, found by walking Config's
// yaml tags, so that the key paths, the environment table and the example
// file's check cannot drift from the struct.
type key struct {
	// path is the dotted key path; a list element's fields read
	// "n8n.routes[].url".
	path string
	// index leads from Config to the field; nil inside a list.
	index []int
	typ   reflect.Type
	// env is BRIDGE_<PATH>, or "" for a key that is file-only (inside a
	// list, or a map).
	env string
}

// keys returns every leaf key in struct order.
func keys() []key {
	var out []key
	var walk func(t reflect.Type, path string, index []int, inList bool)
	walk = func(t reflect.Type, path string, index []int, inList bool) {
		for i := range t.NumField() {
			f := t.Field(i)
			name, ok := yamlName(f)
			if !ok {
				continue
			}
			p := joinPath(path, name)
			var idx []int
			if !inList {
				idx = append(append([]int(nil), index...), i)
			}
			switch {
			case f.Type.Kind() == reflect.Struct && f.Type != durationType:
				walk(f.Type, p, idx, inList)
			case f.Type.Kind() == reflect.Slice && f.Type.Elem().Kind() == reflect.Struct:
				walk(f.Type.Elem(), p+"[]", nil, true)
			default:
				k := key{path: p, index: idx, typ: f.Type}
				if !inList && envSettable(f.Type) {
					k.env = envName(p)
				}
				out = append(out, k)
			}
		}
	}
	walk(configType, "", nil, false)
	return out
}

// envSettable reports whether a value of t can be written as one string:
// scalars, and lists of strings (comma-separated).
func envSettable(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.String, reflect.Bool, reflect.Int, reflect.Int64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String
	}
	return false
}

func envName(path string) string {
	return EnvPrefix + strings.ToUpper(strings.ReplaceAll(path, ".", "_"))
}

// yamlName returns the key a struct field is read from, as yaml.v3 does.
func yamlName(f reflect.StructField) (string, bool) {
	if !f.IsExported() {
		return "", false
	}
	name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
	switch name {
	case "-":
		return "", false
	case "":
		return strings.ToLower(f.Name), true
	}
	return name, true
}

// fieldByKey returns the field of struct type t read from the YAML key name.
func fieldByKey(t reflect.Type, name string) (reflect.StructField, bool) {
	for i := range t.NumField() {
		f := t.Field(i)
		if n, ok := yamlName(f); ok && n == name {
			return f, true
		}
	}
	return reflect.StructField{}, false
}

func joinPath(path, name string) string {
	if strings.ContainsAny(name, ".[]\" \t\n") || name == "" {
		name = strconv.Quote(name)
	}
	if path == "" {
		return name
	}
	return path + "." + name
}

package config

import (
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/stoa-platform/bridge/pkg/secrets"
)

// ConfigEnv names the config file when no --config flag is given. It is not
// a config key.
const ConfigEnv = "BRIDGE_CONFIG"

// applyEnv sets every key whose BRIDGE_<PATH> variable env has, and returns
// which variable set which path. Lists of strings are comma-separated;
// lists of structs and maps (n8n.routes, vulnerabilities.ignore) are
// file-only. A value that does not parse leaves the key as it was and is a
// Problem naming both the variable and the path.
func applyEnv(cfg *Config, env func(string) (string, bool)) (map[string]string, Errors) {
	if env == nil {
		return nil, nil
	}
	from := make(map[string]string)
	var errs Errors
	root := reflect.ValueOf(cfg).Elem()
	for _, k := range keys() {
		if k.env == "" {
			continue
		}
		s, ok := env(k.env)
		if !ok {
			continue
		}
		from[k.path] = k.env
		if reason := setFromString(root.FieldByIndex(k.index), k.path, s); reason != "" {
			errs = append(errs, Problem{Path: k.path, Env: k.env, Reason: reason})
		}
	}
	return from, errs
}

// setKey sets the key at path (not inside a list) from its string form, or
// says why it cannot.
func setKey(cfg *Config, path, s string) string {
	for _, k := range keys() {
		if k.path == path && k.index != nil {
			return setFromString(reflect.ValueOf(cfg).Elem().FieldByIndex(k.index), path, s)
		}
	}
	return "unknown key"
}

// setFromString parses s into v, or says why it cannot.
func setFromString(v reflect.Value, path, s string) string {
	switch {
	case v.Type() == durationType:
		d, err := time.ParseDuration(strings.TrimSpace(s))
		if err != nil {
			return quote(s) + " is not a duration"
		}
		v.SetInt(int64(d))
	case sizeKeys[path]:
		n, ok := parseSize(s)
		if !ok {
			return quote(s) + " is not a byte count (like 26214400 or \"25MiB\")"
		}
		v.SetInt(n)
	case v.Kind() == reflect.Int || v.Kind() == reflect.Int64:
		n, err := strconv.ParseInt(strings.TrimSpace(s), 10, v.Type().Bits())
		if err != nil {
			return quote(s) + " is not an integer"
		}
		v.SetInt(n)
	case v.Kind() == reflect.Bool:
		b, err := strconv.ParseBool(strings.TrimSpace(s))
		if err != nil {
			return quote(s) + " is not true or false"
		}
		v.SetBool(b)
	case v.Kind() == reflect.String:
		v.SetString(s)
	case v.Kind() == reflect.Slice:
		var list []string
		for item := range strings.SplitSeq(s, ",") {
			if item = strings.TrimSpace(item); item != "" {
				list = append(list, item)
			}
		}
		v.Set(reflect.ValueOf(list))
	}
	return ""
}

// UnknownEnv returns the BRIDGE_ variables in environ (os.Environ's
// "NAME=value" form) that set nothing: neither a config key, nor
// BRIDGE_CONFIG, nor a BRIDGE_SECRET_ secret. A misspelt override is
// otherwise silently ignored, so a service logs these at start-up. Only
// names are returned, never values.
func UnknownEnv(environ []string) []string {
	known := make(map[string]bool)
	for _, k := range keys() {
		if k.env != "" {
			known[k.env] = true
		}
	}
	var unknown []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, EnvPrefix) || known[name] || name == ConfigEnv ||
			strings.HasPrefix(name, secrets.EnvPrefix) {
			continue
		}
		unknown = append(unknown, name)
	}
	slices.Sort(unknown)
	return slices.Compact(unknown)
}

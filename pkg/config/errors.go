package config

import "strings"

// Problem is one thing wrong with a configuration.
type Problem struct {
	// Path is the key, e.g. "n8n.routes[2].url"; empty for the file as a
	// whole (a YAML syntax error).
	Path string
	// Env is the environment variable the value came from, if it did.
	Env string
	// Reason says what is wrong, without the path.
	Reason string
}

// String reads "path: reason", or "path (BRIDGE_VAR): reason" for a value
// from the environment.
func (p Problem) String() string {
	switch {
	case p.Path == "":
		return p.Reason
	case p.Env != "":
		return p.Path + " (" + p.Env + "): " + p.Reason
	}
	return p.Path + ": " + p.Reason
}

// Errors is every problem found in a configuration, in a fixed order: file
// problems in document order, then environment problems, then the rest in
// key order. Callers that list them (bridgectl config validate) use
// errors.As to get at each one.
type Errors []Problem

// Error joins the problems, one per line.
func (e Errors) Error() string {
	lines := make([]string, len(e))
	for i, p := range e {
		lines[i] = p.String()
	}
	return strings.Join(lines, "\n")
}

// err returns e as an error, or nil when it is empty (never a nil Errors in
// a non-nil interface).
func (e Errors) err() error {
	if len(e) == 0 {
		return nil
	}
	return e
}

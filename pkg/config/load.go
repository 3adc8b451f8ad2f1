package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// Load reads the YAML file at path over Default(), applies the BRIDGE_<PATH>
// environment overrides looked up with env (os.LookupEnv; nil reads none),
// and validates the result. An empty path means no file: defaults and
// environment only.
//
// Every problem is reported at once: a failed read is wrapped, anything else
// is an Errors listing the file's problems (unknown keys, values of the
// wrong type, each with its key path), the environment's, then Validate's.
// On error the returned Config is the zero value.
func Load(path string, env func(string) (string, bool)) (Config, error) {
	if path == "" {
		return Parse(nil, env)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	return Parse(data, env)
}

// Parse is Load on the file's contents. Empty data is an empty file.
func Parse(data []byte, env func(string) (string, bool)) (Config, error) {
	cfg := Default()
	errs := decode(data, &cfg)
	fromEnv, envErrs := applyEnv(&cfg, env)
	errs = append(errs, envErrs...)
	if verr := cfg.validate(); len(verr) > 0 {
		// A value that failed to decode kept its default; do not report
		// the same key twice.
		seen := make(map[string]bool, len(errs))
		for _, p := range errs {
			seen[p.Path] = true
		}
		for _, p := range verr {
			if seen[p.Path] {
				continue
			}
			p.Env = fromEnv[p.Path]
			errs = append(errs, p)
		}
	}
	if len(errs) > 0 {
		return Config{}, errs
	}
	return cfg, nil
}

// maxProblems bounds the decoding problems reported: yaml.v3 reports a key
// repeated n times n(n-1)/2 times, and nobody reads past the first screen.
const maxProblems = 100

// sizeKeys are the byte counts that also accept a size like "25MiB".
var sizeKeys = map[string]bool{"gateway.max_body_bytes": true}

// decode reads data over cfg with yaml.v3's strict decoder and returns its
// complaints rewritten with key paths. yaml.v3 says only "line N: field x
// not found in type config.NATS": a second parse into a yaml.Node, walked
// alongside the struct's types, finds the key on line N that the message
// is about.
func decode(data []byte, cfg *Config) Errors {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	err := dec.Decode(cfg)
	if errors.Is(err, io.EOF) {
		return nil // empty file: defaults
	}
	var te *yaml.TypeError
	if err != nil && !errors.As(err, &te) {
		return Errors{{Reason: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}

	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		// Unreachable in practice: the same parser accepted the document.
		return Errors{{Reason: "invalid YAML: " + strings.TrimPrefix(err.Error(), "yaml: ")}}
	}
	ix := indexNodes(&root)

	var found []lineProblem
	if te != nil {
		seenDup := make(map[string]bool)
		for _, msg := range te.Errors {
			if strings.Contains(msg, "already defined at line") {
				// A key repeated n times on one line (flow style) makes
				// n(n-1)/2 identical messages: explain one.
				if seenDup[msg] {
					continue
				}
				seenDup[msg] = true
			}
			if len(found) == maxProblems {
				found = append(found, lineProblem{
					Problem: Problem{Reason: fmt.Sprintf("too many problems: only the first %d are listed", maxProblems)},
					line:    math.MaxInt,
				})
				break
			}
			lp, ok := ix.explain(msg)
			if !ok {
				continue
			}
			if sizeKeys[lp.Path] && lp.node != nil && lp.node.Kind == yaml.ScalarNode {
				// A byte count given as "25MiB": yaml.v3 refused it, so set
				// it here rather than change the field's type.
				if lp.Reason = setKey(cfg, lp.Path, lp.node.Value); lp.Reason == "" {
					continue
				}
			}
			found = append(found, lp)
		}
	}
	found = append(found, ix.extra...)
	if more := dec.Decode(new(yaml.Node)); !errors.Is(more, io.EOF) {
		found = append(found, lineProblem{Problem: Problem{Reason: "more than one YAML document: the config is one"}, line: math.MaxInt})
	}
	slices.SortStableFunc(found, func(a, b lineProblem) int { return cmp.Compare(a.line, b.line) })
	errs := make(Errors, len(found))
	for i, lp := range found {
		errs[i] = lp.Problem
	}
	return errs
}

type lineProblem struct {
	Problem
	line int
	node *yaml.Node // the value the problem is about, if known
}

// A nodeEntry is one key or list element of the parsed document, with the
// Go type it decodes into.
type nodeEntry struct {
	path   string
	key    *yaml.Node // nil for a list element and the document itself
	val    *yaml.Node
	typ    reflect.Type // nil for an unknown key
	parent reflect.Type // the struct or map holding key
	used   bool         // already matched to a message
}

type nodeIndex struct {
	// byLine finds the entries whose key or value starts on a line.
	byLine map[int][]*nodeEntry
	// dups are the keys already reported as set twice.
	dups map[*yaml.Node]bool
	// aliased are the anchors walked through an alias, by the type
	// they were walked as.
	aliased map[aliasUse]bool
	// extra are problems yaml.v3 lets through (1.5 into an int).
	extra []lineProblem
}

func indexNodes(root *yaml.Node) *nodeIndex {
	ix := &nodeIndex{byLine: make(map[int][]*nodeEntry), dups: make(map[*yaml.Node]bool), aliased: make(map[aliasUse]bool)}
	doc := root
	if doc.Kind == yaml.DocumentNode && len(doc.Content) == 1 {
		doc = doc.Content[0]
	}
	ix.add(&nodeEntry{val: doc, typ: configType})
	ix.walk(doc, configType, "")
	return ix
}

type aliasUse struct {
	anchor *yaml.Node
	as     reflect.Type
}

func (ix *nodeIndex) add(e *nodeEntry) {
	if e.val.Kind == yaml.AliasNode && e.val.Alias != nil {
		e.val = e.val.Alias // problems are reported at the anchor
	}
	ix.byLine[e.val.Line] = append(ix.byLine[e.val.Line], e)
	if e.key != nil && e.key.Line != e.val.Line {
		ix.byLine[e.key.Line] = append(ix.byLine[e.key.Line], e)
	}
}

// walk records n's children, following each alias to its anchor once:
// yaml.v3 reports a problem inside an alias at the anchor's line, under the
// type the alias is decoded into.
func (ix *nodeIndex) walk(n *yaml.Node, t reflect.Type, path string) {
	if n.Kind == yaml.AliasNode {
		at := aliasUse{n.Alias, t}
		if n.Alias == nil || ix.aliased[at] {
			return // walked once already: an alias bomb stays linear
		}
		ix.aliased[at] = true
		n = n.Alias
	}
	switch {
	case t.Kind() == reflect.Struct && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode || k.Tag == "!!merge" {
				continue
			}
			e := &nodeEntry{path: joinPath(path, k.Value), key: k, val: v, parent: t}
			if f, ok := fieldByKey(t, k.Value); ok {
				e.typ = f.Type
			}
			ix.add(e)
			if e.typ != nil {
				ix.walk(v, e.typ, e.path)
			}
		}
	case t.Kind() == reflect.Map && n.Kind == yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			k, v := n.Content[i], n.Content[i+1]
			if k.Kind != yaml.ScalarNode {
				continue
			}
			e := &nodeEntry{path: joinPath(path, k.Value), key: k, val: v, typ: t.Elem(), parent: t}
			ix.add(e)
			ix.walk(v, e.typ, e.path)
		}
	case t.Kind() == reflect.Slice && n.Kind == yaml.SequenceNode:
		for i, v := range n.Content {
			e := &nodeEntry{path: fmt.Sprintf("%s[%d]", path, i), val: v, typ: t.Elem()}
			ix.add(e)
			ix.walk(v, e.typ, e.path)
		}
	case n.Kind == yaml.ScalarNode && isInt(t) && n.ShortTag() == "!!float":
		// yaml.v3 truncates 1.5 to 1 without a word.
		if f, err := strconv.ParseFloat(n.Value, 64); err == nil && f != math.Trunc(f) {
			ix.extra = append(ix.extra, lineProblem{
				Problem: Problem{Path: path, Reason: n.Value + " is not a whole number"},
				line:    n.Line, node: n,
			})
		}
	}
}

func isInt(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return t != durationType
	}
	return false
}

// The messages of yaml.v3's TypeError that name something on their line.
var (
	reUnknown   = regexp.MustCompile(`^line (\d+): field (.*) not found in type (\S+)$`)
	reType      = regexp.MustCompile("(?s)^line (\\d+): cannot unmarshal (!!\\w+|\\S+)(?: `(.*)`)? into (.+)$")
	reDuplicate = regexp.MustCompile(`^line (\d+): mapping key (".*") already defined at line (\d+)$`)
	reSetTwice  = regexp.MustCompile(`^line (\d+): field (.*) already set in type (\S+)$`)
)

// explain turns one yaml.v3 message into a Problem with the key path it is
// about; ok is false for a message that repeats one already explained. A
// message it cannot place keeps yaml.v3's words and line.
func (ix *nodeIndex) explain(msg string) (lp lineProblem, ok bool) {
	if m := reUnknown.FindStringSubmatch(msg); m != nil {
		line := atoi(m[1])
		if e := ix.find(line, func(e *nodeEntry) bool {
			return e.key != nil && e.key.Line == line && e.key.Value == m[2] && e.typ == nil && e.parent.String() == m[3]
		}); e != nil {
			return lineProblem{Problem: Problem{Path: e.path, Reason: "unknown key"}, line: line}, true
		}
	}
	if m := reType.FindStringSubmatch(msg); m != nil {
		line := atoi(m[1])
		if e := ix.find(line, func(e *nodeEntry) bool {
			return e.val.Line == line && e.typ != nil && e.typ.String() == m[4] && (m[3] == "" || shorten(e.val.Value) == m[3])
		}); e != nil {
			return lineProblem{Problem: Problem{Path: e.path, Reason: typeReason(e.val, e.typ)}, line: line, node: e.val}, true
		}
	}
	if m := reDuplicate.FindStringSubmatch(msg); m != nil {
		// yaml.v3 reports every pair: a key set three times makes three
		// messages for two repeats. Report each repeat once.
		line := atoi(m[1])
		name, _ := strconv.Unquote(m[2])
		for _, e := range ix.byLine[line] {
			if e.key == nil || e.key.Line != line || e.key.Value != name {
				continue
			}
			if ix.dups[e.key] {
				return lp, false
			}
			ix.dups[e.key] = true
			return lineProblem{Problem: Problem{Path: e.path, Reason: "set again (first on line " + m[3] + ")"}, line: line}, true
		}
	}
	if m := reSetTwice.FindStringSubmatch(msg); m != nil {
		line := atoi(m[1])
		if e := ix.find(line, func(e *nodeEntry) bool {
			return e.key != nil && e.key.Line == line && e.key.Value == m[2] && e.parent.String() == m[3]
		}); e != nil {
			return lineProblem{Problem: Problem{Path: e.path, Reason: "set again"}, line: line}, true
		}
	}
	line := 0
	if l, _, ok := strings.Cut(strings.TrimPrefix(msg, "line "), ":"); ok {
		line = atoi(l)
	}
	return lineProblem{Problem: Problem{Reason: msg}, line: line}, true
}

// find returns the first entry on line not yet matched for which ok is
// true, so that two identical messages about one line (flow style) name two
// keys.
func (ix *nodeIndex) find(line int, ok func(*nodeEntry) bool) *nodeEntry {
	for _, e := range ix.byLine[line] {
		if !e.used && ok(e) {
			e.used = true
			return e
		}
	}
	return nil
}

// shorten cuts a value as yaml.v3 does in its messages.
func shorten(v string) string {
	if len(v) > 10 {
		return v[:7] + "..."
	}
	return v
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// typeReason says why the value of n does not fit type t.
func typeReason(n *yaml.Node, t reflect.Type) string {
	want := describe(t)
	if n.Kind != yaml.ScalarNode {
		got := "a mapping"
		if n.Kind == yaml.SequenceNode {
			got = "a list"
		}
		if t == configType {
			return "the file must be a mapping of keys, not " + got
		}
		return "want " + want + ", got " + got
	}
	switch {
	case t == durationType && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float"):
		return fmt.Sprintf("%s is not a duration: add a unit, e.g. %q", n.Value, n.Value+"s")
	case isInt(t) && (n.ShortTag() == "!!int" || n.ShortTag() == "!!float"):
		return n.Value + " is out of range"
	case t == configType:
		return "the file must be a mapping of keys, not " + quote(n.Value)
	}
	return quote(n.Value) + " is not " + want
}

func describe(t reflect.Type) string {
	if t == durationType {
		return "a duration"
	}
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return "an integer"
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Slice:
		return "a list"
	}
	return "a mapping"
}

// quote quotes a value for a message, cut short if long.
func quote(v string) string {
	const max = 64
	if utf8.RuneCountInString(v) > max {
		r := []rune(v)
		return strconv.Quote(string(r[:max])) + "…"
	}
	return strconv.Quote(v)
}

// parseSize reads a byte count: a plain number, or one with a unit B, KB,
// MB, GB (powers of 1000) or KiB, MiB, GiB (powers of 1024), e.g. "25MiB".
func parseSize(s string) (int64, bool) {
	s = strings.TrimSpace(s)
	i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
	if i == 0 {
		return 0, false
	}
	num, unit := s, ""
	if i > 0 {
		num, unit = s[:i], strings.TrimSpace(s[i:])
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil {
		return 0, false
	}
	mult := map[string]int64{
		"": 1, "B": 1,
		"KB": 1e3, "MB": 1e6, "GB": 1e9,
		"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30,
	}[unit]
	if mult == 0 || n > math.MaxInt64/mult {
		return 0, false
	}
	return n * mult, true
}

package lineartest

import (
	"fmt"
	"strings"
)

// filterable is an entity a Linear filter (IssueFilter, TeamFilter, …)
// can test. filterValue answers a filter key with a scalar (string,
// float64, bool, or nil), a relation (a nested filter applies), or a
// []filterable (a collection filter applies); ok is false for a key the
// fake does not implement.
type filterable interface {
	filterValue(d *db, name string) (v any, ok bool)
}

// relation is a to-one link; f is nil when the link is empty (a workspace
// label's team).
type relation struct{ f filterable }

// matches evaluates a Linear filter: every key must hold; "and" and "or"
// combine sub-filters; a key naming a relation takes a nested filter (and
// "null"), one naming a collection takes some/every/length or the
// element's own keys (read as some), a scalar takes a comparator.
func matches(d *db, o filterable, filter map[string]any) (bool, error) {
	for key, arg := range filter {
		if arg == nil {
			continue // an explicit null is no constraint
		}
		ok, err := matchKey(d, o, key, arg)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func matchKey(d *db, o filterable, key string, arg any) (bool, error) {
	switch key {
	case "and", "or":
		subs, err := filterList(arg)
		if err != nil {
			return false, err
		}
		for _, sub := range subs {
			ok, err := matches(d, o, sub)
			if err != nil {
				return false, err
			}
			if ok == (key == "or") {
				return ok, nil
			}
		}
		return key == "and", nil
	}
	v, ok := o.filterValue(d, key)
	if !ok {
		return false, unsupported("filtering %T on %q", o, key)
	}
	m, isMap := arg.(map[string]any)
	if !isMap {
		return false, unsupported("filter %q with a %T", key, arg)
	}
	switch v := v.(type) {
	case relation:
		return matchRelation(d, v, m)
	case []filterable:
		return matchCollection(d, v, m)
	default:
		return compare(v, m)
	}
}

func matchRelation(d *db, r relation, m map[string]any) (bool, error) {
	if null, ok := m["null"].(bool); ok {
		if null != (r.f == nil) {
			return false, nil
		}
	}
	if r.f == nil {
		// Any other constraint on an empty link fails, as in SQL.
		for k, v := range m {
			if k != "null" && v != nil {
				return false, nil
			}
		}
		return true, nil
	}
	rest := make(map[string]any, len(m))
	for k, v := range m {
		if k != "null" {
			rest[k] = v
		}
	}
	return matches(d, r.f, rest)
}

func matchCollection(d *db, items []filterable, m map[string]any) (bool, error) {
	for key, arg := range m {
		if arg == nil {
			continue
		}
		var ok bool
		var err error
		switch key {
		case "and", "or":
			subs, ferr := filterList(arg)
			if ferr != nil {
				return false, ferr
			}
			ok = key == "and"
			for _, sub := range subs {
				sok, serr := matchCollection(d, items, sub)
				if serr != nil {
					return false, serr
				}
				if sok == (key == "or") {
					ok = sok
					break
				}
			}
		case "length":
			lm, isMap := arg.(map[string]any)
			if !isMap {
				return false, unsupported("collection length filter with a %T", arg)
			}
			ok, err = compare(float64(len(items)), lm)
		case "every", "some":
			sub, isMap := arg.(map[string]any)
			if !isMap {
				return false, unsupported("collection %q filter with a %T", key, arg)
			}
			ok, err = anyOrAll(d, items, sub, key == "every")
		default:
			// A key of the element itself: some element must match it.
			ok, err = anyOrAll(d, items, map[string]any{key: arg}, false)
		}
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func anyOrAll(d *db, items []filterable, f map[string]any, all bool) (bool, error) {
	for _, it := range items {
		ok, err := matches(d, it, f)
		if err != nil {
			return false, err
		}
		if ok != all {
			return ok, nil
		}
	}
	return all, nil
}

func filterList(arg any) ([]map[string]any, error) {
	list, ok := arg.([]any)
	if !ok {
		if m, isMap := arg.(map[string]any); isMap {
			return []map[string]any{m}, nil // input coercion of a single value to a list
		}
		return nil, unsupported("and/or filter with a %T", arg)
	}
	out := make([]map[string]any, 0, len(list))
	for _, e := range list {
		m, isMap := e.(map[string]any)
		if !isMap {
			return nil, unsupported("and/or filter element %T", e)
		}
		out = append(out, m)
	}
	return out, nil
}

// compare applies a comparator (StringComparator, IDComparator,
// NumberComparator, DateComparator, …) to a scalar. Every operator must hold.
func compare(v any, cmp map[string]any) (bool, error) {
	for op, arg := range cmp {
		if arg == nil {
			continue
		}
		ok, err := compareOne(v, op, arg)
		if err != nil || !ok {
			return false, err
		}
	}
	return true, nil
}

func compareOne(v any, op string, arg any) (bool, error) {
	if op == "null" {
		want, _ := arg.(bool)
		return (v == nil) == want, nil
	}
	if v == nil {
		// Only "null" matches an empty value, as in SQL.
		return false, nil
	}
	switch op {
	case "in", "nin":
		list, ok := arg.([]any)
		if !ok {
			list = []any{arg}
		}
		found := false
		for _, e := range list {
			if equal(v, e) {
				found = true
				break
			}
		}
		return found == (op == "in"), nil
	case "eq":
		return equal(v, arg), nil
	case "neq":
		return !equal(v, arg), nil
	}
	if n, ok := toFloat(v); ok {
		a, aok := toFloat(arg)
		if !aok {
			return false, unsupported("number comparator %q with a %T", op, arg)
		}
		switch op {
		case "lt":
			return n < a, nil
		case "lte":
			return n <= a, nil
		case "gt":
			return n > a, nil
		case "gte":
			return n >= a, nil
		}
		return false, unsupported("number comparator %q", op)
	}
	s, ok := v.(string)
	a, aok := arg.(string)
	if !ok || !aok {
		return false, unsupported("comparator %q on a %T with a %T", op, v, arg)
	}
	ls, la := strings.ToLower(s), strings.ToLower(a)
	switch op {
	case "eqIgnoreCase":
		return ls == la, nil
	case "neqIgnoreCase":
		return ls != la, nil
	case "startsWith":
		return strings.HasPrefix(s, a), nil
	case "startsWithIgnoreCase":
		return strings.HasPrefix(ls, la), nil
	case "notStartsWith":
		return !strings.HasPrefix(s, a), nil
	case "endsWith":
		return strings.HasSuffix(s, a), nil
	case "notEndsWith":
		return !strings.HasSuffix(s, a), nil
	case "contains":
		return strings.Contains(s, a), nil
	case "containsIgnoreCase", "containsIgnoreCaseAndAccent":
		return strings.Contains(ls, la), nil
	case "notContains":
		return !strings.Contains(s, a), nil
	case "notContainsIgnoreCase":
		return !strings.Contains(ls, la), nil
	case "lt", "lte", "gt", "gte":
		// DateTimes in one format compare as strings; relative dates
		// ("-P2W") do not.
		if strings.HasPrefix(a, "-P") || strings.HasPrefix(a, "P") {
			return false, unsupported("relative date comparator %q", a)
		}
		switch op {
		case "lt":
			return s < a, nil
		case "lte":
			return s <= a, nil
		case "gt":
			return s > a, nil
		default:
			return s >= a, nil
		}
	}
	return false, unsupported("string comparator %q", op)
}

func equal(v, arg any) bool {
	if n, ok := toFloat(v); ok {
		a, aok := toFloat(arg)
		return aok && n == a
	}
	return fmt.Sprint(v) == fmt.Sprint(arg)
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	}
	return 0, false
}

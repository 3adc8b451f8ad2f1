package lineartest

import (
	"slices"

	"github.com/vektah/gqlparser/v2/ast"
)

// exec runs one validated operation against the workspace, under the
// Server's lock.
type exec struct {
	s      *Server
	db     *db
	schema *ast.Schema
	vars   map[string]any
}

// object is a value of a GraphQL object type. field answers one of its
// fields with a scalar (string, int, float64, bool, nil, []string,
// map[string]any), an object, or a []object; selectInto then keeps only the
// selected sub-fields.
type object interface {
	typeName() string
	field(x *exec, f *ast.Field, args map[string]any) (any, error)
}

// selectInto answers a selection set on o into out, following fragments
// whose type condition o satisfies and merging fields selected twice.
func (x *exec) selectInto(out map[string]any, set ast.SelectionSet, o object, path []any) error {
	for _, sel := range set {
		switch sel := sel.(type) {
		case *ast.Field:
			if x.skipped(sel.Directives) {
				continue
			}
			key := sel.Alias
			if key == "" {
				key = sel.Name
			}
			if sel.Name == "__typename" {
				out[key] = o.typeName()
				continue
			}
			fpath := append(slices.Clone(path), key)
			raw, err := o.field(x, sel, sel.ArgumentMap(x.vars))
			if err != nil {
				return asAPIError(err).at(sel, fpath)
			}
			v, err := x.complete(sel, raw, fpath)
			if err != nil {
				return err
			}
			out[key] = merge(out[key], v)
		case *ast.InlineFragment:
			if x.skipped(sel.Directives) || !x.applies(sel.TypeCondition, o) {
				continue
			}
			if err := x.selectInto(out, sel.SelectionSet, o, path); err != nil {
				return err
			}
		case *ast.FragmentSpread:
			if x.skipped(sel.Directives) || sel.Definition == nil || !x.applies(sel.Definition.TypeCondition, o) {
				continue
			}
			if err := x.selectInto(out, sel.Definition.SelectionSet, o, path); err != nil {
				return err
			}
		}
	}
	return nil
}

// complete turns a resolved value into its JSON answer.
func (x *exec) complete(f *ast.Field, raw any, path []any) (any, error) {
	switch v := raw.(type) {
	case nil:
		if f.Definition != nil && f.Definition.Type.NonNull {
			return nil, unsupported("a null %s.%s (non-null in the schema)", f.ObjectDefinition.Name, f.Name).at(f, path)
		}
		return nil, nil
	case object:
		m := map[string]any{}
		if err := x.selectInto(m, f.SelectionSet, v, path); err != nil {
			return nil, err
		}
		return m, nil
	case []object:
		list := make([]any, len(v))
		for i, o := range v {
			m := map[string]any{}
			if err := x.selectInto(m, f.SelectionSet, o, append(slices.Clone(path), i)); err != nil {
				return nil, err
			}
			list[i] = m
		}
		return list, nil
	default:
		return v, nil
	}
}

// merge combines the answers of a field selected more than once (directly
// and through a fragment).
func merge(a, b any) any {
	switch av := a.(type) {
	case map[string]any:
		if bv, ok := b.(map[string]any); ok {
			for k, v := range bv {
				av[k] = merge(av[k], v)
			}
			return av
		}
	case []any:
		if bv, ok := b.([]any); ok && len(av) == len(bv) {
			for i := range av {
				av[i] = merge(av[i], bv[i])
			}
			return av
		}
	}
	return b
}

// applies reports whether a fragment on cond applies to o: cond is o's type
// or an interface or union o belongs to.
func (x *exec) applies(cond string, o object) bool {
	if cond == "" || cond == o.typeName() {
		return true
	}
	def := x.schema.Types[cond]
	if def == nil {
		return false
	}
	for _, p := range x.schema.GetPossibleTypes(def) {
		if p.Name == o.typeName() {
			return true
		}
	}
	return false
}

// skipped applies @skip and @include.
func (x *exec) skipped(ds ast.DirectiveList) bool {
	for _, d := range ds {
		cond, _ := d.ArgumentMap(x.vars)["if"].(bool)
		switch d.Name {
		case "skip":
			if cond {
				return true
			}
		case "include":
			if !cond {
				return true
			}
		}
	}
	return false
}

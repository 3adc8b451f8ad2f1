package source_test

import (
	"reflect"
	"testing"

	"github.com/stoa-platform/bridge/pkg/source"
)

func TestTruncate(t *testing.T) {
	tests := []struct {
		s    string
		n    int
		want string
	}{
		{"short", 10, "short"},
		{"exactly", 7, "exactly"},
		{"abcdef", 3, "abc"},
		{"héllo", 2, "h"}, // é is two bytes: not split
		{"日本", 4, "日"},
		{"日本", 2, ""},
	}
	for _, tt := range tests {
		if got := source.Truncate(tt.s, tt.n); got != tt.want {
			t.Errorf("Truncate(%q, %d) = %q, want %q", tt.s, tt.n, got, tt.want)
		}
	}
}

func TestTypeName(t *testing.T) {
	var p *struct{}
	tests := []struct {
		t    reflect.Type
		want string
	}{
		{reflect.TypeOf(""), "a string"},
		{reflect.TypeOf(int32(0)), "an integer"},
		{reflect.TypeOf(1.5), "a number"},
		{reflect.TypeOf(true), "a boolean"},
		{reflect.TypeOf(p), "an object"},
		{reflect.TypeOf(map[string]int{}), "an object"},
		{reflect.TypeOf([]string{}), "an array"},
		{nil, "the documented type"},
	}
	for _, tt := range tests {
		if got := source.TypeName(tt.t); got != tt.want {
			t.Errorf("TypeName(%v) = %q, want %q", tt.t, got, tt.want)
		}
	}
	if got := source.Article("object"); got != "an object" {
		t.Errorf(`Article("object") = %q`, got)
	}
}

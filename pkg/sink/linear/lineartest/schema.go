package lineartest

import (
	"fmt"
	"sync"

	"github.com/vektah/gqlparser/v2"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/stoa-platform/bridge/pkg/sink/linear/linearapi"
)

// The parsed schema is shared by every fake in the process: parsing Linear's
// 1.2 MB SDL takes ~0.15 s, and an *ast.Schema is only read once built.
var (
	schemaOnce sync.Once
	schemaDoc  *ast.Schema
	schemaErr  error
)

// loadSchema parses Linear's schema (linearapi.Schema) the first time it is
// called and returns the same result ever after.
func loadSchema() (*ast.Schema, error) {
	schemaOnce.Do(func() {
		s, err := gqlparser.LoadSchema(&ast.Source{Name: "schema.graphql", Input: linearapi.Schema})
		if err != nil {
			schemaErr = fmt.Errorf("lineartest: load Linear's schema: %w", err)
			return
		}
		schemaDoc = s
	})
	return schemaDoc, schemaErr
}

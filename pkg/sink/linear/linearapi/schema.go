package linearapi

import _ "embed" // for Schema

// Schema is Linear's public GraphQL SDL (schema.graphql, MIT; see README.md),
// the schema generated.go was generated from. The Linear fake
// (../lineartest) validates every request against it.
//
//go:embed schema.graphql
var Schema string

//go:build tools

// Package tools pins the versions of the code generators that
// `make generate` runs. It is its own module, outside the go.work
// workspace, so that generator dependencies never reach pkg/go.mod.
package tools

import (
	_ "github.com/Khan/genqlient"
)

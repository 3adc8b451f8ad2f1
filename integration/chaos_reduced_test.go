//go:build !chaos

package integration

// fullChaosFaults is empty without the chaos build tag: make test runs
// the reduced set only.
func fullChaosFaults() []chaosFault { return nil }

package service_test

import (
	"bytes"
	"testing"

	"github.com/stoa-platform/bridge/pkg/service"
)

func TestMainVersion(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		version string
		want    string
	}{
		{name: "stamped", args: []string{"--version"}, version: "v1.4.0", want: "bridge v1.4.0\n"},
		{name: "single dash", args: []string{"-version"}, version: "v1.4.0", want: "bridge v1.4.0\n"},
		{name: "unstamped", args: []string{"--version"}, want: "bridge dev\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			// Run is never reached: no Parts, no config, no Env are needed.
			code := service.Main(t.Context(), "bridge", tt.args, &stderr, service.Options{Version: tt.version, Stdout: &stdout})
			if code != 0 || stdout.String() != tt.want {
				t.Errorf("Main(%q) = %d, stdout %q, want 0 and %q (stderr %q)", tt.args, code, stdout.String(), tt.want, stderr.String())
			}
		})
	}
}

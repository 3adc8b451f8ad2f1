package n8n

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
)

var update = flag.Bool("update", false, "rewrite testdata/*.golden.json")

func TestRender(t *testing.T) {
	tests := []struct {
		golden string
		ev     *event.Event
	}{
		{"check-down", checkEvent(bridgev1.CheckStatus_CHECK_STATUS_DOWN, "prod", "db")},
		{"release", releaseEvent("keycloak", "keycloak")},
		{"vulnerability", vulnEvent("ghcr.io/stoa/api:1.2", bridgev1.Severity_SEVERITY_CRITICAL, bridgev1.Severity_SEVERITY_HIGH)},
	}
	for _, tt := range tests {
		t.Run(tt.golden, func(t *testing.T) {
			got, err := Render(tt.ev)
			if err != nil {
				t.Fatalf("Render = %v", err)
			}
			// Rendering must not depend on protojson's random spacing.
			again, _ := Render(tt.ev)
			if !bytes.Equal(got, again) {
				t.Errorf("Render is not stable:\n%s\n%s", got, again)
			}
			var ce map[string]any
			if err := json.Unmarshal(got, &ce); err != nil {
				t.Fatalf("Render gave invalid JSON: %v", err)
			}
			for _, attr := range []string{"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "idempotencykey", "data"} {
				if _, ok := ce[attr]; !ok {
					t.Errorf("CloudEvent lacks %s", attr)
				}
			}
			checkGolden(t, tt.golden, got)
		})
	}
}

func TestRenderNoPayload(t *testing.T) {
	ev := event.New(event.KindCheckDown, "s", "x", "k", testTime)
	if _, err := Render(ev); err == nil {
		t.Error("Render(event without payload) = nil error")
	}
}

func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, got, "", "  "); err != nil {
		t.Fatal(err)
	}
	pretty.WriteByte('\n')
	path := filepath.Join("testdata", name+".golden.json")
	if *update {
		if err := os.WriteFile(path, pretty.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), pretty.String()); diff != "" {
		t.Errorf("rendered %s (-want +got):\n%s", name, diff)
	}
}

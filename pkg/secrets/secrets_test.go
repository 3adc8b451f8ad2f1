package secrets_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/stoa-platform/bridge/pkg/secrets"
)

const value = "test-hunter2-secret-value"

// holder is how services keep secrets: in exported fields.
type holder struct {
	Name  string
	Token secrets.Secret
	Ptr   *secrets.Secret
}

func TestRedaction(t *testing.T) {
	s := secrets.New(value)
	h := holder{Name: "slack", Token: s, Ptr: &s}
	var logJSON, logText bytes.Buffer
	slog.New(slog.NewJSONHandler(&logJSON, nil)).Info("got", "token", s, "holder", h, slog.Any("any", s))
	slog.New(slog.NewTextHandler(&logText, nil)).Info("got", "token", s, "holder", h, slog.Any("any", s))

	render := []struct {
		name string
		f    func() (string, error)
	}{
		{"%v", func() (string, error) { return fmt.Sprintf("%v", s), nil }},
		{"%s", func() (string, error) { return fmt.Sprintf("%s", s), nil }},
		{"%q", func() (string, error) { return fmt.Sprintf("%q", s), nil }},
		{"%#v", func() (string, error) { return fmt.Sprintf("%#v", s), nil }},
		{"%+v", func() (string, error) { return fmt.Sprintf("%+v", s), nil }},
		{"%d", func() (string, error) { return fmt.Sprintf("%d", s), nil }},
		{"%x", func() (string, error) { return fmt.Sprintf("%x", s), nil }},
		{"%X", func() (string, error) { return fmt.Sprintf("%X", s), nil }},
		{"%10.3s", func() (string, error) { return fmt.Sprintf("%10.3s", s), nil }},
		{"Print", func() (string, error) { return fmt.Sprint(s), nil }},
		{"struct %v", func() (string, error) { return fmt.Sprintf("%v", h), nil }},
		{"struct %+v", func() (string, error) { return fmt.Sprintf("%+v", h), nil }},
		{"struct %#v", func() (string, error) { return fmt.Sprintf("%#v", h), nil }},
		{"pointer %v", func() (string, error) { return fmt.Sprintf("%v", &s), nil }},
		{"slice %v", func() (string, error) { return fmt.Sprintf("%v", []secrets.Secret{s}), nil }},
		{"map %v", func() (string, error) { return fmt.Sprintf("%v", map[string]secrets.Secret{"k": s}), nil }},
		{"String", func() (string, error) { return s.String(), nil }},
		{"error %v", func() (string, error) {
			return fmt.Errorf("slack: auth with %v: %w", s, errors.New("denied")).Error(), nil
		}},
		{"error %s", func() (string, error) { return fmt.Errorf("token %s", s).Error(), nil }},
		{"json", func() (string, error) { b, err := json.Marshal(s); return string(b), err }},
		{"json struct", func() (string, error) { b, err := json.Marshal(h); return string(b), err }},
		{"yaml", func() (string, error) { b, err := yaml.Marshal(s); return string(b), err }},
		{"yaml struct", func() (string, error) { b, err := yaml.Marshal(h); return string(b), err }},
		{"text", func() (string, error) { b, err := s.MarshalText(); return string(b), err }},
		{"slog json", func() (string, error) { return logJSON.String(), nil }},
		{"slog text", func() (string, error) { return logText.String(), nil }},
	}
	for _, tt := range render {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.f()
			if err != nil {
				t.Fatal(err)
			}
			for _, leak := range []string{value, "hunter2", fmt.Sprintf("%x", value), fmt.Sprintf("%X", value)} {
				if strings.Contains(got, leak) {
					t.Errorf("%s printed the secret: %s", tt.name, got)
				}
			}
			if !strings.Contains(got, "[redacted]") {
				t.Errorf("%s = %q, want [redacted] in it", tt.name, got)
			}
		})
	}
}

func TestRedactedForms(t *testing.T) {
	s := secrets.New(value)
	tests := []struct{ got, want string }{
		{fmt.Sprintf("%v", s), "[redacted]"},
		{fmt.Sprintf("%q", s), `"[redacted]"`},
		{fmt.Sprintf("%#v", s), "[redacted]"},
		{fmt.Sprintf("%d", s), "[redacted]"},
		{mustJSON(t, s), `"[redacted]"`},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("got %q, want %q", tt.got, tt.want)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestReveal(t *testing.T) {
	if got := secrets.New(value).Reveal(); got != value {
		t.Errorf("Reveal() = %q, want %q", got, value)
	}
	var zero secrets.Secret
	if !zero.IsZero() || secrets.New("x").IsZero() {
		t.Error("IsZero is wrong")
	}
}

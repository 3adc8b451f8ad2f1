package deploy_test

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"
)

const (
	applicationFile = "../argocd/application.yaml"
	repoRoot        = "../.."
)

// application mirrors the fields of Argo CD's Application
// (argoproj.io/v1alpha1) that a Helm-chart application uses; decoded with
// unknown fields refused, a misspelled field fails instead of being
// silently ignored by a cluster that prunes unknown fields.
type application struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name        string            `yaml:"name"`
		Namespace   string            `yaml:"namespace"`
		Labels      map[string]string `yaml:"labels"`
		Annotations map[string]string `yaml:"annotations"`
		Finalizers  []string          `yaml:"finalizers"`
	} `yaml:"metadata"`
	Spec struct {
		Project string `yaml:"project"`
		Source  struct {
			RepoURL        string `yaml:"repoURL"`
			TargetRevision string `yaml:"targetRevision"`
			Path           string `yaml:"path"`
			Helm           struct {
				ReleaseName  string         `yaml:"releaseName"`
				ValueFiles   []string       `yaml:"valueFiles"`
				Values       string         `yaml:"values"`
				ValuesObject map[string]any `yaml:"valuesObject"`
				Parameters   []struct {
					Name        string `yaml:"name"`
					Value       string `yaml:"value"`
					ForceString bool   `yaml:"forceString"`
				} `yaml:"parameters"`
				IgnoreMissingValueFiles bool `yaml:"ignoreMissingValueFiles"`
				SkipCrds                bool `yaml:"skipCrds"`
			} `yaml:"helm"`
		} `yaml:"source"`
		Destination struct {
			Server    string `yaml:"server"`
			Name      string `yaml:"name"`
			Namespace string `yaml:"namespace"`
		} `yaml:"destination"`
		SyncPolicy struct {
			Automated *struct {
				Prune      bool  `yaml:"prune"`
				SelfHeal   bool  `yaml:"selfHeal"`
				AllowEmpty bool  `yaml:"allowEmpty"`
				Enabled    *bool `yaml:"enabled"`
			} `yaml:"automated"`
			SyncOptions []string `yaml:"syncOptions"`
			Retry       *struct {
				Limit   int `yaml:"limit"`
				Backoff struct {
					Duration    string `yaml:"duration"`
					Factor      int    `yaml:"factor"`
					MaxDuration string `yaml:"maxDuration"`
				} `yaml:"backoff"`
			} `yaml:"retry"`
		} `yaml:"syncPolicy"`
		RevisionHistoryLimit *int `yaml:"revisionHistoryLimit"`
	} `yaml:"spec"`
}

func TestApplication(t *testing.T) {
	data, err := os.ReadFile(applicationFile)
	if err != nil {
		t.Fatal(err)
	}
	var app application
	if err := decodeStrict(data, &app); err != nil {
		t.Fatalf("decode %s: %v", applicationFile, err)
	}
	s := app.Spec
	checks := []struct {
		what string
		ok   bool
	}{
		{"apiVersion argoproj.io/v1alpha1, kind Application", app.APIVersion == "argoproj.io/v1alpha1" && app.Kind == "Application"},
		{"a name and Argo CD's namespace", app.Metadata.Name != "" && app.Metadata.Namespace != ""},
		{"a project", s.Project != ""},
		{"a target revision", s.Source.TargetRevision != ""},
		{"the chart's path", s.Source.Path == "charts/bridge"},
		{"a destination cluster and namespace", (s.Destination.Server != "") != (s.Destination.Name != "") && s.Destination.Namespace != ""},
		{"automated sync with prune and selfHeal", s.SyncPolicy.Automated != nil && s.SyncPolicy.Automated.Prune && s.SyncPolicy.Automated.SelfHeal},
		{"CreateNamespace=true", slices.Contains(s.SyncPolicy.SyncOptions, "CreateNamespace=true")},
		{"Helm value files", len(s.Source.Helm.ValueFiles) > 0},
	}
	for _, c := range checks {
		if !c.ok {
			t.Errorf("%s: want %s", applicationFile, c.what)
		}
	}

	chartDir := filepath.Join(repoRoot, s.Source.Path)
	var chart struct {
		Home string `yaml:"home"`
	}
	chartYAML, err := os.ReadFile(filepath.Join(chartDir, "Chart.yaml"))
	if err != nil {
		t.Fatalf("source.path %s is not a chart: %v", s.Source.Path, err)
	}
	if err := yaml.Unmarshal(chartYAML, &chart); err != nil {
		t.Fatal(err)
	}
	if strings.TrimSuffix(s.Source.RepoURL, ".git") != chart.Home {
		t.Errorf("repoURL %s, want this repository (the chart's home %s)", s.Source.RepoURL, chart.Home)
	}
	for _, f := range s.Source.Helm.ValueFiles {
		if _, err := os.Stat(filepath.Join(chartDir, f)); err != nil {
			t.Errorf("value file %s: %v (paths are relative to the chart)", f, err)
		}
	}
	// valuesObject may only set values the chart has: its schema refuses
	// the others when Argo CD renders it.
	valuesYAML, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var values map[string]any
	if err := yaml.Unmarshal(valuesYAML, &values); err != nil {
		t.Fatal(err)
	}
	for _, err := range unknownKeys("", s.Source.Helm.ValuesObject, values) {
		t.Errorf("valuesObject: %v", err)
	}
}

// unknownKeys returns the keys of got that want (the chart's values.yaml)
// does not have. Below a key whose default is not a map (e.g. config: {}),
// anything goes: the chart's schema decides.
func unknownKeys(prefix string, got, want map[string]any) []error {
	var errs []error
	for k, v := range got {
		w, ok := want[k]
		if !ok {
			errs = append(errs, fmt.Errorf("%s%s is not a value of the chart", prefix, k))
			continue
		}
		gm, gok := v.(map[string]any)
		wm, wok := w.(map[string]any)
		if gok && wok && len(wm) > 0 {
			errs = append(errs, unknownKeys(prefix+k+".", gm, wm)...)
		}
	}
	return errs
}

func TestApplicationRejectsMisspelledFields(t *testing.T) {
	tests := []string{
		"spec:\n  syncPolicy:\n    automated:\n      selfheal: true\n",
		"spec:\n  source:\n    repoUrl: https://example.com/x.git\n",
		"spec:\n  source:\n    helm:\n      valuesFiles: [values.yaml]\n",
	}
	for _, doc := range tests {
		var app application
		if err := decodeStrict([]byte(doc), &app); err == nil {
			t.Errorf("decode of %q succeeded, want an unknown-field error", doc)
		}
	}
	if errs := unknownKeys("", map[string]any{"metrics": map[string]any{"serviceMonitr": map[string]any{}}},
		map[string]any{"metrics": map[string]any{"serviceMonitor": map[string]any{}}}); len(errs) != 1 {
		t.Errorf("unknownKeys(metrics.serviceMonitr) = %v, want one error", errs)
	}
}

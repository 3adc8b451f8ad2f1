package test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/config"
)

// chartOwned are the config keys the chart sets from mode, nats and vault:
// the schema refuses them under config.
var chartOwned = []string{"listen", "nats.url", "nats.credentials", "nats.data_dir", "vault.address", "vault.auth"}

type schemaNode struct {
	Type                 any                    `json:"type"`
	Properties           map[string]*schemaNode `json:"properties"`
	Items                *schemaNode            `json:"items"`
	AdditionalProperties any                    `json:"additionalProperties"`
}

// TestSchemaCoversConfig keeps values.schema.json's config in step with the
// bridge's config.Config: every key is there (or owned by the chart), none
// is invented, and every object is closed (additionalProperties: false).
func TestSchemaCoversConfig(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var root schemaNode
	if err := json.Unmarshal(raw, &root); err != nil {
		t.Fatalf("values.schema.json: %v", err)
	}
	cfgSchema := root.Properties["config"]
	if cfgSchema == nil {
		t.Fatal("values.schema.json has no config")
	}
	var want, got []string
	configKeys(reflect.TypeFor[config.Config](), "", &want)
	schemaKeys(cfgSchema, "", &got)
	want = slices.DeleteFunc(want, func(k string) bool {
		return slices.ContainsFunc(chartOwned, func(o string) bool { return k == o || strings.HasPrefix(k, o+".") })
	})
	slices.Sort(want)
	slices.Sort(got)
	for _, k := range want {
		if !slices.Contains(got, k) {
			t.Errorf("config key %s is missing from values.schema.json", k)
		}
	}
	for _, k := range got {
		if !slices.Contains(want, k) {
			t.Errorf("values.schema.json has config key %s, which config.Config does not (or the chart owns)", k)
		}
	}
}

// TestSchemaClosed: every object of the schema with properties refuses
// others, so a misspelled value is an error.
func TestSchemaClosed(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(chartDir, "values.schema.json"))
	if err != nil {
		t.Fatal(err)
	}
	var root schemaNode
	if err := json.Unmarshal(raw, &root); err != nil {
		t.Fatal(err)
	}
	var walk func(n *schemaNode, path string)
	walk = func(n *schemaNode, path string) {
		if n == nil {
			return
		}
		if n.Properties != nil && n.AdditionalProperties != false {
			t.Errorf("schema object %q: additionalProperties is %v, want false", path, n.AdditionalProperties)
		}
		for k, c := range n.Properties {
			walk(c, path+"."+k)
		}
		walk(n.Items, path+"[]")
	}
	walk(&root, "")
}

// configKeys lists the YAML key paths of t's leaves; a list of structs
// contributes its element's keys under path[].
func configKeys(t reflect.Type, path string, out *[]string) {
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "" || name == "-" {
			continue
		}
		p := name
		if path != "" {
			p = path + "." + name
		}
		ft := f.Type
		switch {
		case ft.Kind() == reflect.Struct && ft != reflect.TypeFor[time.Duration]():
			configKeys(ft, p, out)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			*out = append(*out, p)
			configKeys(ft.Elem(), p+"[]", out)
		default:
			*out = append(*out, p)
		}
	}
}

func schemaKeys(n *schemaNode, path string, out *[]string) {
	for k, c := range n.Properties {
		p := k
		if path != "" {
			p = path + "." + k
		}
		switch {
		case c.Properties != nil:
			schemaKeys(c, p, out)
		case c.Items != nil && c.Items.Properties != nil:
			*out = append(*out, p)
			schemaKeys(c.Items, p+"[]", out)
		default:
			*out = append(*out, p)
		}
	}
}

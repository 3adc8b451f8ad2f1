package deploy_test

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
)

const dashboardFile = "../grafana/bridge.json"

// dashboard is the part of Grafana's dashboard JSON model the checks read;
// Grafana's model has many more fields, hence no strict decoding here.
type dashboard struct {
	UID           string  `json:"uid"`
	Title         string  `json:"title"`
	SchemaVersion int     `json:"schemaVersion"`
	Panels        []panel `json:"panels"`
	Templating    struct {
		List []struct {
			Name       string `json:"name"`
			Type       string `json:"type"`
			Query      any    `json:"query"`
			Definition string `json:"definition"`
		} `json:"list"`
	} `json:"templating"`
}

type panel struct {
	ID         int    `json:"id"`
	Type       string `json:"type"`
	Title      string `json:"title"`
	Datasource *struct {
		Type string `json:"type"`
		UID  string `json:"uid"`
	} `json:"datasource"`
	GridPos *struct{ H, W, X, Y int } `json:"gridPos"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
	Panels []panel `json:"panels"` // of a collapsed row
}

// grafanaVars are Grafana's built-in interval variables: replaced by a
// duration so that the query parses as PromQL.
var grafanaVars = strings.NewReplacer("$__rate_interval", "5m", "$__interval", "1m", "$__range", "1h")

// labelValues is a template variable's query, label_values(metric, label).
var labelValues = regexp.MustCompile(`^label_values\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\s*,\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\)$`)

// What issue 8 wants on the dashboard: ingest rate, rejections, action
// latency, retries/redeliveries, dead letters, consumer pending, Vault.
var wantDashboardMetrics = []string{
	"bridge_events_received_total",
	"bridge_events_rejected_total",
	"bridge_action_duration_seconds_bucket",
	"bridge_redeliveries_total",
	"bridge_dead_letters_total",
	"bridge_consumer_pending",
	"bridge_secrets_vault_up",
}

func TestDashboard(t *testing.T) {
	data, err := os.ReadFile(dashboardFile)
	if err != nil {
		t.Fatal(err)
	}
	var d dashboard
	if err := json.Unmarshal(data, &d); err != nil {
		t.Fatalf("%s is not valid JSON: %v", dashboardFile, err)
	}
	if d.UID == "" || d.Title == "" || d.SchemaVersion == 0 {
		t.Errorf("uid %q, title %q, schemaVersion %d: want all set", d.UID, d.Title, d.SchemaVersion)
	}
	known := bridgeSeries(t)
	used := map[string]bool{}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		m := labelValues.FindStringSubmatch(v.Definition)
		if m == nil {
			t.Errorf("variable %s: query %q, want label_values(metric, label)", v.Name, v.Definition)
			continue
		}
		if labels, ok := known[m[1]]; !ok {
			t.Errorf("variable %s: metric %s is not exported by the bridge", v.Name, m[1])
		} else if !labels[m[2]] && !slices.Contains(targetLabels, m[2]) {
			t.Errorf("variable %s: %s has no label %s", v.Name, m[1], m[2])
		}
	}
	ids := map[int]string{}
	var walk func([]panel)
	walk = func(ps []panel) {
		for _, p := range ps {
			t.Run(p.Title, func(t *testing.T) {
				for _, err := range checkPanel(p, known, used) {
					t.Error(err)
				}
			})
			if other, dup := ids[p.ID]; dup {
				t.Errorf("panels %q and %q share id %d", other, p.Title, p.ID)
			}
			ids[p.ID] = p.Title
			walk(p.Panels)
		}
	}
	walk(d.Panels)
	for _, m := range wantDashboardMetrics {
		if !used[m] {
			t.Errorf("no panel shows %s", m)
		}
	}
}

// checkPanel returns every problem of a panel and records the metrics its
// queries use.
func checkPanel(p panel, known series, used map[string]bool) []error {
	var errs []error
	if p.GridPos == nil || p.GridPos.W <= 0 || p.GridPos.H <= 0 || p.GridPos.X+p.GridPos.W > 24 {
		errs = append(errs, fmt.Errorf("panel %q: gridPos %+v, want a size within the 24 columns", p.Title, p.GridPos))
	}
	if p.Type == "row" {
		return errs
	}
	if p.Datasource == nil || p.Datasource.UID != "${datasource}" {
		errs = append(errs, fmt.Errorf("panel %q: datasource %+v, want the ${datasource} variable", p.Title, p.Datasource))
	}
	if len(p.Targets) == 0 {
		errs = append(errs, fmt.Errorf("panel %q: no query", p.Title))
	}
	refs := map[string]bool{}
	for _, tg := range p.Targets {
		if tg.RefID == "" || refs[tg.RefID] {
			errs = append(errs, fmt.Errorf("panel %q: refId %q empty or repeated", p.Title, tg.RefID))
		}
		refs[tg.RefID] = true
		names, exprErrs := checkExpr(grafanaVars.Replace(tg.Expr), known)
		for _, err := range exprErrs {
			errs = append(errs, fmt.Errorf("panel %q: %w", p.Title, err))
		}
		for _, n := range names {
			used[n] = true
		}
	}
	return errs
}

func TestCheckPanelCatches(t *testing.T) {
	known := bridgeSeries(t)
	valid := `{"id":1,"type":"timeseries","title":"x","datasource":{"type":"prometheus","uid":"${datasource}"},
		"gridPos":{"h":8,"w":12,"x":0,"y":0},
		"targets":[{"refId":"A","expr":"sum by (sink) (rate(bridge_actions_total[$__rate_interval]))"}]}`
	tests := []struct{ name, from, to, want string }{
		{"valid", "", "", ""},
		{"unknown metric", "bridge_actions_total", "bridge_action_total", "not exported"},
		{"histogram without suffix", "rate(bridge_actions_total", "rate(bridge_action_duration_seconds", "not exported"},
		{"wrong label", "by (sink)", "by (consumer)", `label "consumer"`},
		{"fixed data source", "${datasource}", "prom-1", "datasource"},
		{"too wide", `"w":12`, `"w":30`, "gridPos"},
		{"bad PromQL", "[$__rate_interval]))", "[$__rate_interval])", "parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p panel
			if err := json.Unmarshal([]byte(strings.Replace(valid, tt.from, tt.to, 1)), &p); err != nil {
				t.Fatal(err)
			}
			errs := checkPanel(p, known, map[string]bool{})
			if tt.want == "" && len(errs) > 0 || tt.want != "" && !strings.Contains(fmt.Sprint(errs), tt.want) {
				t.Errorf("checkPanel(%s) = %v, want an error containing %q", tt.name, errs, tt.want)
			}
		})
	}
}

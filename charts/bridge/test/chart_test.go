package test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/stoa-platform/bridge/pkg/config"
)

// rendered is one helm template output, decoded.
type rendered struct {
	objects         []runtime.Object
	serviceMonitors []ServiceMonitor
	promRules       []PrometheusRule
}

// decodeAll splits a multi-document manifest and decodes every document
// strictly: core kinds through the k8s.io/api scheme (an unknown or
// misspelled field is an error), the Prometheus Operator kinds into this
// package's structs with unknown fields disallowed.
func decodeAll(t *testing.T, manifest []byte) rendered {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{corev1.AddToScheme, appsv1.AddToScheme, networkingv1.AddToScheme, policyv1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	dec := serializer.NewCodecFactory(scheme, serializer.EnableStrict).UniversalDeserializer()
	var r rendered
	reader := utilyaml.NewYAMLReader(bufio.NewReader(bytes.NewReader(manifest)))
	for {
		doc, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("splitting the manifest: %v", err)
		}
		var meta struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatalf("reading a document's kind: %v\n%s", err, doc)
		}
		if meta.Kind == "" {
			continue // only comments
		}
		switch meta.Kind {
		case "ServiceMonitor":
			var sm ServiceMonitor
			strictJSON(t, doc, &sm)
			r.serviceMonitors = append(r.serviceMonitors, sm)
		case "PrometheusRule":
			var pr PrometheusRule
			strictJSON(t, doc, &pr)
			r.promRules = append(r.promRules, pr)
		default:
			obj, _, err := dec.Decode(doc, nil, nil)
			if err != nil {
				t.Fatalf("decoding %s strictly: %v\n%s", meta.Kind, err, doc)
			}
			r.objects = append(r.objects, obj)
		}
	}
	return r
}

func strictJSON(t *testing.T, doc []byte, v any) {
	t.Helper()
	j, err := yaml.YAMLToJSON(doc)
	if err != nil {
		t.Fatalf("converting to JSON: %v", err)
	}
	d := json.NewDecoder(bytes.NewReader(j))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		t.Fatalf("decoding %T strictly: %v\n%s", v, err, doc)
	}
}

func find[T runtime.Object](r rendered) []T {
	var out []T
	for _, o := range r.objects {
		if v, ok := o.(T); ok {
			out = append(out, v)
		}
	}
	return out
}

// podSpec pairs a workload with its pod template.
type workload struct {
	kind, name string
	tmpl       corev1.PodTemplateSpec
}

func workloads(r rendered) []workload {
	var out []workload
	for _, s := range find[*appsv1.StatefulSet](r) {
		out = append(out, workload{"StatefulSet", s.Name, s.Spec.Template})
	}
	for _, d := range find[*appsv1.Deployment](r) {
		out = append(out, workload{"Deployment", d.Name, d.Spec.Template})
	}
	return out
}

// valuesCase is one valid values file and what its rendering must show.
type valuesCase struct {
	file string
	// components are the workloads wanted, by app.kubernetes.io/component.
	components []string
	check      func(t *testing.T, r rendered, cfg config.Config)
}

var valuesCases = []valuesCase{
	{
		file:       "defaults.yaml",
		components: []string{"all-in-one"},
		check: func(t *testing.T, r rendered, cfg config.Config) {
			ss := find[*appsv1.StatefulSet](r)[0]
			if got := *ss.Spec.Replicas; got != 1 {
				t.Errorf("StatefulSet replicas = %d, want 1", got)
			}
			if len(ss.Spec.VolumeClaimTemplates) != 1 || ss.Spec.VolumeClaimTemplates[0].Name != "data" {
				t.Errorf("StatefulSet volumeClaimTemplates = %v, want one named data", ss.Spec.VolumeClaimTemplates)
			}
			if !mounted(ss.Spec.Template, "data", "/data") || !strings.HasPrefix(cfg.NATS.DataDir, "/data/") {
				t.Errorf("JetStream store nats.data_dir = %q, want under the volume mounted at /data", cfg.NATS.DataDir)
			}
			if cfg.NATS.URL != "" {
				t.Errorf("nats.url = %q, want empty (embedded NATS)", cfg.NATS.URL)
			}
			if n := len(find[*policyv1.PodDisruptionBudget](r)); n != 0 {
				t.Errorf("%d PodDisruptionBudgets for one replica, want none", n)
			}
			if len(find[*networkingv1.Ingress](r)) != 0 || len(r.serviceMonitors) != 0 || len(r.promRules) != 0 {
				t.Error("Ingress, ServiceMonitor or PrometheusRule rendered by default")
			}
			if got := len(find[*networkingv1.NetworkPolicy](r)); got != 2 {
				t.Errorf("%d NetworkPolicies, want 2 (metrics, gateway)", got)
			}
			if a := ss.Spec.Template.Spec.AutomountServiceAccountToken; a == nil || *a {
				t.Error("service-account token mounted without Vault Kubernetes auth")
			}
			if cfg.Vault.Address != "" {
				t.Errorf("vault.address = %q, want empty", cfg.Vault.Address)
			}
		},
	},
	{
		file:       "split.yaml",
		components: []string{"webhook-gateway", "release-watcher", "linear-ticketer", "slack-notifier", "n8n-trigger"},
		check: func(t *testing.T, r rendered, cfg config.Config) {
			if len(find[*appsv1.StatefulSet](r)) != 0 || len(find[*corev1.PersistentVolumeClaim](r)) != 0 {
				t.Error("split mode renders a StatefulSet or PVC")
			}
			if cfg.NATS.URL != "nats://nats.nats.svc:4222" {
				t.Errorf("nats.url = %q", cfg.NATS.URL)
			}
			if cfg.Linear.Team != "PLAT" || cfg.NATS.Replicas != 3 || len(cfg.N8N.Routes) != 1 || cfg.Log.Level != "debug" {
				t.Errorf("config values not carried over: %+v", cfg)
			}
			replicas := map[string]int32{}
			for _, d := range find[*appsv1.Deployment](r) {
				c := d.Spec.Template.Spec.Containers[0]
				replicas[c.Name] = *d.Spec.Replicas
				if want := "/usr/local/bin/" + c.Name; len(c.Command) != 1 || c.Command[0] != want {
					t.Errorf("%s: command = %v, want [%s]", d.Name, c.Command, want)
				}
				// The .creds file the config names is the one the Secret mounts.
				dir, file := filepath.Split(cfg.NATS.Credentials)
				if !mounted(d.Spec.Template, "nats-credentials", strings.TrimSuffix(dir, "/")) || file != "bridge.creds" {
					t.Errorf("%s: nats.credentials %q is not the mounted Secret's key", d.Name, cfg.NATS.Credentials)
				}
				if len(c.EnvFrom) != 1 || c.EnvFrom[0].SecretRef == nil || c.EnvFrom[0].SecretRef.Name != "bridge-secrets" {
					t.Errorf("%s: envFrom = %v, want the bridge-secrets Secret", d.Name, c.EnvFrom)
				}
				if c.Name == "release-watcher" && d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
					t.Errorf("release-watcher strategy = %q, want Recreate (never two watchers)", d.Spec.Strategy.Type)
				}
				if c.Name == "linear-ticketer" && c.Resources.Limits.Memory().String() != "128Mi" {
					t.Errorf("linear-ticketer memory limit = %s, want its own 128Mi", c.Resources.Limits.Memory())
				}
			}
			want := map[string]int32{"webhook-gateway": 3, "release-watcher": 1, "linear-ticketer": 2, "slack-notifier": 2, "n8n-trigger": 1}
			if !reflect.DeepEqual(replicas, want) {
				t.Errorf("replicas = %v, want %v", replicas, want)
			}
			var pdbs []string
			for _, p := range find[*policyv1.PodDisruptionBudget](r) {
				pdbs = append(pdbs, p.Spec.Selector.MatchLabels["app.kubernetes.io/component"])
			}
			if wantPDB := []string{"linear-ticketer", "slack-notifier", "webhook-gateway"}; !reflect.DeepEqual(pdbs, wantPDB) {
				t.Errorf("PodDisruptionBudgets for %v, want %v (replicas > 1)", pdbs, wantPDB)
			}
			for _, np := range find[*networkingv1.NetworkPolicy](r) {
				if strings.HasSuffix(np.Name, "-metrics") && (len(np.Spec.Egress) != 2 || len(np.Spec.PolicyTypes) != 2) {
					t.Errorf("NetworkPolicy %s: egress %v, policyTypes %v: want the 2 egress rules given", np.Name, np.Spec.Egress, np.Spec.PolicyTypes)
				}
			}
		},
	},
	{
		file:       "ingress-tls.yaml",
		components: []string{"all-in-one"},
		check: func(t *testing.T, r rendered, cfg config.Config) {
			ings := find[*networkingv1.Ingress](r)
			if len(ings) != 1 {
				t.Fatalf("%d Ingresses, want 1", len(ings))
			}
			ing := ings[0]
			if ing.Spec.IngressClassName == nil || *ing.Spec.IngressClassName != "nginx" {
				t.Errorf("ingressClassName = %v, want nginx", ing.Spec.IngressClassName)
			}
			if len(ing.Spec.TLS) != 1 || ing.Spec.TLS[0].SecretName != "bridge-tls" || !reflect.DeepEqual(ing.Spec.TLS[0].Hosts, []string{"bridge.example.com"}) {
				t.Errorf("tls = %+v", ing.Spec.TLS)
			}
			svc := gatewayService(t, r)
			for _, rule := range ing.Spec.Rules {
				for _, p := range rule.HTTP.Paths {
					if p.Backend.Service.Name != svc.Name || p.Backend.Service.Port.Name != "http" {
						t.Errorf("Ingress backend %+v, want Service %s port http", p.Backend.Service, svc.Name)
					}
				}
			}
		},
	},
	{
		file:       "monitoring.yaml",
		components: []string{"all-in-one"},
		check: func(t *testing.T, r rendered, cfg config.Config) {
			if len(r.serviceMonitors) != 1 || len(r.promRules) != 1 {
				t.Fatalf("%d ServiceMonitors, %d PrometheusRules, want 1 each", len(r.serviceMonitors), len(r.promRules))
			}
			sm := r.serviceMonitors[0]
			if sm.Metadata.Labels["release"] != "kube-prometheus-stack" || sm.Spec.Endpoints[0].Interval != "15s" {
				t.Errorf("ServiceMonitor labels %v, endpoints %+v", sm.Metadata.Labels, sm.Spec.Endpoints)
			}
			// The ServiceMonitor must select a Service exposing its port
			// over every pod of the release.
			var found bool
			for _, s := range find[*corev1.Service](r) {
				if !subset(sm.Spec.Selector.MatchLabels, s.Labels) {
					continue
				}
				found = true
				if !hasPort(s, sm.Spec.Endpoints[0].Port) {
					t.Errorf("Service %s has no port %q", s.Name, sm.Spec.Endpoints[0].Port)
				}
				for _, w := range workloads(r) {
					if !subset(s.Spec.Selector, w.tmpl.Labels) {
						t.Errorf("metrics Service %s does not select %s", s.Name, w.name)
					}
				}
			}
			if !found {
				t.Errorf("ServiceMonitor selects %v: no Service matches", sm.Spec.Selector.MatchLabels)
			}
			// The rules are the chart's files/prometheus-rules.yaml.
			raw, err := os.ReadFile(filepath.Join(chartDir, "files", "prometheus-rules.yaml"))
			if err != nil {
				t.Fatal(err)
			}
			var file PrometheusRuleSpec
			strictJSON(t, raw, &file)
			if !reflect.DeepEqual(r.promRules[0].Spec, file) {
				t.Errorf("PrometheusRule spec differs from files/prometheus-rules.yaml")
			}
		},
	},
	{
		file:       "vault-kubernetes.yaml",
		components: []string{"all-in-one"},
		check: func(t *testing.T, r rendered, cfg config.Config) {
			want := config.VaultAuth{Method: "kubernetes", Role: "bridge", TokenPath: "/var/run/secrets/kubernetes.io/serviceaccount/token"}
			if cfg.Vault.Address != "https://vault.vault.svc:8200" || cfg.Vault.Auth != want || cfg.Vault.Path != "platform/bridge" {
				t.Errorf("vault config = %+v", cfg.Vault)
			}
			sas := find[*corev1.ServiceAccount](r)
			if len(sas) != 1 || sas[0].Name != "bridge" {
				t.Fatalf("ServiceAccounts = %v, want one named bridge (the Vault role binds it)", sas)
			}
			for _, w := range workloads(r) {
				if w.tmpl.Spec.ServiceAccountName != "bridge" {
					t.Errorf("%s: serviceAccountName = %q, want bridge", w.name, w.tmpl.Spec.ServiceAccountName)
				}
				if a := w.tmpl.Spec.AutomountServiceAccountToken; a == nil || !*a {
					t.Errorf("%s: the service-account token Vault's Kubernetes auth reads is not mounted", w.name)
				}
				if len(w.tmpl.Spec.Containers[0].EnvFrom) != 0 {
					t.Errorf("%s: envFrom set with Vault", w.name)
				}
				if !mounted(w.tmpl, "vault-ca", "/etc/bridge/vault") {
					t.Errorf("%s: extra volume not mounted", w.name)
				}
			}
		},
	},
}

func TestTemplate(t *testing.T) {
	bin := helmBin(t)
	for _, tc := range valuesCases {
		t.Run(tc.file, func(t *testing.T) {
			r := decodeAll(t, render(t, bin, filepath.Join("testdata", tc.file)))
			cfg := checkConfig(t, r)
			checkCommon(t, r)
			var got []string
			for _, w := range workloads(r) {
				got = append(got, w.tmpl.Labels["app.kubernetes.io/component"])
			}
			if !sameSet(got, tc.components) {
				t.Errorf("workloads %v, want %v", got, tc.components)
			}
			tc.check(t, r, cfg)
		})
	}
}

// checkConfig parses the ConfigMap's config with the bridge's own parser
// and checks every pod carries its checksum.
func checkConfig(t *testing.T, r rendered) config.Config {
	t.Helper()
	cms := find[*corev1.ConfigMap](r)
	if len(cms) != 1 {
		t.Fatalf("%d ConfigMaps, want 1", len(cms))
	}
	data, ok := cms[0].Data["config.yaml"]
	if !ok {
		t.Fatalf("ConfigMap %s has no config.yaml", cms[0].Name)
	}
	cfg, err := config.Parse([]byte(data), nil)
	if err != nil {
		t.Fatalf("the bridge rejects the rendered config:\n%v\n%s", err, data)
	}
	if cfg.Listen != ":8080" {
		t.Errorf("listen = %q, want :8080 (the container port)", cfg.Listen)
	}
	sum := sha256.Sum256([]byte(strings.TrimSuffix(data, "\n")))
	for _, w := range workloads(r) {
		if got := w.tmpl.Annotations["checksum/config"]; got != hex.EncodeToString(sum[:]) {
			t.Errorf("%s: checksum/config = %q, want the sha256 of the ConfigMap's config", w.name, got)
		}
		if !volumeFrom(w.tmpl, "config", func(v corev1.Volume) bool { return v.ConfigMap != nil && v.ConfigMap.Name == cms[0].Name }) {
			t.Errorf("%s: does not mount ConfigMap %s", w.name, cms[0].Name)
		}
	}
	return cfg
}

var requiredLabels = []string{
	"app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/version",
	"app.kubernetes.io/component", "app.kubernetes.io/part-of", "app.kubernetes.io/managed-by",
}

// checkCommon asserts what every rendering must show: names, labels,
// probes, resources and a hardened security context.
func checkCommon(t *testing.T, r rendered) {
	t.Helper()
	type named struct {
		kind, name string
		labels     map[string]string
	}
	var all []named
	for _, o := range r.objects {
		m := o.(interface {
			GetName() string
			GetLabels() map[string]string
		})
		all = append(all, named{reflect.TypeOf(o).Elem().Name(), m.GetName(), m.GetLabels()})
	}
	for _, sm := range r.serviceMonitors {
		all = append(all, named{"ServiceMonitor", sm.Metadata.Name, sm.Metadata.Labels})
	}
	for _, pr := range r.promRules {
		all = append(all, named{"PrometheusRule", pr.Metadata.Name, pr.Metadata.Labels})
	}
	for _, o := range all {
		if len(o.name) == 0 || len(o.name) > 63 {
			t.Errorf("%s name %q: %d characters, want 1 to 63", o.kind, o.name, len(o.name))
		}
		for _, l := range requiredLabels {
			if o.labels[l] == "" {
				t.Errorf("%s %s: no label %s", o.kind, o.name, l)
			}
		}
	}
	for _, s := range find[*appsv1.StatefulSet](r) {
		// Pods carry controller-revision-hash: <name>-<10 characters>.
		if len(s.Name) > 52 {
			t.Errorf("StatefulSet %q: longer than 52 characters", s.Name)
		}
	}
	ws := workloads(r)
	if len(ws) == 0 {
		t.Fatal("no workload rendered")
	}
	for _, w := range ws {
		checkPod(t, w)
	}
	// The gateway's Service selects the gateway (or all-in-one) pods.
	svc := gatewayService(t, r)
	var selected bool
	for _, w := range ws {
		if subset(svc.Spec.Selector, w.tmpl.Labels) {
			selected = true
			if c := w.tmpl.Labels["app.kubernetes.io/component"]; c != "webhook-gateway" && c != "all-in-one" {
				t.Errorf("Service %s selects %s pods", svc.Name, c)
			}
		}
	}
	if !selected {
		t.Errorf("Service %s selects no pod", svc.Name)
	}
}

func checkPod(t *testing.T, w workload) {
	t.Helper()
	for _, l := range requiredLabels {
		if w.tmpl.Labels[l] == "" {
			t.Errorf("%s pod template: no label %s", w.name, l)
		}
	}
	ps := w.tmpl.Spec.SecurityContext
	if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || *ps.RunAsUser != 65532 ||
		ps.SeccompProfile == nil || ps.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod securityContext not hardened: %+v", w.name, ps)
	}
	if len(w.tmpl.Spec.Containers) != 1 {
		t.Fatalf("%s: %d containers, want 1", w.name, len(w.tmpl.Spec.Containers))
	}
	c := w.tmpl.Spec.Containers[0]
	sc := c.SecurityContext
	if sc == nil || sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot || sc.RunAsUser == nil || *sc.RunAsUser != 65532 ||
		sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem ||
		sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
		sc.Capabilities == nil || !reflect.DeepEqual(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0 ||
		sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: container securityContext not hardened: %+v", w.name, sc)
	}
	if !mounted(w.tmpl, "tmp", "/tmp") || !volumeFrom(w.tmpl, "tmp", func(v corev1.Volume) bool { return v.EmptyDir != nil }) {
		t.Errorf("%s: no emptyDir at /tmp (the root filesystem is read-only)", w.name)
	}
	probes := []struct {
		name  string
		probe *corev1.Probe
		path  string
	}{
		{"liveness", c.LivenessProbe, "/healthz"},
		{"readiness", c.ReadinessProbe, "/readyz"},
		{"startup", c.StartupProbe, "/healthz"},
	}
	for _, p := range probes {
		if p.probe == nil || p.probe.HTTPGet == nil || p.probe.HTTPGet.Path != p.path || p.probe.HTTPGet.Port.String() != "http" {
			t.Errorf("%s: %s probe = %+v, want GET %s on port http", w.name, p.name, p.probe, p.path)
		}
	}
	if len(c.Ports) != 1 || c.Ports[0].Name != "http" || c.Ports[0].ContainerPort != 8080 {
		t.Errorf("%s: ports = %+v, want http 8080", w.name, c.Ports)
	}
	if c.Resources.Requests.Cpu().IsZero() || c.Resources.Requests.Memory().IsZero() || c.Resources.Limits.Memory().IsZero() {
		t.Errorf("%s: resources = %+v, want cpu and memory requests and a memory limit", w.name, c.Resources)
	}
	if len(c.Args) == 0 || c.Args[0] != "--config=/etc/bridge/config.yaml" || !mounted(w.tmpl, "config", "/etc/bridge/config.yaml") {
		t.Errorf("%s: args %v: the config file is not passed or not mounted", w.name, c.Args)
	}
}

func gatewayService(t *testing.T, r rendered) *corev1.Service {
	t.Helper()
	for _, s := range find[*corev1.Service](r) {
		if hasPort(s, "http") && s.Spec.ClusterIP != corev1.ClusterIPNone {
			return s
		}
	}
	t.Fatal("no Service with an http port")
	return nil
}

func hasPort(s *corev1.Service, name string) bool {
	for _, p := range s.Spec.Ports {
		if p.Name == name && p.TargetPort.String() == "http" {
			return true
		}
	}
	return false
}

func mounted(tmpl corev1.PodTemplateSpec, volume, path string) bool {
	for _, m := range tmpl.Spec.Containers[0].VolumeMounts {
		if m.Name == volume && m.MountPath == path {
			return true
		}
	}
	return false
}

func volumeFrom(tmpl corev1.PodTemplateSpec, name string, ok func(corev1.Volume) bool) bool {
	for _, v := range tmpl.Spec.Volumes {
		if v.Name == name {
			return ok(v)
		}
	}
	return false
}

func subset(sel, labels map[string]string) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

func sameSet(a, b []string) bool {
	count := map[string]int{}
	for _, s := range a {
		count[s]++
	}
	for _, s := range b {
		count[s]--
	}
	for _, n := range count {
		if n != 0 {
			return false
		}
	}
	return true
}

func TestLint(t *testing.T) {
	bin := helmBin(t)
	files := []string{""}
	for _, tc := range valuesCases {
		files = append(files, filepath.Join("testdata", tc.file))
	}
	for _, f := range files {
		t.Run("values="+f, func(t *testing.T) {
			args := []string{"lint", "--strict", chartDir}
			if f != "" {
				args = append(args, "--values", f)
			}
			if _, out, err := helm(t, bin, args...); err != nil {
				t.Errorf("helm lint --strict: %v\n%s", err, out)
			}
		})
	}
}

// TestRejected: values the schema or the chart's own checks refuse fail
// both helm lint and helm template, saying why.
func TestRejected(t *testing.T) {
	bin := helmBin(t)
	tests := []struct {
		file string
		want string
	}{
		{"unknown-key.yaml", "additional properties 'replica' not allowed"},
		{"nested-unknown.yaml", "additional properties 'pathtype' not allowed"},
		{"bad-mode.yaml", "/mode"},
		{"config-unknown-key.yaml", "additional properties 'channel' not allowed"},
		{"config-owned-key.yaml", "additional properties 'url' not allowed"},
		{"bad-duration.yaml", "/config/consumer/ack_wait"},
		{"two-watchers.yaml", "/services/releaseWatcher/replicas"},
		{"split-without-url.yaml", "/nats/url"},
		{"vault-and-secret.yaml", "/secrets/existingSecret"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			f := filepath.Join("testdata", "invalid", tc.file)
			for _, cmd := range [][]string{
				{"lint", "--strict", chartDir, "--values", f},
				{"template", "rel", chartDir, "--values", f},
			} {
				_, out, err := helm(t, bin, cmd...)
				if err == nil {
					t.Errorf("helm %s %s succeeded, want it rejected", cmd[0], tc.file)
					continue
				}
				if !strings.Contains(out, tc.want) {
					t.Errorf("helm %s %s: output does not say %q:\n%s", cmd[0], tc.file, tc.want, out)
				}
			}
		})
	}
}

// TestTemplateChecks: the chart's own checks still refuse what the schema
// refuses across keys, when schema validation is skipped.
func TestTemplateChecks(t *testing.T) {
	bin := helmBin(t)
	tests := []struct {
		file string
		want string
	}{
		{"split-without-url.yaml", "nats.url is required in split mode"},
		{"vault-and-secret.yaml", "set vault.address or secrets.existingSecret, not both"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			_, out, err := helm(t, bin, "template", "rel", chartDir, "--skip-schema-validation", "--values", filepath.Join("testdata", "invalid", tc.file))
			if err == nil || !strings.Contains(out, tc.want) {
				t.Errorf("helm template %s = %v, want an error saying %q:\n%s", tc.file, err, tc.want, out)
			}
		})
	}
}

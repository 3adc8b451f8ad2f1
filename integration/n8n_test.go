//go:build linux

// The real-n8n test uses Linux process control (Pdeathsig); CI runs Linux.

package integration

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The real-n8n tests run only when N8N_BIN names an n8n 1.78.1 binary
// (.ci/run installs one and sets it): n8n takes ~1.3 GB and minutes to
// install, too much for every go test.

// Workflows in testdata/n8n: both have a Webhook node with header auth on
// the credential the test imports; only the first is activated.
const (
	n8nActiveWorkflow   = "bridgeWfActive01"
	n8nInactiveWorkflow = "bridgeWfInactiv1"
	n8nActivePath       = "bridge-check-down"
	n8nInactivePath     = "bridge-check-up"
	n8nCredentialID     = "bridgeCredHdr001"
	n8nAuthHeader       = "X-N8N-Auth"
)

// n8nServer is a running n8n with an owner and a public-API key.
type n8nServer struct {
	url    string // http://127.0.0.1:port
	apiKey string
	auth   string // the header-auth credential's value
	proc   *proc
}

// TestN8NTrigger runs the bridge's n8n-trigger against a real n8n: the
// active workflow, behind header auth, runs once per route and event and
// receives the CloudEvent (read back through n8n's public API), and the
// inactive one answers n8n's real 404, which dead-letters with n8n's
// message.
//
// Two routes send the check down to the active workflow: one with
// content_type application/json, which n8n 1.x parses into $json.body, and
// one with the default application/cloudevents+json, which n8n accepts but
// hands to the workflow as a binary file (n8n/dist/webhooks/webhook-helpers.js
// parses only JSON, text, form and XML types). The second route's filter
// only gives it a route ID (a consumer name) of its own.
func TestN8NTrigger(t *testing.T) {
	n := startN8N(t)
	b := startBridge(t, bridgeOpts{
		extraYAML: fmt.Sprintf(`
n8n:
  routes:
    - subject: check.down
      url: %q
      auth: header
      header: %s
      content_type: application/json
    - subject: check.*
      filter:
        status: down
      url: %q
      auth: header
      header: %s
    - subject: check.up
      url: %q
      auth: header
      header: %s
`, n.url+"/webhook/"+n8nActivePath, n8nAuthHeader,
			n.url+"/webhook/"+n8nActivePath, n8nAuthHeader,
			n.url+"/webhook/"+n8nInactivePath, n8nAuthHeader),
		env: []string{"BRIDGE_SECRET_N8N_AUTH=" + n.auth},
	})
	id := checkID(50)
	down := checkBody(id, "down", time.Now())

	t.Run("auth is enforced", func(t *testing.T) {
		// Without the header n8n refuses, so the executions below prove
		// the bridge sent the credential.
		code, body := post(t, n.url+"/webhook/"+n8nActivePath, map[string]string{"Content-Type": "application/json"}, []byte(`{}`))
		if code != http.StatusForbidden {
			t.Fatalf("POST without %s = %d %s, want 403", n8nAuthHeader, code, body)
		}
	})

	// The executions of the check down, by the Content-Type n8n received.
	runs := make(map[string]n8nExecution)
	t.Run("check down runs the workflow once per route", func(t *testing.T) {
		b.mustAccept(down)
		waitFor(t, 60*time.Second, "two executions of the active workflow", func() error {
			if execs := n.executions(t, n8nActiveWorkflow); len(execs) < 2 {
				return fmt.Errorf("%d so far", len(execs))
			}
			return nil
		})
		b.settle()
		execs := n.executions(t, n8nActiveWorkflow)
		if len(execs) != 2 {
			t.Fatalf("%d executions, want 2 (one per route)", len(execs))
		}
		for _, x := range execs {
			if !x.Finished || x.Mode != "webhook" {
				t.Errorf("execution %s: finished %v, mode %q, want a finished webhook execution", x.ID, x.Finished, x.Mode)
			}
			runs[x.webhookInput(t).JSON.Headers["content-type"]] = x
		}
		for _, ct := range []string{"application/json", "application/cloudevents+json"} {
			if _, ok := runs[ct]; !ok {
				t.Errorf("no execution received Content-Type %s (got %v)", ct, keys(runs))
			}
		}
	})

	t.Run("the workflow gets the CloudEvent as JSON", func(t *testing.T) {
		// What a workflow author needs: {{ $json.body.data.check_id }}.
		run, ok := runs["application/json"]
		if !ok {
			t.Fatal("no application/json execution (see the test above)")
		}
		ce := run.webhookInput(t).JSON.Body
		if len(ce) == 0 {
			t.Fatalf("$json.body is empty: n8n did not parse the application/json CloudEvent")
		}
		checkCloudEvent(t, ce, id)
	})

	t.Run("the default cloudevents+json reaches n8n as binary", func(t *testing.T) {
		run, ok := runs["application/cloudevents+json"]
		if !ok {
			t.Fatal("no application/cloudevents+json execution (see the test above)")
		}
		in := run.webhookInput(t)
		// n8n 1.78.1 does not parse this type: $json.body stays empty and
		// the request body is binary.data. Should a later n8n parse it,
		// the body is checked just the same.
		if len(in.JSON.Body) == 0 && in.Binary["data"].MimeType != "application/cloudevents+json" {
			t.Errorf("binary.data mime type = %q, want application/cloudevents+json", in.Binary["data"].MimeType)
		}
		ce := in.cloudEvent(t)
		checkCloudEvent(t, ce, id)
		// Both routes sent the same event: the same body, whatever the type.
		if asJSON, ok := runs["application/json"]; ok {
			if other := asJSON.webhookInput(t).JSON.Body; !reflect.DeepEqual(ce, other) {
				t.Errorf("the two routes' CloudEvents differ:\ncloudevents+json %v\njson             %v", ce, other)
			}
		}
	})

	t.Run("the same down again runs nothing", func(t *testing.T) {
		b.mustAccept(down)
		b.settle()
		if execs := n.executions(t, n8nActiveWorkflow); len(execs) != 2 {
			t.Fatalf("%d executions after the same check down twice, want 2 (one per route)", len(execs))
		}
	})

	t.Run("inactive workflow dead-letters with n8n's 404", func(t *testing.T) {
		b.mustAccept(checkBody(id, "up", time.Now().Add(time.Second)))
		var rows []map[string]any
		waitFor(t, 60*time.Second, "a dead letter", func() error {
			code, out, errOut := b.ctl("deadletter", "list", "--output", "json")
			if code != 0 {
				return fmt.Errorf("bridgectl: %d %s", code, errOut)
			}
			rows = nil
			if err := json.Unmarshal([]byte(out), &rows); err != nil {
				return err
			}
			if len(rows) == 0 {
				return fmt.Errorf("none yet")
			}
			return nil
		})
		if len(rows) != 1 {
			t.Fatalf("%d dead letters, want 1: %v", len(rows), rows)
		}
		r := rows[0]
		reason, _ := r["reason"].(string)
		if !strings.Contains(reason, "is not registered") || !strings.Contains(reason, n8nInactivePath) {
			t.Errorf("dead letter reason = %q, want n8n's 404 message naming %s", reason, n8nInactivePath)
		}
		if c, _ := r["consumer"].(string); !strings.HasPrefix(c, "n8n-trigger-") || r["event_subject"] != "bridge.events.check.up" {
			t.Errorf("dead letter = %v, want consumer n8n-trigger-<route>, subject bridge.events.check.up", r)
		}
		if strings.Contains(fmt.Sprint(r), n.auth) {
			t.Error("the dead letter contains N8N_AUTH")
		}
		if execs := n.executions(t, n8nInactiveWorkflow); len(execs) != 0 {
			t.Errorf("%d executions of the inactive workflow, want 0", len(execs))
		}
	})

	if strings.Contains(b.proc.log.String(), n.auth) {
		t.Error("N8N_AUTH reached the bridge's log")
	}
}

// checkCloudEvent checks the CloudEvent a workflow received for the down of
// check id.
func checkCloudEvent(t *testing.T, ce map[string]any, id string) {
	t.Helper()
	for k, want := range map[string]any{
		"specversion":     "1.0",
		"type":            "io.stoa.bridge.check.down",
		"source":          "/webhooks/healthchecks",
		"subject":         id,
		"datacontenttype": "application/json",
	} {
		if ce[k] != want {
			t.Errorf("CloudEvent %s = %v, want %v (event %v)", k, ce[k], want, ce)
		}
	}
	for _, k := range []string{"id", "time", "idempotencykey"} {
		if s, _ := ce[k].(string); s == "" {
			t.Errorf("CloudEvent %s is empty (event %v)", k, ce)
		}
	}
	if k, _ := ce["idempotencykey"].(string); !strings.HasPrefix(k, "check:"+id+":down:") {
		t.Errorf("CloudEvent idempotencykey = %q, want the down's key check:%s:down:…", k, id)
	}
	data, _ := ce["data"].(map[string]any)
	if data["check_id"] != id || data["status"] != "CHECK_STATUS_DOWN" {
		t.Errorf("CloudEvent data = %v, want check_id %s, status CHECK_STATUS_DOWN", data, id)
	}
}

func keys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// startN8N imports the testdata workflows and a header-auth credential
// into a fresh n8n, activates one workflow, starts n8n on a free port and
// sets up an owner and an API key. n8n is stopped when t ends.
func startN8N(t *testing.T) *n8nServer {
	t.Helper()
	binPath := os.Getenv("N8N_BIN")
	if binPath == "" {
		t.Skip("N8N_BIN is not set: the real-n8n test needs n8n 1.78.1 (.ci/run installs it and sets N8N_BIN)")
	}
	if _, err := os.Stat(binPath); err != nil {
		t.Fatalf("N8N_BIN: %v", err)
	}
	dir := t.TempDir()
	addr := freeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	n := &n8nServer{url: "http://" + addr, auth: randomHex(t, 16)}
	env := []string{
		"PATH=" + os.Getenv("PATH"),
		"HOME=" + dir,
		"N8N_USER_FOLDER=" + dir,
		"N8N_PORT=" + port,
		"N8N_LISTEN_ADDRESS=127.0.0.1",
		"N8N_HOST=127.0.0.1",
		"N8N_ENCRYPTION_KEY=" + randomHex(t, 24),
		"DB_TYPE=sqlite",
		"N8N_DIAGNOSTICS_ENABLED=false",
		"N8N_PERSONALIZATION_ENABLED=false",
		"N8N_VERSION_NOTIFICATIONS_ENABLED=false",
		"N8N_TEMPLATES_ENABLED=false",
		"N8N_RUNNERS_ENABLED=false",
		"N8N_SECURE_COOKIE=false",
		"N8N_HIRING_BANNER_ENABLED=false",
		"N8N_ENFORCE_SETTINGS_FILE_PERMISSIONS=false",
		"N8N_GRACEFUL_SHUTDOWN_TIMEOUT=5",
		"EXECUTIONS_DATA_SAVE_ON_SUCCESS=all",
	}

	// The credential is written here, not kept in testdata, so that its
	// value is fresh for each run. n8n encrypts a plain data object on import.
	creds, err := json.Marshal([]map[string]any{{
		"id":   n8nCredentialID,
		"name": "bridge integration header auth",
		"type": "httpHeaderAuth",
		"data": map[string]string{"name": n8nAuthHeader, "value": n.auth},
	}})
	if err != nil {
		t.Fatal(err)
	}
	credsPath := filepath.Join(dir, "credentials.json")
	if err := os.WriteFile(credsPath, creds, 0o600); err != nil {
		t.Fatal(err)
	}
	wf, err := filepath.Abs(filepath.Join("testdata", "n8n"))
	if err != nil {
		t.Fatal(err)
	}
	n8nCLI(t, binPath, dir, env, "import:credentials", "--input="+credsPath)
	n8nCLI(t, binPath, dir, env, "import:workflow", "--separate", "--input="+wf)
	n8nCLI(t, binPath, dir, env, "update:workflow", "--id="+n8nActiveWorkflow, "--active=true")

	n.proc = startExternal(t, "n8n", binPath, dir, env, "start")
	waitFor(t, 90*time.Second, "n8n /healthz", func() error {
		if n.proc.exited() {
			t.Fatalf("n8n exited early: %v\n%s", n.proc.err, tail(n.proc.log.String(), 30))
		}
		resp, err := http.Get(n.url + "/healthz")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return fmt.Errorf("%d", resp.StatusCode)
		}
		return nil
	})
	// The webhook of an active workflow is registered after /healthz may
	// already answer: wait until its path stops answering 404.
	waitFor(t, 60*time.Second, "the active workflow's webhook", func() error {
		code, body := post(t, n.url+"/webhook/"+n8nActivePath, map[string]string{"Content-Type": "application/json"}, []byte(`{}`))
		if code == http.StatusNotFound || code == 0 {
			return fmt.Errorf("%d %s", code, body)
		}
		return nil
	})
	// /healthz answers before n8n has mounted its REST API.
	waitFor(t, 60*time.Second, "n8n's REST API", func() error {
		resp, err := http.Get(n.url + "/rest/settings")
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		if ct := resp.Header.Get("Content-Type"); resp.StatusCode != http.StatusOK || !strings.HasPrefix(ct, "application/json") {
			return fmt.Errorf("%d %s", resp.StatusCode, ct)
		}
		return nil
	})
	n.setupOwner(t)
	return n
}

// n8nCLI runs one n8n command to completion (n8n must not be running on dir).
func n8nCLI(t *testing.T, binPath, dir string, env []string, args ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binPath, args...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("n8n %s: %v\n%s", strings.Join(args, " "), err, tail(string(out), 30))
	}
	t.Logf("n8n %s: %s", args[0], tail(strings.TrimSpace(string(out)), 3))
}

// startExternal runs a binary that is not built by TestMain, in its own
// process group, and stops the group with SIGTERM (then SIGKILL) when t ends.
func startExternal(t *testing.T, name, path, dir string, env []string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(path, args...)
	cmd.Dir = dir
	cmd.Env = env
	// Pdeathsig: if the test binary dies (a go test timeout, a kill),
	// n8n goes with it instead of holding ~300 MB and a port.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	p := &proc{t: t, name: name, cmd: cmd, log: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		pgid := cmd.Process.Pid
		_ = syscall.Kill(-pgid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(20 * time.Second):
			_ = syscall.Kill(-pgid, syscall.SIGKILL)
			<-p.done
		}
		// Anything n8n left in its group goes too.
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		if t.Failed() {
			t.Logf("%s last lines:\n%s", name, tail(p.log.String(), 30))
		}
	})
	return p
}

// setupOwner creates the instance owner, logs in with its cookie and
// creates a public-API key.
func (n *n8nServer) setupOwner(t testing.TB) {
	t.Helper()
	const browserID = "bridge-integration"
	a := n.rest(t, http.MethodPost, "/rest/owner/setup", map[string]string{"browser-id": browserID}, map[string]string{
		"email":     "owner@bridge.invalid",
		"firstName": "Bridge",
		"lastName":  "CI",
		"password":  "Integration-" + randomHex(t, 8),
	})
	if a.status != http.StatusOK {
		t.Fatalf("POST /rest/owner/setup = %d %s", a.status, a.body)
	}
	var cookie string
	for _, c := range a.cookies {
		if c.Name == "n8n-auth" {
			cookie = c.Name + "=" + c.Value
		}
	}
	if cookie == "" {
		t.Fatalf("POST /rest/owner/setup set no n8n-auth cookie: %s", a.body)
	}
	a = n.rest(t, http.MethodPost, "/rest/api-keys", map[string]string{"browser-id": browserID, "Cookie": cookie},
		map[string]any{"label": "ci", "expiresAt": nil})
	if a.status != http.StatusOK {
		t.Fatalf("POST /rest/api-keys = %d %s", a.status, a.body)
	}
	var key struct {
		Data struct {
			APIKey    string `json:"apiKey"`
			RawAPIKey string `json:"rawApiKey"`
		} `json:"data"`
	}
	if err := json.Unmarshal(a.body, &key); err != nil {
		t.Fatalf("POST /rest/api-keys: %v: %s", err, a.body)
	}
	n.apiKey = key.Data.RawAPIKey
	if n.apiKey == "" {
		n.apiKey = key.Data.APIKey
	}
	if n.apiKey == "" {
		t.Fatalf("POST /rest/api-keys returned no key: %s", a.body)
	}
}

// restAnswer is what rest returns: the body is read and closed.
type restAnswer struct {
	status  int
	cookies []*http.Cookie
	body    []byte
}

// rest sends a JSON request to n8n and returns its answer.
func (n *n8nServer) rest(t testing.TB, method, path string, header map[string]string, in any) restAnswer {
	t.Helper()
	var rd io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, n.url+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	return restAnswer{status: resp.StatusCode, cookies: resp.Cookies(), body: b}
}

// n8nExecution is one execution from the public API, with its data.
type n8nExecution struct {
	ID       string `json:"id"`
	Finished bool   `json:"finished"`
	Mode     string `json:"mode"`
	Data     struct {
		ResultData struct {
			RunData map[string][]struct {
				Data struct {
					Main [][]webhookInput `json:"main"`
				} `json:"data"`
			} `json:"runData"`
		} `json:"resultData"`
	} `json:"data"`
}

// webhookInput is the item the Webhook node made of the request: the
// headers and the parsed body, or, for a content type n8n does not parse,
// the raw body as a binary property.
type webhookInput struct {
	JSON struct {
		Headers map[string]string `json:"headers"`
		Body    map[string]any    `json:"body"`
	} `json:"json"`
	Binary map[string]struct {
		MimeType string `json:"mimeType"`
		Data     []byte `json:"data"` // base64 in the API's JSON
	} `json:"binary"`
}

// webhookInput returns the Webhook node's single output item.
func (x n8nExecution) webhookInput(t *testing.T) webhookInput {
	t.Helper()
	runs := x.Data.ResultData.RunData["Webhook"]
	if len(runs) != 1 || len(runs[0].Data.Main) != 1 || len(runs[0].Data.Main[0]) != 1 {
		t.Fatalf("execution %s: want one Webhook run with one item, got %+v", x.ID, x.Data.ResultData.RunData)
	}
	return runs[0].Data.Main[0][0]
}

// cloudEvent returns the request body the workflow received, decoded:
// the parsed body, else the binary one.
func (in webhookInput) cloudEvent(t *testing.T) map[string]any {
	t.Helper()
	if len(in.JSON.Body) > 0 {
		return in.JSON.Body
	}
	raw := in.Binary["data"].Data
	var ce map[string]any
	if err := json.Unmarshal(raw, &ce); err != nil {
		t.Fatalf("the workflow got neither a JSON body nor a JSON binary: body %v, binary %q: %v", in.JSON.Body, raw, err)
	}
	return ce
}

// executions lists the executions of a workflow, with their data.
func (n *n8nServer) executions(t testing.TB, workflowID string) []n8nExecution {
	t.Helper()
	a := n.rest(t, http.MethodGet, "/api/v1/executions?includeData=true&limit=50&workflowId="+workflowID,
		map[string]string{"X-N8N-API-KEY": n.apiKey, "Accept": "application/json"}, nil)
	if a.status != http.StatusOK {
		t.Fatalf("GET /api/v1/executions = %d %s", a.status, a.body)
	}
	var page struct {
		Data []n8nExecution `json:"data"`
	}
	if err := json.Unmarshal(a.body, &page); err != nil {
		t.Fatalf("GET /api/v1/executions: %v: %s", err, a.body)
	}
	return page.Data
}

func randomHex(t testing.TB, n int) string {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

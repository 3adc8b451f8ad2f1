package n8ntest_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stoa-platform/bridge/pkg/sink/n8n/n8ntest"
)

func TestAnswers(t *testing.T) {
	s := n8ntest.New(t)
	s.AddWorkflow("hdr", "X-Key", "v")
	s.AddBasicWorkflow("basic", "u", "p")
	s.AddWorkflow("off", "", "")
	s.Deactivate("off")
	s.AddWorkflow("flaky", "", "")
	s.Fail("flaky", 1, http.StatusInternalServerError)

	tests := []struct {
		name   string
		method string
		path   string
		header map[string]string
		basic  []string
		status int
		body   string
	}{
		{"header ok", "POST", "hdr", map[string]string{"X-Key": "v"}, nil, 200, `{"message":"Workflow was started"}`},
		{"header wrong", "POST", "hdr", map[string]string{"X-Key": "x"}, nil, 403, "Authorization data is wrong!"},
		{"header missing", "POST", "hdr", nil, nil, 403, "Authorization data is wrong!"},
		{"basic ok", "POST", "basic", nil, []string{"u", "p"}, 200, `{"message":"Workflow was started"}`},
		{"basic wrong", "POST", "basic", nil, []string{"u", "x"}, 403, "Authorization data is wrong!"},
		{"basic missing", "POST", "basic", nil, nil, 401, "Authorization is required!"},
		{"unknown", "POST", "nope", nil, nil, 404, `"message":"The requested webhook \"POST nope\" is not registered."`},
		{"inactive", "POST", "off", nil, nil, 404, `"hint":"The workflow must be active`},
		{"wrong method", "GET", "hdr", nil, nil, 404, "This webhook is not registered for GET requests. Did you mean to make a POST request?"},
		{"fail once", "POST", "flaky", nil, nil, 500, `{"message":"Error in workflow"}`},
		{"then ok", "POST", "flaky", nil, nil, 200, `{"message":"Workflow was started"}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, s.WebhookURL(tt.path), strings.NewReader(`{"a":1}`))
			for k, v := range tt.header {
				req.Header.Set(k, v)
			}
			if tt.basic != nil {
				req.SetBasicAuth(tt.basic[0], tt.basic[1])
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			b, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != tt.status || !strings.Contains(string(b), tt.body) {
				t.Errorf("%s %s = %d %s, want %d containing %s", tt.method, tt.path, resp.StatusCode, b, tt.status, tt.body)
			}
		})
	}
	if c := s.Calls("flaky"); len(c) != 2 || string(c[1].Body) != `{"a":1}` || c[0].Status != 500 {
		t.Errorf("Calls(flaky) = %+v", c)
	}
	if n := len(s.Started("hdr")); n != 1 {
		t.Errorf("Started(hdr) = %d, want 1", n)
	}
}

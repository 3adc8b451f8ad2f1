package service_test

import (
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stoa-platform/bridge/pkg/bus/bustest"
	"github.com/stoa-platform/bridge/pkg/config"
	"github.com/stoa-platform/bridge/pkg/secrets"
	"github.com/stoa-platform/bridge/pkg/service"
	"github.com/stoa-platform/bridge/pkg/sink/slack/slacktest"
)

func TestRunNeedsNATSURLAlone(t *testing.T) {
	cfg := config.Default()
	err := service.Run(t.Context(), cfg, slog.New(slog.DiscardHandler), service.Options{Parts: []service.Part{service.SlackNotifier}})
	if err == nil || !strings.Contains(err.Error(), "nats.url") {
		t.Errorf("Run of a lone service without nats.url = %v, want an error naming nats.url", err)
	}
}

// TestRunAllInOne wires the gateway and the Slack notifier on an embedded
// NATS server: a Healthchecks down becomes one Slack alert.
func TestRunAllInOne(t *testing.T) {
	fake := slacktest.New(t)
	fake.AddChannel("C0INCIDENTS", "incidents")
	cfg := config.Default()
	cfg.Slack.APIURL = fake.URL()
	addr := startService(t, cfg, secrets.Static{secrets.HealthchecksToken: "t0k", secrets.SlackBotToken: fake.Token()}, service.All...)
	body := `{"status":"down","now":"2026-01-01T00:00:00+00:00","code":"3f1b6a1e-5c2d-4f8e-9a47-0d6c2e8b71a4","name":"db-backup"}`
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/webhooks/healthchecks", strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer t0k")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		t.Fatalf("POST = %d, want 202", resp.StatusCode)
	}
	bustest.Eventually(t, 10*time.Second, func() error {
		if n := len(fake.Messages("C0INCIDENTS")); n != 1 {
			return fmt.Errorf("%d messages", n)
		}
		return nil
	})
}

// Package metrics defines every bridge_ metric once. Each service registers
// the set on its own registry, so a whole service can run inside a test.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics is the set of bridge_ metrics. A nil *Metrics is not valid; use New.
type Metrics struct {
	// Ingest, labelled by source (github, trivy, healthchecks).
	Received  *prometheus.CounterVec // source
	Published *prometheus.CounterVec // source, kind
	Ignored   *prometheus.CounterVec // source, reason
	Rejected  *prometheus.CounterVec // source, reason
	// IngestDuration is the time from request to answer, by source and code.
	IngestDuration *prometheus.HistogramVec // source, code
	// InFlight is the number of publishes awaiting a JetStream ack.
	InFlight prometheus.Gauge

	// Consumers, labelled by sink (the consumer name).
	Actions        *prometheus.CounterVec   // sink, outcome
	ActionDuration *prometheus.HistogramVec // sink
	Redeliveries   *prometheus.CounterVec   // sink
	DeadLetters    *prometheus.CounterVec   // sink, reason_class
	Pending        *prometheus.GaugeVec     // sink
	// SilencesActive is the number of silences in force.
	SilencesActive prometheus.Gauge

	// Secrets from Vault.
	SecretsVaultUp       prometheus.Gauge
	SecretsRefreshErrors prometheus.Counter
	SecretsLogins        prometheus.Counter
	SecretsRenewals      prometheus.Counter
	SecretsVersion       prometheus.Gauge
	SecretsLastRead      prometheus.Gauge
}

// New returns the metric set, registered on reg together with the Go and
// process collectors.
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Received: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_events_received_total",
			Help: "Webhook requests received, by source.",
		}, []string{"source"}),
		Published: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_events_published_total",
			Help: "Events persisted in JetStream, by source and kind.",
		}, []string{"source", "kind"}),
		Ignored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_events_ignored_total",
			Help: "Valid deliveries answered 200 without an event, by source and reason.",
		}, []string{"source", "reason"}),
		Rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_events_rejected_total",
			Help: "Requests refused, by source and reason (method, disabled, unauthorized, content_type, too_large, malformed, overloaded, unavailable, event_too_large).",
		}, []string{"source", "reason"}),
		IngestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bridge_ingest_duration_seconds",
			Help:    "Time from webhook request to answer, by source and status code.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"source", "code"}),
		InFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bridge_ingest_inflight_publishes",
			Help: "Publishes waiting for a JetStream acknowledgement.",
		}),
		Actions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_actions_total",
			Help: "Side effects attempted by sinks, by sink and outcome (posted, updated, skipped, dry_run, duplicate, transient, permanent, waiting, silenced).",
		}, []string{"sink", "outcome"}),
		ActionDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "bridge_action_duration_seconds",
			Help:    "Time one delivery attempt took, by sink.",
			Buckets: prometheus.DefBuckets,
		}, []string{"sink"}),
		Redeliveries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_redeliveries_total",
			Help: "Messages received again after a nak, a timeout or a crash, by sink.",
		}, []string{"sink"}),
		DeadLetters: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "bridge_dead_letters_total",
			Help: "Events given up on and published to the dead-letter stream, by sink and reason class (permanent, max_deliver, undecodable).",
		}, []string{"sink", "reason"}),
		Pending: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "bridge_consumer_pending",
			Help: "Messages not yet delivered to the consumer, by sink.",
		}, []string{"sink"}),
		SilencesActive: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bridge_silences_active",
			Help: "Silences in force: events they match make no effect.",
		}),
		SecretsVaultUp: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bridge_secrets_vault_up",
			Help: "1 when the last Vault login and secret read succeeded, 0 while Vault is unreachable or refuses them (the last secrets read are kept).",
		}),
		SecretsRefreshErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bridge_secrets_refresh_errors_total",
			Help: "Failed Vault logins and secret reads.",
		}),
		SecretsLogins: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bridge_secrets_vault_logins_total",
			Help: "Successful Vault logins, the first and every re-login after a token could not be renewed further.",
		}),
		SecretsRenewals: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "bridge_secrets_vault_renewals_total",
			Help: "Successful Vault token renewals.",
		}),
		SecretsVersion: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bridge_secrets_kv_version",
			Help: "KV v2 version of the secrets in use (0 before the first read).",
		}),
		SecretsLastRead: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "bridge_secrets_last_read_timestamp_seconds",
			Help: "Unix time of the last successful secret read from Vault.",
		}),
	}
	reg.MustRegister(
		m.Received, m.Published, m.Ignored, m.Rejected, m.IngestDuration, m.InFlight,
		m.Actions, m.ActionDuration, m.Redeliveries, m.DeadLetters, m.Pending, m.SilencesActive,
		m.SecretsVaultUp, m.SecretsRefreshErrors, m.SecretsLogins, m.SecretsRenewals, m.SecretsVersion, m.SecretsLastRead,
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

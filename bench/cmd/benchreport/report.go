package main

import (
	"fmt"
	"os"
	"runtime"
	"slices"
	"strings"
	"time"
)

type report struct {
	rounds   int
	benchkit string
	command  string
	o        options
	took     time.Duration
	ingest   *ingestResult
	latency  *latencyResult
	scaling  *scalingResult
	n8n      *n8nResult
	failed   []string // sections that did not finish, with why
}

// machineInfo describes where the figures come from.
type machineInfo struct {
	cpu, kernel, goVersion, load string
	cores                        int
	date                         time.Time
}

func machine() machineInfo {
	m := machineInfo{cpu: "unknown", kernel: "unknown", goVersion: runtime.Version(), cores: runtime.NumCPU(), date: time.Now().UTC()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.SplitSeq(string(b), "\n") {
			if name, value, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(name) == "model name" {
				m.cpu = strings.TrimSpace(value)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.kernel = "Linux " + strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.load = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return m
}

// stats is the median and the spread of one figure over the rounds.
type stats struct{ median, lo, hi float64 }

func summarize(v []float64) stats {
	if len(v) == 0 {
		return stats{}
	}
	s := slices.Clone(v)
	slices.Sort(s)
	med := s[len(s)/2]
	if len(s)%2 == 0 {
		med = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stats{median: med, lo: s[0], hi: s[len(s)-1]}
}

// format prints the median and, with more than one round, the range.
func (s stats) format(f string) string {
	med := fmt.Sprintf(f, s.median)
	if s.lo == s.hi {
		return med
	}
	return fmt.Sprintf("%s (%s–%s)", med, fmt.Sprintf(f, s.lo), fmt.Sprintf(f, s.hi))
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "**missed**"
}

func list(v []float64, f string) string {
	out := make([]string, len(v))
	for i, x := range v {
		out[i] = fmt.Sprintf(f, x)
	}
	return strings.Join(out, ", ")
}

func (r *report) markdown(m machineInfo) string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("# Benchmarks\n\n")
	w("Written by `make bench-report` (`bench/cmd/benchreport`); do not edit by hand. The Go\n")
	w("micro-benchmarks (`make bench`) are listed in the README. **This machine is shared**: other\n")
	w("jobs ran on its cores during the run, so absolute figures, and tails above all, are noisy;\n")
	w("the ratios, measured side by side in alternating rounds, are what to compare.\n\n")
	w("| machine | |\n|---|---|\n")
	w("| CPU | %s |\n| cores | %d |\n| OS | %s |\n| Go | %s |\n| date | %s |\n| load average at the start | %s |\n",
		m.cpu, m.cores, m.kernel, m.goVersion, m.date.Format("2006-01-02 15:04 UTC"), m.load)
	w("| command | `%s` |\n| benchkit | `%s` (refserver, loadgen) |\n", r.command, r.benchkit)
	w("| rounds | %d per figure; each cell shows the median and (min–max) |\n| run took | %s |\n\n", r.rounds, r.took.Round(time.Second))

	if len(r.failed) > 0 {
		w("**Incomplete run**: these sections failed and are missing below:\n\n")
		for _, f := range r.failed {
			w("- %s\n", f)
		}
		w("\n")
	}
	w("## Figures and targets\n\n")
	w("| # | figure | target | result | |\n|---|---|---|---|---|\n")
	if in := r.ingest; in != nil {
		ratio := summarize(in.ratio)
		w("| a | ingest, all-in-one `bridge` / reference server (closed loop, %d connections, signed GitHub `release`) | ≥ 0.70 (aim 0.90) | **%s** (bridge %s req/s, reference %s req/s) | %s |\n",
			r.o.conns, ratio.format("%.2f"), summarize(in.bridge).format("%.0f"), summarize(in.ref).format("%.0f"), verdict(ratio.median >= 0.7))
	}
	if in := r.ingest; in != nil {
		ratio := summarize(in.gatewayRatio)
		w("| a′ | the same, split `webhook-gateway` alone (its own NATS server) / reference | the gateway bar of the benchkit: ≥ 0.70 | **%s** (gateway %s req/s) | %s |\n",
			ratio.format("%.2f"), summarize(in.gateway).format("%.0f"), verdict(ratio.median >= 0.7))
	}
	if l := r.latency; l != nil {
		ref, p99 := summarize(l.refP99), summarize(l.e2eP99)
		ratio := make([]float64, len(l.e2eP99))
		for i := range ratio {
			ratio[i] = l.e2eP99[i] / l.refP99[i]
		}
		rs := summarize(ratio)
		w("| b | end to end at %d events/s, webhook sent → Slack called: p50 / p99 | p99 ≤ 2× the reference's ingest p99 at the same rate | p50 **%s ms**, p99 **%s ms**; reference ingest p99 %s ms; ratio **%s** | %s |\n",
			r.o.rate, summarize(l.e2eP50).format("%.2f"), p99.format("%.2f"), ref.format("%.2f"), rs.format("%.1f×"), verdict(rs.median <= 2))
		peak := summarize(l.rssPeak)
		w("| c | all-in-one resident memory under that load (peak VmRSS sampled every 100 ms; VmHWM) | < 60 MB | **%s MB** (VmHWM %s MB) | %s |\n",
			peak.format("%.1f"), summarize(l.hwm).format("%.1f"), verdict(summarize(l.hwm).median < 60))
	}
	if s := r.scaling; s != nil {
		var cells []string
		for _, n := range replicaCounts {
			cells = append(cells, fmt.Sprintf("%d: **%s**", n, summarize(s.rate[n]).format("%.0f")))
		}
		w("| d | cluster mode: events/s delivered to Slack by 1, 2, 4 `slack-notifier` replicas | more replicas, more throughput (as far as the cores allow) | %s | see below |\n", strings.Join(cells, "; "))
	}
	if n := r.n8n; n != nil {
		if n.skipped != "" {
			w("| e | the same job by n8n 1.78.1 (Webhook → HTTP Request) | bridge ≥ 10× n8n | skipped: %s | — |\n", n.skipped)
		} else {
			ratio := summarize(n.ratio)
			w("| e | the same job (Healthchecks webhook → one Slack message) by n8n %s (Webhook → HTTP Request) and by the bridge, events/s | bridge ≥ 10× n8n | n8n **%s**, bridge **%s**: **%s** | %s |\n",
				n.version, summarize(n.n8n).format("%.0f"), summarize(n.bridge).format("%.0f"), ratio.format("%.0f×"), verdict(ratio.median >= 10))
		}
	}
	if in := r.ingest; in != nil {
		w("| f | durability: ingest req/s with `nats.sync_always: true` (fsync every write) / default (fsync every 2 min) | measured, no target | default %s, fsync every write %s: **%s** | — |\n",
			summarize(in.bridge).format("%.0f"), summarize(in.bridgeSync).format("%.0f"), summarize(in.syncRatio).format("%.2f"))
	}
	w("\n")

	if in := r.ingest; in != nil {
		w("## a, f: ingest throughput\n\n")
		w("The benchkit's `loadgen` (closed loop, %d connections, %s measured after a 2 s warm-up,\n", r.o.conns, r.o.duration)
		w("signed GitHub `release` webhooks of 8.6 kB) against, in turn in every round: the reference\n")
		w("`refserver` (HTTP → HMAC → JetStream publish, embedded NATS over loopback TCP), the\n")
		w("all-in-one `bridge` with the default config (embedded NATS on loopback TCP, every consumer\n")
		w("running; Slack and Linear without credentials, so in dry-run, but every event is still\n")
		w("fetched, claimed in the ledger and acknowledged), the split `webhook-gateway` alone on a NATS\n")
		w("server of its own, and the all-in-one again with `nats.sync_always: true`.\n")
		w("The load generator shares the cores with the server it measures. A run with any non-2xx\n")
		w("answer fails the report.\n\n")
		w("| round | reference req/s | bridge req/s | bridge / reference | gateway req/s | gateway / reference | bridge, fsync every write, req/s | fsync / default |\n|---|---|---|---|---|---|---|---|\n")
		for i := range in.ref {
			w("| %d | %.0f | %.0f | %.2f | %.0f | %.2f | %.0f | %.2f |\n", i+1, in.ref[i], in.bridge[i], in.ratio[i],
				in.gateway[i], in.gatewayRatio[i], in.bridgeSync[i], in.syncRatio[i])
		}
		w("\nThe all-in-one bridge does more than ingest in the same process: its consumers read every\n")
		w("event back, claim it in the ledger (a KV create), complete it (a KV update) and acknowledge\n")
		w("it, three JetStream round trips per consumer and event, on the same two cores as the load.\n")
		w("The split `webhook-gateway` row is the ingest path alone, like the reference, but it reaches\n")
		w("its NATS server over loopback TCP where the all-in-one publishes in-process, and it decodes\n")
		w("the 8.6 kB payload (encoding/json: a validity scan, then a decoding scan; about half of the\n")
		w("gateway handler's CPU per `release` in the pprof of `BenchmarkIngestGitHub`), which the\n")
		w("reference does not.\n")
		w("\nJetStream acknowledges a publish once the write is in the operating system's page cache;\n")
		w("by default nats-server fsyncs every 2 minutes. A killed bridge loses nothing either way (the\n")
		w("kernel still holds the pages); a power loss can lose up to that interval of accepted events.\n")
		w("`nats.sync_always: true` (or `nats.sync_interval: always`) fsyncs every write before the\n")
		w("acknowledgement, for single-node installs that must survive a power loss; what it costs\n")
		w("depends on the disk's fsync latency far more than on the bridge.\n\n")
	}
	if l := r.latency; l != nil {
		w("## b, c: latency and memory at %d events/s\n\n", r.o.rate)
		w("Every round: `loadgen -rate %d -c 64` against the reference (p99 of its 202s), then a fresh\n", r.o.rate)
		w("all-in-one bridge pointed at the Slack fake (`pkg/sink/slack/slacktest`, run in the driver),\n")
		w("fed Healthchecks \"down\" webhooks of distinct checks on a fixed schedule (open loop, at most\n")
		w("64 in flight, 2 s warm-up then %s measured). Latency counts from each webhook's scheduled\n", r.o.duration)
		w("send time, so a stall is not hidden by a waiting client; the end-to-end figure ends when the\n")
		w("Slack fake receives `chat.postMessage` (it stamps the message's ts with its clock). The\n")
		w("bridge's resident set is read from /proc/<pid>/status while the load runs. It grows with the\n")
		w("events kept: the embedded nats-server caches the stream's and the ledger's recent message\n")
		w("blocks in memory (block buffers of up to 8 MB; about 90 %% of the memory in use at the end of\n")
		w("`BenchmarkRunner` is nats-server's block buffers, next to nothing the bridge's own), and the\n")
		w("Go heap may double its live size before a collection (GOGC 100).\n\n")
		w("| round | reference ingest p99 ms | bridge ingest p50 / p99 ms | end to end p50 / p99 ms | peak VmRSS MB | VmHWM MB | webhooks sent / messages / refused |\n|---|---|---|---|---|---|---|\n")
		for i := range l.refP99 {
			w("| %d | %.2f | %.2f / %.2f | %.2f / %.2f | %.1f | %.1f | %d / %d / %d |\n", i+1, l.refP99[i], l.ingestP50[i], l.ingestP99[i],
				l.e2eP50[i], l.e2eP99[i], l.rssPeak[i], l.hwm[i], l.sent[i], l.delivered[i], l.dropped[i])
		}
		w("\n")
	}
	if s := r.scaling; s != nil {
		w("## d: consumer replicas in cluster mode\n\n")
		w("A NATS server with JetStream started by the driver, one `webhook-gateway` and N\n")
		w("`slack-notifier` processes (the split services, default config: consumer concurrency 8).\n")
		w("%d Healthchecks events of distinct checks are ingested first; then the N replicas start\n", r.o.events)
		w("together and the figure is the messages posted after all N answer /readyz, divided by the\n")
		w("time from then to the last message. The replicas share one durable consumer, so each event\n")
		w("is delivered once whatever N.\n\n")
		w("| replicas | events/s per round | median | vs 1 replica |\n|---|---|---|---|\n")
		one := summarize(s.rate[1]).median
		for _, n := range replicaCounts {
			st := summarize(s.rate[n])
			w("| %d | %s | %.0f | %.2f× |\n", n, list(s.rate[n], "%.0f"), st.median, st.median/one)
		}
		w("\nOn %d cores shared by the NATS server, the gateway, the Slack fake and the replicas, more\n", m.cores)
		w("replicas cannot add CPU: past one replica per spare core the figure shows what replicas cost,\n")
		w("not what they would bring on a cluster of nodes. Replicas are for availability first.\n\n")
	}
	if n := r.n8n; n != nil {
		w("## e: the same job in n8n\n\n")
		if n.skipped != "" {
			w("Skipped: %s.\n\n", n.skipped)
		} else {
			w("A fresh n8n %s (SQLite, default execution settings, task runners off) with one active\n", n.version)
			w("workflow: a Webhook node (`POST`, answers on receipt) → an HTTP Request node posting\n")
			w("`chat.postMessage` to the Slack fake. The same Healthchecks webhooks from %d connections for\n", r.o.conns)
			w("%s; the figure is the webhooks accepted divided by the time from the first send to the last\n", r.o.duration)
			w("message posted. Then the all-in-one bridge does the same job (its Slack sink, with\n")
			w("idempotency ledger and durable JetStream hop) under the same load.\n\n")
			w("| round | n8n events/s | bridge events/s | bridge / n8n |\n|---|---|---|---|\n")
			for i := range n.n8n {
				w("| %d | %.0f | %.0f | %.0f× |\n", i+1, n.n8n[i], n.bridge[i], n.ratio[i])
			}
			w("\n")
		}
	}
	return b.String()
}

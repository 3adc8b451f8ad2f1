package integration

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

// chaosFigures are what one fault's run printed.
type chaosFigures struct {
	fault                    string
	sent, accepted, attempts int
	unavailable, connErrors  int64
	expected, observed       int
	duplicates, missing      int
	unexpected, outOfOrder   int
}

func (f chaosFigures) String() string {
	return fmt.Sprintf("chaos: fault=%-18s sent=%d accepted=%d requests=%d answered503=%d refused=%d effects=%d/%d duplicates=%d missing=%d unexpected=%d out_of_order=%d",
		f.fault, f.sent, f.accepted, f.attempts, f.unavailable, f.connErrors, f.observed, f.expected,
		f.duplicates, f.missing, f.unexpected, f.outOfOrder)
}

// chaosTally holds, per effect, how often it is expected (0 or 1) and how
// often the fakes saw it. An effect is named "<what> <entity or key>".
type chaosTally struct {
	want       map[string]bool
	got        map[string]int
	outOfOrder []string
}

// expectedEffects lists each accepted event's effects.
func expectedEffects(evs []*chaosEvent) map[string]bool {
	want := make(map[string]bool)
	for _, ev := range evs {
		switch ev.kind {
		case "down":
			want["alert "+ev.entity] = true
			want["n8n "+ev.key] = true
		case "up":
			want["reply "+ev.entity] = true
			want["resolve "+ev.entity] = true
		case "trivy":
			want["security-alert "+ev.entity] = true
			want["ticket "+ev.entity] = true
		case "release":
			want["release-note "+ev.entity] = true
			want["ticket "+ev.entity] = true
		}
	}
	return want
}

// observe reads every fake and counts what it holds.
func (s *chaosSinks) observe(t *testing.T, evs []*chaosEvent) chaosTally {
	t.Helper()
	tl := chaosTally{want: expectedEffects(evs), got: make(map[string]int)}
	var artifacts, tools []string
	for _, ev := range evs {
		switch ev.kind {
		case "trivy":
			artifacts = append(artifacts, ev.entity)
		case "release":
			tools = append(tools, ev.entity)
		}
	}
	// which names the one entity of names that text mentions, or "?".
	which := func(text string, names []string) string {
		found := "?"
		for _, n := range names {
			if strings.Contains(text, n) {
				if found != "?" {
					return "?ambiguous"
				}
				found = n
			}
		}
		return found
	}

	for _, m := range s.slack.Messages("C0INCIDENTS") {
		parts := strings.Split(metadataKey(m), ":")
		if len(parts) < 3 || parts[0] != "check" || parts[2] != "down" {
			tl.got["unknown-incident "+m.TS]++
			continue
		}
		id := parts[1]
		tl.got["alert "+id]++
		if len(m.Replies) > 0 {
			tl.got["reply "+id] += len(m.Replies)
		}
		if m.Updates > 0 {
			tl.got["resolve "+id] += m.Updates
		}
		// Order per entity: once the up is applied the alert stays
		// resolved, and the reply is in the alert's thread.
		if m.Updates > 0 && !strings.Contains(strings.ToLower(m.Text), "resolved") {
			tl.outOfOrder = append(tl.outOfOrder, "check "+id+": updated but not resolved: "+m.Text)
		}
		for _, r := range m.Replies {
			if r.ThreadTS != m.TS {
				tl.outOfOrder = append(tl.outOfOrder, "check "+id+": reply outside the alert's thread")
			}
		}
		if len(m.Replies) > 0 && m.Updates == 0 {
			tl.outOfOrder = append(tl.outOfOrder, "check "+id+": replied to but the alert is not resolved")
		}
	}
	for _, m := range s.slack.Messages("C0SECURITY") {
		tl.got["security-alert "+which(m.Text+string(m.Blocks), artifacts)]++
		tl.got["security-reply "+m.TS] += len(m.Replies)
	}
	for _, m := range s.slack.Messages("C0RELEASES") {
		tl.got["release-note "+which(m.Text+string(m.Blocks), tools)]++
		tl.got["release-reply "+m.TS] += len(m.Replies)
	}
	for _, is := range s.linear.Issues() {
		e := which(is.Title, slices.Concat(artifacts, tools))
		tl.got["ticket "+e]++
		tl.got["comment "+e] += len(is.Comments)
	}
	for _, c := range s.n8n.Started(chaosN8NPath) {
		var ce struct {
			Key string `json:"idempotencykey"`
		}
		_ = json.Unmarshal(c.Body, &ce)
		tl.got["n8n "+ce.Key]++
	}
	for k, v := range tl.got {
		if v == 0 {
			delete(tl.got, k)
		}
	}
	return tl
}

// count returns effects observed, duplicates, missing and unexpected ones,
// with a few examples of what is wrong.
func (tl chaosTally) count() (observed, dup, missing, unexpected int, examples []string) {
	for k, n := range tl.got {
		observed += n
		switch {
		case !tl.want[k]:
			unexpected += n
			examples = append(examples, fmt.Sprintf("unexpected %q ×%d", k, n))
		case n > 1:
			dup += n - 1
			examples = append(examples, fmt.Sprintf("duplicate %q ×%d", k, n))
		}
	}
	for k := range tl.want {
		if tl.got[k] == 0 {
			missing++
			examples = append(examples, fmt.Sprintf("missing %q", k))
		}
	}
	slices.Sort(examples)
	return observed, dup, missing, unexpected, examples
}

// verifyChaos waits until every accepted event's effects are there (or
// the wait runs out), lets the consumers settle so that a late duplicate
// has its chance to show, and checks that each effect happened exactly
// once and nothing else did.
func verifyChaos(t *testing.T, fault string, s *chaosSinks, d *chaosDriver, natsURL string, load chaosLoad) chaosFigures {
	t.Helper()
	evs := d.events()
	deadline := time.Now().Add(3 * time.Minute)
	for {
		_, _, missing, _, _ := s.observe(t, evs).count()
		if missing == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond) // polling the fakes
	}
	if err := chaosSettle(t, natsURL); err != nil {
		t.Errorf("%s: %v", fault, err)
	}
	tl := s.observe(t, evs)
	observed, dup, missing, unexpected, examples := tl.count()
	f := chaosFigures{
		fault: fault, sent: load.total(), accepted: len(evs), attempts: int(d.attempts.Load()),
		unavailable: d.unavailable.Load(), connErrors: d.connErrors.Load(),
		expected: len(tl.want), observed: observed, duplicates: dup, missing: missing,
		unexpected: unexpected, outOfOrder: len(tl.outOfOrder),
	}
	t.Log(f.String())
	if f.accepted != f.sent {
		t.Errorf("%d of %d events accepted", f.accepted, f.sent)
	}
	if dup+missing+unexpected+len(tl.outOfOrder) > 0 {
		if len(examples) > 20 {
			examples = examples[:20]
		}
		t.Errorf("%s: effects not exactly once:\n%s\n%s", fault, strings.Join(examples, "\n"), strings.Join(tl.outOfOrder, "\n"))
	}
	return f
}

// chaosSettle is settle that reports rather than stops the test, so that a
// run that never settles still prints its figures.
func chaosSettle(t *testing.T, url string) error {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		err := settledOnce(t, url)
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(100 * time.Millisecond) // polling bridgectl status
	}
}

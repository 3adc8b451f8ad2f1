package vuln

import (
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/stoa-platform/bridge/pkg/config"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
)

// DefaultMinSeverity is the threshold when the config names none.
const DefaultMinSeverity = bridgev1.Severity_SEVERITY_HIGH

// Policy selects the findings that deserve an alert or a ticket. It is safe
// for concurrent use; its exported fields must not change after NewPolicy.
type Policy struct {
	// MinSeverity keeps findings at or above it.
	MinSeverity bridgev1.Severity
	// FixedOnly keeps only findings with a fixed version.
	FixedOnly bool
	// Ignore drops findings by id until each entry expires.
	Ignore []Ignore

	now func() time.Time
	log *slog.Logger

	mu sync.Mutex
	// expired marks the Ignore entries (by index) already logged as
	// expired, so a long-running process says it once, not per report.
	expired map[int]bool
}

// Ignore is one ignored vulnerability id.
type Ignore struct {
	// ID is a vulnerability id (CVE-…, GHSA-…), matched without regard to case.
	ID string
	// Expires is the first instant the entry no longer applies; zero
	// means never.
	Expires time.Time
	Reason  string
}

// severities are Trivy's names, in the config's spelling.
var severities = map[string]bridgev1.Severity{
	"UNKNOWN":  bridgev1.Severity_SEVERITY_UNKNOWN,
	"LOW":      bridgev1.Severity_SEVERITY_LOW,
	"MEDIUM":   bridgev1.Severity_SEVERITY_MEDIUM,
	"HIGH":     bridgev1.Severity_SEVERITY_HIGH,
	"CRITICAL": bridgev1.Severity_SEVERITY_CRITICAL,
}

// NewPolicy builds the policy of c. min_severity is one of UNKNOWN, LOW,
// MEDIUM, HIGH, CRITICAL in any case, HIGH when empty. An ignore entry's
// expires is a date (YYYY-MM-DD): the entry applies to the end of that day,
// UTC. now tells the time for expiry (time.Now when nil); expired entries
// are logged on log (discarded when nil). Every problem is returned at once.
func NewPolicy(c config.Vulnerabilities, now func() time.Time, log *slog.Logger) (*Policy, error) {
	if now == nil {
		now = time.Now
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Policy{MinSeverity: DefaultMinSeverity, FixedOnly: c.FixedOnly, now: now, log: log, expired: map[int]bool{}}
	var errs []error
	if c.MinSeverity != "" {
		s, ok := severities[strings.ToUpper(strings.TrimSpace(c.MinSeverity))]
		if !ok {
			errs = append(errs, fmt.Errorf("vuln: vulnerabilities.min_severity %q: not one of UNKNOWN, LOW, MEDIUM, HIGH, CRITICAL", c.MinSeverity))
		}
		p.MinSeverity = s
	}
	for i, ig := range c.Ignore {
		id := strings.TrimSpace(ig.ID)
		if id == "" {
			errs = append(errs, fmt.Errorf("vuln: vulnerabilities.ignore[%d].id: required", i))
		}
		e := Ignore{ID: id, Reason: ig.Reason}
		if ig.Expires != "" {
			day, err := time.ParseInLocation(time.DateOnly, strings.TrimSpace(ig.Expires), time.UTC)
			if err != nil {
				errs = append(errs, fmt.Errorf("vuln: vulnerabilities.ignore[%d].expires %q: not a date (YYYY-MM-DD)", i, ig.Expires))
			}
			// The named day is still ignored: the entry ends at midnight after it.
			e.Expires = day.AddDate(0, 0, 1)
		}
		p.Ignore = append(p.Ignore, e)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return p, nil
}

// Apply returns the findings p keeps: at or above MinSeverity (an
// unspecified severity counts as UNKNOWN), with a fixed version when
// FixedOnly, and not ignored by an unexpired entry. Each entry found expired
// is logged once in p's life. The input slice and its findings are not
// modified; the result shares the findings, in the input's order.
func (p *Policy) Apply(findings []*bridgev1.Finding) []*bridgev1.Finding {
	ignored := p.active()
	var out []*bridgev1.Finding
	for _, f := range findings {
		switch {
		case f == nil:
		case severity(f.Severity) < p.MinSeverity:
		case p.FixedOnly && f.FixedVersion == "":
		case ignored[strings.ToUpper(f.Id)]:
		default:
			out = append(out, f)
		}
	}
	return out
}

// active returns the upper-cased ids of the unexpired entries, and logs
// the entries that expired since the last call.
func (p *Policy) active() map[string]bool {
	now := p.now()
	ids := make(map[string]bool, len(p.Ignore))
	p.mu.Lock()
	defer p.mu.Unlock()
	for i, e := range p.Ignore {
		if e.Expires.IsZero() || now.Before(e.Expires) {
			ids[strings.ToUpper(e.ID)] = true
			continue
		}
		if !p.expired[i] {
			p.expired[i] = true
			p.log.Warn("vulnerability ignore entry expired: its findings count again",
				"vulnerability_id", e.ID, "expired_at", e.Expires, "reason", e.Reason)
		}
	}
	return ids
}

func severity(s bridgev1.Severity) bridgev1.Severity {
	if s == bridgev1.Severity_SEVERITY_UNSPECIFIED {
		return bridgev1.Severity_SEVERITY_UNKNOWN
	}
	return s
}

// Package source holds what every webhook parser (source/healthchecks,
// source/github, source/trivy) shares: the meanings a parser gives to a body
// it does not turn into an event. Parsers return meaning; only the HTTP
// handler in package gateway turns it into a status code.
package source

import (
	"errors"
	"fmt"
)

var (
	// ErrMalformed is wrapped by a parser's error when the body is not what
	// the source documents: not JSON, a required field missing or invalid.
	// The gateway answers it 400 with the error's text as the reason.
	ErrMalformed = errors.New("malformed payload")
	// ErrUnsupported is wrapped by a parser's error when the body is valid
	// but carries nothing the bridge acts on (a GitHub ping, a draft
	// release). The gateway answers it 200 with the error's text as the
	// reason and publishes nothing.
	ErrUnsupported = errors.New("unsupported payload")
)

// Malformedf returns an error that matches ErrMalformed and reads as the
// formatted reason alone, e.g. `healthchecks: "now" is not an RFC 3339 time`,
// so that the gateway can answer it as is. The reason must be one line and
// must not quote the body: it is sent back to the caller and logged.
func Malformedf(format string, a ...any) error {
	return &reasonError{reason: fmt.Sprintf(format, a...), kind: ErrMalformed}
}

// Unsupportedf is Malformedf for ErrUnsupported.
func Unsupportedf(format string, a ...any) error {
	return &reasonError{reason: fmt.Sprintf(format, a...), kind: ErrUnsupported}
}

// reasonError carries a sentinel without repeating its text: the reason is
// what a webhook sender reads in the answer.
type reasonError struct {
	reason string
	kind   error
}

func (e *reasonError) Error() string { return e.reason }
func (e *reasonError) Unwrap() error { return e.kind }

// Ignored is an ErrUnsupported that says why in two ways: Reason is a short
// label from a small fixed set the parser declares (e.g. "ping", "draft"),
// used as the reason label of bridge_events_ignored_total, and Detail is
// the one-line text the sender reads in the 200 answer. Keeping the two
// apart keeps the metric's cardinality bounded however the detail varies.
type Ignored struct {
	Reason string
	Detail string
}

// Error returns Detail, or Reason when Detail is empty.
func (e *Ignored) Error() string {
	if e.Detail != "" {
		return e.Detail
	}
	return e.Reason
}

// Unwrap makes an Ignored match ErrUnsupported.
func (e *Ignored) Unwrap() error { return ErrUnsupported }

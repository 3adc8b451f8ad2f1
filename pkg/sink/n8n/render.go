package n8n

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	"github.com/stoa-platform/bridge/pkg/event"
	"github.com/stoa-platform/bridge/pkg/event/bridgev1"
)

// ContentType is the Content-Type of a CloudEvents 1.0 structured-mode
// request, which the sink sends by default.
const ContentType = "application/cloudevents+json"

// ContentTypeJSON is the Content-Type a route may use instead, with the
// same structured body: n8n 1.x's Webhook node parses only application/json
// (among JSON types) and hands any other type to the workflow as a binary
// file, with $json.body empty.
const ContentTypeJSON = "application/json"

// cloudEvent is the structured CloudEvents 1.0 JSON form of an event.
// idempotencykey and traceparent are extension attributes (CloudEvents
// extension names are lowercase letters and digits); traceparent follows
// the CloudEvents distributed-tracing extension.
type cloudEvent struct {
	SpecVersion     string          `json:"specversion"`
	ID              string          `json:"id"`
	Source          string          `json:"source"`
	Type            string          `json:"type"`
	Subject         string          `json:"subject,omitempty"`
	Time            string          `json:"time"`
	DataContentType string          `json:"datacontenttype"`
	IdempotencyKey  string          `json:"idempotencykey"`
	Traceparent     string          `json:"traceparent,omitempty"`
	Data            json.RawMessage `json:"data"`
}

// Render returns the CloudEvents structured JSON body for ev.
//
// data is the event's payload message alone (not the envelope's oneof
// wrapper: type already says which it is) in protojson form with the
// proto field names ("check_id", "installed_version"), enums by name
// ("CHECK_STATUS_DOWN", "SEVERITY_CRITICAL"), timestamps in RFC 3339 and
// unset fields left out. The output is compact and byte-for-byte stable
// (protojson's deliberately unstable spacing is compacted away).
func Render(ev *event.Event) ([]byte, error) {
	payload, err := payloadOf(ev)
	if err != nil {
		return nil, err
	}
	raw, err := protojson.MarshalOptions{UseProtoNames: true}.Marshal(payload)
	if err != nil {
		return nil, fmt.Errorf("n8n: marshal the payload of %s: %w", ev.GetId(), err)
	}
	var data bytes.Buffer
	if err := json.Compact(&data, raw); err != nil {
		return nil, fmt.Errorf("n8n: compact the payload of %s: %w", ev.GetId(), err)
	}
	spec := ev.GetSpecVersion()
	if spec == "" {
		spec = event.SpecVersion
	}
	ce := cloudEvent{
		SpecVersion:     spec,
		ID:              ev.GetId(),
		Source:          ev.GetSource(),
		Type:            ev.GetType(),
		Subject:         ev.GetSubject(),
		Time:            ev.GetTime().AsTime().UTC().Format(time.RFC3339Nano),
		DataContentType: "application/json",
		IdempotencyKey:  ev.GetIdempotencyKey(),
		Traceparent:     ev.GetTraceparent(),
		Data:            data.Bytes(),
	}
	// No HTML escaping: the body is not HTML, and "<b>" reads better in an
	// n8n execution than "\u003cb\u003e".
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ce); err != nil {
		return nil, fmt.Errorf("n8n: marshal event %s: %w", ev.GetId(), err)
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

func payloadOf(ev *event.Event) (proto.Message, error) {
	switch d := ev.GetData().(type) {
	case *bridgev1.Event_ReleasePublished:
		return d.ReleasePublished, nil
	case *bridgev1.Event_VulnerabilityReport:
		return d.VulnerabilityReport, nil
	case *bridgev1.Event_CheckStatusChanged:
		return d.CheckStatusChanged, nil
	}
	return nil, fmt.Errorf("n8n: event %s has no payload", ev.GetId())
}

package notifytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"
	"unicode/utf8"
)

// PagerDutyPath is the Events API v2 path the PagerDuty receiver serves.
const PagerDutyPath = "/v2/enqueue"

// NewPagerDuty starts a receiver that behaves like the Events API v2 at URL()+PagerDutyPath:
// 202 {"status":"success","message":"Event processed","dedup_key":...} for a valid event,
// 400 {"status":"invalid event","message":"Event object is invalid","errors":[...]}
// otherwise.
func NewPagerDuty(t testing.TB) *Receiver {
	return NewReceiver(t, ReceiverOptions{
		Validate: func(r *http.Request, body []byte) error {
			if r.URL.Path != PagerDutyPath {
				return errorf("path: want %s, got %s", PagerDutyPath, r.URL.Path)
			}
			if err := checkPost(r); err != nil {
				return err
			}
			return ValidatePagerDuty(body)
		},
		Valid: func(body []byte) Reply {
			var ev struct {
				DedupKey string `json:"dedup_key"`
			}
			_ = json.Unmarshal(body, &ev)
			if ev.DedupKey == "" {
				ev.DedupKey = "generated-dedup-key"
			}
			out, _ := json.Marshal(map[string]string{"status": "success", "message": "Event processed", "dedup_key": ev.DedupKey})
			return Reply{Code: http.StatusAccepted, Body: string(out), Header: http.Header{"Content-Type": {"application/json"}}}
		},
		Invalid: func(err error) Reply {
			var msgs []string
			for _, e := range unjoin(err) {
				msgs = append(msgs, e.Error())
			}
			out, _ := json.Marshal(map[string]any{"status": "invalid event", "message": "Event object is invalid", "errors": msgs})
			return Reply{Code: http.StatusBadRequest, Body: string(out), Header: http.Header{"Content-Type": {"application/json"}}}
		},
	})
}

type pdEvent struct {
	RoutingKey  *string          `json:"routing_key"`
	EventAction *string          `json:"event_action"`
	DedupKey    *string          `json:"dedup_key"`
	Payload     *pdPayload       `json:"payload"`
	Client      string           `json:"client"`
	ClientURL   string           `json:"client_url"`
	Links       []map[string]any `json:"links"`
	Images      []map[string]any `json:"images"`
}

type pdPayload struct {
	Summary       *string         `json:"summary"`
	Source        *string         `json:"source"`
	Severity      *string         `json:"severity"`
	Timestamp     string          `json:"timestamp"`
	Component     string          `json:"component"`
	Group         string          `json:"group"`
	Class         string          `json:"class"`
	CustomDetails json.RawMessage `json:"custom_details"`
}

// ValidatePagerDuty checks an Events API v2 body against the documented rules
// (https://developer.pagerduty.com/docs/events-api-v2/trigger-events/): no unknown fields;
// routing_key of 32 characters; event_action trigger, acknowledge or resolve; dedup_key
// at most 255 characters and required for acknowledge and resolve; for trigger a payload
// with summary (1-1024 characters), source and severity (critical, error, warning, info),
// an ISO 8601 timestamp if any, custom_details an object if any, links with an href.
func ValidatePagerDuty(body []byte) error {
	var ev pdEvent
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&ev); err != nil {
		return errorf("body: %v", err)
	}
	var errs []error
	switch {
	case ev.RoutingKey == nil:
		errs = append(errs, errorf("'routing_key' is missing"))
	case len(*ev.RoutingKey) != 32:
		errs = append(errs, errorf("Length of 'routing_key' is incorrect (should be 32 characters)"))
	}
	action := ""
	if ev.EventAction != nil {
		action = *ev.EventAction
	}
	switch action {
	case "trigger", "acknowledge", "resolve":
	default:
		errs = append(errs, errorf("'event_action' is invalid (must be one of trigger, acknowledge, resolve), got %q", action))
	}
	if ev.DedupKey != nil && (*ev.DedupKey == "" || utf8.RuneCountInString(*ev.DedupKey) > 255) {
		errs = append(errs, errorf("'dedup_key' must be 1-255 characters"))
	}
	if (action == "acknowledge" || action == "resolve") && ev.DedupKey == nil {
		errs = append(errs, errorf("'dedup_key' is required for event_action %s", action))
	}
	if action == "trigger" {
		errs = append(errs, validatePDPayload(ev.Payload))
	}
	for i, l := range ev.Links {
		if href, _ := l["href"].(string); href == "" {
			errs = append(errs, errorf("'links[%d].href' is missing", i))
		}
	}
	return errors.Join(errs...)
}

func validatePDPayload(p *pdPayload) error {
	if p == nil {
		return errorf("'payload' is missing")
	}
	var errs []error
	switch {
	case p.Summary == nil || *p.Summary == "":
		errs = append(errs, errorf("'payload.summary' is missing or blank"))
	case utf8.RuneCountInString(*p.Summary) > 1024:
		errs = append(errs, errorf("'payload.summary' is longer than 1024 characters"))
	}
	if p.Source == nil || *p.Source == "" {
		errs = append(errs, errorf("'payload.source' is missing or blank"))
	}
	sev := ""
	if p.Severity != nil {
		sev = *p.Severity
	}
	switch sev {
	case "critical", "error", "warning", "info":
	default:
		errs = append(errs, errorf("'payload.severity' is invalid (must be one of critical, error, warning, info), got %q", sev))
	}
	if p.Timestamp != "" {
		if _, err := time.Parse(time.RFC3339, p.Timestamp); err != nil {
			errs = append(errs, errorf("'payload.timestamp' is not an ISO 8601 timestamp: %q", p.Timestamp))
		}
	}
	if len(p.CustomDetails) > 0 {
		var obj map[string]any
		if json.Unmarshal(p.CustomDetails, &obj) != nil {
			errs = append(errs, errorf("'payload.custom_details' must be an object"))
		}
	}
	return errors.Join(errs...)
}

// unjoin splits an errors.Join error into its parts.
func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, unjoin(e)...)
		}
		return out
	}
	return []error{err}
}

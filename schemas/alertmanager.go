package schemas

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
)

// AlertmanagerVersion is the Prometheus Alertmanager webhook payload version that
// DecodeAlertmanager reads.
const AlertmanagerVersion = "4"

// Alert statuses of the Alertmanager webhook payload.
const (
	AlertFiring   = "firing"
	AlertResolved = "resolved"
)

// AlertmanagerSource is the source of an alert without a service, job or instance label.
const AlertmanagerSource = "alertmanager"

// alertWire is one alert of the webhook payload; unknown fields are ignored.
type alertWire struct {
	Status       string            `json:"status"`
	Labels       map[string]string `json:"labels"`
	Annotations  map[string]string `json:"annotations"`
	StartsAt     string            `json:"startsAt"`
	EndsAt       string            `json:"endsAt"`
	GeneratorURL string            `json:"generatorURL"`
	Fingerprint  string            `json:"fingerprint"`
}

// DecodeAlertmanager turns a Prometheus Alertmanager webhook body (payload version "4")
// into events, one per alert, in order. Unknown fields are ignored and every field but
// "alerts" is optional; a known field of the wrong type is a *FieldError naming it
// ("alerts[2].labels"). The mapping:
//
//   - event_type: labels.event_type, else labels.alertname; a resolved alert becomes a
//     recovery event of type "resolved" (see IsRecoveryEvent), its alert type kept in
//     metadata.alert_event_type.
//   - source: labels.service, else labels.job, else labels.instance, else "alertmanager";
//     component: labels.component, else labels.instance, else the source.
//   - severity: from labels.severity (see AlertSeverity).
//   - message: annotations.summary and annotations.description.
//   - correlation_id: the alert's fingerprint, so firing and resolved events pair up.
//   - metadata: fingerprint, alert_status, alertname, alert_event_type, labels,
//     annotations, starts_at, ends_at, generator_url, receiver, group_key, external_url.
//   - event_id: derived from fingerprint, startsAt and status, so that Alertmanager
//     re-sending the same notification (repeat_interval, retries) is stored once.
//
// Timestamps are left zero: the event is timed when it is received, since startsAt of a
// long-firing alert may be far older than any detection window.
func DecodeAlertmanager(body []byte) ([]Event, error) {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil || top == nil {
		msg := "want the Alertmanager webhook JSON object"
		if err != nil {
			msg += ": " + err.Error()
		}
		return nil, &FieldError{Index: -1, Field: "(body)", Message: msg}
	}
	var version, status, receiver, groupKey, externalURL string
	for _, f := range []struct {
		name string
		dst  *string
	}{{"version", &version}, {"status", &status}, {"receiver", &receiver}, {"groupKey", &groupKey}, {"externalURL", &externalURL}} {
		if err := decodeField(top[f.name], f.dst, f.name); err != nil {
			return nil, err
		}
	}
	if version != "" && version != AlertmanagerVersion {
		return nil, &FieldError{Index: -1, Field: "version", Message: fmt.Sprintf("payload version %q is not supported: want %q", version, AlertmanagerVersion)}
	}
	var alerts []json.RawMessage
	if raw, ok := top["alerts"]; !ok || string(raw) == "null" {
		return nil, &FieldError{Index: -1, Field: "alerts", Message: "is required"}
	}
	if err := decodeField(top["alerts"], &alerts, "alerts"); err != nil {
		return nil, err
	}
	if len(alerts) == 0 {
		return nil, &FieldError{Index: -1, Field: "alerts", Message: "empty: the payload carries no alert"}
	}
	common := map[string]any{}
	for k, v := range map[string]string{"receiver": receiver, "group_key": groupKey, "external_url": externalURL} {
		if v != "" {
			common[k] = v
		}
	}
	events := make([]Event, 0, len(alerts))
	for i, raw := range alerts {
		ev, err := decodeAlert(raw, i, status, common)
		if err != nil {
			return nil, err
		}
		events = append(events, ev)
	}
	return events, nil
}

// decodeField unmarshals an optional field; a wrong type is a FieldError naming path.
func decodeField(raw json.RawMessage, dst any, path string) error {
	if len(raw) == 0 || string(raw) == "null" {
		return nil
	}
	if err := json.Unmarshal(raw, dst); err != nil {
		kind := "string"
		switch dst.(type) {
		case *[]json.RawMessage:
			kind = "array"
		case *map[string]string:
			kind = "object of string values"
		}
		return &FieldError{Index: -1, Field: path, Message: "must be a JSON " + kind}
	}
	return nil
}

func decodeAlert(raw json.RawMessage, i int, groupStatus string, common map[string]any) (Event, error) {
	path := fmt.Sprintf("alerts[%d]", i)
	fe := func(field, msg string) error { return &FieldError{Index: -1, Field: path + "." + field, Message: msg} }
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(raw, &fields); err != nil || fields == nil {
		return Event{}, &FieldError{Index: -1, Field: path, Message: "must be a JSON object"}
	}
	var a alertWire
	for _, f := range []struct {
		name string
		dst  any
	}{{"status", &a.Status}, {"labels", &a.Labels}, {"annotations", &a.Annotations}, {"startsAt", &a.StartsAt},
		{"endsAt", &a.EndsAt}, {"generatorURL", &a.GeneratorURL}, {"fingerprint", &a.Fingerprint}} {
		if err := decodeField(fields[f.name], f.dst, path+"."+f.name); err != nil {
			return Event{}, err
		}
	}
	status := strings.ToLower(strings.TrimSpace(a.Status))
	if status == "" {
		status = strings.ToLower(strings.TrimSpace(groupStatus))
	}
	switch status {
	case AlertFiring, AlertResolved:
	case "":
		return Event{}, fe("status", "is required (firing or resolved)")
	default:
		return Event{}, fe("status", fmt.Sprintf("want firing or resolved, got %q", a.Status))
	}
	label := func(keys ...string) (string, string) {
		for _, k := range keys {
			if v := strings.TrimSpace(a.Labels[k]); v != "" {
				return v, k
			}
		}
		return "", ""
	}
	typ, typKey := label("event_type", "alertname")
	if typ == "" {
		return Event{}, fe("labels", "needs an alertname or event_type label")
	}
	source, sourceKey := label("service", "job", "instance")
	if source == "" {
		source, sourceKey = AlertmanagerSource, ""
	}
	component, componentKey := label("component", "instance")
	if component == "" {
		component, componentKey = source, sourceKey
	}
	for _, f := range []struct{ key, value string }{{typKey, typ}, {sourceKey, source}, {componentKey, component}} {
		if f.key != "" && len(f.value) > MaxNameLen {
			return Event{}, fe("labels."+f.key, fmt.Sprintf("longer than %d characters", MaxNameLen))
		}
	}

	ev := Event{
		EventID:   alertEventID(&a, status),
		EventType: typ,
		Source:    source,
		Component: component,
		Severity:  AlertSeverity(a.Labels["severity"]),
		Message:   alertMessage(&a, typ),
	}
	if fp := strings.TrimSpace(a.Fingerprint); fp != "" && len(fp) <= MaxIDLen {
		ev.CorrelationID = fp
	}
	if status == AlertResolved {
		ev.EventType = "resolved"
		ev.Message = truncate("resolved: "+ev.Message, MaxMessageLen)
	}
	md := map[string]any{"alert_status": status, "alert_event_type": typ}
	for k, v := range common {
		md[k] = v
	}
	for k, v := range map[string]string{"fingerprint": a.Fingerprint, "alertname": a.Labels["alertname"],
		"starts_at": a.StartsAt, "ends_at": a.EndsAt, "generator_url": a.GeneratorURL} {
		if v != "" && !strings.HasPrefix(v, "0001-01-01") { // Go's zero time: not set
			md[k] = v
		}
	}
	if len(a.Labels) > 0 {
		md["labels"] = stringMap(a.Labels)
	}
	if len(a.Annotations) > 0 {
		md["annotations"] = stringMap(a.Annotations)
	}
	// Bound the metadata: the optional parts go first.
	for _, drop := range []string{"", "annotations", "generator_url", "external_url", "group_key"} {
		delete(md, drop)
		if b, err := json.Marshal(md); err == nil && len(b) <= MaxMetadataLen {
			ev.Metadata = md
			return ev, nil
		}
	}
	return Event{}, fe("labels", fmt.Sprintf("the alert's labels are larger than %d bytes", MaxMetadataLen))
}

// AlertSeverity maps an Alertmanager severity label (any letter case) to a severity:
// critical, page, fatal, emergency -> critical; high, error, major -> high; warning,
// warn, medium, minor -> medium; info, informational, low, none, debug -> low. A missing
// or unknown label gives medium, the default of events.
func AlertSeverity(label string) Severity {
	switch strings.ToLower(strings.TrimSpace(label)) {
	case "critical", "crit", "page", "fatal", "emergency", "disaster":
		return SeverityCritical
	case "high", "error", "err", "major":
		return SeverityHigh
	case "info", "informational", "low", "none", "debug":
		return SeverityLow
	}
	return SeverityMedium
}

// alertMessage joins the summary and description annotations; without either it names
// the alert.
func alertMessage(a *alertWire, typ string) string {
	summary := strings.TrimSpace(a.Annotations["summary"])
	desc := strings.TrimSpace(a.Annotations["description"])
	msg := summary
	switch {
	case msg == "":
		msg = desc
	case desc != "" && desc != summary:
		msg += ": " + desc
	}
	if msg == "" {
		msg = typ
	}
	return truncate(msg, MaxMessageLen)
}

// alertEventID identifies one alert episode and status: the fingerprint (or the labels,
// when Alertmanager sent none), startsAt and the status.
func alertEventID(a *alertWire, status string) string {
	h := sha256.New()
	if a.Fingerprint != "" {
		h.Write([]byte(a.Fingerprint))
	} else {
		keys := make([]string, 0, len(a.Labels))
		for k := range a.Labels {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			h.Write([]byte(k + "\x00" + a.Labels[k] + "\x00"))
		}
	}
	h.Write([]byte("\xff" + a.StartsAt + "\xff" + status))
	return "am_" + hex.EncodeToString(h.Sum(nil)[:16])
}

func stringMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// truncate cuts s to at most n bytes on a rune boundary.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[:n]
	// Drop a rune cut in half (at most 3 bytes of it).
	for i := 0; i < utf8.UTFMax-1 && len(s) > 0; i++ {
		if r, size := utf8.DecodeLastRuneInString(s); r != utf8.RuneError || size > 1 {
			break
		}
		s = s[:len(s)-1]
	}
	return s
}

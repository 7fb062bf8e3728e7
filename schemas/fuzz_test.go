package schemas

import (
	"errors"
	"testing"
	"time"
)

// The ingest decoders face the network: whatever the body, they must not panic, and a
// refusal must be a *FieldError naming a field. `make test` runs each briefly:
//
//	go test -run '^$' -fuzz '^FuzzDecodeEvents$' -fuzztime 10s ./schemas/

var fuzzNow = time.Date(2026, 1, 2, 15, 0, 0, 0, time.UTC)

func FuzzDecodeEvents(f *testing.F) {
	for _, seed := range []string{
		`{"event_type":"error","source":"api","severity":"HIGH","message":"Test error 1"}`,
		`[{"type":"service_down","source":"auth_service"},{"event_type":"memory_high","source":"w","timestamp":1767366000.5}]`,
		`{"events":[{"event_type":"error","source":"api","metadata":{"k":[1,2]},"timestamp":"2026-01-02T15:00:00Z"}]}`,
		`{"event_type":"error","type":"other","source":"api"}`,
		`[]`, `{}`, `null`, `"x"`, `{"events":{}}`, `[{"event_type":1}]`, `{"metadata":[]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := DecodeEvents(body)
		if err != nil {
			checkFieldError(t, err)
			return
		}
		if len(events) == 0 {
			t.Fatal("no error and no events")
		}
		for i := range events {
			if err := events[i].Normalize(fuzzNow, func() string { return "id" }, i); err != nil {
				checkFieldError(t, err)
			}
		}
	})
}

func FuzzDecodeAlertmanager(f *testing.F) {
	for _, seed := range []string{
		amPayload,
		`{"alerts":[{"status":"firing","labels":{"alertname":"Watchdog"}}]}`,
		`{"version":"4","status":"resolved","alerts":[{"labels":{"alertname":"A","job":"j","severity":"page"}}]}`,
		`{"alerts":[{"status":"firing","labels":{"alertname":1}}]}`,
		`{"alerts":[]}`, `{}`, `[]`, `null`, `{"alerts":[null]}`, `{"version":4}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		events, err := DecodeAlertmanager(body)
		if err != nil {
			checkFieldError(t, err)
			return
		}
		if len(events) == 0 {
			t.Fatal("no error and no events")
		}
		again, err := DecodeAlertmanager(body)
		if err != nil {
			t.Fatalf("second decode failed: %v", err)
		}
		for i := range events {
			if events[i].EventID != again[i].EventID {
				t.Fatalf("alerts[%d]: event ID not stable: %s, %s", i, events[i].EventID, again[i].EventID)
			}
			// Every decoded alert is a valid event: the decoder checked what Normalize checks.
			if err := events[i].Normalize(fuzzNow, func() string { return "id" }, i); err != nil {
				t.Fatalf("alerts[%d]: decoded event does not normalize: %v", i, err)
			}
		}
	})
}

func checkFieldError(t *testing.T, err error) {
	t.Helper()
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error is %T, not a *FieldError: %v", err, err)
	}
	if fe.Field == "" || fe.Message == "" {
		t.Fatalf("field error without field or message: %#v", fe)
	}
}

package notifytest

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"
)

// NewWebhook starts a receiver for the generic webhook channel: 204 for a valid request,
// 401 for a bad signature, 400 for a bad body. With a secret it checks the signature
// (computed here independently of notify/webhook) and that the timestamp is within five
// minutes of now(); without one it requires that no signature is sent.
func NewWebhook(t testing.TB, secret string, now func() time.Time) *Receiver {
	return NewReceiver(t, ReceiverOptions{
		Validate: func(r *http.Request, body []byte) error {
			if err := checkPost(r); err != nil {
				return err
			}
			if err := checkSignature(r.Header, body, secret, now()); err != nil {
				return err
			}
			return ValidateWebhook(body)
		},
		Valid: func([]byte) Reply { return Reply{Code: http.StatusNoContent} },
		Invalid: func(err error) Reply {
			if errors.Is(err, errSignature) {
				return Reply{Code: http.StatusUnauthorized, Body: err.Error()}
			}
			return Reply{Code: http.StatusBadRequest, Body: err.Error()}
		},
	})
}

var errSignature = errors.New("signature")

func checkSignature(h http.Header, body []byte, secret string, now time.Time) error {
	got := h.Get("X-Mahavishnu-Signature")
	if secret == "" {
		if got != "" {
			return errorf("%w: X-Mahavishnu-Signature sent without a secret", errSignature)
		}
		return nil
	}
	ts := h.Get("X-Mahavishnu-Timestamp")
	secs, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return errorf("%w: X-Mahavishnu-Timestamp %q is not Unix seconds", errSignature, ts)
	}
	if d := now.Sub(time.Unix(secs, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return errorf("%w: X-Mahavishnu-Timestamp %s is %s away from now", errSignature, ts, d)
	}
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(ts + "." + string(body)))
	want := "sha256=" + hex.EncodeToString(mac.Sum(nil))
	if !hmac.Equal([]byte(got), []byte(want)) {
		return errorf("%w: X-Mahavishnu-Signature does not verify", errSignature)
	}
	return nil
}

// ValidateWebhook checks a webhook body: a JSON object with version 1, incident_id, kind,
// title, severity and at (RFC 3339), and links an object.
func ValidateWebhook(body []byte) error {
	var p struct {
		Version    *int            `json:"version"`
		IncidentID string          `json:"incident_id"`
		Kind       string          `json:"kind"`
		Title      string          `json:"title"`
		Severity   string          `json:"severity"`
		At         string          `json:"at"`
		Links      json.RawMessage `json:"links"`
	}
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(&p); err != nil {
		return errorf("body: %v", err)
	}
	var errs []error
	if p.Version == nil || *p.Version != 1 {
		errs = append(errs, errorf("version: want 1"))
	}
	for name, v := range map[string]string{"incident_id": p.IncidentID, "kind": p.Kind, "title": p.Title, "severity": p.Severity} {
		if v == "" {
			errs = append(errs, errorf("%s: missing", name))
		}
	}
	if _, err := time.Parse(time.RFC3339Nano, p.At); err != nil {
		errs = append(errs, errorf("at: want an RFC 3339 time, got %q", p.At))
	}
	var links map[string]string
	if json.Unmarshal(p.Links, &links) != nil {
		errs = append(errs, errorf("links: want an object"))
	}
	return errors.Join(errs...)
}

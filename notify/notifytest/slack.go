package notifytest

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"testing"
	"unicode/utf8"
)

func errorf(format string, args ...any) error { return fmt.Errorf(format, args...) }

// NewSlack starts a receiver that behaves like a Slack incoming webhook: 200 "ok" for a
// valid message, 400 "invalid_blocks" (or "invalid_payload") with the reason otherwise.
func NewSlack(t testing.TB) *Receiver {
	return NewReceiver(t, ReceiverOptions{
		Validate: func(r *http.Request, body []byte) error {
			if err := checkPost(r); err != nil {
				return err
			}
			return ValidateSlack(body)
		},
		Valid: func([]byte) Reply { return Reply{Code: http.StatusOK, Body: "ok"} },
		Invalid: func(err error) Reply {
			return Reply{Code: http.StatusBadRequest, Body: "invalid_blocks: " + err.Error()}
		},
	})
}

// slackTopLevel are the fields an incoming webhook accepts.
var slackTopLevel = map[string]bool{"text": true, "blocks": true, "attachments": true, "thread_ts": true,
	"mrkdwn": true, "username": true, "icon_emoji": true, "icon_url": true, "channel": true,
	"unfurl_links": true, "unfurl_media": true}

type slackText struct {
	Type  string `json:"type"`
	Text  string `json:"text"`
	Emoji *bool  `json:"emoji"`
}

type slackElement struct {
	Type     string          `json:"type"`
	Text     json.RawMessage `json:"text"`
	URL      string          `json:"url"`
	ActionID string          `json:"action_id"`
	Value    string          `json:"value"`
	Style    string          `json:"style"`
	ImageURL string          `json:"image_url"`
	AltText  string          `json:"alt_text"`
}

type slackBlock struct {
	Type     string         `json:"type"`
	BlockID  string         `json:"block_id"`
	Text     *slackText     `json:"text"`
	Fields   []slackText    `json:"fields"`
	Elements []slackElement `json:"elements"`
}

// ValidateSlack checks an incoming-webhook body against Slack's rules for the blocks this
// project uses (https://api.slack.com/reference/block-kit/blocks): known top-level fields,
// a blocks array (1-50), known block types, header plain_text of at most 150 characters,
// section text (at most 3000) or fields (at most 10, each at most 2000), actions of buttons
// (text at most 75, absolute http(s) URL at most 3000, unique action_id), context elements
// (1-10) and unique block IDs.
func ValidateSlack(body []byte) error {
	var top map[string]json.RawMessage
	if err := json.Unmarshal(body, &top); err != nil {
		return errorf("invalid_payload: body is not a JSON object: %v", err)
	}
	for k := range top {
		if !slackTopLevel[k] {
			return errorf("invalid_payload: unknown field %q", k)
		}
	}
	if raw, ok := top["text"]; ok {
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return errorf("invalid_payload: text must be a string")
		}
	}
	raw, ok := top["blocks"]
	if !ok {
		return errorf("blocks: missing")
	}
	var blocks []slackBlock
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&blocks); err != nil {
		return errorf("blocks: %v", err)
	}
	if len(blocks) == 0 || len(blocks) > 50 {
		return errorf("blocks: want 1-50 blocks, got %d", len(blocks))
	}
	var errs []error
	blockIDs, actionIDs := map[string]bool{}, map[string]bool{}
	for i, b := range blocks {
		at := fmt.Sprintf("blocks[%d]", i)
		if b.BlockID != "" {
			if blockIDs[b.BlockID] || len(b.BlockID) > 255 {
				errs = append(errs, errorf("%s.block_id: duplicate or too long", at))
			}
			blockIDs[b.BlockID] = true
		}
		switch b.Type {
		case "header":
			errs = append(errs, checkText(at+".text", b.Text, "plain_text", 150))
		case "section":
			if b.Text == nil && len(b.Fields) == 0 {
				errs = append(errs, errorf("%s: a section needs text or fields", at))
			}
			if b.Text != nil {
				errs = append(errs, checkText(at+".text", b.Text, "", 3000))
			}
			if len(b.Fields) > 10 {
				errs = append(errs, errorf("%s.fields: at most 10, got %d", at, len(b.Fields)))
			}
			for j := range b.Fields {
				errs = append(errs, checkText(fmt.Sprintf("%s.fields[%d]", at, j), &b.Fields[j], "", 2000))
			}
		case "actions":
			errs = append(errs, checkActions(at, b.Elements, actionIDs))
		case "context":
			if len(b.Elements) == 0 || len(b.Elements) > 10 {
				errs = append(errs, errorf("%s.elements: want 1-10, got %d", at, len(b.Elements)))
			}
			for j, e := range b.Elements {
				if e.Type != "mrkdwn" && e.Type != "plain_text" && e.Type != "image" {
					errs = append(errs, errorf("%s.elements[%d].type: %q is not allowed in a context block", at, j, e.Type))
				}
			}
		case "divider":
		default:
			errs = append(errs, errorf("%s.type: unknown or unsupported block type %q", at, b.Type))
		}
	}
	return errors.Join(errs...)
}

func checkActions(at string, elements []slackElement, actionIDs map[string]bool) error {
	if len(elements) == 0 || len(elements) > 25 {
		return errorf("%s.elements: want 1-25, got %d", at, len(elements))
	}
	var errs []error
	for j, e := range elements {
		eat := fmt.Sprintf("%s.elements[%d]", at, j)
		if e.Type != "button" {
			errs = append(errs, errorf("%s.type: want button, got %q", eat, e.Type))
			continue
		}
		var text slackText
		if err := json.Unmarshal(e.Text, &text); err != nil {
			errs = append(errs, errorf("%s.text: want a text object", eat))
		} else {
			errs = append(errs, checkText(eat+".text", &text, "plain_text", 75))
		}
		if e.URL != "" {
			u, err := url.Parse(e.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || len(e.URL) > 3000 {
				errs = append(errs, errorf("%s.url: want an absolute http(s) URL of at most 3000 characters", eat))
			}
		}
		if e.Style != "" && e.Style != "primary" && e.Style != "danger" {
			errs = append(errs, errorf("%s.style: want primary or danger, got %q", eat, e.Style))
		}
		if len(e.Value) > 2000 {
			errs = append(errs, errorf("%s.value: at most 2000 characters", eat))
		}
		if e.ActionID != "" {
			if actionIDs[e.ActionID] || len(e.ActionID) > 255 {
				errs = append(errs, errorf("%s.action_id: duplicate or too long", eat))
			}
			actionIDs[e.ActionID] = true
		}
	}
	return errors.Join(errs...)
}

// checkText checks a text object; wantType "" accepts plain_text or mrkdwn.
func checkText(at string, t *slackText, wantType string, max int) error {
	if t == nil {
		return errorf("%s: missing", at)
	}
	if wantType != "" && t.Type != wantType {
		return errorf("%s.type: want %s, got %q", at, wantType, t.Type)
	}
	if t.Type != "plain_text" && t.Type != "mrkdwn" {
		return errorf("%s.type: want plain_text or mrkdwn, got %q", at, t.Type)
	}
	if t.Emoji != nil && t.Type != "plain_text" {
		return errorf("%s.emoji: only plain_text takes emoji", at)
	}
	if n := utf8.RuneCountInString(t.Text); n == 0 || n > max {
		return errorf("%s.text: want 1-%d characters, got %d", at, max, n)
	}
	return nil
}

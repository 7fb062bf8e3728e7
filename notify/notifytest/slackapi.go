package notifytest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
)

// SlackAPI is a local stand-in for the Slack Web API methods this project calls:
// chat.postMessage, chat.update, chat.postEphemeral and views.open. It checks the bearer token, the JSON body
// and its Block Kit blocks (ValidateSlack), that a thread_ts names a top-level message it
// posted, and that chat.update names a message that exists; it answers like Slack (HTTP
// 200 with "ok" true or false and an "error" code).
type SlackAPI struct {
	srv   *httptest.Server
	token string

	mu       sync.Mutex
	next     int
	messages map[string]*SlackMessage // by ts
	calls    []SlackCall
	fail     []string // queued error codes for the next calls
}

// SlackMessage is a message as the fake Slack holds it.
type SlackMessage struct {
	Channel  string
	TS       string
	ThreadTS string
	Text     string
	Blocks   json.RawMessage
	// Updates counts chat.update calls on it.
	Updates int
}

// SlackCall is one Web API call received.
type SlackCall struct {
	Method string
	Body   map[string]any
	// Error is the error code answered ("" for ok).
	Error string
}

// NewSlackAPI starts the fake on a loopback port; token is the bot token it accepts.
func NewSlackAPI(t testing.TB, token string) *SlackAPI {
	t.Helper()
	s := &SlackAPI{token: token, messages: map[string]*SlackMessage{}}
	s.srv = httptest.NewServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.srv.Close)
	return s
}

// URL is the API base (notifications.slack.api_url).
func (s *SlackAPI) URL() string { return s.srv.URL + "/api" }

// Fail makes the next calls answer ok:false with these error codes, in order.
func (s *SlackAPI) Fail(codes ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = append(s.fail, codes...)
}

// Calls returns the calls so far.
func (s *SlackAPI) Calls() []SlackCall {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// Message returns the message with ts (a copy), or nil.
func (s *SlackAPI) Message(ts string) *SlackMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.messages[ts]; ok {
		c := *m
		return &c
	}
	return nil
}

// Messages returns every message, oldest first.
func (s *SlackAPI) Messages() []SlackMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []SlackMessage
	for _, m := range s.messages {
		out = append(out, *m)
	}
	slices.SortFunc(out, func(a, b SlackMessage) int { return strings.Compare(a.TS, b.TS) })
	return out
}

func (s *SlackAPI) serve(w http.ResponseWriter, r *http.Request) {
	method := strings.TrimPrefix(r.URL.Path, "/api/")
	answer := func(code string, extra map[string]any) {
		out := map[string]any{"ok": code == ""}
		if code != "" {
			out["error"] = code
		}
		for k, v := range extra {
			out[k] = v
		}
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		_ = json.NewEncoder(w).Encode(out)
	}
	raw, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var body map[string]any
	_ = json.Unmarshal(raw, &body)
	s.mu.Lock()
	defer s.mu.Unlock()
	record := func(code string) { s.calls = append(s.calls, SlackCall{Method: method, Body: body, Error: code}) }
	if r.Method != http.MethodPost {
		record("method_not_allowed")
		answer("method_not_allowed", nil)
		return
	}
	if r.Header.Get("Authorization") != "Bearer "+s.token {
		record("invalid_auth")
		answer("invalid_auth", nil)
		return
	}
	if !strings.HasPrefix(r.Header.Get("Content-Type"), "application/json") || body == nil {
		record("invalid_json")
		answer("invalid_json", nil)
		return
	}
	if len(s.fail) > 0 {
		code := s.fail[0]
		s.fail = s.fail[1:]
		record(code)
		answer(code, nil)
		return
	}
	str := func(k string) string { v, _ := body[k].(string); return v }
	switch method {
	case "chat.postMessage", "chat.update":
		if str("channel") == "" {
			record("channel_not_found")
			answer("channel_not_found", nil)
			return
		}
		blocks, _ := json.Marshal(body["blocks"])
		if err := ValidateSlack(mustJSON(map[string]any{"text": body["text"], "blocks": body["blocks"]})); err != nil {
			record("invalid_blocks")
			answer("invalid_blocks", map[string]any{"response_metadata": map[string]any{"messages": []string{err.Error()}}})
			return
		}
		if method == "chat.update" {
			m, ok := s.messages[str("ts")]
			if !ok || m.Channel != str("channel") {
				record("message_not_found")
				answer("message_not_found", nil)
				return
			}
			m.Text, m.Blocks, m.Updates = str("text"), blocks, m.Updates+1
			record("")
			answer("", map[string]any{"channel": m.Channel, "ts": m.TS})
			return
		}
		if tts := str("thread_ts"); tts != "" {
			parent, ok := s.messages[tts]
			if !ok || parent.ThreadTS != "" || parent.Channel != str("channel") {
				record("thread_not_found")
				answer("thread_not_found", nil)
				return
			}
		}
		s.next++
		ts := fmt.Sprintf("1700000000.%06d", s.next)
		s.messages[ts] = &SlackMessage{Channel: str("channel"), TS: ts, ThreadTS: str("thread_ts"), Text: str("text"), Blocks: blocks}
		record("")
		answer("", map[string]any{"channel": str("channel"), "ts": ts})
	case "chat.postEphemeral":
		if str("channel") == "" || str("user") == "" || str("text") == "" {
			record("invalid_arguments")
			answer("invalid_arguments", nil)
			return
		}
		record("")
		answer("", map[string]any{"message_ts": "1700000000.999999"})
	case "views.open":
		if str("trigger_id") == "" || body["view"] == nil {
			record("invalid_arguments")
			answer("invalid_arguments", nil)
			return
		}
		record("")
		answer("", map[string]any{"view": map[string]any{"id": "V1"}})
	default:
		record("unknown_method")
		answer("unknown_method", nil)
	}
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

package api

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/auth"
	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/notify/notifytest"
	"github.com/mahavishnu/mahavishnu/notify/slack"
	"github.com/mahavishnu/mahavishnu/oncall"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

const signingSecret = "8f742231b10e8888abcd99yyyzzz85a5"

// people is a SlackDirectory over a fixed map (the people directory stands in).
type people map[string]struct {
	name string
	role auth.Role
}

func (p people) PersonBySlackUser(_ context.Context, id string) (string, auth.Role, error) {
	if x, ok := p[id]; ok {
		return x.name, x.role, nil
	}
	return "", "", ErrUnknownSlackUser
}

// recordingResponder records the operations it is asked for and answers like the manager.
type recordingResponder struct {
	mu    sync.Mutex
	calls []string
	ids   []auth.Identity
	// reject, when set, refuses every operation with this reason.
	reject string
}

func (r *recordingResponder) record(ctx context.Context, call string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.reject != "" {
		return &manager.RejectedError{Reason: r.reject}
	}
	r.calls = append(r.calls, call)
	id, _ := auth.FromContext(ctx)
	r.ids = append(r.ids, id)
	return nil
}

func (r *recordingResponder) Calls() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.calls...)
}

func testIncident(id string) *schemas.Incident {
	return &schemas.Incident{IncidentID: id, Title: "API down", IncidentType: "service_down", Severity: schemas.SeverityCritical,
		Status: schemas.StatusInvestigating}
}

func (r *recordingResponder) Acknowledge(ctx context.Context, id, by string) (*schemas.Incident, error) {
	if err := r.record(ctx, "ack "+id+" by "+by); err != nil {
		return nil, err
	}
	inc := testIncident(id)
	inc.AcknowledgedBy = by
	return inc, nil
}

func (r *recordingResponder) Resolve(ctx context.Context, id, by, notes string) (*schemas.Incident, error) {
	if err := r.record(ctx, "resolve "+id+" by "+by+": "+notes); err != nil {
		return nil, err
	}
	inc := testIncident(id)
	inc.Status = schemas.StatusResolved
	return inc, nil
}

func (r *recordingResponder) Approve(ctx context.Context, id, action, by, _ string) (*schemas.Approval, error) {
	return &schemas.Approval{Action: action, Status: schemas.ApprovalApproved, By: by}, r.record(ctx, "approve "+id+" "+action+" by "+by)
}

func (r *recordingResponder) Reject(ctx context.Context, id, action, by, _ string) (*schemas.Approval, error) {
	return &schemas.Approval{Action: action, Status: schemas.ApprovalRejected, By: by}, r.record(ctx, "reject "+id+" "+action+" by "+by)
}

type slackFixture struct {
	h    http.Handler
	m    *manager.Manager
	resp *recordingResponder
	api  *notifytest.SlackAPI
	// rootTS is a message posted in the fake Slack, which interactions update.
	rootTS string
}

func newSlackFixture(t *testing.T) *slackFixture {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:///incidents.db", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	m, err := manager.New(manager.Options{Store: st, Client: &fakeTemporal{}, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	api := notifytest.NewSlackAPI(t, "xoxb-bot")
	client, err := slack.NewClient("xoxb-bot", api.URL(), nil)
	require.NoError(t, err)
	root, err := client.Call(ctx, "chat.postMessage", map[string]any{"channel": "C1", "text": "opened",
		"blocks": []map[string]any{{"type": "section", "text": map[string]string{"type": "mrkdwn", "text": "opened"}}}})
	require.NoError(t, err)
	f := &slackFixture{m: m, resp: &recordingResponder{}, api: api, rootTS: root.TS}
	f.h = New(Options{Manager: m, Logger: slog.New(slog.DiscardHandler), Slack: SlackOptions{
		SigningSecret: signingSecret, Client: client, Responder: f.resp,
		Directory: people{"U_RESP": {"rita", auth.Responder}, "U_APPR": {"alice", auth.Approver}, "U_VIEW": {"victor", auth.Viewer}},
	}}).Handler()
	return f
}

// sign returns Slack's signature headers for body at ts.
func sign(secret string, ts time.Time, body string) http.Header {
	stamp := strconv.FormatInt(ts.Unix(), 10)
	mac := hmac.New(sha256.New, []byte(secret))
	fmt.Fprintf(mac, "v0:%s:%s", stamp, body)
	return http.Header{"X-Slack-Request-Timestamp": {stamp}, "X-Slack-Signature": {"v0=" + hex.EncodeToString(mac.Sum(nil))},
		"Content-Type": {"application/x-www-form-urlencoded"}}
}

func (f *slackFixture) post(t *testing.T, body string, h http.Header) (int, string) {
	t.Helper()
	req := httptest.NewRequest(http.MethodPost, "/api/v1/slack/interactions", strings.NewReader(body))
	req.RemoteAddr = "203.0.113.9:443" // Slack is not loopback: the signature is what counts
	req.Header = h
	rec := httptest.NewRecorder()
	f.h.ServeHTTP(rec, req)
	return rec.Code, rec.Body.String()
}

// blockAction is the form body of a button click by user.
func (f *slackFixture) blockAction(user, actionID, value string) string {
	payload, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]string{"id": user}, "trigger_id": "trig-1",
		"channel":   map[string]string{"id": "C1"},
		"container": map[string]string{"type": "message", "channel_id": "C1", "message_ts": f.rootTS},
		"actions":   []map[string]string{{"action_id": actionID, "block_id": "b1", "value": value, "type": "button"}},
	})
	return url.Values{"payload": {string(payload)}}.Encode()
}

func (f *slackFixture) click(t *testing.T, user, actionID, value string) (int, string) {
	body := f.blockAction(user, actionID, value)
	return f.post(t, body, sign(signingSecret, time.Now(), body))
}

func TestSlackButtonsActAsThePerson(t *testing.T) {
	f := newSlackFixture(t)
	code, body := f.click(t, "U_RESP", slack.ActionAcknowledge, "inc_1")
	require.Equal(t, http.StatusOK, code, body)
	require.Equal(t, []string{"ack inc_1 by rita"}, f.resp.Calls())
	require.Equal(t, auth.Identity{Name: "rita", Role: auth.Responder, Authenticated: true, Via: "slack"}, f.resp.ids[0])
	root := f.api.Message(f.rootTS)
	require.Equal(t, 1, root.Updates, "the message shows who acknowledged")
	require.Contains(t, string(root.Blocks), "Acknowledged by rita")
	require.NotContains(t, string(root.Blocks), slack.ActionAcknowledge, "no second Acknowledge")

	code, body = f.click(t, "U_APPR", slack.ActionApprove, "inc_1|restart_service")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, string(f.api.Message(f.rootTS).Blocks), "`restart_service` approved by alice")
	code, body = f.click(t, "U_APPR", slack.ActionReject, "inc_1|rollback")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, string(f.api.Message(f.rootTS).Blocks), "`rollback` rejected by alice")
	require.Equal(t, []string{"ack inc_1 by rita", "approve inc_1 restart_service by alice", "reject inc_1 rollback by alice"}, f.resp.Calls())

	// Each request has its audit row, under the person, via slack.
	rows, err := f.m.Store().Audit(context.Background(), store.AuditFilter{})
	require.NoError(t, err)
	var got []string
	for _, r := range rows {
		require.Equal(t, "POST /api/v1/slack/interactions", r.Action)
		require.Equal(t, "slack", r.Via)
		require.True(t, r.Authenticated)
		got = append(got, r.Actor+" "+r.Role+" "+r.Result)
	}
	require.Equal(t, []string{"rita responder allowed", "alice approver allowed", "alice approver allowed"}, got)
}

func TestSlackResolveOpensNotesModalThenResolves(t *testing.T) {
	f := newSlackFixture(t)
	code, body := f.click(t, "U_RESP", slack.ActionResolve, "inc_1")
	require.Equal(t, http.StatusOK, code, body)
	require.Empty(t, f.resp.Calls(), "the click only opens the form")
	calls := f.api.Calls()
	open := calls[len(calls)-1]
	require.Equal(t, "views.open", open.Method)
	require.Equal(t, "trig-1", open.Body["trigger_id"])
	view := open.Body["view"].(map[string]any)
	require.Equal(t, slack.ResolveModal, view["callback_id"])

	submit := func(user, notes string) (int, string) {
		payload, _ := json.Marshal(map[string]any{
			"type": "view_submission", "user": map[string]string{"id": user},
			"view": map[string]any{"callback_id": slack.ResolveModal, "private_metadata": view["private_metadata"],
				"state": map[string]any{"values": map[string]any{slack.NotesBlock: map[string]any{
					slack.NotesInput: map[string]string{"type": "plain_text_input", "value": notes}}}}},
		})
		b := url.Values{"payload": {string(payload)}}.Encode()
		return f.post(t, b, sign(signingSecret, time.Now(), b))
	}
	code, body = submit("U_VIEW", "restarted the pods")
	require.Equal(t, http.StatusOK, code)
	require.Contains(t, body, `"response_action": "errors"`)
	require.Contains(t, body, "victor (role viewer) may not respond")
	require.Empty(t, f.resp.Calls())

	code, body = submit("U_RESP", "restarted the pods")
	require.Equal(t, http.StatusOK, code, body)
	require.Contains(t, body, `"response_action": "clear"`)
	require.Equal(t, []string{"resolve inc_1 by rita: restarted the pods"}, f.resp.Calls())
	root := f.api.Message(f.rootTS)
	require.Contains(t, string(root.Blocks), "Resolved by rita")
	require.NotContains(t, string(root.Blocks), slack.ActionResolve)
}

func TestSlackRefusesWithNothingChanged(t *testing.T) {
	f := newSlackFixture(t)
	ack := f.blockAction("U_RESP", slack.ActionAcknowledge, "inc_1")
	for name, tc := range map[string]struct {
		body    string
		header  http.Header
		code    int
		wantErr string
	}{
		"bad signature":   {ack, sign("wrong-secret", time.Now(), ack), http.StatusUnauthorized, "slack signature"},
		"body changed":    {strings.Replace(ack, "inc_1", "inc_2", 1), sign(signingSecret, time.Now(), ack), http.StatusUnauthorized, "slack signature"},
		"no signature":    {ack, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, http.StatusUnauthorized, "slack signature"},
		"stale timestamp": {ack, sign(signingSecret, time.Now().Add(-6*time.Minute), ack), http.StatusUnauthorized, "timestamp"},
		"future":          {ack, sign(signingSecret, time.Now().Add(6*time.Minute), ack), http.StatusUnauthorized, "timestamp"},
		"unknown user": {f.blockAction("U_NOBODY", slack.ActionAcknowledge, "inc_1"), nil, http.StatusForbidden,
			"Slack user U_NOBODY is not in the people directory"},
		"viewer acks": {f.blockAction("U_VIEW", slack.ActionAcknowledge, "inc_1"), nil, http.StatusForbidden,
			"victor (role viewer) may not respond"},
		"responder approves": {f.blockAction("U_RESP", slack.ActionApprove, "inc_1|restart_service"), nil, http.StatusForbidden,
			"rita (role responder) may not approve"},
		"responder rejects": {f.blockAction("U_RESP", slack.ActionReject, "inc_1|restart_service"), nil, http.StatusForbidden,
			"rita (role responder) may not approve"},
	} {
		t.Run(name, func(t *testing.T) {
			h := tc.header
			if h == nil {
				h = sign(signingSecret, time.Now(), tc.body)
			}
			code, body := f.post(t, tc.body, h)
			require.Equal(t, tc.code, code, body)
			require.Contains(t, body, tc.wantErr)
			require.Empty(t, f.resp.Calls(), "nothing was done")
			require.Zero(t, f.api.Message(f.rootTS).Updates, "the message is unchanged")
		})
	}
	var told []string
	for _, c := range f.api.Calls() {
		if c.Method == "chat.postEphemeral" {
			told = append(told, c.Body["user"].(string))
		}
	}
	require.ElementsMatch(t, []string{"U_NOBODY", "U_VIEW", "U_RESP", "U_RESP"}, told, "refused users are told why, privately")

	// Every refusal is audited as denied: signature failures under "slack", the others
	// under the person (or the unknown Slack user), with the reason.
	rows, err := f.m.Store().Audit(context.Background(), store.AuditFilter{})
	require.NoError(t, err)
	var got []string
	for _, r := range rows {
		require.Equal(t, store.AuditDenied, r.Result, "%+v", r)
		require.NotEmpty(t, r.Detail)
		got = append(got, r.Actor)
	}
	require.ElementsMatch(t, []string{"slack", "slack", "slack", "slack", "slack", "slack:U_NOBODY", "victor", "rita", "rita"}, got)
}

func TestSlackWithoutSigningSecretRefusesEverything(t *testing.T) {
	f := newSlackFixture(t)
	h := New(Options{Manager: f.m, Logger: slog.New(slog.DiscardHandler), Slack: SlackOptions{Responder: f.resp}}).Handler()
	body := f.blockAction("U_RESP", slack.ActionAcknowledge, "inc_1")
	req := httptest.NewRequest(http.MethodPost, "/api/v1/slack/interactions", strings.NewReader(body))
	req.Header = sign("", time.Now(), body)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusUnauthorized, rec.Code)
	require.Contains(t, rec.Body.String(), "signing_secret is not set")
	require.Empty(t, f.resp.Calls())
}

func TestSlackRejectedOperationIsToldToTheUser(t *testing.T) {
	f := newSlackFixture(t)
	f.resp.reject = "incident inc_1 is already acknowledged by bob"
	code, body := f.click(t, "U_RESP", slack.ActionAcknowledge, "inc_1")
	require.Equal(t, http.StatusConflict, code)
	require.Contains(t, body, "already acknowledged by bob")
	require.Zero(t, f.api.Message(f.rootTS).Updates)
}

func TestSlackSlashCommand(t *testing.T) {
	f := newSlackFixture(t)
	run := func(user, text string) string {
		t.Helper()
		b := url.Values{"command": {"/incident"}, "text": {text}, "user_id": {user}}.Encode()
		code, body := f.post(t, b, sign(signingSecret, time.Now(), b))
		require.Equal(t, http.StatusOK, code, body)
		var out map[string]string
		require.NoError(t, json.Unmarshal([]byte(body), &out))
		require.Equal(t, "ephemeral", out["response_type"])
		return out["text"]
	}
	require.Equal(t, "No active incidents.", run("U_VIEW", "list"))
	require.Equal(t, "inc_9 acknowledged by rita.", run("U_RESP", "ack inc_9"))
	require.Equal(t, "inc_9 resolved by rita.", run("U_RESP", "resolve inc_9 rolled back the deploy"))
	require.Contains(t, run("U_VIEW", "ack inc_9"), "may not respond")
	require.Contains(t, run("U_NOBODY", "list"), "not in the people directory")
	require.Contains(t, run("U_RESP", "frobnicate"), "usage: /incident list")
	require.Equal(t, []string{"ack inc_9 by rita", "resolve inc_9 by rita: rolled back the deploy"}, f.resp.Calls())
}

// TestSlackUsesThePeopleDirectory maps Slack users through the store's people (issue 11):
// the person's role decides, and someone who is not there is refused.
func TestSlackUsesThePeopleDirectory(t *testing.T) {
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:///incidents.db", t.TempDir())
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, st.Close()) })
	require.NoError(t, st.InsertPerson(ctx, oncall.Person{Name: "alice", SlackUser: "U0ALICE", Role: auth.Approver}))
	require.NoError(t, st.InsertPerson(ctx, oncall.Person{Name: "rita", SlackUser: "U0RITA", Role: auth.Responder}))
	m, err := manager.New(manager.Options{Store: st, Client: &fakeTemporal{}, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	resp := &recordingResponder{}
	f := &slackFixture{resp: resp, h: New(Options{Manager: m, Logger: slog.New(slog.DiscardHandler),
		Slack: SlackOptions{SigningSecret: signingSecret, Responder: resp}}).Handler()}

	code, body := f.click(t, "U0ALICE", slack.ActionApprove, "inc_1|rollback")
	require.Equal(t, http.StatusOK, code, body)
	code, body = f.click(t, "U0RITA", slack.ActionApprove, "inc_1|rollback")
	require.Equal(t, http.StatusForbidden, code)
	require.Contains(t, body, "rita (role responder) may not approve")
	code, body = f.click(t, "U0STRANGER", slack.ActionAcknowledge, "inc_1")
	require.Equal(t, http.StatusForbidden, code)
	require.Contains(t, body, "people add NAME --slack-user U0STRANGER")
	require.Equal(t, []string{"approve inc_1 rollback by alice"}, resp.Calls())
}

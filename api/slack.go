package api

// Slack interactivity (issue 12): the buttons of Slack Web API messages (Acknowledge,
// Resolve with a notes modal, Approve / Reject) and the optional /incident slash command
// arrive at POST /api/v1/slack/interactions. Slack signs each request (X-Slack-Signature:
// v0 HMAC-SHA256 over "v0:timestamp:body" with the app's signing secret); a request that is
// unsigned, wrongly signed or more than five minutes from our clock is refused before
// anything is read from it. The Slack user is then mapped to a person of the people
// directory, whose role decides what they may do, and the operation goes through the same
// manager operations as the JSON API, with the person as the actor.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"

	slackgo "github.com/slack-go/slack"

	"github.com/mahavishnu/mahavishnu/auth"
	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/notify"
	"github.com/mahavishnu/mahavishnu/notify/slack"
	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
)

// SlackDirectory maps a Slack user to a person of the people directory (`people add NAME
// --slack-user U123`). An unknown Slack user returns ErrUnknownSlackUser.
type SlackDirectory interface {
	PersonBySlackUser(ctx context.Context, slackUserID string) (name string, role auth.Role, err error)
}

// ErrUnknownSlackUser is a Slack user who is not in the people directory.
var ErrUnknownSlackUser = errors.New("this Slack user is not in the people directory")

// StorePeople is the SlackDirectory over the store's people directory (issue 11): the
// person whose slack_user is the Slack member ID, with that person's role.
func StorePeople(st *store.Store) SlackDirectory { return storePeople{st} }

type storePeople struct{ st *store.Store }

func (p storePeople) PersonBySlackUser(ctx context.Context, id string) (string, auth.Role, error) {
	person, err := p.st.PersonBySlackUser(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return "", "", ErrUnknownSlackUser
	case err != nil:
		return "", "", err
	}
	return person.Name, person.Role, nil
}

// Responder is the manager operations the Slack interactions use; *manager.Ops implements
// it.
type Responder interface {
	Acknowledge(ctx context.Context, id, by string) (*schemas.Incident, error)
	Resolve(ctx context.Context, id, by, notes string) (*schemas.Incident, error)
	Approve(ctx context.Context, id, action, by, reason string) (*schemas.Approval, error)
	Reject(ctx context.Context, id, action, by, reason string) (*schemas.Approval, error)
}

// SlackOptions configure the interactions endpoint.
type SlackOptions struct {
	// SigningSecret is notifications.slack.signing_secret; empty refuses every request.
	SigningSecret string
	// Directory maps Slack users to people; nil means the store's people directory.
	Directory SlackDirectory
	// Client is the Web API client that updates messages and opens the notes modal; nil
	// leaves messages as they are (webhook mode has no buttons anyway).
	Client *slack.Client
	// Responder runs the operations; nil means the manager's Ops.
	Responder Responder
}

func (s *Server) responder() Responder {
	if s.opts.Slack.Responder != nil {
		return s.opts.Slack.Responder
	}
	return s.m.Ops()
}

// slackRefusal is a refused interaction: answered with status and told to the user.
type slackRefusal struct {
	status int
	msg    string
}

func (e *slackRefusal) Error() string { return e.msg }

// slackInteractions serves POST /api/v1/slack/interactions.
func (s *Server) slackInteractions(w http.ResponseWriter, r *http.Request) error {
	body, err := readBody(w, r)
	if err != nil {
		return err
	}
	if err := s.verifySlack(r.Header, body); err != nil {
		s.log.Warn("slack request refused", "reason", err.Error(), "remote", r.RemoteAddr)
		return &httpError{status: http.StatusUnauthorized, msg: "slack signature: " + err.Error()}
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return badRequest("body: want a form-encoded Slack request")
	}
	if form.Get("command") != "" {
		return s.slackCommand(w, r.Context(), form)
	}
	var cb slackgo.InteractionCallback
	if err := json.Unmarshal([]byte(form.Get("payload")), &cb); err != nil {
		return badRequest("payload: want Slack's interaction JSON")
	}
	switch cb.Type {
	case slackgo.InteractionTypeBlockActions:
		err = s.slackBlockAction(r.Context(), &cb)
	case slackgo.InteractionTypeViewSubmission:
		return s.slackViewSubmission(w, r.Context(), &cb)
	default:
		writeJSON(w, http.StatusOK, map[string]any{})
		return nil
	}
	var ref *slackRefusal
	if errors.As(err, &ref) {
		s.tellSlackUser(r.Context(), cb.Channel.ID, cb.User.ID, ref.msg)
		writeJSON(w, ref.status, map[string]any{"error": ref.msg})
		return nil
	}
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{})
	return nil
}

// verifySlack checks the v0 signature and the timestamp (5 minutes at most either way).
func (s *Server) verifySlack(h http.Header, body []byte) error {
	secret := s.opts.Slack.SigningSecret
	if secret == "" {
		return errors.New("notifications.slack.signing_secret is not set: every request is refused")
	}
	v, err := slackgo.NewSecretsVerifier(h, secret)
	if err != nil {
		return err
	}
	if _, err := v.Write(body); err != nil {
		return err
	}
	return v.Ensure()
}

// slackAudit is what the audit row of one Slack request records: the person once known
// (until then "slack", unauthenticated) and why they were refused.
type slackAudit struct {
	id     auth.Identity
	refuse string
}

type slackAuditKey struct{}

// slackRoute serves the Slack endpoint outside token auth (the signature authenticates it)
// and writes one audit row per request, as guarded does for the other writes.
func (s *Server) slackRoute(pattern string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w}
		a := &slackAudit{id: auth.Identity{Name: "slack", Via: "slack"}}
		r = r.WithContext(context.WithValue(r.Context(), slackAuditKey{}, a))
		err := s.slackInteractions(rec, r)
		if err != nil {
			s.writeError(rec, r, err)
		}
		if err == nil && a.refuse != "" {
			err = &httpError{status: rec.status, msg: a.refuse}
		}
		s.audit(r, pattern, a.id, rec.status, err)
	}
}

// noteSlackAudit records the person (and a refusal) for the request's audit row.
func noteSlackAudit(ctx context.Context, id auth.Identity, refusal error) {
	a, ok := ctx.Value(slackAuditKey{}).(*slackAudit)
	if !ok {
		return
	}
	if id.Name != "" {
		a.id = id
	}
	if refusal != nil {
		a.refuse = refusal.Error()
	}
}

// slackPerson maps the Slack user to a person and checks that their role grants p.
func (s *Server) slackPerson(ctx context.Context, slackUser string, p auth.Permission) (auth.Identity, error) {
	dir := s.opts.Slack.Directory
	if dir == nil {
		dir = StorePeople(s.m.Store())
	}
	name, role, err := dir.PersonBySlackUser(ctx, slackUser)
	switch {
	case errors.Is(err, ErrUnknownSlackUser) || (err == nil && name == ""):
		ref := &slackRefusal{http.StatusForbidden,
			fmt.Sprintf("Slack user %s is not in the people directory: ask an admin to run `mahavishnu people add NAME --slack-user %s`", slackUser, slackUser)}
		noteSlackAudit(ctx, auth.Identity{Name: "slack:" + slackUser, Via: "slack"}, ref)
		return auth.Identity{}, ref
	case err != nil:
		return auth.Identity{}, err
	}
	id := auth.Identity{Name: name, Role: role, Authenticated: true, Via: "slack"}
	if !id.Can(p) {
		ref := &slackRefusal{http.StatusForbidden, fmt.Sprintf("%s (role %s) may not %s", name, role, p)}
		noteSlackAudit(ctx, id, ref)
		return auth.Identity{}, ref
	}
	noteSlackAudit(ctx, id, nil)
	return id, nil
}

func (s *Server) slackBlockAction(ctx context.Context, cb *slackgo.InteractionCallback) error {
	if len(cb.ActionCallback.BlockActions) == 0 {
		return badRequest("actions: none")
	}
	a := cb.ActionCallback.BlockActions[0]
	channel, ts := cb.Container.ChannelID, cb.Container.MessageTs
	if channel == "" {
		channel = cb.Channel.ID
	}
	perm := auth.Respond
	if a.ActionID == slack.ActionApprove || a.ActionID == slack.ActionReject {
		perm = auth.Approve
	}
	switch a.ActionID {
	case slack.ActionAcknowledge, slack.ActionResolve, slack.ActionApprove, slack.ActionReject:
	default:
		return nil // a link button: nothing to do
	}
	id, err := s.slackPerson(ctx, cb.User.ID, perm)
	if err != nil {
		return err
	}
	ctx = auth.WithIdentity(ctx, id)
	switch a.ActionID {
	case slack.ActionAcknowledge:
		inc, err := s.responder().Acknowledge(ctx, a.Value, id.Name)
		if err != nil {
			return slackOpError(err)
		}
		s.updateSlackMessage(ctx, channel, ts, s.incidentMessage(*inc, notify.KindAcknowledged, id.Name, ""))
	case slack.ActionResolve:
		if s.opts.Slack.Client == nil || cb.TriggerID == "" {
			return &slackRefusal{http.StatusBadRequest, "resolving from Slack needs the Web API (slack.bot_token) to open the notes form"}
		}
		meta, _ := json.Marshal(resolveMeta{Incident: a.Value, Channel: channel, TS: ts})
		if _, err := s.opts.Slack.Client.Call(ctx, "views.open", map[string]any{"trigger_id": cb.TriggerID,
			"view": slack.ResolveView(a.Value, string(meta))}); err != nil {
			return fmt.Errorf("open the resolve form: %w", err)
		}
	case slack.ActionApprove, slack.ActionReject:
		incID, action, ok := strings.Cut(a.Value, "|")
		if !ok || action == "" {
			return badRequest("value: want INCIDENT|ACTION")
		}
		op, verb := s.responder().Approve, "approved"
		if a.ActionID == slack.ActionReject {
			op, verb = s.responder().Reject, "rejected"
		}
		if _, err := op(ctx, incID, action, id.Name, "from Slack"); err != nil {
			return slackOpError(err)
		}
		if s.opts.Slack.Client != nil && ts != "" {
			p := slack.DecisionPayload(incID, action, verb, id.Name)
			if _, err := s.opts.Slack.Client.Call(ctx, "chat.update", map[string]any{"channel": channel, "ts": ts, "text": p.Text, "blocks": p.Blocks}); err != nil {
				s.log.Warn("slack: updating the approval message failed", "incident", incID, "error", err)
			}
		}
	}
	return nil
}

// resolveMeta is the resolve modal's private_metadata: where to show the result.
type resolveMeta struct {
	Incident string `json:"incident"`
	Channel  string `json:"channel"`
	TS       string `json:"ts"`
}

func (s *Server) slackViewSubmission(w http.ResponseWriter, ctx context.Context, cb *slackgo.InteractionCallback) error {
	if cb.View.CallbackID != slack.ResolveModal {
		writeJSON(w, http.StatusOK, map[string]any{})
		return nil
	}
	var meta resolveMeta
	if err := json.Unmarshal([]byte(cb.View.PrivateMetadata), &meta); err != nil || meta.Incident == "" {
		return badRequest("view.private_metadata: not ours")
	}
	fail := func(msg string) error {
		writeJSON(w, http.StatusOK, map[string]any{"response_action": "errors", "errors": map[string]string{slack.NotesBlock: msg}})
		return nil
	}
	id, err := s.slackPerson(ctx, cb.User.ID, auth.Respond)
	var ref *slackRefusal
	if errors.As(err, &ref) {
		return fail(ref.msg)
	} else if err != nil {
		return err
	}
	notes := ""
	if cb.View.State != nil {
		notes = cb.View.State.Values[slack.NotesBlock][slack.NotesInput].Value
	}
	if strings.TrimSpace(notes) == "" {
		return fail("notes: say what was done")
	}
	ctx = auth.WithIdentity(ctx, id)
	inc, err := s.responder().Resolve(ctx, meta.Incident, id.Name, notes)
	if err != nil {
		if errors.As(slackOpError(err), &ref) {
			return fail(ref.msg)
		}
		return err
	}
	s.updateSlackMessage(ctx, meta.Channel, meta.TS, s.incidentMessage(*inc, notify.KindResolved, id.Name, notes))
	writeJSON(w, http.StatusOK, map[string]any{"response_action": "clear"})
	return nil
}

// slackOpError turns a refusal of the incident (already acknowledged, not pending...) or
// an unknown incident into a message for the user; other errors stay internal.
func slackOpError(err error) error {
	var rej *manager.RejectedError
	switch {
	case errors.As(err, &rej):
		return &slackRefusal{http.StatusConflict, rej.Reason}
	case errors.Is(err, store.ErrNotFound):
		return &slackRefusal{http.StatusNotFound, "incident not found"}
	}
	return err
}

// incidentMessage renders an incident's current state as the message Slack shows.
func (s *Server) incidentMessage(inc schemas.Incident, kind notify.Kind, actor, text string) notify.Message {
	m := notify.Message{IncidentID: inc.IncidentID, Kind: kind, Title: inc.Title, Type: inc.IncidentType,
		Severity: inc.Severity, Status: inc.Status, Source: inc.Source, Actor: actor, Text: text}
	if s.opts.WorkflowURL != nil {
		m.Links.TemporalUI = s.opts.WorkflowURL(inc.WorkflowID, inc.RunID)
	}
	return m
}

// updateSlackMessage rewrites the message the button was on (chat.update). A failure is
// logged: the operation itself succeeded.
func (s *Server) updateSlackMessage(ctx context.Context, channel, ts string, m notify.Message) {
	if s.opts.Slack.Client == nil || channel == "" || ts == "" {
		return
	}
	p := slack.BuildInteractive(m)
	if _, err := s.opts.Slack.Client.Call(ctx, "chat.update", map[string]any{"channel": channel, "ts": ts, "text": p.Text, "blocks": p.Blocks}); err != nil {
		s.log.Warn("slack: updating the message failed", "incident", m.IncidentID, "error", err)
	}
}

// tellSlackUser shows a refusal to the user alone (chat.postEphemeral).
func (s *Server) tellSlackUser(ctx context.Context, channel, user, msg string) {
	if s.opts.Slack.Client == nil || channel == "" || user == "" {
		return
	}
	if _, err := s.opts.Slack.Client.Call(ctx, "chat.postEphemeral", map[string]any{"channel": channel, "user": user, "text": msg}); err != nil {
		s.log.Warn("slack: telling the user failed", "error", err)
	}
}

// slackCommand answers the /incident slash command: list, ack ID, resolve ID NOTES.
func (s *Server) slackCommand(w http.ResponseWriter, ctx context.Context, form url.Values) error {
	reply := func(text string) error {
		writeJSON(w, http.StatusOK, map[string]any{"response_type": "ephemeral", "text": text})
		return nil
	}
	fields := strings.Fields(form.Get("text"))
	usage := "usage: " + form.Get("command") + " list | ack INCIDENT_ID | resolve INCIDENT_ID NOTES"
	if len(fields) == 0 {
		return reply(usage)
	}
	perm := auth.Read
	if fields[0] != "list" {
		perm = auth.Respond
	}
	id, err := s.slackPerson(ctx, form.Get("user_id"), perm)
	var ref *slackRefusal
	if errors.As(err, &ref) {
		return reply(ref.msg)
	} else if err != nil {
		return err
	}
	ctx = auth.WithIdentity(ctx, id)
	switch {
	case fields[0] == "list":
		incs, err := s.m.Store().ListIncidents(ctx, store.IncidentFilter{Status: schemas.StatusActive, Limit: 20})
		if err != nil {
			return err
		}
		if len(incs) == 0 {
			return reply("No active incidents.")
		}
		var b strings.Builder
		for _, inc := range incs {
			ack := "not acknowledged"
			if inc.AcknowledgedBy != "" {
				ack = "acknowledged by " + inc.AcknowledgedBy
			}
			fmt.Fprintf(&b, "• `%s` [%s] %s — %s, %s\n", inc.IncidentID, strings.ToUpper(string(inc.Severity)),
				slackEscape(inc.Title), inc.Status, ack)
		}
		return reply(b.String())
	case fields[0] == "ack" && len(fields) == 2:
		if _, err := s.responder().Acknowledge(ctx, fields[1], id.Name); err != nil {
			if errors.As(slackOpError(err), &ref) {
				return reply(ref.msg)
			}
			return err
		}
		return reply(fmt.Sprintf("%s acknowledged by %s.", fields[1], id.Name))
	case fields[0] == "resolve" && len(fields) >= 3:
		notes := strings.Join(fields[2:], " ")
		if _, err := s.responder().Resolve(ctx, fields[1], id.Name, notes); err != nil {
			if errors.As(slackOpError(err), &ref) {
				return reply(ref.msg)
			}
			return err
		}
		return reply(fmt.Sprintf("%s resolved by %s.", fields[1], id.Name))
	}
	return reply(usage)
}

func slackEscape(s string) string {
	return strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace(s)
}

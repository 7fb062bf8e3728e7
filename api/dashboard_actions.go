package api

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/mahavishnu/mahavishnu/auth"
	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// actionPermission is what each dashboard action needs.
var actionPermission = map[string]auth.Permission{
	"acknowledge": auth.Respond, "assign": auth.Respond, "mitigate": auth.Respond, "resolve": auth.Respond, "close": auth.Respond,
	"approve": auth.Approve, "reject": auth.Approve, // issue 12: pending approvals
}

// authorizeForm checks a form post: the Origin, the CSRF token of the browser's session
// (or of the process without one), and that the sender's role may do the action. In the
// no-token mode only loopback clients that name a loopback host may act (a page whose DNS
// name was rebound to 127.0.0.1 sends its own name and is refused).
func (d *Dashboard) authorizeForm(r *http.Request, name string) (visitor, error) {
	v, err := d.visit(r)
	if err != nil {
		return v, err
	}
	if err := d.checkForm(r, v); err != nil {
		return v, err
	}
	switch {
	case v.loginNeeded:
		return v, &httpError{status: http.StatusUnauthorized, msg: "log in at /login with your API token to act"}
	case v.id.Via == "anonymous":
		return v, &httpError{status: http.StatusForbidden, msg: "no API token exists: actions are only accepted from loopback clients (open the dashboard as localhost or 127.0.0.1)"}
	case !v.id.Can(actionPermission[name]):
		return v, permissionError(v.id, actionPermission[name])
	}
	return v, nil
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// action handles one action form and redirects back to the incident with a flash message.
func (d *Dashboard) action(name string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			return badRequest("invalid form: %s", err)
		}
		rec := &statusRecorder{ResponseWriter: w}
		err := d.act(rec, r, name)
		if err != nil {
			d.writeError(rec, r, err)
		}
		id, _ := auth.FromContext(r.Context())
		if v, ok := r.Context().Value(visitorKey{}).(visitor); ok {
			id = v.id
		}
		if !id.Authenticated {
			id.Name = strings.TrimSpace(r.PostFormValue("by")) // self-asserted, audited as such
		}
		d.audit(r, "POST /incidents/{id}/"+name, id, rec.status, err)
		return nil
	}
}

type visitorKey struct{}

// act runs one action form for an allowed sender.
func (d *Dashboard) act(w http.ResponseWriter, r *http.Request, name string) error {
	{
		v, err := d.authorizeForm(r, name)
		*r = *r.WithContext(context.WithValue(auth.WithIdentity(r.Context(), v.id), visitorKey{}, v))
		if err != nil {
			return err
		}
		if d.deps.Ops == nil {
			return &httpError{status: http.StatusServiceUnavailable, msg: "Temporal is not connected: this dashboard is read-only"}
		}
		ctx, id := r.Context(), r.PathValue("id")
		inc, err := d.deps.Store.GetIncident(ctx, id)
		if err != nil {
			return err
		}
		by, err := actor(ctx, r.PostFormValue("by"))
		if err != nil {
			return &httpError{status: statusOf(err, http.StatusBadRequest), msg: "your name: " + strings.TrimPrefix(err.Error(), "by: ")}
		}
		msg, err := d.do(ctx, name, inc, by, r.PostForm)
		back := "/incidents/" + url.PathEscape(id)
		var rej *manager.RejectedError
		switch {
		case errors.As(err, &rej):
			setFlash(w, "error", "Refused: "+rej.Reason)
		case err != nil:
			return err
		default:
			markUnauthenticated(ctx, d.deps.Store, d.log, id, by, name)
			setFlash(w, "ok", msg)
		}
		http.Redirect(w, r, back, http.StatusSeeOther)
		return nil
	}
}

func (d *Dashboard) do(ctx context.Context, name string, inc *schemas.Incident, by string, form url.Values) (string, error) {
	ops, id := d.deps.Ops, inc.IncidentID
	field := func(k string) string { return strings.TrimSpace(form.Get(k)) }
	var err error
	switch name {
	case "acknowledge":
		_, err = ops.Acknowledge(ctx, id, by)
		return "Acknowledged by " + by + ".", err
	case "assign":
		to := field("assignee")
		if to == "" {
			return "", badRequest("assignee: who to assign is required")
		}
		_, err = ops.Assign(ctx, id, to, by)
		return "Assigned to " + to + " by " + by + ".", err
	case "resolve":
		_, err = ops.Resolve(ctx, id, by, field("notes"))
		return "Resolved by " + by + ".", err
	case "close":
		_, err = ops.Close(ctx, id, by)
		return "Closed by " + by + ".", err
	case "approve", "reject":
		action := field("action")
		if action == "" {
			return "", badRequest("action: which pending action is required")
		}
		op, verb := ops.Approve, "Approved"
		if name == "reject" {
			op, verb = ops.Reject, "Rejected"
		}
		_, err = op(ctx, id, action, by, field("reason"))
		return fmt.Sprintf("%s %s (%s).", verb, action, by), err
	}
	// mitigate: only an action the incident recommends.
	action := field("action")
	var offered []ActionChoice
	if d.deps.Options.Actions != nil {
		offered = d.deps.Options.Actions(ctx, inc)
	}
	if !slices.ContainsFunc(offered, func(c ActionChoice) bool { return c.ID == action }) {
		return "", badRequest("action: %q is not a recommended action of incident %s", action, id)
	}
	approvedBy := field("approved_by")
	if field("approve") != "" { // the approver's checkbox: approve as oneself
		approvedBy = by
	}
	approvedBy, err = approver(ctx, approvedBy)
	if err != nil {
		return "", err
	}
	rec, err := ops.Mitigate(ctx, id, schemas.Mitigate{Action: action, Actor: by, ApprovedBy: approvedBy})
	if err != nil {
		return "", err
	}
	msg := fmt.Sprintf("%s %s (run by %s).", action, strings.ReplaceAll(rec.Status, "_", " "), by)
	if rec.Error != "" {
		msg += " Error: " + rec.Error
	}
	return msg, nil
}

func setFlash(w http.ResponseWriter, kind, msg string) {
	if r := []rune(msg); len(r) > 500 { // a cookie holds about 4 KB
		msg = string(r[:500]) + "…"
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Value: url.QueryEscape(kind + ":" + msg), Path: "/",
		MaxAge: 60, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// takeFlash reads and clears the flash message.
func takeFlash(w http.ResponseWriter, r *http.Request) (msg, kind string) {
	c, err := r.Cookie(flashCookie)
	if err != nil {
		return "", ""
	}
	http.SetCookie(w, &http.Cookie{Name: flashCookie, Path: "/", MaxAge: -1, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	v, err := url.QueryUnescape(c.Value)
	if err != nil {
		return "", ""
	}
	kind, msg, _ = strings.Cut(v, ":")
	if kind != "ok" {
		kind = "error"
	}
	return msg, kind
}

type loginPage struct {
	Who                                  *whoView
	Title, Flash, FlashKind, Error, CSRF string
	Refresh                              int
	NeedToken, LoggedIn                  bool
}

func (d *Dashboard) loginForm(w http.ResponseWriter, r *http.Request) error {
	v, err := d.visit(r)
	if err != nil {
		return err
	}
	required, err := d.auth.TokensRequired(r.Context())
	if err != nil {
		return err
	}
	p := loginPage{Who: v.view(d.csrf), Title: "Log in", CSRF: d.csrf, NeedToken: required, LoggedIn: v.session != nil}
	p.Flash, p.FlashKind = takeFlash(w, r)
	return d.render(w, http.StatusOK, "login.html", p)
}

// login exchanges an API token for a server-side session (dashboard_auth.go).
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		return badRequest("invalid form: %s", err)
	}
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(d.csrf)) != 1 {
		return &httpError{status: http.StatusForbidden, msg: "missing or stale form token: reload the page and try again"}
	}
	required, err := d.auth.TokensRequired(r.Context())
	if err != nil {
		return err
	}
	if !required {
		return badRequest("no API token exists: no login is needed (actions are accepted from loopback clients)")
	}
	id, err := d.openSession(w, r, r.PostFormValue("token"))
	if err != nil {
		status := statusOf(authError(err), http.StatusInternalServerError)
		d.audit(r, "POST /login", id, status, authError(err))
		if status == http.StatusInternalServerError {
			return err
		}
		msg := "Wrong token."
		if errors.Is(err, auth.ErrRevoked) || errors.Is(err, auth.ErrExpired) {
			msg = "This token was revoked or has expired."
		} else if status == http.StatusForbidden {
			msg = "This token may not read the dashboard (ingest role)."
		}
		return d.render(w, status, "login.html", loginPage{Title: "Log in", CSRF: d.csrf, NeedToken: true, Error: msg})
	}
	d.audit(r, "POST /login", id, http.StatusSeeOther, nil)
	setFlash(w, "ok", fmt.Sprintf("Logged in as %s (%s) for %s.", id.Name, id.Role, d.sessionTTL()))
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

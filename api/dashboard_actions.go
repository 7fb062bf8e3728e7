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

	"github.com/mahavishnu/mahavishnu/manager"
	"github.com/mahavishnu/mahavishnu/schemas"
)

// authorizeForm applies the JSON API's write rule to a form post: with api.token set,
// the token from the form field "token" or the login cookie; otherwise loopback only.
// It checks the CSRF token and, when the browser sends one, the Origin first.
func (d *Dashboard) authorizeForm(r *http.Request) error {
	if origin := r.Header.Get("Origin"); origin != "" && origin != "null" {
		u, err := url.Parse(origin)
		if err != nil || u.Host != r.Host {
			return &httpError{status: http.StatusForbidden, msg: "cross-site form post refused (Origin does not match)"}
		}
	}
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(d.csrf)) != 1 {
		return &httpError{status: http.StatusForbidden, msg: "missing or stale form token: reload the page and try again"}
	}
	if d.deps.Token == "" {
		host, _, err := net.SplitHostPort(r.RemoteAddr)
		if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsLoopback() {
			return &httpError{status: http.StatusForbidden, msg: "actions are only accepted from loopback clients when api.token is not set"}
		}
		// A loopback client must also name a loopback host: a page whose DNS name was
		// rebound to 127.0.0.1 sends its own name and is refused.
		if !loopbackHost(r.Host) {
			return &httpError{status: http.StatusForbidden, msg: "without api.token, open the dashboard as localhost or 127.0.0.1 to act"}
		}
		return nil
	}
	if d.cookieToken(r) || d.tokenOK(r.PostFormValue("token")) {
		return nil
	}
	return &httpError{status: http.StatusUnauthorized, msg: "missing or wrong API token: log in at /login or fill in the token field"}
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

func (d *Dashboard) tokenOK(got string) bool {
	return d.deps.Token != "" && got != "" && subtle.ConstantTimeCompare([]byte(got), []byte(d.deps.Token)) == 1
}

func (d *Dashboard) cookieToken(r *http.Request) bool {
	c, err := r.Cookie(tokenCookie)
	return err == nil && d.tokenOK(c.Value)
}

// action handles one action form and redirects back to the incident with a flash message.
func (d *Dashboard) action(name string) func(http.ResponseWriter, *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		r.Body = http.MaxBytesReader(w, r.Body, 64<<10)
		if err := r.ParseForm(); err != nil {
			return badRequest("invalid form: %s", err)
		}
		if err := d.authorizeForm(r); err != nil {
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
		by := strings.TrimSpace(r.PostFormValue("by"))
		if by == "" {
			return badRequest("your name: who does this is required")
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
	rec, err := ops.Mitigate(ctx, id, schemas.Mitigate{Action: action, Actor: by, ApprovedBy: field("approved_by")})
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
	Title, Flash, FlashKind, Error, CSRF string
	Refresh                              int
	NeedToken, LoggedIn                  bool
}

func (d *Dashboard) loginForm(w http.ResponseWriter, r *http.Request) error {
	p := loginPage{Title: "Log in", CSRF: d.csrf, NeedToken: d.deps.Token != "", LoggedIn: d.cookieToken(r)}
	p.Flash, p.FlashKind = takeFlash(w, r)
	return d.render(w, http.StatusOK, "login.html", p)
}

// login checks the API token and keeps it in an HttpOnly, SameSite=Strict cookie.
func (d *Dashboard) login(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		return badRequest("invalid form: %s", err)
	}
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(d.csrf)) != 1 {
		return &httpError{status: http.StatusForbidden, msg: "missing or stale form token: reload the page and try again"}
	}
	if d.deps.Token == "" {
		return badRequest("api.token is not set: no login is needed (actions are accepted from loopback clients)")
	}
	tok := r.PostFormValue("token")
	if !d.tokenOK(tok) {
		return d.render(w, http.StatusUnauthorized, "login.html",
			loginPage{Title: "Log in", CSRF: d.csrf, NeedToken: true, Error: "Wrong token."})
	}
	http.SetCookie(w, &http.Cookie{Name: tokenCookie, Value: tok, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil, MaxAge: 12 * 3600})
	setFlash(w, "ok", "Logged in: actions are enabled for 12 hours.")
	http.Redirect(w, r, "/", http.StatusSeeOther)
	return nil
}

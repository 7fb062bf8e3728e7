package api

// Dashboard sessions (issue 10): a login form exchanges an API token for a server-side
// session. The cookie holds only a random session ID (the store keeps its SHA-256), and
// each session has its own CSRF token. Without any API token (the quickstart's loopback
// mode) no login exists: names are self-asserted and marked so on the timeline.

import (
	"context"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/mahavishnu/mahavishnu/auth"
	"github.com/mahavishnu/mahavishnu/store"
)

// sessionCookie names the dashboard's session cookie: a random ID, never the token.
const sessionCookie = "mahavishnu_session"

// whoView is who the page is shown to, for the layout and the forms.
type whoView struct {
	Name          string
	Role          string
	Authenticated bool
	// LoginNeeded: tokens exist and the browser has no session.
	LoginNeeded bool
	// SelfAsserted: no token exists; forms ask for the actor's name.
	SelfAsserted bool
	CanRespond   bool
	CanApprove   bool
	// CSRF is the form token of this browser (its session's, else the process's).
	CSRF string
}

// visitor is what the dashboard knows about a request's sender.
type visitor struct {
	id      auth.Identity
	known   bool // an identity was established (session, proxy or loopback mode)
	session *store.Session
	// loginNeeded: tokens exist and there is no valid session.
	loginNeeded bool
}

func (v visitor) view(processCSRF string) *whoView {
	w := &whoView{Name: v.id.Name, Role: string(v.id.Role), Authenticated: v.id.Authenticated, LoginNeeded: v.loginNeeded,
		SelfAsserted: v.known && !v.id.Authenticated, CSRF: processCSRF}
	if v.known {
		w.CanRespond, w.CanApprove = v.id.Can(auth.Respond), v.id.Can(auth.Approve)
	}
	if v.session != nil {
		w.CSRF = v.session.CSRF
	}
	return w
}

func (d *Dashboard) now() time.Time { return time.Now() }

// visit establishes the sender of a dashboard request.
func (d *Dashboard) visit(r *http.Request) (visitor, error) {
	ctx := r.Context()
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		se, err := d.deps.Store.GetSession(ctx, auth.Hash(c.Value), d.now())
		switch {
		case err == nil && d.sessionTokenValid(ctx, se):
			return visitor{id: auth.Identity{Name: se.Name, Role: auth.Role(se.Role), Authenticated: true, Via: "session"}, known: true, session: se}, nil
		case err != nil && !errors.Is(err, store.ErrNotFound):
			return visitor{}, err
		}
	}
	if id, ok, err := d.auth.ProxyIdentity(r.RemoteAddr, r.Header.Get); ok {
		if err != nil {
			return visitor{}, &httpError{status: http.StatusForbidden, msg: err.Error()}
		}
		return visitor{id: id, known: true}, nil
	}
	required, err := d.auth.TokensRequired(ctx)
	if err != nil {
		return visitor{}, err
	}
	if required {
		return visitor{loginNeeded: true}, nil
	}
	if loopbackPeer(r.RemoteAddr) && loopbackHost(r.Host) {
		return visitor{id: auth.Identity{Role: auth.Admin, Via: "loopback"}, known: true}, nil
	}
	return visitor{id: auth.Identity{Role: auth.Viewer, Via: "anonymous"}, known: true}, nil
}

// sessionTokenValid checks that the token a session was opened with still holds: a
// revoked token's sessions are deleted, an expired one's end with it.
func (d *Dashboard) sessionTokenValid(ctx context.Context, se *store.Session) bool {
	if se.TokenID == "" {
		return d.auth.Bootstrap != "" // opened with api.token: ends when it is unset
	}
	t, err := d.deps.Store.TokenByID(ctx, se.TokenID)
	return err == nil && t.Valid(d.now())
}

// readable returns the visitor when it may read, else an error: a redirect to /login
// when a login is needed.
func (d *Dashboard) readable(w http.ResponseWriter, r *http.Request) (visitor, bool, error) {
	v, err := d.visit(r)
	if err != nil {
		return v, false, err
	}
	if v.loginNeeded {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return v, false, nil
	}
	if !v.id.Can(auth.Read) {
		return v, false, permissionError(v.id, auth.Read)
	}
	return v, true, nil
}

// checkForm checks a form post's origin and CSRF token against the visitor's.
func (d *Dashboard) checkForm(r *http.Request, v visitor) error {
	if origin := r.Header.Get("Origin"); origin != "" && origin != "null" {
		if u, err := parseOrigin(origin); err != nil || u != r.Host {
			return &httpError{status: http.StatusForbidden, msg: "cross-site form post refused (Origin does not match)"}
		}
	}
	want := d.csrf
	if v.session != nil {
		want = v.session.CSRF
	}
	if subtle.ConstantTimeCompare([]byte(r.PostFormValue("csrf")), []byte(want)) != 1 {
		return &httpError{status: http.StatusForbidden, msg: "missing or stale form token: reload the page and try again"}
	}
	return nil
}

func parseOrigin(origin string) (string, error) {
	_, rest, ok := strings.Cut(origin, "://")
	if !ok {
		return "", errors.New("bad origin")
	}
	host, _, _ := strings.Cut(rest, "/")
	return host, nil
}

// secureCookies reports whether cookies must be Secure for this request.
func (d *Dashboard) secureCookies(r *http.Request) bool {
	return r.TLS != nil || strings.HasPrefix(strings.ToLower(d.deps.PublicURL), "https://")
}

func (d *Dashboard) sessionTTL() time.Duration {
	if d.deps.SessionTTL > 0 {
		return d.deps.SessionTTL
	}
	return 12 * time.Hour
}

// openSession exchanges a token for a session and sets its cookie.
func (d *Dashboard) openSession(w http.ResponseWriter, r *http.Request, secret string) (auth.Identity, error) {
	ctx := r.Context()
	id, tokenID, err := d.auth.Token(ctx, secret)
	if err != nil {
		return id, err
	}
	if !id.Can(auth.Read) {
		return id, permissionError(id, auth.Read)
	}
	sid, err := auth.RandomID(32)
	if err != nil {
		return id, err
	}
	csrf, err := auth.RandomID(32)
	if err != nil {
		return id, err
	}
	now := d.now()
	ttl := d.sessionTTL()
	if err := d.deps.Store.InsertSession(ctx, store.Session{Hash: auth.Hash(sid), TokenID: tokenID, Name: id.Name, Role: string(id.Role),
		CSRF: csrf, CreatedAt: now, ExpiresAt: now.Add(ttl)}); err != nil {
		return id, err
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Value: sid, Path: "/", HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: d.secureCookies(r), MaxAge: int(ttl.Seconds())})
	return id, nil
}

// logout ends the browser's session.
func (d *Dashboard) logout(w http.ResponseWriter, r *http.Request) error {
	r.Body = http.MaxBytesReader(w, r.Body, 16<<10)
	if err := r.ParseForm(); err != nil {
		return badRequest("invalid form: %s", err)
	}
	v, err := d.visit(r)
	if err != nil {
		return err
	}
	if err := d.checkForm(r, v); err != nil {
		return err
	}
	if v.session != nil {
		if err := d.deps.Store.DeleteSession(r.Context(), v.session.Hash); err != nil {
			return err
		}
		d.audit(r, "POST /logout", v.id, http.StatusSeeOther, nil)
	}
	http.SetCookie(w, &http.Cookie{Name: sessionCookie, Path: "/", MaxAge: -1, HttpOnly: true,
		SameSite: http.SameSiteStrictMode, Secure: d.secureCookies(r)})
	setFlash(w, "ok", "Logged out.")
	http.Redirect(w, r, "/login", http.StatusSeeOther)
	return nil
}

func (d *Dashboard) audit(r *http.Request, pattern string, id auth.Identity, status int, err error) {
	writeAudit(r, d.deps.Store, d.log, "dashboard "+pattern, id, status, err)
}

// securityHeaders are sent with every dashboard response.
func securityHeaders(h http.Header) {
	h.Set("X-Frame-Options", "DENY")
	h.Set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "+
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
	h.Set("Referrer-Policy", "same-origin")
	h.Set("X-Content-Type-Options", "nosniff")
}

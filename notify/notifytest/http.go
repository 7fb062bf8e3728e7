// Package notifytest holds real local receivers for testing notification channels: HTTP
// servers that check each request against the channel's documented format (Slack Block
// Kit, PagerDuty Events API v2, signed webhooks) and answer as a test needs, and an SMTP
// server (github.com/emersion/go-smtp) with STARTTLS on a loopback port.
package notifytest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
)

// Reply is an HTTP answer.
type Reply struct {
	Code   int
	Body   string
	Header http.Header
}

// Request is a request a Receiver got.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
	// Invalid is why the request does not follow the channel's format; nil when it does.
	Invalid error
}

// Receiver is an HTTP server standing in for a channel's endpoint. It checks each request
// with its validator, records it, and answers with the next queued Reply, or else with
// the channel's own answer to a valid or an invalid request.
type Receiver struct {
	srv      *httptest.Server
	validate func(*http.Request, []byte) error
	valid    func(body []byte) Reply
	invalid  func(err error) Reply

	mu       sync.Mutex
	queued   []Reply
	requests []Request
}

// ReceiverOptions configures NewReceiver.
type ReceiverOptions struct {
	// Validate checks a request; an error makes it invalid.
	Validate func(r *http.Request, body []byte) error
	// Valid answers a valid request.
	Valid func(body []byte) Reply
	// Invalid answers an invalid request.
	Invalid func(err error) Reply
}

// NewReceiver starts a Receiver on a loopback port, closed when the test ends.
func NewReceiver(t testing.TB, opts ReceiverOptions) *Receiver {
	t.Helper()
	r := &Receiver{validate: opts.Validate, valid: opts.Valid, invalid: opts.Invalid}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

// URL is the server's base URL (http://127.0.0.1:port).
func (r *Receiver) URL() string { return r.srv.URL }

// Reply queues answers for the next requests, in order; later requests get the channel's
// own answer again.
func (r *Receiver) Reply(replies ...Reply) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.queued = append(r.queued, replies...)
}

// Requests returns the requests received so far.
func (r *Receiver) Requests() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.requests)
}

func (r *Receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, err := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	invalid := r.validate(req, body)

	r.mu.Lock()
	r.requests = append(r.requests, Request{Method: req.Method, Path: req.URL.Path, Header: req.Header.Clone(), Body: body, Invalid: invalid})
	var reply Reply
	switch {
	case len(r.queued) > 0:
		reply = r.queued[0]
		r.queued = r.queued[1:]
	case invalid != nil:
		reply = r.invalid(invalid)
	default:
		reply = r.valid(body)
	}
	r.mu.Unlock()

	for name, values := range reply.Header {
		for _, v := range values {
			w.Header().Add(name, v)
		}
	}
	w.WriteHeader(reply.Code)
	_, _ = io.WriteString(w, reply.Body)
}

// checkPost checks the method and content type every channel uses.
func checkPost(r *http.Request) error {
	if r.Method != http.MethodPost {
		return errorf("method: want POST, got %s", r.Method)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/json" {
		return errorf("Content-Type: want application/json, got %q", ct)
	}
	return nil
}

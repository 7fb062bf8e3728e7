package remediation

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"time"
)

// maxResponseRead bounds how much of a response body is read (MaxOutputBytes are kept).
const maxResponseRead = 1 << 20

var (
	headerNamePattern = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
	httpMethods       = []string{http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete}
	// sensitiveParams are query parameters whose values Details and errors never show.
	sensitiveParams = []string{"password", "token", "secret", "key", "api_key", "apikey", "access_token", "signature", "sig"}
)

// HTTPExecutor sends one HTTP request. In the URL template every value is percent-encoded
// (it cannot add a path segment, a query parameter or change the host); in header
// templates control characters are replaced by spaces; the body template gets values as
// they are, so a JSON body quotes them with the json function ({{json .Source}}).
type HTTPExecutor struct {
	// Client sends the request; nil means a client that does not follow redirects (a
	// redirect is then an unexpected status).
	Client *http.Client

	method      string
	url         *template.Template
	headers     map[string]*template.Template
	body        *template.Template
	contentType string
	jsonBody    bool
	expected    []int
	timeout     time.Duration
}

// NewHTTPExecutor checks cfg and builds the executor. Errors name the field relative to the
// http block ("url: ..."); they never show header values, which may be secrets.
func NewHTTPExecutor(cfg HTTPConfig, timeout time.Duration) (*HTTPExecutor, error) {
	if timeout <= 0 {
		return nil, fmt.Errorf("timeout: must be positive, got %s", timeout)
	}
	h := &HTTPExecutor{method: strings.ToUpper(strings.TrimSpace(cfg.Method)), timeout: timeout,
		headers: map[string]*template.Template{}}
	if h.method == "" {
		h.method = http.MethodPost
	}
	if !slices.Contains(httpMethods, h.method) {
		return nil, fmt.Errorf("method: want one of %s, got %q", strings.Join(httpMethods, ", "), cfg.Method)
	}
	if strings.TrimSpace(cfg.URL) == "" {
		return nil, errors.New("url: is required")
	}
	var err error
	if h.url, err = parseTemplate("url", cfg.URL); err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	// Two inputs differing in every field, with values valid in a host name: the scheme
	// and host must come out the same, so that an event cannot choose where to send.
	var hosts []string
	for _, v := range []string{"hosta", "hostb"} {
		u, err := h.renderURL(sampleInputs[0].mapStrings(func(string) string { return v }))
		if err != nil {
			return nil, err
		}
		hosts = append(hosts, u.Scheme+"://"+u.Host)
	}
	if hosts[0] != hosts[1] {
		return nil, errors.New("url: the scheme and host must not depend on incident fields")
	}
	for _, sample := range sampleInputs {
		if _, err := h.renderURL(sample); err != nil {
			return nil, err
		}
	}
	for _, name := range sortedKeys(cfg.Headers) {
		field := "headers." + name
		if !headerNamePattern.MatchString(name) {
			return nil, fmt.Errorf("%s: not a valid header name", field)
		}
		switch http.CanonicalHeaderKey(name) {
		case "Host", "Content-Length", "Transfer-Encoding":
			return nil, fmt.Errorf("%s: set by the HTTP client, not configurable", field)
		case "Content-Type":
			h.contentType = cfg.Headers[name].Value()
		}
		// Template errors are not shown: the value may be a secret.
		t, err := template.New(field).Option("missingkey=error").Funcs(templateFuncs).Parse(cfg.Headers[name].Value())
		if err != nil {
			return nil, fmt.Errorf("%s: invalid template (value not shown, it may be a secret)", field)
		}
		for _, sample := range sampleInputs {
			if _, err := render(t, sample); err != nil {
				return nil, fmt.Errorf("%s: template does not render (value not shown, it may be a secret)", field)
			}
		}
		h.headers[http.CanonicalHeaderKey(name)] = t
	}
	for i, code := range cfg.ExpectedStatus {
		if code < 100 || code > 599 {
			return nil, fmt.Errorf("expected_status[%d]: want an HTTP status code 100-599, got %d", i, code)
		}
	}
	h.expected = slices.Clone(cfg.ExpectedStatus)
	if cfg.Body == "" {
		return h, nil
	}
	if h.method == http.MethodGet {
		return nil, errors.New("body: a GET request has no body; use POST, PUT, PATCH or DELETE")
	}
	if h.contentType == "" {
		h.contentType = "application/json"
		h.headers["Content-Type"] = template.Must(template.New("content-type").Parse(h.contentType))
	}
	mediaType, _, err := mime.ParseMediaType(h.contentType)
	if err != nil {
		return nil, fmt.Errorf("headers.Content-Type: %w", err)
	}
	h.jsonBody = mediaType == "application/json" || strings.HasSuffix(mediaType, "+json")
	if h.body, err = parseTemplate("body", cfg.Body); err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	for _, sample := range sampleInputs {
		if _, err := h.renderBody(sample); err != nil {
			return nil, err
		}
	}
	return h, nil
}

// escapeURLValue percent-encodes everything but RFC 3986 unreserved characters, so a
// value is inert in a path segment and in a query parameter alike.
func escapeURLValue(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~' {
			b.WriteByte(c)
			continue
		}
		fmt.Fprintf(&b, "%%%02X", c)
	}
	return b.String()
}

// headerSafe replaces control characters, which would split or corrupt a header.
func headerSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 && r != '\t' || r == 0x7f {
			return ' '
		}
		return r
	}, s)
}

func (h *HTTPExecutor) renderURL(in Input) (*url.URL, error) {
	s, err := render(h.url, in.mapStrings(escapeURLValue))
	if err != nil {
		return nil, fmt.Errorf("url: %w", err)
	}
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("url: does not parse: %w", unwrapURLError(err))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("url: want an http:// or https:// URL, got scheme %q", u.Scheme)
	}
	if u.Host == "" {
		return nil, errors.New("url: has no host")
	}
	return u, nil
}

func (h *HTTPExecutor) renderBody(in Input) ([]byte, error) {
	if h.body == nil {
		return nil, nil
	}
	s, err := render(h.body, in)
	if err != nil {
		return nil, fmt.Errorf("body: %w", err)
	}
	if h.jsonBody && !json.Valid([]byte(s)) {
		return nil, errors.New("body: renders invalid JSON when a field holds quotes or newlines; quote fields with the json function, e.g. {{json .Source}}")
	}
	return []byte(s), nil
}

// request builds the request for in.
func (h *HTTPExecutor) request(ctx context.Context, in Input) (*http.Request, *url.URL, error) {
	u, err := h.renderURL(in)
	if err != nil {
		return nil, nil, err
	}
	body, err := h.renderBody(in)
	if err != nil {
		return nil, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, h.method, u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, nil, fmt.Errorf("build request: %w", unwrapURLError(err))
	}
	if body == nil {
		req.Body, req.ContentLength = http.NoBody, 0
	}
	safe := in.mapStrings(headerSafe)
	for name, t := range h.headers {
		v, err := render(t, safe)
		if err != nil {
			return nil, nil, fmt.Errorf("headers.%s: template does not render", name)
		}
		req.Header.Set(name, v)
	}
	return req, u, nil
}

func (h *HTTPExecutor) expectation() string {
	if len(h.expected) == 0 {
		return "2xx"
	}
	parts := make([]string, len(h.expected))
	for i, c := range h.expected {
		parts[i] = strconv.Itoa(c)
	}
	return strings.Join(parts, ", ")
}

func (h *HTTPExecutor) expects(code int) bool {
	if len(h.expected) == 0 {
		return code >= 200 && code < 300
	}
	return slices.Contains(h.expected, code)
}

// DryRun renders the request and describes it: method, URL (credentials redacted),
// header names, body size. It sends nothing.
func (h *HTTPExecutor) DryRun(in Input) (Result, error) {
	req, u, err := h.request(context.Background(), in)
	if err != nil {
		return Result{Status: StatusFailed, ExitCode: -1, Details: "cannot build the request: " + err.Error()},
			fmt.Errorf("%w: %w", ErrFailed, err)
	}
	names := sortedKeys(req.Header)
	body := "no body"
	if req.ContentLength > 0 {
		body = fmt.Sprintf("a %d-byte %s body", req.ContentLength, h.contentType)
	}
	return Result{Status: StatusDryRun, ExitCode: -1, Details: fmt.Sprintf(
		"would send %s %s with headers [%s] and %s, timeout %s, expecting %s",
		h.method, redactURL(u), strings.Join(names, ", "), body, h.timeout, h.expectation())}, nil
}

// Execute sends the request and checks the response status; the response body is kept
// (at most MaxOutputBytes) as Output.
func (h *HTTPExecutor) Execute(ctx context.Context, in Input) (Result, error) {
	start := time.Now()
	ctx, cancel := context.WithTimeout(ctx, h.timeout)
	defer cancel()
	req, u, err := h.request(ctx, in)
	if err != nil {
		return Result{Status: StatusFailed, ExitCode: -1, Details: "cannot build the request: " + err.Error()},
			fmt.Errorf("%w: %w", ErrFailed, err)
	}
	target := h.method + " " + redactURL(u)
	client := h.Client
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	resp, err := client.Do(req)
	if err != nil {
		res := Result{Status: StatusFailed, ExitCode: -1, Duration: time.Since(start)}
		// *url.Error would print the full URL, which may hold a token: keep the cause only.
		cause := unwrapURLError(err)
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			res.Details = fmt.Sprintf("%s: no answer within the %s timeout", target, h.timeout)
			return res, fmt.Errorf("%w: %w: %s after %s", ErrFailed, ErrTimeout, target, h.timeout)
		}
		res.Details = fmt.Sprintf("%s: %v", target, cause)
		return res, fmt.Errorf("%w: %s: %w", ErrFailed, target, cause)
	}
	defer resp.Body.Close()
	out := newCapture(MaxOutputBytes)
	_, readErr := io.Copy(out, io.LimitReader(resp.Body, maxResponseRead))
	res := Result{Status: StatusFailed, ExitCode: -1, HTTPStatus: resp.StatusCode, Output: out.String(),
		Duration: time.Since(start),
		Details:  fmt.Sprintf("%s: %s (expected %s)", target, resp.Status, h.expectation())}
	if !h.expects(resp.StatusCode) {
		return res, fmt.Errorf("%w: %s answered %s, expected %s", ErrFailed, target, resp.Status, h.expectation())
	}
	if readErr != nil {
		res.Details += "; reading the body failed: " + unwrapURLError(readErr).Error()
	}
	res.Status, res.ExitCode = StatusSucceeded, 0
	return res, nil
}

// unwrapURLError returns the cause of a *url.Error, whose message includes the URL.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redactURL prints u without its password and sensitive query parameter values.
func redactURL(u *url.URL) string {
	c := *u
	if c.RawQuery != "" {
		q := c.Query()
		for name := range q {
			if slices.Contains(sensitiveParams, strings.ToLower(name)) {
				q.Set(name, "xxxxx")
			}
		}
		c.RawQuery = q.Encode()
	}
	return c.Redacted()
}

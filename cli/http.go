package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"time"
)

// apiClient talks to the manager's HTTP API at api.listen.
type apiClient struct {
	base  string
	token string
	http  *http.Client
}

func (r *runtime) api() *apiClient {
	host, port, err := net.SplitHostPort(r.cfg.API.Listen)
	if err == nil && (host == "" || host == "0.0.0.0" || host == "::") {
		host = "127.0.0.1" // the manager listens on every interface; reach it on loopback
	}
	base := "http://" + r.cfg.API.Listen
	if err == nil {
		base = "http://" + net.JoinHostPort(host, port)
	}
	return &apiClient{base: base, token: r.apiToken(), http: &http.Client{Timeout: 30 * time.Second}}
}

// apiToken is the token the CLI calls the API with: --token or MAHAVISHNU_TOKEN, else
// the config's bootstrap api.token.
func (r *runtime) apiToken() string {
	if r.token != "" {
		return r.token
	}
	return r.cfg.API.Token.Value()
}

// do sends a request and decodes a JSON answer into out; a non-2xx answer becomes an
// error carrying the server's message.
func (a *apiClient) do(ctx context.Context, method, path string, body, out any) (int, error) {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return 0, err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	if a.token != "" {
		req.Header.Set("Authorization", "Bearer "+a.token)
	}
	resp, err := a.http.Do(req)
	if err != nil {
		return 0, fmt.Errorf("cannot reach the incident manager at %s (is `mahavishnu incidents start` running?): %w", a.base, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read answer from %s: %w", a.base, err)
	}
	if resp.StatusCode/100 != 2 {
		var e struct {
			Error string `json:"error"`
		}
		if json.Unmarshal(data, &e) == nil && e.Error != "" {
			return resp.StatusCode, &apiError{Status: resp.StatusCode, Msg: e.Error, Method: method, Path: path}
		}
		if out == nil {
			return resp.StatusCode, fmt.Errorf("%s %s: HTTP %d", method, path, resp.StatusCode)
		}
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, fmt.Errorf("%s %s: unexpected answer: %w", method, path, err)
		}
	}
	return resp.StatusCode, nil
}

// apiError is a refusal or failure the manager answered, with its message.
type apiError struct {
	Status       int
	Msg          string
	Method, Path string
}

func (e *apiError) Error() string {
	hint := ""
	if e.Status == http.StatusUnauthorized {
		hint = " (give a token with --token or MAHAVISHNU_TOKEN: see `mahavishnu tokens create`)"
	}
	return fmt.Sprintf("%s %s: %s (HTTP %d)%s", e.Method, e.Path, e.Msg, e.Status, hint)
}

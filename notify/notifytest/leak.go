package notifytest

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"
)

// RequireNoSecret fails the test if any secret shows in err: its message, %+v and %#v,
// a slog record of it, or the message of any error it wraps (the chain Temporal's failure
// converter serialises).
func RequireNoSecret(t testing.TB, err error, secrets ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("RequireNoSecret: want an error, got nil")
	}
	var logged bytes.Buffer
	slog.New(slog.NewTextHandler(&logged, nil)).Error("send failed", "err", err)
	texts := []string{fmt.Sprintf("%v", err), fmt.Sprintf("%+v", err), fmt.Sprintf("%#v", err), logged.String()}
	var walk func(e error)
	walk = func(e error) {
		if e == nil {
			return
		}
		texts = append(texts, e.Error())
		switch u := e.(type) {
		case interface{ Unwrap() []error }:
			for _, inner := range u.Unwrap() {
				walk(inner)
			}
		default:
			walk(errors.Unwrap(e))
		}
	}
	walk(err)
	for _, text := range texts {
		for _, secret := range secrets {
			if secret != "" && strings.Contains(text, secret) {
				t.Fatalf("secret %q leaked in %q", secret, text)
			}
		}
	}
}

// ClosedPort returns a loopback host:port where nothing listens (it was listened on and
// closed), for connection-refused tests.
func ClosedPort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("ClosedPort: %v", err)
	}
	addr := l.Addr().String()
	if err := l.Close(); err != nil {
		t.Fatalf("ClosedPort: %v", err)
	}
	return addr
}

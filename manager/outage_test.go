package manager

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/mahavishnu/mahavishnu/schemas"
	"github.com/mahavishnu/mahavishnu/store"
	"github.com/mahavishnu/mahavishnu/store/storetest"
)

// cutProxy forwards TCP to target until cut; while cut it refuses and drops connections,
// like a database host that went away.
type cutProxy struct {
	ln     net.Listener
	target string
	mu     sync.Mutex
	cut    bool
	conns  []net.Conn
}

func newCutProxy(t *testing.T, target string) *cutProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &cutProxy{ln: ln, target: target}
	t.Cleanup(func() { _ = ln.Close(); p.setCut(true) })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			if p.cut {
				p.mu.Unlock()
				_ = c.Close()
				continue
			}
			up, err := net.Dial("tcp", target)
			if err != nil {
				p.mu.Unlock()
				_ = c.Close()
				continue
			}
			p.conns = append(p.conns, c, up)
			p.mu.Unlock()
			go func() { _, _ = io.Copy(up, c); _ = up.Close() }()
			go func() { _, _ = io.Copy(c, up); _ = c.Close() }()
		}
	}()
	return p
}

func (p *cutProxy) setCut(cut bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.cut = cut
	if cut {
		for _, c := range p.conns {
			_ = c.Close()
		}
		p.conns = nil
	}
}

// TestStoreOutageIsA503AndRecoversWithoutRestart cuts the PostgreSQL connection under a
// running manager: ingest refuses with UnavailableError (HTTP 503) and stores nothing it
// acknowledged; once PostgreSQL is reachable again, ingest and detection go on by
// themselves.
func TestStoreOutageIsA503AndRecoversWithoutRestart(t *testing.T) {
	schema := storetest.NewSchema(t, "manager_test")
	u, err := url.Parse(schema.URL)
	require.NoError(t, err)

	proxy := newCutProxy(t, u.Host)
	u.Host = proxy.ln.Addr().String()
	ctx := context.Background()
	st, err := store.Open(ctx, u.String(), "")
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Close() })

	tc := &fakeTemporal{}
	m, err := New(Options{Store: st, Client: tc, Logger: slog.New(slog.DiscardHandler), Detector: true})
	require.NoError(t, err)
	require.NoError(t, m.Rebuild(ctx))
	runCtx, cancel := context.WithCancel(ctx)
	m.Start(runCtx)
	t.Cleanup(func() { cancel(); m.Close() })

	burst := func(n int) error {
		_, err := m.SubmitEvents(ctx, events(n, "error", "api", time.Now()))
		return err
	}
	require.NoError(t, burst(4))

	proxy.setCut(true)
	var unavailable *UnavailableError
	cctx, ccancel := context.WithTimeout(ctx, 20*time.Second)
	_, err = m.SubmitEvents(cctx, events(3, "error", "api", time.Now()))
	ccancel()
	require.ErrorAs(t, err, &unavailable, "the store is away: nothing acknowledged")
	eventuallyTrue(t, 10*time.Second, func() bool { return m.Health().Store == HealthUnreachable })

	proxy.setCut(false)
	eventuallyTrue(t, 20*time.Second, func() bool { return burst(6) == nil }) // 4 + 6 = error_burst's 10
	eventuallyTrue(t, 20*time.Second, func() bool {
		return len(tc.starts()) == 1 && m.Health().Store == HealthOK
	})
	require.Equal(t, []string{wfID("error_burst", "api")}, tc.starts())
	incs, err := st.ListIncidents(ctx, store.IncidentFilter{})
	require.NoError(t, err)
	require.Len(t, incs, 1)
	require.Equal(t, 10, incs[0].EventCount, "the refused 3 were never stored")
	require.Equal(t, schemas.StatusDetected, incs[0].Status)
}

func eventuallyTrue(t *testing.T, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met within %s", timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

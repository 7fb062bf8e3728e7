package devserver

import (
	"net"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// FreePorts exports freePorts to the external tests.
var FreePorts = freePorts

// freePorts returns a frontend port followed by three more free ports, and a free UI port.
func freePorts(t testing.TB) (frontend, ui int) {
	t.Helper()
	for range 50 {
		base := listenPort(t)
		ok := true
		for i := 1; i < portCount && ok; i++ {
			l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(base+i)))
			if err != nil {
				ok = false
				continue
			}
			require.NoError(t, l.Close())
		}
		if ok {
			return base, listenPort(t)
		}
	}
	t.Fatal("no block of free ports found")
	return 0, 0
}

func listenPort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	port := l.Addr().(*net.TCPAddr).Port
	require.NoError(t, l.Close())
	return port
}

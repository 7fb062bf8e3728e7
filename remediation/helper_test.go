package remediation

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// helperEnv selects a helper mode when the test binary is re-executed as a command.
const helperEnv = "REMEDIATION_TEST_HELPER"

// helperReport is what the "argv" mode prints: exactly what the process received.
type helperReport struct {
	Args []string `json:"args"`
	Env  []string `json:"env"`
}

// TestMain lets the test binary act as the helper program the command executor runs, so
// the tests see the exact argv and environment a real process receives.
func TestMain(m *testing.M) {
	if mode := os.Getenv(helperEnv); mode != "" {
		os.Exit(runHelper(mode))
	}
	os.Exit(m.Run())
}

func runHelper(mode string) int {
	switch mode {
	case "argv":
		_ = json.NewEncoder(os.Stdout).Encode(helperReport{Args: os.Args[1:], Env: os.Environ()})
		return 0
	case "exit": // args: code
		fmt.Fprint(os.Stdout, "out")
		fmt.Fprint(os.Stderr, "err")
		code, _ := strconv.Atoi(os.Args[1])
		return code
	case "flood": // args: bytes per stream
		n, _ := strconv.Atoi(os.Args[1])
		fmt.Fprint(os.Stdout, strings.Repeat("o", n))
		fmt.Fprint(os.Stderr, strings.Repeat("e", n))
		return 0
	case "touch": // args: file
		if err := os.WriteFile(os.Args[1], []byte("ran"), 0o600); err != nil {
			return 1
		}
		return 0
	case "hang":
		fmt.Fprintln(os.Stdout, "started")
		time.Sleep(time.Hour) // killed by the executor's timeout
		return 0
	case "grandchild": // a child holding our stdout, then hang
		child := exec.Command(os.Args[0])
		child.Env = append(os.Environ(), helperEnv+"=hang")
		child.Stdout = os.Stdout
		if err := child.Start(); err != nil {
			return 1
		}
		time.Sleep(time.Hour)
		return 0
	case "quiet":
		return 0
	}
	fmt.Fprintf(os.Stderr, "unknown helper mode %q\n", mode)
	return 2
}

// helperPath is the test binary, to run as a command.
func helperPath(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	require.NoError(t, err)
	return exe
}

// helperCommand builds a command executor running the helper in mode with args.
func helperCommand(t *testing.T, mode string, timeout time.Duration, args ...string) *CommandExecutor {
	t.Helper()
	ex, err := NewCommandExecutor(CommandConfig{
		Argv: append([]string{helperPath(t)}, args...),
		Env:  map[string]Secret{helperEnv: Secret(mode)},
	}, timeout)
	require.NoError(t, err)
	return ex
}

// envMap turns KEY=value pairs into a map.
func envMap(env []string) map[string]string {
	m := map[string]string{}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

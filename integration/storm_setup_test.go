package integration

// The processes and bodies BenchmarkStorm (storm_bench_test.go) uses: the manager as its
// own process, Prometheus Alertmanager with a null receiver, the RSS sampler, and the
// prepared request bodies.

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// alertBodies are n Alertmanager /api/v2/alerts bodies of per alerts each, spread over
// 1000 instances; no receiver matches them but the null one.
func alertBodies(n, per int) [][]byte {
	bodies := make([][]byte, n)
	for j := range bodies {
		alerts := make([]map[string]any, per)
		for i := range alerts {
			k := j*per + i
			alerts[i] = map[string]any{
				"labels":      map[string]string{"alertname": quietTypes[k%len(quietTypes)], "instance": fmt.Sprintf("svc-%03d", k%1000), "severity": "low"},
				"annotations": map[string]string{"summary": "ok"},
			}
		}
		bodies[j] = mustJSON(alerts)
	}
	return bodies
}

// quietTypes are event types no rule matches (and not recovery events).
var quietTypes = []string{"heartbeat", "request_ok", "deploy_finished", "cron_ok"}

// quietBodies are n Mahavishnu ingest bodies: a batch of per events no rule matches, or
// a single event object when per is 1.
func quietBodies(n, per int) [][]byte {
	bodies := make([][]byte, n)
	for j := range bodies {
		events := make([]map[string]any, per)
		for i := range events {
			k := j*per + i
			events[i] = map[string]any{"event_type": quietTypes[k%len(quietTypes)], "source": fmt.Sprintf("svc-%03d", k%1000), "severity": "low", "message": "ok"}
		}
		if per == 1 {
			bodies[j] = mustJSON(events[0])
		} else {
			bodies[j] = mustJSON(map[string]any{"events": events})
		}
	}
	return bodies
}

// managerProcess is `mahavishnu incidents start` as its own OS process.
type managerProcess struct {
	cmd *exec.Cmd
}

// startManagerProcess starts the built binary on e's config and waits for /healthz; it
// is stopped (SIGTERM, then SIGKILL after 30s) when the benchmark ends.
func startManagerProcess(b *testing.B, e *env) *managerProcess {
	b.Helper()
	bin, err := buildBinary()
	if err != nil {
		b.Fatalf("build mahavishnu: %v", err)
	}
	logPath := filepath.Join(e.dir, "manager.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "--config", e.configPath, "incidents", "start", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	b.Cleanup(func() {
		defer logFile.Close()
		if b.Failed() {
			if out, err := os.ReadFile(logPath); err == nil {
				b.Logf("manager log (last 4 KiB):\n%s", out[max(0, len(out)-4096):])
			}
		}
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			b.Log("manager did not stop within 30s of SIGTERM; killing it")
			_ = cmd.Process.Kill()
			<-done
		}
	})
	e.waitHealthy(b, done)
	return &managerProcess{cmd: cmd}
}

// alertmanager is Prometheus Alertmanager on a free loopback port.
type alertmanager struct {
	url, version string
	stop         func()
}

func startAlertmanager(b *testing.B, bin string) *alertmanager {
	b.Helper()
	dir := b.TempDir()
	conf := filepath.Join(dir, "alertmanager.yml")
	// The only receiver has no integration: alerts are stored and grouped, never sent.
	if err := os.WriteFile(conf, []byte("route:\n  receiver: \"null\"\nreceivers:\n  - name: \"null\"\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	version, _ := exec.Command(bin, "--version").CombinedOutput()
	addr := fmt.Sprintf("127.0.0.1:%d", freePortRange(b, 1))
	logFile, err := os.Create(filepath.Join(dir, "alertmanager.log"))
	if err != nil {
		b.Fatal(err)
	}
	cmd := exec.Command(bin, "--config.file="+conf, "--storage.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--cluster.listen-address=", "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				_ = cmd.Process.Kill()
				<-done
			}
			logFile.Close()
		})
	}
	b.Cleanup(stop)
	am := &alertmanager{url: "http://" + addr, version: firstLine(string(version)), stop: stop}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case err := <-done:
			b.Fatalf("alertmanager exited: %v", err)
		default:
		}
		resp, err := http.Get(am.url + "/-/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return am
			}
		}
		if time.Now().After(deadline) {
			b.Fatal("alertmanager not ready within 30s")
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

// rssWatcher samples a process's VmRSS until stopped.
type rssWatcher struct {
	pid  int
	peak atomic.Int64
	quit chan struct{}
	done chan struct{}
}

func watchRSS(pid int) *rssWatcher {
	w := &rssWatcher{pid: pid, quit: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(w.done)
		t := time.NewTicker(200 * time.Millisecond)
		defer t.Stop()
		for {
			if kb := readStatusKB(pid, "VmRSS"); kb > w.peak.Load() {
				w.peak.Store(kb)
			}
			select {
			case <-w.quit:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

// stop returns the peak sampled VmRSS and the kernel's VmHWM (peak RSS), in KiB.
func (w *rssWatcher) stop() (peakKB, hwmKB int64) {
	close(w.quit)
	<-w.done
	return w.peak.Load(), readStatusKB(w.pid, "VmHWM")
}

// readStatusKB reads a "Key:   N kB" line of /proc/PID/status (0 when absent).
func readStatusKB(pid int, key string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, key+":"); ok {
			n, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return n
		}
	}
	return 0
}

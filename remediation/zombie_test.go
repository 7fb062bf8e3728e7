package remediation

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/require"
)

// fakeProc is a fake /proc tree in a temporary directory.
type fakeProc struct {
	t    *testing.T
	root string
}

func newFakeProc(t *testing.T) *fakeProc {
	root := t.TempDir()
	p := &fakeProc{t: t, root: root}
	// Entries a real /proc has that are not processes.
	require.NoError(t, os.MkdirAll(filepath.Join(root, "net"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(root, "uptime"), []byte("1 1\n"), 0o644))
	return p
}

// proc adds a process; uid < 0 writes no status file (an unreadable parent).
func (p *fakeProc) proc(pid int, comm string, state byte, ppid, uid int) {
	dir := filepath.Join(p.root, strconv.Itoa(pid))
	require.NoError(p.t, os.MkdirAll(dir, 0o755))
	stat := fmt.Sprintf("%d (%s) %c %d %d %d 0 -1 4194560 0 0 0 0 0 0\n", pid, comm, state, ppid, pid, pid)
	require.NoError(p.t, os.WriteFile(filepath.Join(dir, "stat"), []byte(stat), 0o644))
	if uid >= 0 {
		status := fmt.Sprintf("Name:\t%s\nState:\t%c\nPPid:\t%d\nUid:\t%d\t%d\t%d\t%d\nGid:\t0\t0\t0\t0\n", comm, state, ppid, uid, uid, uid, uid)
		require.NoError(p.t, os.WriteFile(filepath.Join(dir, "status"), []byte(status), 0o644))
	}
}

// signals records the PIDs signalled; fail makes signalling those PIDs fail.
type signals struct {
	sent []int
	fail map[int]bool
}

func (s *signals) send(pid int) error {
	if s.fail[pid] {
		return errors.New("operation not permitted")
	}
	s.sent = append(s.sent, pid)
	return nil
}

func TestZombieReaperFakeProc(t *testing.T) {
	const me = 1000
	p := newFakeProc(t)
	p.proc(1, "init", 'S', 0, 0)
	p.proc(100, "app server", 'S', 1, me)       // parent of two zombies
	p.proc(101, "worker", 'Z', 100, me)         // zombie
	p.proc(102, "worker) Z 7 (x", 'Z', 100, me) // hostile comm: parsing ends at the last ')'
	p.proc(200, "other user", 'S', 1, 2000)     // parent owned by someone else
	p.proc(201, "child", 'Z', 200, 2000)
	p.proc(300, "orphan", 'Z', 1, me)        // parent is init: never signalled
	p.proc(400, "gone parent", 'Z', 401, me) // parent has no status
	p.proc(401, "vanishing", 'S', 1, -1)
	p.proc(500, "running", 'R', 100, me)
	p.proc(501, "sleeping", 'S', 100, me)

	tests := []struct {
		name    string
		self    Credentials
		parents []int
		skipped []int
	}{
		{"same user only", Credentials{UID: me, EUID: me}, []int{100}, []int{1, 200, 401}},
		{"root signals other users", Credentials{UID: 0, EUID: 0}, []int{100, 200}, []int{1, 401}},
		{"real uid matches", Credentials{UID: 2000, EUID: 3000}, []int{200}, []int{1, 100, 401}},
		{"stranger", Credentials{UID: 3000, EUID: 3000}, nil, []int{1, 100, 200, 401}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sig := &signals{}
			z := &ZombieReaper{ProcRoot: p.root, Self: &tt.self, Signal: sig.send, Host: "h1"}
			scan, err := z.Scan()
			require.NoError(t, err)
			require.Equal(t, []Zombie{
				{PID: 101, PPID: 100, Comm: "worker"},
				{PID: 102, PPID: 100, Comm: "worker) Z 7 (x"},
				{PID: 201, PPID: 200, Comm: "child"},
				{PID: 300, PPID: 1, Comm: "orphan"},
				{PID: 400, PPID: 401, Comm: "gone parent"},
			}, scan.Zombies)
			require.Equal(t, tt.parents, scan.Parents)
			require.Equal(t, tt.skipped, sortedKeys(scan.Skipped))

			dry, err := z.DryRun(sampleInput())
			require.NoError(t, err)
			require.Equal(t, StatusDryRun, dry.Status)
			require.Contains(t, dry.Output, "5 zombie processes on h1: 101 (worker, parent 100)")
			require.Contains(t, dry.Output, "parent 1 skipped: init or no parent: never signalled")
			require.Empty(t, sig.sent, "a dry run signals nobody")

			res, err := z.Execute(context.Background(), sampleInput())
			require.Equal(t, tt.parents, sig.sent)
			if len(tt.parents) == 0 {
				require.ErrorIs(t, err, ErrFailed)
				require.ErrorContains(t, err, "no parent of the zombie processes may be signalled")
				require.Equal(t, StatusFailed, res.Status)
				return
			}
			require.NoError(t, err)
			require.Equal(t, StatusSucceeded, res.Status)
			require.Equal(t, fmt.Sprintf("sent SIGCHLD to parents %v of 5 zombie processes on h1", tt.parents), res.Details)
		})
	}
}

func TestZombieReaperSkipReasons(t *testing.T) {
	p := newFakeProc(t)
	p.proc(200, "other user", 'S', 1, 2000)
	p.proc(201, "child", 'Z', 200, 2000)
	p.proc(400, "gone parent", 'Z', 401, 1000)
	z := &ZombieReaper{ProcRoot: p.root, Self: &Credentials{UID: 1000, EUID: 1000}}
	scan, err := z.Scan()
	require.NoError(t, err)
	require.Equal(t, "owned by uid 2000, the manager runs as uid 1000", scan.Skipped[200])
	require.Contains(t, scan.Skipped[401], "parent not readable: ")
}

func TestZombieReaperNoZombies(t *testing.T) {
	p := newFakeProc(t)
	p.proc(1, "init", 'S', 0, 0)
	p.proc(10, "bash", 'S', 1, 0)
	sig := &signals{}
	z := &ZombieReaper{ProcRoot: p.root, Signal: sig.send, Host: "worker-7"}
	res, err := z.Execute(context.Background(), sampleInput())
	require.NoError(t, err)
	require.Equal(t, StatusSucceeded, res.Status)
	require.Equal(t, "no zombie processes on worker-7", res.Output)
	require.Equal(t, "no zombie processes on worker-7: nothing to reap", res.Details)
	require.Empty(t, sig.sent)
	dry, err := z.DryRun(sampleInput())
	require.NoError(t, err)
	require.Equal(t, "no zombie processes on worker-7: nothing would be signalled", dry.Details)
	host, err := os.Hostname()
	require.NoError(t, err)
	res, err = (&ZombieReaper{ProcRoot: p.root, Signal: sig.send}).Execute(context.Background(), sampleInput())
	require.NoError(t, err)
	require.Equal(t, "no zombie processes on "+host, res.Output, "the worker's own host by default")
}

func TestZombieReaperSignalFailure(t *testing.T) {
	p := newFakeProc(t)
	for _, parent := range []int{100, 200} {
		p.proc(parent, "parent", 'S', 1, 0)
		p.proc(parent+1, "zombie", 'Z', parent, 0)
	}
	sig := &signals{fail: map[int]bool{100: true}}
	z := &ZombieReaper{ProcRoot: p.root, Self: &Credentials{}, Signal: sig.send}
	res, err := z.Execute(context.Background(), sampleInput())
	require.ErrorIs(t, err, ErrFailed)
	require.ErrorContains(t, err, "signal parent 100: operation not permitted")
	require.Equal(t, StatusFailed, res.Status)
	require.Equal(t, []int{200}, sig.sent, "the other parent is still signalled")
}

func TestZombieReaperMissingProc(t *testing.T) {
	z := &ZombieReaper{ProcRoot: filepath.Join(t.TempDir(), "nope")}
	res, err := z.Execute(context.Background(), sampleInput())
	require.ErrorIs(t, err, ErrFailed)
	require.Equal(t, StatusFailed, res.Status)
	_, err = z.DryRun(sampleInput())
	require.ErrorIs(t, err, ErrFailed)
}

func TestParseStat(t *testing.T) {
	tests := []struct {
		in      string
		want    procStat
		wantErr string
	}{
		{"42 (bash) S 1 42 42 0", procStat{comm: "bash", state: 'S', ppid: 1}, ""},
		{"43 (my (odd) name) Z 42 1", procStat{comm: "my (odd) name", state: 'Z', ppid: 42}, ""},
		{"44 () R 0", procStat{comm: "", state: 'R', ppid: 0}, ""},
		{"45 bash S 1", procStat{}, "no (comm) field"},
		{"46 (bash)", procStat{}, "no state and ppid after (comm)"},
		{"47 (bash) S x", procStat{}, `ppid "x": strconv.Atoi: parsing "x": invalid syntax`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseStat(tt.in)
			if tt.wantErr != "" {
				require.EqualError(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestReadUIDs(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name, content string
		want          [4]int
		wantErr       string
	}{
		{"ok", "Name:\tx\nUid:\t1000\t1001\t1002\t1003\n", [4]int{1000, 1001, 1002, 1003}, ""},
		{"no uid", "Name:\tx\n", [4]int{}, "no Uid line"},
		{"short", "Uid:\t1\t2\n", [4]int{}, "malformed Uid line"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, tt.name)
			require.NoError(t, os.WriteFile(path, []byte(tt.content), 0o644))
			got, err := readUIDs(path)
			if tt.wantErr != "" {
				require.ErrorContains(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.want, got)
		})
	}
}

// containsZombie reports whether scan lists pid as a zombie of ppid.
func containsZombie(scan ZombieScan, pid, ppid int) bool {
	return slices.ContainsFunc(scan.Zombies, func(z Zombie) bool { return z.PID == pid && z.PPID == ppid })
}

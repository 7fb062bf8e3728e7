package remediation

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// BuiltinKillZombies is the name of the built-in zombie reaper.
const BuiltinKillZombies = "kill_zombie_processes"

// Zombie is a process in state Z (exited, not yet reaped by its parent).
type Zombie struct {
	PID  int    `json:"pid"`
	PPID int    `json:"ppid"`
	Comm string `json:"comm"`
}

// Credentials are the user IDs of the manager process, which decide which parents it may
// signal.
type Credentials struct {
	UID  int
	EUID int
}

// ZombieReaper is the built-in kill_zombie_processes action. A zombie cannot be killed: it
// is already dead and only its parent can remove it by reaping it (wait). The reaper finds
// zombies in /proc/*/stat and sends SIGCHLD to their parents, which makes a parent that
// handles SIGCHLD reap them. It signals only parents the manager may signal (same user,
// unless the manager runs as root) and never PID 1 or the parent-less (PPID 0).
type ZombieReaper struct {
	// ProcRoot is the proc file system, "/proc" when empty (tests use a fake tree).
	ProcRoot string
	// Self is the manager's credentials; nil means the real ones.
	Self *Credentials
	// Signal sends SIGCHLD to pid; nil means the real kill(2).
	Signal func(pid int) error
	// Host names the machine in the results; empty means os.Hostname(). The reaper acts
	// on the host of the worker that runs the action, whatever host the incident is about.
	Host string
}

func (z *ZombieReaper) host() string {
	if z.Host != "" {
		return z.Host
	}
	if h, err := os.Hostname(); err == nil && h != "" {
		return h
	}
	return "this host"
}

// ZombieScan is what a scan found: the zombies, the parents that will be (or were)
// signalled, and the parents skipped with the reason.
type ZombieScan struct {
	Zombies []Zombie       `json:"zombies"`
	Parents []int          `json:"parents"`
	Skipped map[int]string `json:"skipped,omitempty"`
}

func (z *ZombieReaper) procRoot() string {
	if z.ProcRoot == "" {
		return "/proc"
	}
	return z.ProcRoot
}

func (z *ZombieReaper) self() Credentials {
	if z.Self != nil {
		return *z.Self
	}
	return Credentials{UID: os.Getuid(), EUID: os.Geteuid()}
}

// Scan lists the zombie processes and decides which parents may be signalled.
func (z *ZombieReaper) Scan() (ZombieScan, error) {
	root := z.procRoot()
	entries, err := os.ReadDir(root)
	if err != nil {
		return ZombieScan{}, fmt.Errorf("read %s: %w", root, err)
	}
	scan := ZombieScan{Skipped: map[int]string{}}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid <= 0 {
			continue
		}
		data, err := os.ReadFile(filepath.Join(root, e.Name(), "stat"))
		if err != nil {
			continue // the process exited since ReadDir, or is not ours to read
		}
		st, err := parseStat(string(data))
		if err != nil {
			return ZombieScan{}, fmt.Errorf("%s/%d/stat: %w", root, pid, err)
		}
		if st.state == 'Z' {
			scan.Zombies = append(scan.Zombies, Zombie{PID: pid, PPID: st.ppid, Comm: st.comm})
		}
	}
	slices.SortFunc(scan.Zombies, func(a, b Zombie) int { return a.PID - b.PID })
	self := z.self()
	for _, zb := range scan.Zombies {
		ppid := zb.PPID
		if slices.Contains(scan.Parents, ppid) || scan.Skipped[ppid] != "" {
			continue
		}
		if reason := z.mayNotSignal(self, ppid); reason != "" {
			scan.Skipped[ppid] = reason
			continue
		}
		scan.Parents = append(scan.Parents, ppid)
	}
	slices.Sort(scan.Parents)
	return scan, nil
}

// mayNotSignal returns why the manager must not signal ppid, or "" when it may: kill(2)
// allows it when the sender is root or its real or effective UID equals the target's real
// or saved UID.
func (z *ZombieReaper) mayNotSignal(self Credentials, ppid int) string {
	if ppid <= 1 {
		return "init or no parent: never signalled"
	}
	uids, err := readUIDs(filepath.Join(z.procRoot(), strconv.Itoa(ppid), "status"))
	if err != nil {
		return "parent not readable: " + err.Error()
	}
	if self.EUID == 0 {
		return ""
	}
	real, saved := uids[0], uids[2]
	for _, mine := range []int{self.UID, self.EUID} {
		if mine == real || mine == saved {
			return ""
		}
	}
	return fmt.Sprintf("owned by uid %d, the manager runs as uid %d", real, self.EUID)
}

type procStat struct {
	comm  string
	state byte
	ppid  int
}

// parseStat parses the start of /proc/PID/stat: "pid (comm) state ppid ...". The command
// name may itself hold spaces and parentheses, so it ends at the last ')'.
func parseStat(s string) (procStat, error) {
	open, end := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || end < open {
		return procStat{}, errors.New("no (comm) field")
	}
	fields := strings.Fields(s[end+1:])
	if len(fields) < 2 || len(fields[0]) != 1 {
		return procStat{}, errors.New("no state and ppid after (comm)")
	}
	ppid, err := strconv.Atoi(fields[1])
	if err != nil {
		return procStat{}, fmt.Errorf("ppid %q: %w", fields[1], err)
	}
	return procStat{comm: s[open+1 : end], state: fields[0][0], ppid: ppid}, nil
}

// readUIDs returns the real, effective, saved and file-system UIDs of /proc/PID/status.
func readUIDs(path string) ([4]int, error) {
	var uids [4]int
	f, err := os.Open(path)
	if err != nil {
		return uids, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "Uid:")
		if !ok {
			continue
		}
		fields := strings.Fields(rest)
		if len(fields) != 4 {
			return uids, fmt.Errorf("%s: malformed Uid line", path)
		}
		for i, f := range fields {
			if uids[i], err = strconv.Atoi(f); err != nil {
				return uids, fmt.Errorf("%s: Uid %q: %w", path, f, err)
			}
		}
		return uids, nil
	}
	if err := sc.Err(); err != nil {
		return uids, err
	}
	return uids, fmt.Errorf("%s: no Uid line", path)
}

func (s ZombieScan) describe(host string) string {
	if len(s.Zombies) == 0 {
		return "no zombie processes on " + host
	}
	zs := make([]string, len(s.Zombies))
	for i, z := range s.Zombies {
		zs[i] = fmt.Sprintf("%d (%s, parent %d)", z.PID, z.Comm, z.PPID)
	}
	msg := fmt.Sprintf("%d zombie processes on %s: %s", len(s.Zombies), host, strings.Join(zs, ", "))
	for _, ppid := range sortedKeys(s.Skipped) {
		msg += fmt.Sprintf("; parent %d skipped: %s", ppid, s.Skipped[ppid])
	}
	return msg
}

// DryRun lists the zombies and the parents that would receive SIGCHLD.
func (z *ZombieReaper) DryRun(Input) (Result, error) {
	scan, err := z.Scan()
	if err != nil {
		return Result{Status: StatusFailed, ExitCode: -1, Details: err.Error()}, fmt.Errorf("%w: %w", ErrFailed, err)
	}
	if len(scan.Zombies) == 0 {
		return Result{Status: StatusDryRun, ExitCode: -1, Output: scan.describe(z.host()),
			Details: "no zombie processes on " + z.host() + ": nothing would be signalled"}, nil
	}
	return Result{Status: StatusDryRun, ExitCode: -1, Output: scan.describe(z.host()),
		Details: fmt.Sprintf("would send SIGCHLD to parents %v of %d zombie processes on %s", scan.Parents, len(scan.Zombies), z.host())}, nil
}

// Execute sends SIGCHLD to every parent it may signal. It fails when a signal fails, or
// when there are zombies but none of their parents may be signalled (nothing was done).
// Zombies disappear only once their parent reaps them; a parent that ignores SIGCHLD keeps
// them, and the output says which parents were signalled so a human can follow up.
func (z *ZombieReaper) Execute(ctx context.Context, _ Input) (Result, error) {
	start := time.Now()
	scan, err := z.Scan()
	if err != nil {
		return Result{Status: StatusFailed, ExitCode: -1, Details: err.Error(), Duration: time.Since(start)},
			fmt.Errorf("%w: %w", ErrFailed, err)
	}
	send := z.Signal
	if send == nil {
		send = sigchld
	}
	var errs []error
	var signalled []int
	for _, ppid := range scan.Parents {
		if err := ctx.Err(); err != nil {
			errs = append(errs, err)
			break
		}
		if err := send(ppid); err != nil {
			errs = append(errs, fmt.Errorf("signal parent %d: %w", ppid, err))
			continue
		}
		signalled = append(signalled, ppid)
	}
	res := Result{Status: StatusSucceeded, ExitCode: 0, Output: scan.describe(z.host()), Duration: time.Since(start),
		Details: fmt.Sprintf("sent SIGCHLD to parents %v of %d zombie processes on %s", signalled, len(scan.Zombies), z.host())}
	if len(scan.Zombies) == 0 {
		res.Details = "no zombie processes on " + z.host() + ": nothing to reap"
	}
	if len(scan.Zombies) > 0 && len(scan.Parents) == 0 {
		errs = append(errs, errors.New("no parent of the zombie processes may be signalled"))
	}
	if len(errs) > 0 {
		res.Status, res.ExitCode = StatusFailed, -1
		return res, fmt.Errorf("%w: %w", ErrFailed, errors.Join(errs...))
	}
	return res, nil
}

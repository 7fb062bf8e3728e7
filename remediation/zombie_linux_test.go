package remediation

import (
	"context"
	"os"
	"os/exec"
	"syscall"
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

// waitExitedNoReap blocks until the child pid has exited, leaving it a zombie: waitid with
// WNOWAIT reports the exit without reaping.
func waitExitedNoReap(pid int) error {
	const pPID = 1 // idtype_t P_PID
	var siginfo [128]byte
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&siginfo[0])), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		switch errno {
		case 0:
			return nil
		case syscall.EINTR:
			continue
		default:
			return errno
		}
	}
}

// TestZombieReaperRealZombie makes a real zombie (a child that exited and that this test
// has not waited for yet) and checks that the reaper finds it in the real /proc and
// signals this process, its parent.
func TestZombieReaperRealZombie(t *testing.T) {
	child := exec.Command(helperPath(t))
	child.Env = append(os.Environ(), helperEnv+"=quiet")
	require.NoError(t, child.Start())
	reaped := false
	t.Cleanup(func() {
		if !reaped {
			_ = child.Wait()
		}
	})
	require.NoError(t, waitExitedNoReap(child.Process.Pid))

	// Signal for real only this process: as root the reaper may signal any parent on the
	// machine, and a test has no business doing that.
	var sent []int
	z := &ZombieReaper{Signal: func(pid int) error {
		sent = append(sent, pid)
		if pid == os.Getpid() {
			return sigchld(pid)
		}
		return nil
	}}
	scan, err := z.Scan()
	require.NoError(t, err)
	require.True(t, containsZombie(scan, child.Process.Pid, os.Getpid()), "zombies found: %v", scan.Zombies)
	require.Contains(t, scan.Parents, os.Getpid())

	dry, err := z.DryRun(sampleInput())
	require.NoError(t, err)
	require.Empty(t, sent)
	require.Contains(t, dry.Details, "would send SIGCHLD to parents")

	res, err := z.Execute(context.Background(), sampleInput())
	require.NoError(t, err)
	require.Equal(t, StatusSucceeded, res.Status)
	require.Contains(t, sent, os.Getpid())

	require.NoError(t, child.Wait())
	reaped = true
	scan, err = z.Scan()
	require.NoError(t, err)
	require.False(t, containsZombie(scan, child.Process.Pid, os.Getpid()), "reaped by Wait")
}

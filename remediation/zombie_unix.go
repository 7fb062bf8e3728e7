//go:build unix

package remediation

import "syscall"

// sigchld sends SIGCHLD to pid.
func sigchld(pid int) error { return syscall.Kill(pid, syscall.SIGCHLD) }

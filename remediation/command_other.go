//go:build !unix

package remediation

import "os/exec"

// killGroupOnCancel keeps exec's default: the process itself is killed on cancellation.
func killGroupOnCancel(*exec.Cmd) {}

//go:build !unix

package remediation

import "errors"

// sigchld is unsupported: zombie processes are a Unix notion.
func sigchld(int) error { return errors.New("signals are not supported on this platform") }

//go:build unix

package detector

import (
	"syscall"
	"time"
)

// processCPUTime is the user+system CPU time of the process, so that the benchmark can
// report events per CPU-second: a per-core figure that other load on the machine does not
// distort the way it distorts wall time.
func processCPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

//go:build !unix

package detector

import "time"

// processCPUTime is not measured on this platform; the benchmark then omits the metric.
func processCPUTime() time.Duration { return 0 }

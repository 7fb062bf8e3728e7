package integration

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"
)

// stormReport is everything BenchmarkStorm measured; print writes it as Markdown tables
// (the form docs/benchmarks.md uses), with ratios to Alertmanager and the targets.
type stormReport struct {
	cfg        benchSettings
	loadBefore string

	amVersion       string
	amQuiet         loadResult
	amSingle        loadResult
	quiet, single   loadResult
	storm20         stormResult
	storm200        stormResult
	raw             rawResult
	opens           opensResult
	detect          []time.Duration // workflow start time - 202 of the crossing event, sorted
	detectSeen      []time.Duration // first successful DescribeWorkflowExecution - 202, sorted
	detectBefore202 int             // samples whose workflow started before the 202
	rssIdle         int64           // KiB, after start-up
	rssPeakKB       int64           // KiB, peak of the 200 ms samples
	rssHWMKB        int64           // KiB, the kernel's VmHWM
	notes           []string
}

// Targets of issue 8, as ratios in the same run.
const (
	targetQuiet        = 1.0 // quiet batches vs Alertmanager's batches
	targetSingle       = 1.0 // one per request vs Alertmanager's one per request
	targetStorm        = 0.5 // storm vs Alertmanager's quiet batches
	targetSignals      = 1.0 // attach signals per incident per second, at most
	targetOpens        = 0.8 // opens vs raw SignalWithStartWorkflow
	targetDetectP99    = 100 * time.Millisecond
	notAvailable       = "n/a"
	notAvailableReason = "n/a (the manager does not export mahavishnu_temporal_signals_total{kind=\"attach\"})"
)

func ratio(a, b float64) (float64, bool) {
	if b <= 0 || math.IsNaN(a) || math.IsNaN(b) {
		return 0, false
	}
	return a / b, true
}

func fmtRatio(a, b float64) string {
	r, ok := ratio(a, b)
	if !ok {
		return notAvailable
	}
	if r < 0.1 {
		return fmt.Sprintf("%.4f×", r)
	}
	return fmt.Sprintf("%.2f×", r)
}

// fmtRate formats a rate with thousands separators.
func fmtRate(v float64) string {
	n := int64(math.Round(v))
	s := fmt.Sprint(n)
	var out []byte
	for i := range len(s) {
		if i > 0 && (len(s)-i)%3 == 0 && s[i-1] != '-' {
			out = append(out, ',')
		}
		out = append(out, s[i])
	}
	return string(out)
}

func ms(d time.Duration) string {
	v := float64(d) / float64(time.Millisecond)
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f ms", v)
	case v >= 10:
		return fmt.Sprintf("%.1f ms", v)
	}
	return fmt.Sprintf("%.2f ms", v)
}

func latencies(r loadResult) string {
	out := fmt.Sprintf("p50 %s, p99 %s", ms(r.Percentile(0.50)), ms(r.Percentile(0.99)))
	if len(r.Latencies) > 0 {
		out += fmt.Sprintf(", max %s over %d requests", ms(r.Latencies[len(r.Latencies)-1]), len(r.Latencies))
	}
	if r.Busy > 0 {
		out += fmt.Sprintf("; %d answers were 503 (retried after Retry-After)", r.Busy)
	}
	if r.Abandoned > 0 {
		out += fmt.Sprintf(", %d requests still refused when retrying stopped", r.Abandoned)
	}
	return out
}

func met(ok bool) string {
	if ok {
		return "**met**"
	}
	return "not met"
}

// machine describes the host: nproc, CPU model, Go version, load average.
func machine() string {
	model := "unknown CPU"
	if data, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for line := range strings.Lines(string(data)) {
			if v, ok := strings.CutPrefix(line, "model name"); ok {
				model = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(v), ":"))
				break
			}
		}
	}
	mem := readMemTotalGiB()
	return fmt.Sprintf("nproc %d, %s, %s %s/%s, %s GiB RAM", runtime.NumCPU(), model, runtime.Version(), runtime.GOOS, runtime.GOARCH, mem)
}

func readMemTotalGiB() string {
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return "?"
	}
	for line := range strings.Lines(string(data)) {
		if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
			var kb int64
			fmt.Sscanf(strings.TrimSpace(v), "%d", &kb)
			return fmt.Sprintf("%.0f", float64(kb)/(1<<20))
		}
	}
	return "?"
}

func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(data))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

func (r *stormReport) signals(s stormResult) string {
	v, ok := s.SignalsPerIncidentSecond()
	if !ok {
		return notAvailable
	}
	return fmt.Sprintf("%.2f", v)
}

func (r *stormReport) stormRow(w io.Writer, name string, s stormResult) {
	detected := ""
	if v, ok := s.DetectedPerSecond(); ok {
		detected = fmt.Sprintf("; %s events/s including the detector's catch-up (lag %d events at the end, %s to 0)",
			fmtRate(v), s.lagAtEnd, ms(s.catchUp))
	}
	fmt.Fprintf(w, "| %s | %s events/s, %s%s | %s alerts/s (its quiet batches) | %s |\n", name,
		fmtRate(s.load.PerSecond()), latencies(s.load), detected, fmtRate(r.amQuiet.PerSecond()),
		fmtRatio(s.load.PerSecond(), r.amQuiet.PerSecond()))
}

// print writes the report.
func (r *stormReport) print(w io.Writer) {
	fmt.Fprintf(w, "\n## BenchmarkStorm: event path under load (issue 8)\n\n")
	fmt.Fprintf(w, "machine: %s; load average %s at the start, %s at the end\n", machine(), r.loadBefore, loadAverage())
	fmt.Fprintf(w, "streams: %s each, %d concurrent loopback clients; %s; Mahavishnu: the built binary, `incidents start`, embedded default\n\n",
		r.cfg.duration, r.cfg.clients, r.amVersion)

	fmt.Fprintln(w, "| stream | Mahavishnu | Alertmanager | ratio |")
	fmt.Fprintln(w, "|---|---|---|---|")
	fmt.Fprintf(w, "| batches of 50, matching no rule | %s events/s, %s | %s alerts/s, %s | %s |\n",
		fmtRate(r.quiet.PerSecond()), latencies(r.quiet), fmtRate(r.amQuiet.PerSecond()), latencies(r.amQuiet),
		fmtRatio(r.quiet.PerSecond(), r.amQuiet.PerSecond()))
	fmt.Fprintf(w, "| one event per request, matching no rule | %s events/s, %s | %s alerts/s, %s | %s |\n",
		fmtRate(r.single.PerSecond()), latencies(r.single), fmtRate(r.amSingle.PerSecond()), latencies(r.amSingle),
		fmtRatio(r.single.PerSecond(), r.amSingle.PerSecond()))
	r.stormRow(w, "storm: batches of 50 into 20 open incidents", r.storm20)
	r.stormRow(w, "storm: batches of 50 into 200 open incidents", r.storm200)
	fmt.Fprintln(w)

	fmt.Fprintln(w, "| figure | value |")
	fmt.Fprintln(w, "|---|---|")
	for _, s := range []struct {
		name string
		res  stormResult
	}{{"20", r.storm20}, {"200", r.storm200}} {
		sig := r.signals(s.res)
		if sig == notAvailable {
			sig = notAvailableReason
		} else {
			sig = fmt.Sprintf("%s (%.0f signals in %s)", sig, s.res.signals, s.res.load.Elapsed.Round(time.Millisecond))
		}
		fmt.Fprintf(w, "| attach signals per incident per second, storm into %s | %s |\n", s.name, sig)
		fmt.Fprintf(w, "| Temporal history events per incident per second, storm into %s | %.1f (DescribeWorkflowExecution history length, before/after) |\n",
			s.name, s.res.HistoryPerIncidentSecond())
	}
	openNote := ""
	if r.opens.timedOut {
		openNote = fmt.Sprintf(" (timed out: %d of %d started)", r.opens.started, r.opens.want)
	}
	fmt.Fprintf(w, "| %s incidents opened (threshold-1 rule, batches of 50), until all workflows started | %s incidents/s (%d started, latest start %s after the first request; ingest took %s, %s)%s |\n",
		fmtRate(float64(r.opens.want)), fmtRate(r.opens.PerSecond()), r.opens.started, r.opens.untilStarted.Round(time.Millisecond),
		r.opens.ingest.Elapsed.Round(time.Millisecond), latencies(r.opens.ingest), openNote)
	fmt.Fprintf(w, "| raw SignalWithStartWorkflow, same server, %d goroutines | %s workflows/s (%d in %s) |\n",
		r.cfg.clients, fmtRate(r.raw.PerSecond()), r.raw.n, r.raw.elapsed.Round(time.Millisecond))
	fmt.Fprintf(w, "| opens vs raw SignalWithStartWorkflow | %s |\n", fmtRatio(r.opens.PerSecond(), r.raw.PerSecond()))
	fmt.Fprintf(w, "| detection latency, idle (%d fresh sources; workflow start time − 202 of the crossing event) | p50 %s, p99 %s; %d of %d workflows started before the 202 (counted as 0) |\n",
		len(r.detect), ms(percentile(r.detect, 0.50)), ms(percentile(r.detect, 0.99)), r.detectBefore202, len(r.detect))
	fmt.Fprintf(w, "| same, as the client sees it (202 → first successful DescribeWorkflowExecution, 2 ms polls) | p50 %s, p99 %s |\n",
		ms(percentile(r.detectSeen, 0.50)), ms(percentile(r.detectSeen, 0.99)))
	fmt.Fprintf(w, "| manager RSS | %.0f MiB after start-up, peak %.0f MiB (VmRSS every 200 ms), VmHWM %.0f MiB |\n",
		float64(r.rssIdle)/1024, float64(r.rssPeakKB)/1024, float64(r.rssHWMKB)/1024)
	fmt.Fprintln(w)

	fmt.Fprintln(w, "| target (issue 8) | measured | |")
	fmt.Fprintln(w, "|---|---|---|")
	q, qok := ratio(r.quiet.PerSecond(), r.amQuiet.PerSecond())
	fmt.Fprintf(w, "| quiet batches ≥ %.1f× Alertmanager | %s | %s |\n", targetQuiet, fmtRatio(r.quiet.PerSecond(), r.amQuiet.PerSecond()), met(qok && q >= targetQuiet))
	o, ook := ratio(r.single.PerSecond(), r.amSingle.PerSecond())
	fmt.Fprintf(w, "| one event per request ≥ %.1f× Alertmanager | %s | %s |\n", targetSingle, fmtRatio(r.single.PerSecond(), r.amSingle.PerSecond()), met(ook && o >= targetSingle))
	for _, s := range []struct {
		name string
		res  stormResult
	}{{"20", r.storm20}, {"200", r.storm200}} {
		st, sok := ratio(s.res.load.PerSecond(), r.amQuiet.PerSecond())
		sig, sigOK := s.res.SignalsPerIncidentSecond()
		fmt.Fprintf(w, "| storm into %s ≥ %.1f× Alertmanager's quiet batches, ≤ %.0f signal per incident per second | %s, %s signals/incident/s | %s |\n",
			s.name, targetStorm, targetSignals, fmtRatio(s.res.load.PerSecond(), r.amQuiet.PerSecond()), r.signals(s.res),
			met(sok && st >= targetStorm && sigOK && sig <= targetSignals))
	}
	op, opok := ratio(r.opens.PerSecond(), r.raw.PerSecond())
	fmt.Fprintf(w, "| opens ≥ %.1f× raw SignalWithStartWorkflow | %s | %s |\n", targetOpens, fmtRatio(r.opens.PerSecond(), r.raw.PerSecond()), met(opok && op >= targetOpens && !r.opens.timedOut))
	p99 := percentile(r.detect, 0.99)
	fmt.Fprintf(w, "| detection p99 ≤ %s when idle | %s | %s |\n", ms(targetDetectP99), ms(p99), met(len(r.detect) > 0 && p99 <= targetDetectP99))
	if len(r.notes) > 0 {
		fmt.Fprintln(w, "\nnotes:")
		for _, n := range r.notes {
			fmt.Fprintf(w, "- %s\n", n)
		}
	}
	fmt.Fprintln(w)
}

// reportMetrics adds the main figures to the benchmark's result line.
func (r *stormReport) reportMetrics(b *testing.B) {
	b.ReportMetric(r.amQuiet.PerSecond(), "am-batch-alerts/s")
	b.ReportMetric(r.amSingle.PerSecond(), "am-single-alerts/s")
	b.ReportMetric(r.quiet.PerSecond(), "batch-events/s")
	b.ReportMetric(r.single.PerSecond(), "single-events/s")
	b.ReportMetric(r.storm20.load.PerSecond(), "storm20-events/s")
	b.ReportMetric(r.storm200.load.PerSecond(), "storm200-events/s")
	b.ReportMetric(r.opens.PerSecond(), "opens/s")
	b.ReportMetric(r.raw.PerSecond(), "raw-sws/s")
	b.ReportMetric(float64(percentile(r.detect, 0.99))/float64(time.Millisecond), "detect-p99-ms")
	b.ReportMetric(float64(r.rssHWMKB)/1024, "rss-peak-MiB")
}

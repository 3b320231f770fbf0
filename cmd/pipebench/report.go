package main

import (
	"fmt"
	"strings"
	"time"
)

// report is what a pipebench invocation measured.
type report struct {
	N, Cores, Concurrency, Raw int
	Rate                       float64 // offered complaints a second; 0: unpaced
	Results                    []result
}

func fmtDur(d time.Duration) string {
	switch {
	case d <= 0:
		return "0"
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	default:
		return fmt.Sprintf("%.2f s", d.Seconds())
	}
}

func mib(b int64) string { return fmt.Sprintf("%.0f MiB", float64(b)/(1<<20)) }

func ratio(a, b float64) string {
	if b <= 0 {
		return "—"
	}
	return fmt.Sprintf("%.3f", a/b)
}

// Markdown renders the report as the tables BENCHMARKS.md holds.
func (r report) Markdown() string {
	var b strings.Builder
	offered := "as fast as the intake takes them"
	if r.Rate > 0 {
		offered = fmt.Sprintf("offered at %g/s", r.Rate)
	}
	fmt.Fprintf(&b, "### Whole pipeline, %d complaints (pipebench, %d cores, %d concurrent posts, %s)\n\n", r.N, r.Cores, r.Concurrency, offered)
	b.WriteString("| deployment | accepted | assigned | unlocated | cases | callbacks | drained | intake accepts/s | end to end complaints/s | first post → last assigned | p50 | p90 | p99 | p99.9 | max | hotline told p50 / p99 |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, x := range r.Results {
		drained := "yes"
		if !x.Drained {
			drained = "**no**"
		}
		fmt.Fprintf(&b, "| %s | %d | %d | %d | %d | %d | %s | %.0f | **%.0f** | %s | %s | %s | **%s** | %s | %s | %s / %s |\n",
			x.Mode, x.Accepted, x.Assigned, x.Unlocated, x.Cases, x.Callbacks, drained, x.PostRate, x.Throughput,
			fmtDur(x.Span), fmtDur(x.P50), fmtDur(x.P90), fmtDur(x.P99), fmtDur(x.P999), fmtDur(x.Max), fmtDur(x.TellP50), fmtDur(x.TellP99))
	}
	b.WriteString("\nLatency is received → assigned: the intake's commit of the complaint to its case's first assignment (or its joining an assigned case). Hotline told: the intake's commit to the delivery of the work order's first callback.\n\n")

	b.WriteString("| deployment | process | CPU s | CPU ms per complaint | peak RSS |\n|---|---|--:|--:|--:|\n")
	for _, x := range r.Results {
		n := float64(max(x.Accepted, 1))
		var total float64
		for _, p := range x.Procs {
			total += p.CPU
			fmt.Fprintf(&b, "| %s | %s | %.1f | %.3f | %s |\n", x.Mode, p.Name, p.CPU, 1000*p.CPU/n, mib(p.PeakRSS))
		}
		fmt.Fprintf(&b, "| %s | PostgreSQL (all backends) | %.1f | %.3f | — |\n", x.Mode, x.PGCPU, 1000*x.PGCPU/n)
		fmt.Fprintf(&b, "| %s | pipebench (client, callback receiver) | %.1f | %.3f | — |\n", x.Mode, x.BenchCPU, 1000*x.BenchCPU/n)
		total += x.PGCPU + x.BenchCPU
		fmt.Fprintf(&b, "| %s | **all** | **%.1f** | **%.3f** | |\n", x.Mode, total, 1000*total/n)
	}

	fmt.Fprintf(&b, "\nBare rates of the same servers in the same run (%d messages of 1 KiB, %d rows), and the pipeline's end-to-end rate as a share of them:\n\n", r.Raw, r.Raw)
	b.WriteString("| deployment | JetStream async publish msgs/s | JetStream pull consume + ack msgs/s | PostgreSQL insert, 256 rows a commit, rows/s | pipeline / publish | pipeline / consume | pipeline / insert |\n")
	b.WriteString("|---|--:|--:|--:|--:|--:|--:|\n")
	for _, x := range r.Results {
		fmt.Fprintf(&b, "| %s (R%d) | %.0f | %.0f | %.0f | %s | %s | %s |\n", x.Mode, x.Replicas,
			x.RawJS.Publish, x.RawJS.Consume, x.RawPG,
			ratio(x.Throughput, x.RawJS.Publish), ratio(x.Throughput, x.RawJS.Consume), ratio(x.Throughput, x.RawPG))
	}
	return b.String()
}

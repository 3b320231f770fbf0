package testenv

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Metric reads the value of a gauge or counter from the process's default
// registry: the series of name whose labels include the given name, value
// pairs (none: the metric's only series). ok is false when there is no
// such series yet.
func Metric(t testing.TB, name string, labels ...string) (value float64, ok bool) {
	t.Helper()
	families, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	series:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for i := 0; i+1 < len(labels); i += 2 {
				if have[labels[i]] != labels[i+1] {
					continue series
				}
			}
			if g := m.GetGauge(); g != nil {
				return g.GetValue(), true
			}
			return m.GetCounter().GetValue(), true
		}
	}
	return 0, false
}

// MustMetric is Metric for a series that must exist.
func MustMetric(t testing.TB, name string, labels ...string) float64 {
	t.Helper()
	v, ok := Metric(t, name, labels...)
	if !ok {
		t.Fatalf("metric %s %v not registered", name, labels)
	}
	return v
}

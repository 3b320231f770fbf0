package main

import (
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseStat(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name     string
		line     string
		want     usage
		wantFail bool
	}{
		{
			name: "plain",
			line: "4242 (nuisance) S 17 4242 17 0 -1 4194560 9000 0 0 0 1234 566 10 20 20 0 12 0 100 1000000 5000",
			want: usage{PPid: 17, CPU: 18.00, Children: 0.30},
		},
		{
			name: "command name with spaces and parentheses",
			line: "99 (postgres: a (b) c) R 1 99 99 0 -1 0 0 0 0 0 250 50 100 300 20 0 1 0 5 1 2",
			want: usage{PPid: 1, CPU: 3.00, Children: 4.00},
		},
		{name: "no command name", line: "99 postgres R 1", wantFail: true},
		{name: "too few fields", line: "99 (x) R 1 2 3", wantFail: true},
		{name: "not a number", line: "4242 (x) S 17 4242 17 0 -1 0 0 0 0 0 abc 566 0 0 20 0 1 0 1 1 1", wantFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := parseStat([]byte(tt.line))
			if tt.wantFail {
				if err == nil {
					t.Fatalf("parseStat(%q) = %+v, want an error", tt.line, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("parseStat = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestParseHWM(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		status string
		want   int64
	}{
		{"present", "Name:\tnuisance\nVmPeak:\t  900000 kB\nVmHWM:\t  204800 kB\nVmRSS:\t  100000 kB\n", 204800 << 10},
		{"kernel thread", "Name:\tkworker\nState:\tI (idle)\n", 0},
		{"garbled", "VmHWM:\tlots kB\n", 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := parseHWM([]byte(tt.status)); got != tt.want {
				t.Fatalf("parseHWM = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestReadUsageOfItself(t *testing.T) {
	t.Parallel()
	u, err := readUsage(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if u.PPid != os.Getppid() {
		t.Fatalf("parent %d, want %d", u.PPid, os.Getppid())
	}
	if u.PeakRSS <= 0 {
		t.Fatalf("peak RSS %d of a running process", u.PeakRSS)
	}
}

func TestParseModes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in       string
		want     string
		wantFail bool
	}{
		{in: "all-in-one,cluster", want: "all-in-one,cluster"},
		{in: "cluster", want: "cluster"},
		{in: " cluster , all-in-one,cluster", want: "cluster,all-in-one"},
		{in: "", wantFail: true},
		{in: "docker", wantFail: true},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			t.Parallel()
			got, err := parseModes(tt.in)
			if tt.wantFail {
				if err == nil {
					t.Fatalf("parseModes(%q) = %v, want an error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if strings.Join(got, ",") != tt.want {
				t.Fatalf("parseModes(%q) = %v, want %s", tt.in, got, tt.want)
			}
		})
	}
}

func TestDrainStateDone(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		s      drainState
		posted int
		want   bool
	}{
		{"drained", drainState{Stored: 100, Located: 95, Seen: 100}, 100, true},
		{"not all stored", drainState{Stored: 99, Located: 95, Seen: 99}, 100, false},
		{"not all geocoded", drainState{Stored: 100, Located: 90, Seen: 98}, 100, false},
		{"located but in no case", drainState{Stored: 100, Located: 95, Seen: 100, Caseless: 3}, 100, false},
		{"events still in the outbox", drainState{Stored: 100, Located: 95, Seen: 100, Unsent: 1}, 100, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.s.done(tt.posted); got != tt.want {
				t.Fatalf("%+v.done(%d) = %v, want %v", tt.s, tt.posted, got, tt.want)
			}
		})
	}
}

func TestMarkdownReportsRatiosAndEveryProcess(t *testing.T) {
	t.Parallel()
	r := report{N: 1000, Cores: 2, Concurrency: 64, Raw: 5000, Results: []result{{
		Mode: modeAllInOne, Accepted: 1000, Assigned: 950, Drained: true, Throughput: 2000,
		P99: 800 * time.Millisecond, TellP50: 300 * time.Millisecond, TellP99: 1200 * time.Millisecond, Replicas: 1,
		Procs: []procStat{{Name: "nuisance up", CPU: 4, PeakRSS: 300 << 20}},
		PGCPU: 1,
		RawJS: rawJS{Publish: 8000, Consume: 4000},
		RawPG: 10000,
	}}}
	md := r.Markdown()
	for _, want := range []string{
		"| all-in-one | nuisance up | 4.0 | 4.000 | 300 MiB |",
		"| all-in-one (R1) | 8000 | 4000 | 10000 | 0.250 | 0.500 | 0.200 |",
		"**800 ms**",
		"| 300 ms / 1.20 s |",
		"| **all** | **5.0** |",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("report lacks %q:\n%s", want, md)
		}
	}
}

package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{{nil, 0}, {[]float64{3}, 3}, {[]float64{5, 1, 3}, 3}, {[]float64{4, 1, 3, 2}, 2.5}} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestCPUPerRequest(t *testing.T) {
	s := sample{wrkResult: wrkResult{Requests: 50000}, CPU: 2500 * time.Millisecond}
	if got := s.cpuPerReq(); got != 50 {
		t.Errorf("cpuPerReq = %v µs, want 50", got)
	}
	if got := (sample{CPU: time.Second}).cpuPerReq(); got != 0 {
		t.Errorf("no requests: %v, want 0", got)
	}
}

// A ratio pairs each round with the same round of the other call, not medians with
// medians: a slow round slows both.
func TestRatioByRound(t *testing.T) {
	mk := func(rps ...float64) *callResult {
		c := &callResult{}
		for i, v := range rps {
			c.Samples = append(c.Samples, sample{Round: i, wrkResult: wrkResult{Requests: uint64(v), DurationUS: 1e6}})
		}
		return c
	}
	a, b := mk(100, 50, 300), mk(1000, 500, 1000)
	got, ok := ratio(a, b, rpsOf)
	if !ok || got != 0.1 {
		t.Errorf("ratio = %v (%v), want 0.1", got, ok)
	}
	if _, ok := ratio(a, &callResult{}, rpsOf); ok {
		t.Error("ratio with no rounds in common: ok")
	}
}

func TestTrimLog(t *testing.T) {
	path := filepath.Join(t.TempDir(), "log")
	if err := os.WriteFile(path, []byte("first line\nsecond line\nthird\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := trimLog(path, 100); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "first line\nsecond line\nthird\n" {
		t.Errorf("a short log changed: %q", b)
	}
	if err := trimLog(path, 15); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "third\n" {
		t.Errorf("trimmed to %q, want the whole lines in the last 15 bytes", b)
	}
}

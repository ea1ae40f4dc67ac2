package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The steady run sends each stream at its rate, times a stall from when each request
// was due, counts refusals as errors, and reports both streams and their windows.
func TestSteadyRun(t *testing.T) {
	var basic, refused atomic.Int64
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/basic":
			if basic.Add(1) == 50 {
				time.Sleep(300 * time.Millisecond) // one stall
			}
		case "/refuse":
			if refused.Add(1)%10 == 0 {
				w.WriteHeader(http.StatusServiceUnavailable)
				return
			}
		}
		_, _ = w.Write([]byte("{}"))
	}))
	defer s.Close()
	streams := []*steadyStream{
		{Name: "kylin-basic", Label: "Basic", req: request{Method: "GET", URL: s.URL + "/basic"}},
		{Name: "healthz", Label: "healthz", req: request{Method: "GET", URL: s.URL + "/refuse"}},
	}
	r := runSteady(context.Background(), streams, 100, 2)
	b, h := r.stream("kylin-basic"), r.stream("healthz")
	if len(b.Lat) != 200 || b.Errors != 0 {
		t.Fatalf("Basic: %d answered, %d errors; want 200 and 0", len(b.Lat), b.Errors)
	}
	if len(h.Lat)+h.Errors != 200 || h.Errors != 20 {
		t.Fatalf("healthz: %d answered, %d errors; want 180 and 20", len(h.Lat), h.Errors)
	}
	if slow := b.p(100); slow < 300*time.Millisecond {
		t.Fatalf("the stalled request took %v, want ≥ 300 ms", slow)
	}
	if len(b.Windows) != 1 || len(b.Windows[0]) != 200 {
		t.Fatalf("windows %d (first %d requests), want 1 of 200", len(b.Windows), len(b.Windows[0]))
	}
	if v, ok := b.spread(); !ok || v < 1 {
		t.Fatalf("p99 ÷ p50 = %v, %v", v, ok)
	}
	md := r.section()
	for _, want := range []string{"## Basic over 2 seconds at a fixed rate", "| Basic | 200 |", "| healthz | 180 |", "| 0–10 s |"} {
		if !strings.Contains(md, want) {
			t.Fatalf("section lacks %q:\n%s", want, md)
		}
	}
	rep := report{Steady: r}
	var target *target
	for _, x := range rep.targets() {
		if strings.HasPrefix(x.What, "Basic p99") {
			target = &x
		}
	}
	if target == nil || !target.Known || !strings.Contains(target.Measured, "`/healthz` beside it") {
		t.Fatalf("no Basic target, or not measured: %+v", target)
	}
}

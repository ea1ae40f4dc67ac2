package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"
)

// The Basic-under-load measurement (issue 12: "Basic p99 under load stays within 2× its
// p50 over a 2-minute run"). wrk saturates the server, where every call's p99 is
// queueing (bare net/http's own p99 is 10–15× its p50 there), and its correction for
// coordinated omission turns the one password verification of a cold cache into a
// second of synthetic samples. So this drives Basic who-am-I and /healthz at once, each
// at a fixed rate well below saturation, open loop: each request is timed from when it
// was due, so a stall counts against every request it delays, as a client with its own
// schedule sees it. /healthz, in the same run, is what the machine and this client
// allow any call; a stampede (all clients missing the Basic cache together and queueing
// on the password hash, which made p99 seconds every 30 s) shows as Basic's windows
// standing out.

const (
	steadyWindow = 10 * time.Second
	steadyConns  = 16 // connections per stream at most
)

// steadyStream is one call's requests in the steady run.
type steadyStream struct {
	Name, Label string
	req         request
	Lat         []time.Duration // every answered request, sorted once the run ends
	Windows     [][]time.Duration
	Errors      int // connection errors and answers other than 200
}

func (s *steadyStream) p(q float64) time.Duration { return percentile(s.Lat, q) }

// spread is p99 ÷ p50.
func (s *steadyStream) spread() (float64, bool) {
	if len(s.Lat) == 0 || s.p(50) <= 0 {
		return 0, false
	}
	return float64(s.p(99)) / float64(s.p(50)), true
}

// steadyResult is the steady run: the streams side by side.
type steadyResult struct {
	Rate    int // requests per second per stream
	Seconds int
	Streams []*steadyStream
	Err     string
}

func (r *steadyResult) stream(name string) *steadyStream {
	for _, s := range r.Streams {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// runSteady drives every stream at rate requests per second each, for seconds, all at
// once.
func runSteady(ctx context.Context, streams []*steadyStream, rate, seconds int) *steadyResult {
	r := &steadyResult{Rate: rate, Seconds: seconds, Streams: streams}
	run := time.Duration(seconds) * time.Second
	var wg sync.WaitGroup
	for _, s := range streams {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s.drive(ctx, rate, run)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		r.Err = err.Error()
	}
	return r
}

// drive sends s's request at rate per second for run, each on its own goroutine (at
// most steadyConns in flight: one more waits, late, and its lateness counts).
func (s *steadyStream) drive(ctx context.Context, rate int, run time.Duration) {
	hc := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{
		MaxIdleConnsPerHost: steadyConns, MaxConnsPerHost: steadyConns}}
	defer hc.CloseIdleConnections()
	interval := time.Second / time.Duration(rate)
	windows := int((run + steadyWindow - 1) / steadyWindow)
	s.Windows = make([][]time.Duration, windows)
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; ; i++ {
		at := time.Duration(i) * interval
		if at >= run || ctx.Err() != nil {
			break
		}
		due := start.Add(at)
		if d := time.Until(due); d > 0 {
			t := time.NewTimer(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				t.Stop()
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			ok := s.send(ctx, hc)
			d := time.Since(due)
			mu.Lock()
			defer mu.Unlock()
			if !ok {
				s.Errors++
				return
			}
			s.Lat = append(s.Lat, d)
			w := int(at / steadyWindow)
			s.Windows[w] = append(s.Windows[w], d)
		}()
	}
	wg.Wait()
	sort.Slice(s.Lat, func(i, j int) bool { return s.Lat[i] < s.Lat[j] })
	for _, w := range s.Windows {
		sort.Slice(w, func(i, j int) bool { return w[i] < w[j] })
	}
}

// send sends s's request once and reads the answer; ok is a 200.
func (s *steadyStream) send(ctx context.Context, hc *http.Client) bool {
	req, err := http.NewRequestWithContext(ctx, s.req.Method, s.req.URL, nil)
	if err != nil {
		return false
	}
	for k, v := range s.req.Headers {
		req.Header.Set(k, v)
	}
	res, err := hc.Do(req)
	if err != nil {
		return false
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return err == nil && res.StatusCode == 200
}

// section is results.md's part on the steady run.
func (r *steadyResult) section() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("## Basic over %d seconds at a fixed rate\n\n", r.Seconds)
	w("Issue 12's Basic target. wrk saturates the server, where any call's p99 is queueing (bare net/http's own is 10–15× its p50 above), "+
		"and its correction for coordinated omission turns the one password verification of a cold Basic cache into a second of synthetic samples. "+
		"Here the harness sends Kylin's who-am-I with HTTP Basic (ADMIN's password on every request, as Kylin's clients do) and `GET /healthz` at the same time, "+
		"each at %d requests/s for %d s (open loop, at most %d connections each: every request is timed from when it was due, so a stall counts against every request it delays). "+
		"The Basic cache starts as the wrk rounds left it. `/healthz`, measured beside it, is what this machine and this client allow any call. "+
		"Every %d s window is shown: a stampede (clients missing the cache together and queueing on the password hash) would stand out in Basic's.\n\n",
		r.Rate, r.Seconds, steadyConns, int(steadyWindow.Seconds()))
	if r.Err != "" {
		w("**Failed: %s**\n\n", r.Err)
	}
	w("| call | requests | p50 | p99 | p99 ÷ p50 | slowest | errors |\n|---|--:|--:|--:|--:|--:|--:|\n")
	for _, s := range r.Streams {
		v, ok := s.spread()
		w("| %s | %d | %s | %s | %s | %s | %d |\n", s.Label, len(s.Lat), msOf(s.p(50)), msOf(s.p(99)), times(v, ok), msOf(s.p(100)), s.Errors)
	}
	w("\np99 by %d s window:\n\n| window |", int(steadyWindow.Seconds()))
	for _, s := range r.Streams {
		w(" %s |", s.Name)
	}
	w("\n|---|")
	for range r.Streams {
		w("--:|")
	}
	w("\n")
	n := 0
	for _, s := range r.Streams {
		n = max(n, len(s.Windows))
	}
	for i := range n {
		w("| %d–%d s |", i*int(steadyWindow.Seconds()), (i+1)*int(steadyWindow.Seconds()))
		for _, s := range r.Streams {
			if i < len(s.Windows) && len(s.Windows[i]) > 0 {
				w(" %s |", msOf(percentile(s.Windows[i], 99)))
			} else {
				w(" – |")
			}
		}
		w("\n")
	}
	w("\n")
	return b.String()
}

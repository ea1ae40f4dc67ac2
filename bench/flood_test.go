package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func msList(v ...int) []time.Duration {
	out := make([]time.Duration, len(v))
	for i, x := range v {
		out[i] = time.Duration(x) * time.Millisecond
	}
	return out
}

// 1..20 ms, shuffled: nearest rank makes p99 of 20 samples the largest, p50 the 10th.
func TestPercentile(t *testing.T) {
	d := msList(7, 20, 1, 14, 3, 9, 18, 2, 11, 5, 16, 4, 13, 8, 19, 6, 12, 10, 15, 17)
	for _, c := range []struct {
		p    float64
		want time.Duration
	}{{99, 20 * time.Millisecond}, {50, 10 * time.Millisecond}, {100, 20 * time.Millisecond}, {0, time.Millisecond}, {95, 19 * time.Millisecond}} {
		if got := percentile(d, c.p); got != c.want {
			t.Errorf("p%v = %v, want %v", c.p, got, c.want)
		}
	}
	if d[0] != 7*time.Millisecond {
		t.Error("percentile sorted its argument")
	}
	if got := percentile(nil, 99); got != 0 {
		t.Errorf("p99 of nothing = %v", got)
	}
	if got := percentile(msList(5), 50); got != 5*time.Millisecond {
		t.Errorf("p50 of one = %v", got)
	}
}

// The ratio is per round (each round's flooded p99 over its own idle p99), then the
// median over rounds: not the median flooded p99 over the median idle p99.
func TestFloodRatioByRound(t *testing.T) {
	f := &floodResult{Rounds: []floodRound{
		{Round: 0, Idle: msList(10, 40), Flooded: msList(10, 60), Answers: floodCounts{OK: 3}},       // 1.5×
		{Round: 1, Idle: msList(10, 100), Flooded: msList(10, 400), Answers: floodCounts{OK: 1}},     // 4×
		{Round: 2, Idle: msList(10, 50), Flooded: msList(10, 100), Answers: floodCounts{TooMany: 9}}, // 2×
	}}
	got, ok := f.ratio()
	if !ok || got != 2 {
		t.Errorf("ratio = %v (%v), want 2", got, ok)
	}
	if m := f.med(floodRound.idleP99); m != 50000 {
		t.Errorf("median idle p99 = %v µs, want 50000", m)
	}
	if a := f.answers(); a != (floodCounts{OK: 4, TooMany: 9}) {
		t.Errorf("answers = %+v", a)
	}
	if !f.measured() {
		t.Error("not measured")
	}
	if _, ok := (floodRound{Idle: msList(0), Flooded: msList(5)}).ratio(); ok {
		t.Error("a zero idle p99 gave a ratio")
	}
	if _, ok := (&floodResult{}).ratio(); ok {
		t.Error("no rounds gave a ratio")
	}
}

func TestFloodMeasured(t *testing.T) {
	round := floodRound{Idle: msList(10), Flooded: msList(15), Answers: floodCounts{TooMany: 100, Failed: 3}}
	if (&floodResult{Rounds: []floodRound{round}}).measured() {
		t.Error("a flood without one 200 counts as measured")
	}
	round.Answers.OK = 1
	if !(&floodResult{Rounds: []floodRound{round}}).measured() {
		t.Error("a flood with 200s does not count as measured")
	}
	if (&floodResult{Rounds: []floodRound{round}, Err: "round 2: login: status 500"}).measured() {
		t.Error("a failed flood counts as measured")
	}
}

func floodTargetRow(t *testing.T, r *report) target {
	t.Helper()
	for _, x := range r.targets() {
		if x.What == floodTarget {
			return x
		}
	}
	t.Fatalf("no %q in the targets", floodTarget)
	return target{}
}

func TestFloodTarget(t *testing.T) {
	ok := floodCounts{OK: 10}
	for _, c := range []struct {
		name       string
		f          *floodResult
		measured   string
		met, known bool
	}{
		{"met", &floodResult{Rounds: []floodRound{{Idle: msList(50), Flooded: msList(90), Answers: ok}}}, "1.80×", true, true},
		{"at 2", &floodResult{Rounds: []floodRound{{Idle: msList(50), Flooded: msList(100), Answers: ok}}}, "2.00×", true, true},
		{"not met", &floodResult{Rounds: []floodRound{{Idle: msList(50), Flooded: msList(150), Answers: ok}}}, "3.00×", false, true},
		{"only 429s", &floodResult{Rounds: []floodRound{{Idle: msList(50), Flooded: msList(60), Answers: floodCounts{TooMany: 5}}}}, "–", true, false},
		{"failed", &floodResult{Err: "seed: boom"}, "–", true, false},
	} {
		x := floodTargetRow(t, &report{Flood: c.f})
		if x.Measured != c.measured || x.Known != c.known || (c.known && x.Met != c.met) {
			t.Errorf("%s: %+v, want %q met %v known %v", c.name, x, c.measured, c.met, c.known)
		}
	}
	for _, x := range (&report{}).targets() {
		if x.What == floodTarget {
			t.Error("a run without the flood lists its target")
		}
	}
}

func TestFloodSection(t *testing.T) {
	f := &floodResult{Rounds: []floodRound{
		{Round: 0, Idle: msList(30, 40), Flooded: msList(35, 60), Answers: floodCounts{OK: 12, TooMany: 300, Other: 1, Failed: 2}},
		{Round: 1, Idle: msList(30, 50), Flooded: msList(45, 150), Answers: floodCounts{OK: 8, TooMany: 200}},
	}}
	s := f.section()
	for _, want := range []string{
		"## Login during a query flood",
		"p99 is the slowest of them",
		"| idle | 30.0 ms | 45.0 ms |",
		"| flooded | 40.0 ms | 105 ms |",
		"flooded p99 ÷ idle p99: **2.25×**", // median of 1.5× and 3×
		"20 × 200, 500 × 429, 1 other, 2 without an answer",
		"SELECT pg_sleep(0.5)",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("section lacks %q:\n%s", want, s)
		}
	}
	if strings.Contains(s, "No flood query") || strings.Contains(s, "Failed") {
		t.Errorf("a sound flood is flagged:\n%s", s)
	}
	rows := f.roundsTable()
	for _, want := range []string{
		"| 1 | 30.0 ms | 40.0 ms | 35.0 ms | 60.0 ms | 1.50× | 12 | 300 | 1 | 2 |",
		"| 2 | 30.0 ms | 50.0 ms | 45.0 ms | 150 ms | 3.00× | 8 | 200 | 0 | 0 |",
	} {
		if !strings.Contains(rows, want) {
			t.Errorf("rounds table lacks %q:\n%s", want, rows)
		}
	}

	refused := (&floodResult{Rounds: []floodRound{{Idle: msList(30), Flooded: msList(31), Answers: floodCounts{TooMany: 50}}}}).section()
	if !strings.Contains(refused, "**No flood query was answered 200**") {
		t.Errorf("a flood of refusals is not flagged:\n%s", refused)
	}
	failed := (&floodResult{Err: "seed: POST /kylin/api/projects: status 403"}).section()
	if !strings.Contains(failed, "**Failed: seed: POST /kylin/api/projects: status 403**") || strings.Contains(failed, "| idle |") {
		t.Errorf("a failed flood:\n%s", failed)
	}
}

// fakeKala answers the flood's calls: logins 200; queries by user, as answer says.
func fakeKala(t *testing.T, answer func(user string, w http.ResponseWriter)) (*httptest.Server, *atomic.Int64) {
	var queries atomic.Int64
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/auth/access-token", func(w http.ResponseWriter, r *http.Request) {
		var b struct{ Username, Password string }
		if json.NewDecoder(r.Body).Decode(&b) != nil || b.Username != "bench_login" || b.Password != "right" {
			w.WriteHeader(401)
			return
		}
		_, _ = w.Write([]byte(`{"data":{"access_token":"x"}}`))
	})
	mux.HandleFunc("POST /kylin/api/query", func(w http.ResponseWriter, r *http.Request) {
		var b struct{ Project, SQL string }
		user, pw, _ := r.BasicAuth()
		if json.NewDecoder(r.Body).Decode(&b) != nil || b.Project != floodProject || pw != "pw" ||
			(b.SQL != floodQueries[0] && b.SQL != floodQueries[1]) {
			w.WriteHeader(400)
			return
		}
		queries.Add(1)
		answer(user, w)
	})
	s := httptest.NewServer(mux)
	t.Cleanup(s.Close)
	return s, &queries
}

func testCreds() floodCreds {
	c := floodCreds{password: "pw", loginUser: "bench_login", loginPassword: "right", project: floodProject}
	for i := range floodUsers {
		c.users = append(c.users, "bench_flood_"+string(rune('0'+i)))
	}
	return c
}

func TestFloodQueryRetryAfter(t *testing.T) {
	s, _ := fakeKala(t, func(user string, w http.ResponseWriter) {
		switch user {
		case "bench_flood_0":
			w.Header().Set("Retry-After", "3")
			w.WriteHeader(429)
		case "bench_flood_1":
			w.WriteHeader(429) // no Retry-After
		default:
			_, _ = w.Write([]byte(strings.Repeat("y", 100000)))
		}
	})
	f := newFlooder(s.URL, testCreds())
	ctx := context.Background()
	for _, c := range []struct {
		user   string
		status int
		wait   time.Duration
	}{{"bench_flood_0", 429, 3 * time.Second}, {"bench_flood_1", 429, time.Second}, {"bench_flood_2", 200, 0}} {
		if status, wait := f.query(ctx, c.user, floodQueries[0]); status != c.status || wait != c.wait {
			t.Errorf("%s: %d, wait %v; want %d, %v", c.user, status, wait, c.status, c.wait)
		}
	}
	if err := f.check(ctx); err == nil {
		t.Error("check passed though user 0 is refused")
	}
	if d, err := f.login(ctx); err != nil || d <= 0 {
		t.Errorf("login: %v, %v", d, err)
	}
	f.c.loginPassword = "wrong"
	if _, err := f.login(ctx); err == nil || !strings.Contains(err.Error(), "401") {
		t.Errorf("a refused login: %v", err)
	}
}

// Every answer is counted once, under its status; stop ends clients that are waiting
// out a Retry-After, without waiting it out.
func TestFloodCountsAndStop(t *testing.T) {
	const enough = 300
	reached := make(chan struct{})
	var once sync.Once
	var q *atomic.Int64
	s, q := fakeKala(t, func(user string, w http.ResponseWriter) {
		if q.Load() >= enough {
			once.Do(func() { close(reached) })
		}
		switch user {
		case "bench_flood_1":
			w.Header().Set("Retry-After", "3600") // stop must cut this wait short
			w.WriteHeader(429)
		case "bench_flood_2":
			w.WriteHeader(503)
		default:
			_, _ = w.Write([]byte("[]"))
		}
	})
	f := newFlooder(s.URL, testCreds())
	var counts [4]atomic.Uint64
	stop := make(chan struct{})
	wait := f.flood(context.Background(), stop, &counts)
	<-reached
	close(stop)
	done := make(chan struct{})
	go func() { wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the flood's clients did not stop (a Retry-After wait ignores stop?)")
	}
	ok, tooMany, other, failed := counts[0].Load(), counts[1].Load(), counts[2].Load(), counts[3].Load()
	if ok == 0 || other == 0 || failed != 0 {
		t.Errorf("200: %d, 429: %d, other: %d, failed: %d", ok, tooMany, other, failed)
	}
	// 8 clients are bench_flood_1: each asked once, then waits an hour
	if tooMany != floodClients/floodUsers {
		t.Errorf("429s: %d, want %d (one per client of the refused user)", tooMany, floodClients/floodUsers)
	}
	if total := ok + tooMany + other + failed; total != uint64(q.Load()) {
		t.Errorf("counted %d answers, the server answered %d", total, q.Load())
	}
}

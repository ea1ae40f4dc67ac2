package main

import (
	"context"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The login-under-query-flood measurement (issue 9: "login p99 during a query flood stays
// within 2× its idle value"), from outside the server: the flood's clients are goroutines
// of this process, not of kala serve, so they do not share the server's Go scheduler as
// the in-process BenchmarkLoginUnderQueryFlood's do.

const (
	floodProject = "bench_flood"
	floodUsers   = 8  // users with QUERY access; client i is user i%8
	floodClients = 64 // over the per-user (4) and server (32) query limits on purpose
	floodLogins  = 20 // sequential logins per phase and round
	floodSettle  = 5  // logins before each idle phase, not counted
	floodRamp    = 2 * time.Second
)

// floodQueries alternate per client: a big answer (cut at the server's byte cap) and a
// query that holds its slot while doing nothing.
var floodQueries = []string{`SELECT repeat('y', 1000000) FROM generate_series(1, 200)`, `SELECT pg_sleep(0.5)`}

// floodCreds are the flood's users (one password for all) and the login user.
type floodCreds struct {
	users                             []string
	password                          string
	loginUser, loginPassword, project string
}

// seedFlood creates the flood's project and users, and gives the users QUERY access to it,
// through the API as an administrator would.
func seedFlood(a api, k kalaCreds) (floodCreds, error) {
	c := floodCreds{password: randomPassword(), loginUser: k.loginUser, loginPassword: k.loginPassword, project: floodProject}
	bearer := map[string]string{"Authorization": "Bearer " + k.token}
	if _, err := a.do("POST", "/kylin/api/projects", bearer,
		map[string]string{"name": floodProject, "description": "make bench: login during a query flood"}, nil, 200); err != nil {
		return c, err
	}
	for i := range floodUsers {
		c.users = append(c.users, fmt.Sprintf("bench_flood_%d", i))
	}
	if err := parallel(len(c.users), 4, func(i int) error {
		_, err := a.do("POST", "/api/users", bearer, map[string]any{"username": c.users[i], "password": c.password}, nil, 201)
		return err
	}); err != nil {
		return c, err
	}
	_, err := a.do("POST", "/kylin/api/access/project", bearer, map[string]any{"project": floodProject, "type": "user",
		"permission": "QUERY", "names": c.users}, nil, 200)
	return c, err
}

// floodCounts are the flood's answers by status.
type floodCounts struct {
	OK, TooMany, Other, Failed uint64 // 200, 429, any other status, no answer
}

func (c floodCounts) add(d floodCounts) floodCounts {
	return floodCounts{c.OK + d.OK, c.TooMany + d.TooMany, c.Other + d.Other, c.Failed + d.Failed}
}

// floodRound is one A B pair: logins without the flood, then during it.
type floodRound struct {
	Round         int
	Idle, Flooded []time.Duration
	Answers       floodCounts
}

// percentile is the nearest-rank percentile (p in 0..100): the smallest sample with at
// least p% of the samples at or below it. With 20 samples p99 is the largest.
func percentile(d []time.Duration, p float64) time.Duration {
	if len(d) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	i := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func (r floodRound) idleP50() time.Duration    { return percentile(r.Idle, 50) }
func (r floodRound) idleP99() time.Duration    { return percentile(r.Idle, 99) }
func (r floodRound) floodedP50() time.Duration { return percentile(r.Flooded, 50) }
func (r floodRound) floodedP99() time.Duration { return percentile(r.Flooded, 99) }

// ratio is flooded p99 ÷ idle p99 in this round.
func (r floodRound) ratio() (float64, bool) {
	i := r.idleP99()
	if i == 0 || len(r.Flooded) == 0 {
		return 0, false
	}
	return float64(r.floodedP99()) / float64(i), true
}

// floodResult is the measurement's rounds, or why it failed.
type floodResult struct {
	Rounds []floodRound
	Err    string
}

// med is the median over rounds of g, in µs.
func (f *floodResult) med(g func(floodRound) time.Duration) float64 {
	v := make([]float64, len(f.Rounds))
	for i, r := range f.Rounds {
		v[i] = float64(g(r)) / float64(time.Microsecond)
	}
	return median(v)
}

// ratio is the median over rounds of each round's flooded p99 ÷ idle p99: the two
// phases of a round were measured seconds apart, under the same load from elsewhere.
func (f *floodResult) ratio() (float64, bool) {
	var v []float64
	for _, r := range f.Rounds {
		if x, ok := r.ratio(); ok {
			v = append(v, x)
		}
	}
	if len(v) == 0 {
		return 0, false
	}
	return median(v), true
}

func (f *floodResult) answers() floodCounts {
	var c floodCounts
	for _, r := range f.Rounds {
		c = c.add(r.Answers)
	}
	return c
}

// measured says whether the rounds measured a flood at all: a flood whose queries were
// all refused or failed loaded nothing but the server's error path.
func (f *floodResult) measured() bool {
	_, ok := f.ratio()
	return ok && f.Err == "" && f.answers().OK > 0
}

// flooder runs the flood against base and the sequential logins.
type flooder struct {
	base string
	hc   *http.Client
	c    floodCreds
}

func newFlooder(base string, c floodCreds) *flooder {
	return &flooder{base: base, c: c, hc: &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: 128},
		Timeout:   60 * time.Second,
	}}
}

// login sends one right-password JSON login and times it to the end of the answer.
func (f *flooder) login(ctx context.Context) (time.Duration, error) {
	body := fmt.Sprintf(`{"username":%q,"password":%q}`, f.c.loginUser, f.c.loginPassword)
	req, err := http.NewRequestWithContext(ctx, "POST", f.base+"/api/auth/access-token", strings.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	res, err := f.hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("login: %w", err)
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	d := time.Since(start)
	if err != nil {
		return 0, fmt.Errorf("login: %w", err)
	}
	if res.StatusCode != 200 {
		return 0, fmt.Errorf("login: status %d", res.StatusCode)
	}
	return d, nil
}

// query sends one flood query as user and reads the answer to the end; it returns the
// status (0 for no answer) and the Retry-After of a 429 (1 s if it has none).
func (f *flooder) query(ctx context.Context, user, sql string) (int, time.Duration) {
	body := fmt.Sprintf(`{"project":%q,"sql":%q}`, f.c.project, sql)
	req, err := http.NewRequestWithContext(ctx, "POST", f.base+"/kylin/api/query", strings.NewReader(body))
	if err != nil {
		return 0, 0
	}
	req.Header.Set("Content-Type", "application/json")
	req.SetBasicAuth(user, f.c.password)
	res, err := f.hc.Do(req)
	if err != nil {
		return 0, 0
	}
	_, err = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if err != nil {
		return 0, 0
	}
	var wait time.Duration
	if res.StatusCode == 429 {
		wait = time.Second
		if s, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && s >= 0 {
			wait = time.Duration(s) * time.Second
		}
	}
	return res.StatusCode, wait
}

// check runs each flood query once, so a seeding or SQL mistake fails before the rounds.
func (f *flooder) check(ctx context.Context) error {
	for _, sql := range floodQueries {
		if status, _ := f.query(ctx, f.c.users[0], sql); status != 200 {
			return fmt.Errorf("flood query %q as %s: status %d, want 200", sql, f.c.users[0], status)
		}
	}
	_, err := f.login(ctx)
	return err
}

// flood runs the flood's clients until stop is closed, counting answers into counts; the
// returned wait blocks until every client has finished its request in flight.
func (f *flooder) flood(ctx context.Context, stop <-chan struct{}, counts *[4]atomic.Uint64) (wait func()) {
	var wg sync.WaitGroup
	for i := range floodClients {
		user := f.c.users[i%len(f.c.users)]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				case <-ctx.Done():
					return
				default:
				}
				status, wait := f.query(ctx, user, floodQueries[(i+n)%len(floodQueries)])
				pause := wait
				switch {
				case status == 200:
					counts[0].Add(1)
				case status == 429:
					counts[1].Add(1)
				case status == 0:
					counts[3].Add(1)
					pause = 100 * time.Millisecond // a dead server is not hammered in a loop
				default:
					counts[2].Add(1)
				}
				if pause > 0 {
					select {
					case <-stop:
					case <-ctx.Done():
					case <-time.After(pause):
					}
				}
			}
		}()
	}
	return wg.Wait
}

// logins times n sequential logins.
func (f *flooder) logins(ctx context.Context, n int) ([]time.Duration, error) {
	out := make([]time.Duration, 0, n)
	for range n {
		d, err := f.login(ctx)
		if err != nil {
			return out, err
		}
		out = append(out, d)
	}
	return out, nil
}

// round runs one A B pair: logins alone, then the flood, its ramp, logins during it, and
// the flood's end (its requests in flight finish, so the next idle phase starts quiet).
func (f *flooder) round(ctx context.Context, r int) (floodRound, error) {
	fr := floodRound{Round: r}
	// a few logins first, not counted: the first ones after a flood are still slow (the
	// server and PostgreSQL settling), which would make the idle p99 look worse than it is
	// and the ratio better
	if _, err := f.logins(ctx, floodSettle); err != nil {
		return fr, err
	}
	var err error
	if fr.Idle, err = f.logins(ctx, floodLogins); err != nil {
		return fr, err
	}
	var counts [4]atomic.Uint64
	stop := make(chan struct{})
	wait := f.flood(ctx, stop, &counts)
	select {
	case <-ctx.Done():
	case <-time.After(floodRamp): // the flood's ramp, not synchronisation
	}
	fr.Flooded, err = f.logins(ctx, floodLogins)
	close(stop)
	wait()
	fr.Answers = floodCounts{counts[0].Load(), counts[1].Load(), counts[2].Load(), counts[3].Load()}
	return fr, err
}

// runFlood seeds the flood and runs rounds interleaved rounds; a failure ends it and is
// reported in the result, not fatal to the rest of the run.
func runFlood(ctx context.Context, a api, k kalaCreds, rounds int, alive func() error) *floodResult {
	res := &floodResult{}
	fail := func(err error) *floodResult {
		res.Err = err.Error()
		logf("login during a query flood: %v", err)
		return res
	}
	c, err := seedFlood(a, k)
	if err != nil {
		return fail(fmt.Errorf("seed: %w", err))
	}
	f := newFlooder(a.base, c)
	defer f.hc.CloseIdleConnections()
	if err := f.check(ctx); err != nil {
		return fail(err)
	}
	for r := range rounds {
		fr, err := f.round(ctx, r)
		if err != nil {
			return fail(fmt.Errorf("round %d: %w", r+1, err))
		}
		res.Rounds = append(res.Rounds, fr)
		x, _ := fr.ratio()
		logf("flood round %d/%d  login p99 idle %s, flooded %s (%.2f×)  flood answers 200: %d, 429: %d, other: %d, failed: %d",
			r+1, rounds, fr.idleP99().Round(10*time.Microsecond), fr.floodedP99().Round(10*time.Microsecond), x,
			fr.Answers.OK, fr.Answers.TooMany, fr.Answers.Other, fr.Answers.Failed)
		if err := alive(); err != nil {
			return fail(err)
		}
	}
	return res
}

// floodTarget is issue 9's target as the targets table names it.
const floodTarget = "login p99 during a query flood ≤ 2× idle"

// msOf formats a duration for the tables.
func msOf(d time.Duration) string { return ms(float64(d) / float64(time.Microsecond)) }

// section is results.md's part on the flood.
func (f *floodResult) section() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("## Login during a query flood\n\n")
	w("Issue 9's target, measured from outside the server: the flood's clients are goroutines of the harness, "+
		"a process of its own, so they do not share `kala serve`'s Go scheduler (as those of the in-process `BenchmarkLoginUnderQueryFlood` do); "+
		"they share the machine's cores, as any client on the same machine would. "+
		"Each round runs %d sequential right-password logins (`POST /api/auth/access-token`, argon2id) with nothing else running (**idle**; after %d more that are not counted, "+
		"as the first logins after a flood are still slow), "+
		"then starts %d clients querying `POST /kylin/api/query` as %d users with QUERY access to one project "+
		"(HTTP Basic; each alternately `%s`, an answer cut at the server's byte cap, and `%s`; a 429 waits its Retry-After), "+
		"and after a %d s ramp times %d sequential logins (**flooded**); then the flood stops and its requests in flight finish. "+
		"The query limits stay at their defaults (4 per user, 32 for the server), so much of the flood is refused with 429: that is part of what is measured. "+
		"With %d logins a phase, p99 is the slowest of them. Medians over %d rounds; the ratio is the median of each round's flooded p99 ÷ idle p99.\n\n",
		floodLogins, floodSettle, floodClients, floodUsers, floodQueries[0], floodQueries[1], int(floodRamp.Seconds()), floodLogins, floodLogins, len(f.Rounds))
	if f.Err != "" {
		w("**Failed: %s** (the run's output has why).\n\n", f.Err)
	}
	if len(f.Rounds) > 0 {
		w("| logins | p50 | p99 (slowest of %d) |\n|---|--:|--:|\n", floodLogins)
		w("| idle | %s | %s |\n", ms(f.med(floodRound.idleP50)), ms(f.med(floodRound.idleP99)))
		w("| flooded | %s | %s |\n\n", ms(f.med(floodRound.floodedP50)), ms(f.med(floodRound.floodedP99)))
		v, ok := f.ratio()
		w("flooded p99 ÷ idle p99: **%s**\n\n", times(v, ok))
	}
	a := f.answers()
	w("Flood answers, all rounds: %d × 200, %d × 429, %d other, %d without an answer (connection errors, timeouts).\n\n",
		a.OK, a.TooMany, a.Other, a.Failed)
	if len(f.Rounds) > 0 && a.OK == 0 {
		w("**No flood query was answered 200**: the flood loaded only the server's refusals, and the ratio measures nothing.\n\n")
	}
	return b.String()
}

// roundsTable is the flood's part of results.md's every-round details.
func (f *floodResult) roundsTable() string {
	var b strings.Builder
	w := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	w("\nLogin during a query flood:\n\n")
	w("| round | idle p50 | idle p99 | flooded p50 | flooded p99 | flooded ÷ idle p99 | flood 200 | flood 429 | flood other | flood no answer |\n")
	w("|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n")
	for _, r := range f.Rounds {
		v, ok := r.ratio()
		w("| %d | %s | %s | %s | %s | %s | %d | %d | %d | %d |\n", r.Round+1, msOf(r.idleP50()), msOf(r.idleP99()),
			msOf(r.floodedP50()), msOf(r.floodedP99()), times(v, ok), r.Answers.OK, r.Answers.TooMany, r.Answers.Other, r.Answers.Failed)
	}
	return b.String()
}

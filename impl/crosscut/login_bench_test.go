package crosscut_test

import (
	"bytes"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kala-server/kala/impl"
	"github.com/kala-server/kala/impl/testkit"
)

// BenchmarkLoginFloodShare measures what a wrong-password flood over random names leaves
// for everyone else: the rate of authenticated GET /api/auth/me calls (bearer, 4 clients)
// during a flood of 16 login clients, as a share of the rate without it, in alternating
// 400 ms rounds (A B A B). Rate limits are off (testkit's default), as for a flood from
// many addresses. Reports the median share over 5·b.N rounds as share-%.
func BenchmarkLoginFloodShare(b *testing.B) {
	e := testkit.New(b, testkit.RealHashing)
	tok := "Bearer " + e.AdminToken()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	defer client.CloseIdleConnections()
	get := func() bool {
		req, _ := http.NewRequest("GET", e.URL+"/api/auth/me", nil)
		req.Header.Set("Authorization", tok)
		res, err := client.Do(req)
		if err != nil {
			return false
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		return res.StatusCode == 200
	}
	login := func() {
		body := fmt.Sprintf(`{"username":"nobody%d","password":"Wr0ng#flood"}`, rand.Int64())
		res, err := client.Post(e.URL+"/api/auth/access-token", "application/json", bytes.NewReader([]byte(body)))
		if err == nil {
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
		}
	}
	// rate runs the GET clients for d, with flood login clients beside them.
	rate := func(d time.Duration, flood int) float64 {
		var calls atomic.Int64
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for range flood {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
						login()
					}
				}
			}()
		}
		for range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
						if get() {
							calls.Add(1)
						}
					}
				}
			}()
		}
		time.Sleep(d) // the measurement window, not synchronisation
		close(stop)
		wg.Wait()
		return float64(calls.Load()) / d.Seconds()
	}
	// warm both: connections, the hashing threads (a first, cold round reads low)
	rate(200*time.Millisecond, 0)
	rate(200*time.Millisecond, 16)
	var shares []float64
	b.ResetTimer()
	for range b.N {
		for range 5 { // enough rounds for a median even when b.N is 1
			quiet := rate(400*time.Millisecond, 0)
			flooded := rate(400*time.Millisecond, 16)
			shares = append(shares, 100*flooded/quiet)
		}
	}
	b.StopTimer()
	sort.Float64s(shares)
	b.ReportMetric(shares[len(shares)/2], "share-%")
}

// BenchmarkLoginTiming compares wrong-password logins for an existing and an unknown
// name, interleaved (A B A B, alternating which goes first), and reports both medians and
// their gap: a gap that does not shrink with more rounds would tell attackers which
// names exist.
func BenchmarkLoginTiming(b *testing.B) {
	e := testkit.New(b, testkit.RealHashing, func(c *impl.Config) { c.LockSchedule = []time.Duration{0} })
	u := e.NewUser("bench_timing_real", false)
	timed := func(name string) time.Duration {
		start := time.Now()
		r := e.Do("POST", "/api/auth/access-token", map[string]string{"username": name, "password": "Wr0ng#timing"})
		d := time.Since(start)
		if r.Status != 401 {
			b.Fatalf("status %d", r.Status)
		}
		return d
	}
	timed(u.Name)
	timed("bench_timing_ghost")
	var known, unknown []time.Duration
	b.ResetTimer()
	for i := range b.N {
		if i%2 == 0 {
			known = append(known, timed(u.Name))
			unknown = append(unknown, timed("bench_timing_ghost"))
		} else {
			unknown = append(unknown, timed("bench_timing_ghost"))
			known = append(known, timed(u.Name))
		}
	}
	b.StopTimer()
	mk, mu := lkMedian(known), lkMedian(unknown)
	b.ReportMetric(float64(mk.Microseconds())/1000, "known-ms")
	b.ReportMetric(float64(mu.Microseconds())/1000, "unknown-ms")
	b.ReportMetric(float64((mk-mu).Abs().Microseconds())/1000, "gap-ms")
}

// BenchmarkLoginUnderQueryFlood compares the p99 of a correct JSON login alone with its
// p99 while 8 users each keep 8 query clients busy (big answers and sleeps, so the
// per-user and server limits are hit; a refused client waits its Retry-After), in
// alternating rounds. Reports both p99s and their ratio (target: ≤ 2).
func BenchmarkLoginUnderQueryFlood(b *testing.B) {
	e := testkit.New(b, testkit.RealHashing)
	admin := testkit.Bearer(e.AdminToken())
	p := testkit.NewProject(b, e, admin, "flood_p", "")
	var users []testkit.User
	for i := range 8 {
		u := e.NewUser(fmt.Sprintf("flooder%d", i), false)
		e.Do("POST", "/kylin/api/access/project", map[string]any{"project": p.Name, "type": "user",
			"permission": "QUERY", "names": []string{u.Name}}, admin).Expect(b, 200)
		users = append(users, u)
	}
	who := e.NewUser("bench_login", false)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 128}}
	defer client.CloseIdleConnections()
	login := func() time.Duration {
		start := time.Now()
		body := fmt.Sprintf(`{"username":"bench_login","password":%q}`, who.Password)
		res, err := client.Post(e.URL+"/api/auth/access-token", "application/json", bytes.NewReader([]byte(body)))
		if err != nil {
			b.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("login: %d", res.StatusCode)
		}
		return time.Since(start)
	}
	queries := []string{`SELECT repeat('y', 1000000) FROM generate_series(1, 200)`, `SELECT pg_sleep(0.5)`}
	flood := func(stop chan struct{}, wg *sync.WaitGroup) {
		for i := range 64 {
			u := users[i%len(users)]
			sql := queries[i%len(queries)]
			wg.Add(1)
			go func() {
				defer wg.Done()
				for {
					select {
					case <-stop:
						return
					default:
					}
					req, _ := http.NewRequest("POST", e.URL+"/kylin/api/query", bytes.NewReader([]byte(
						fmt.Sprintf(`{"project":%q,"sql":%q}`, p.Name, sql))))
					req.Header.Set("Content-Type", "application/json")
					req.SetBasicAuth(u.Name, u.Password)
					if res, err := client.Do(req); err == nil {
						_, _ = io.Copy(io.Discard, res.Body)
						res.Body.Close()
						// a client told to wait does (Retry-After), as HTTP clients should
						if wait, err := strconv.Atoi(res.Header.Get("Retry-After")); err == nil && res.StatusCode == 429 {
							select {
							case <-stop:
							case <-time.After(time.Duration(wait) * time.Second):
							}
						}
					}
				}
			}()
		}
	}
	p99 := func(d []time.Duration) time.Duration {
		sort.Slice(d, func(i, j int) bool { return d[i] < d[j] })
		return d[(len(d)*99)/100]
	}
	login()
	var idle, flooded []time.Duration
	b.ResetTimer()
	for range b.N {
		for range 20 {
			idle = append(idle, login())
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		flood(stop, &wg)
		for range 20 {
			flooded = append(flooded, login())
		}
		close(stop)
		wg.Wait()
	}
	b.StopTimer()
	pi, pf := p99(idle), p99(flooded)
	b.ReportMetric(float64(pi.Microseconds())/1000, "idle-p99-ms")
	b.ReportMetric(float64(pf.Microseconds())/1000, "flood-p99-ms")
	b.ReportMetric(float64(pf)/float64(pi), "p99-ratio")
}

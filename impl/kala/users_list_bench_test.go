package kala_test

import (
	"fmt"
	"net/http"
	"slices"
	"testing"
	"time"

	"github.com/kala-server/kala/impl/testkit"
)

// BenchmarkUsersList1M lists users with 1,000,000 of them (seeded by SQL, all with one
// password hash: hashing a million passwords would take hours and measure nothing here):
// the first page, the last page by offset, a deep page by `after`, and Kylin's last page.
// Reports the p50 of each in ms (target: < 20 ms).
func BenchmarkUsersList1M(b *testing.B) {
	e := testkit.New(b)
	tok := e.AdminToken()
	const n = 1_000_000
	start := time.Now()
	if _, err := e.DB.Exec(`INSERT INTO users (id, username, username_key, password_hash, created_at, modified_at)
		SELECT gen_random_uuid(), 'Seed_' || lpad(i::text, 7, '0'), 'seed_' || lpad(i::text, 7, '0'),
			(SELECT password_hash FROM users WHERE builtin), now(), now()
		FROM generate_series(1, $1) i`, n); err != nil {
		b.Fatal(err)
	}
	if _, err := e.DB.Exec(`ANALYZE users`); err != nil {
		b.Fatal(err)
	}
	b.Logf("seeded %d users in %s", n, time.Since(start).Round(time.Second))
	client := &http.Client{}
	get := func(path string, auth testkit.ReqOpt) time.Duration {
		req, _ := http.NewRequest("GET", e.URL+path, nil)
		auth(req)
		t0 := time.Now()
		res, err := client.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("%s: %d", path, res.StatusCode)
		}
		return time.Since(t0)
	}
	bearer := testkit.Bearer(tok)
	basic := testkit.Basic("ADMIN", testkit.AdminPassword)
	calls := []struct {
		name, path string
		auth       testkit.ReqOpt
	}{
		{"first", "/api/users?limit=50", bearer},
		{"last-offset", fmt.Sprintf("/api/users?limit=50&offset=%d", n+1-50), bearer},
		{"middle-after", "/api/users?limit=50&after=seed_0500000", bearer},
		{"kylin-last", fmt.Sprintf("/kylin/api/user?page_size=50&page_offset=%d", (n+1)/50), basic},
	}
	times := make([][]time.Duration, len(calls))
	for _, c := range calls {
		get(c.path, c.auth) // warm
	}
	b.ResetTimer()
	for range b.N {
		for round := 0; round < 10; round++ {
			for i, c := range calls {
				times[i] = append(times[i], get(c.path, c.auth))
			}
		}
	}
	b.StopTimer()
	for i, c := range calls {
		slices.Sort(times[i])
		b.ReportMetric(float64(times[i][len(times[i])/2].Microseconds())/1000, c.name+"-p50-ms")
	}
}

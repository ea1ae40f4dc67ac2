package crosscut_test

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/kala-server/kala/impl/testkit"
)

// ouPG is the repository's PostgreSQL script, from this package's directory.
const ouPG = "../../scripts/pg.sh"

// ouCluster is a PostgreSQL cluster of the test's own, which it may stop and start.
type ouCluster struct {
	t    *testing.T
	base string
}

func (c *ouCluster) pg(args ...string) string {
	c.t.Helper()
	cmd := exec.Command(ouPG, args...)
	cmd.Env = append(os.Environ(), "KALA_PG_BASE="+c.base)
	out, err := cmd.CombinedOutput()
	if err != nil {
		c.t.Fatalf("pg.sh %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

func newOuCluster(t *testing.T) *ouCluster {
	var b [4]byte
	_, _ = rand.Read(b[:])
	c := &ouCluster{t: t, base: filepath.Join(os.TempDir(), "kala-outage-"+hex.EncodeToString(b[:]))}
	t.Cleanup(func() {
		cmd := exec.Command(ouPG, "stop")
		cmd.Env = append(os.Environ(), "KALA_PG_BASE="+c.base)
		_ = cmd.Run()
		_ = os.RemoveAll(c.base)
	})
	c.pg("start")
	return c
}

// The database goes away under load and comes back: while it is away every call that
// needs it answers 503 with Retry-After in its face's shape (never 500, never a 200 for a
// credential that could not be checked), and the server recovers by itself.
func TestDatabaseOutageUnderLoad(t *testing.T) {
	c := newOuCluster(t)
	e := testkit.NewOn(t, lastLine(c.pg("url", "postgres")))
	u := e.NewUser("steady", false)
	tok := e.Login("steady", u.Password)

	kinds := []struct {
		name string
		send func() (hdResp, error)
	}{
		{"bearer", func() (hdResp, error) {
			return hdSend(e, "GET", "/api/auth/me", nil, map[string]string{"Authorization": "Bearer " + tok})
		}},
		{"basic", func() (hdResp, error) {
			return hdSend(e, "GET", "/kylin/api/projects", nil, map[string]string{"Authorization": hdBasic("steady", u.Password)})
		}},
		{"login", func() (hdResp, error) {
			return hdSend(e, "POST", "/api/auth/access-token", map[string]string{"username": "steady", "password": u.Password}, nil)
		}},
	}
	const (
		up = iota
		down
		back
	)
	var phase atomic.Int32
	type result struct {
		phase int32
		kind  string
		r     hdResp
	}
	var (
		mu      sync.Mutex
		results []result
		counts  [3]map[string]int
		stop    = make(chan struct{})
		wg      sync.WaitGroup
	)
	for i := range counts {
		counts[i] = map[string]int{}
	}
	for _, k := range kinds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 20000 { // bounded; stop ends it long before
				select {
				case <-stop:
					return
				default:
				}
				p := phase.Load()
				r, err := k.send()
				if err != nil {
					t.Errorf("%s: %v", k.name, err)
					return
				}
				if phase.Load() != p {
					p = -1 // it saw the database go or come: any honest answer will do
				}
				mu.Lock()
				results = append(results, result{p, k.name, r})
				if p >= 0 && r.status == 200 {
					counts[p][k.name]++
				} else if p >= 0 && r.status == 503 {
					counts[p][k.name+"-503"]++
				}
				mu.Unlock()
			}
		}()
	}
	seen := func(p int, key string, n int) func() bool {
		return func() bool { mu.Lock(); defer mu.Unlock(); return counts[p][key] >= n }
	}
	for _, k := range kinds {
		testkit.Eventually(t, k.name+" to succeed before the outage", seen(up, k.name, 3))
	}

	c.pg("stop")
	testkit.Eventually(t, "the server to notice its event listener is gone", e.Server.Basic.Paused)
	phase.Store(down)
	for _, k := range kinds {
		testkit.Eventually(t, k.name+" to answer 503 while the database is down", seen(down, k.name+"-503", 5))
	}

	phase.Store(back) // before the start: a request in flight must not pass as "down"
	c.pg("start")
	started := time.Now()
	for _, k := range kinds {
		testkit.Eventually(t, k.name+" to succeed after the database is back", seen(back, k.name, 1))
	}
	recovered := time.Since(started)
	close(stop)
	wg.Wait()
	t.Logf("recovered %v after the database came back", recovered)
	if recovered > 5*time.Second {
		t.Errorf("recovery took %v, want within 5 s", recovered)
	}

	for _, res := range results {
		r := res.r
		switch {
		case r.status == 500:
			t.Fatalf("%s answered 500 (phase %d): %s", res.kind, res.phase, r.body)
		case res.phase == down && r.status != 503:
			t.Fatalf("%s answered %d while the database was down, want 503: %s", res.kind, r.status, r.body)
		case r.status == 503:
			if r.header.Get("Retry-After") == "" {
				t.Fatalf("503 without Retry-After: %s", r.body)
			}
			want := `"type":"https://kala.dev/problems/unavailable"`
			if res.kind == "basic" {
				want = `"error_code":"KE-010000503"`
			}
			if !strings.Contains(string(r.body), want) {
				t.Fatalf("%s 503 body %s, want %s", res.kind, r.body, want)
			}
		case r.status != 200:
			t.Fatalf("%s answered %d (phase %d): %s", res.kind, r.status, res.phase, r.body)
		}
	}
	rd := e.Do("GET", "/readyz", nil)
	if rd.Status != 200 {
		t.Fatalf("/readyz %d after recovery", rd.Status)
	}
}

func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return lines[len(lines)-1]
}

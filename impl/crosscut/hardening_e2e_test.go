package crosscut_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kala-server/kala/impl"
	"github.com/kala-server/kala/impl/ratelimit"
	"github.com/kala-server/kala/impl/testkit"
)

// hdResp is one answer of a concurrent request.
type hdResp struct {
	status int
	header http.Header
	body   []byte
}

// hdSend sends one request through e's validating client, safe to call from goroutines.
func hdSend(e *testkit.Env, method, path string, body any, hdr map[string]string) (hdResp, error) {
	var rd io.Reader
	if body != nil {
		j, err := json.Marshal(body)
		if err != nil {
			return hdResp{}, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		return hdResp{}, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	res, err := e.HTTP.Do(req)
	if err != nil {
		return hdResp{}, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return hdResp{res.StatusCode, res.Header, b}, err
}

// hdParallel runs n requests released together and returns their answers in order.
func hdParallel(t *testing.T, n int, req func(i int) (hdResp, error)) []hdResp {
	t.Helper()
	out, errs := make([]hdResp, n), make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			out[i], errs[i] = req(i)
		}()
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	return out
}

func hdBasic(user, pass string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
}

// hdGuessEverywhere sends the i-th of many wrong passwords for name, turn about to each
// instance and over the three password paths (JSON login, Basic, Kylin cookie login),
// with the name in varying case.
func hdGuessEverywhere(name string, es ...*testkit.Env) func(i int) (hdResp, error) {
	return func(i int) (hdResp, error) {
		e := es[i%len(es)]
		pw := fmt.Sprintf("Wr0ng#%03d", i)
		switch i % 3 {
		case 0:
			return hdSend(e, "POST", "/api/auth/access-token", map[string]string{"username": strings.ToUpper(name), "password": pw}, nil)
		case 1:
			return hdSend(e, "GET", "/kylin/api/projects", nil, map[string]string{"Authorization": hdBasic(name, pw)})
		default:
			return hdSend(e, "POST", "/kylin/api/user/authentication", nil,
				map[string]string{"Authorization": hdBasic(strings.ToUpper(name[:1])+name[1:], pw)})
		}
	}
}

// hdVerifications is how many passwords the instances verified so far.
func hdVerifications(es ...*testkit.Env) int64 {
	var n int64
	for _, e := range es {
		n += e.Server.Accounts.Hasher.Verifications()
	}
	return n
}

// hdKind is what an answer says: ok, bad (credentials), locked, limited (429), or other.
func hdKind(r hdResp) string {
	switch {
	case r.status == 200:
		return "ok"
	case r.status == 429:
		return "limited"
	case r.status == 401 && (bytes.Contains(r.body, []byte("/locked")) || bytes.Contains(r.body, []byte("KE-010003005"))):
		return "locked"
	case r.status == 401:
		return "bad"
	}
	return fmt.Sprintf("status %d", r.status)
}

func hdCount(rs []hdResp) map[string]int {
	m := map[string]int{}
	for _, r := range rs {
		m[hdKind(r)]++
	}
	return m
}

// Forty different wrong passwords at once for one name: the schedule allows three
// verifications before the lock, and the correct password after them is refused.
func TestLockoutHoldsUnderParallelGuesses(t *testing.T) {
	e := testkit.New(t)
	u := e.NewUser("racer", false)
	before := hdVerifications(e)
	rs := hdParallel(t, 40, func(i int) (hdResp, error) {
		return hdSend(e, "POST", "/api/auth/access-token",
			map[string]string{"username": "racer", "password": fmt.Sprintf("Wr0ng#%02d", i)}, nil)
	})
	got := hdCount(rs)
	if v := hdVerifications(e) - before; v != 3 {
		t.Errorf("%d passwords verified, want exactly 3 (the schedule's budget): %v", v, got)
	}
	if got["bad"] != 2 || got["locked"] != 38 {
		t.Errorf("answers %v, want 2 bad credentials and 38 locked", got)
	}
	r := lkLogin(e, "racer", u.Password)
	if r.Status != 401 || !strings.Contains(string(r.Body), "/locked") {
		t.Fatalf("correct password after the race: %d %s, want 401 locked", r.Status, r.Body)
	}
	lkExpectFailures(t, e, "racer", 3)
}

// Two hundred guesses over two instances and all three password paths (JSON login,
// Basic, Kylin cookie login): still three verifications in all.
func TestLockoutHoldsAcrossInstancesAndPaths(t *testing.T) {
	a := testkit.New(t)
	b := a.Peer()
	u := a.NewUser("spread", false)
	before := hdVerifications(a, b)
	rs := hdParallel(t, 200, hdGuessEverywhere("spread", a, b))
	got := hdCount(rs)
	if v := hdVerifications(a, b) - before; v != 3 {
		t.Errorf("%d passwords verified over two instances, want 3: %v", v, got)
	}
	if got["bad"]+got["locked"] != 200 {
		t.Errorf("answers %v, want only bad credentials and locked", got)
	}
	// the same count, as operators see it
	var sum float64
	for _, e := range []*testkit.Env{a, b} {
		m := string(e.Do("GET", "/metrics", nil).Expect(t, 200).Body)
		i := strings.Index(m, "\nkala_password_verifications_total ")
		if i < 0 {
			t.Fatalf("/metrics has no kala_password_verifications_total")
		}
		var v float64
		fmt.Sscan(m[i+len("\nkala_password_verifications_total "):], &v)
		sum += v
	}
	if want := float64(hdVerifications(a, b)); sum != want {
		t.Errorf("kala_password_verifications_total sums to %v, want %v", sum, want)
	}
	for _, e := range []*testkit.Env{a, b} {
		r := e.Do("GET", "/kylin/api/user/authentication", nil, testkit.Basic("spread", u.Password))
		if r.Status != 401 || !strings.Contains(string(r.Body), "KE-010003005") {
			t.Fatalf("correct password after the race: %d %s, want 401 KE-010003005", r.Status, r.Body)
		}
	}
}

// A Kylin script firing Basic requests in parallel with a cold cache: every request
// succeeds, sharing verifications instead of burning the name's budget.
func TestParallelCorrectBasicLoginsAllSucceed(t *testing.T) {
	a := testkit.New(t)
	b := a.Peer()
	u := a.NewUser("script", false)
	before := hdVerifications(a, b)
	rs := hdParallel(t, 100, func(i int) (hdResp, error) {
		e := []*testkit.Env{a, b}[i%2]
		return hdSend(e, "GET", "/kylin/api/projects", nil, map[string]string{"Authorization": hdBasic("script", u.Password)})
	})
	if got := hdCount(rs); got["ok"] != 100 {
		t.Fatalf("answers %v, want 100 ok", got)
	}
	if v := hdVerifications(a, b) - before; v >= 100 {
		t.Errorf("%d verifications for 100 requests with the same credentials: none were shared", v)
	}
	if n := lkFailures(t, a, "script"); n > 0 {
		t.Errorf("failure counter %d after only correct logins", n)
	}
}

// hdRated is a server with the default limits on, behind a trusted proxy at 127.0.0.1
// (so tests can speak for several client addresses through X-Forwarded-For).
func hdRated(t *testing.T, trustLoopback bool) *testkit.Env {
	return testkit.New(t, func(c *impl.Config) {
		c.RateFailures, c.RatePasswords = impl.DefaultRateFailures, impl.DefaultRatePasswords
		if trustLoopback {
			c.TrustedProxies = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")}
		}
	})
}

func hdExpectLimited(t *testing.T, r hdResp, policy string) {
	t.Helper()
	if r.status != 429 {
		t.Fatalf("status %d, want 429: %s", r.status, r.body)
	}
	if ra := r.header.Get("Retry-After"); ra == "" || ra == "0" {
		t.Errorf("Retry-After %q", ra)
	}
	if p := r.header.Get("RateLimit-Policy"); !strings.HasPrefix(p, `"`+policy+`";q=`) {
		t.Errorf("RateLimit-Policy %q, want policy %q", p, policy)
	}
	if !strings.Contains(r.header.Get("RateLimit"), ";r=0;t=") {
		t.Errorf("RateLimit %q", r.header.Get("RateLimit"))
	}
}

// A thousand wrong API keys from one address: after the limit, 429 without a look at the
// key; another address is not affected; a good key from the limited address waits too.
func TestRateLimitWrongAPIKeys(t *testing.T) {
	e := hdRated(t, true)
	tok := e.AdminToken()
	key := e.NewKey(tok, map[string]any{"validTo": time.Now().Add(time.Hour).Format(time.RFC3339)})
	attacker := map[string]string{"X-Forwarded-For": "203.0.113.7"}
	rs := hdParallel(t, 1000, func(i int) (hdResp, error) {
		h := map[string]string{"X-Forwarded-For": "203.0.113.7", "X-API-Key": "kala_wrong" + fmt.Sprint(i)}
		return hdSend(e, "GET", "/api/auth/me", nil, h)
	})
	got := hdCount(rs)
	limit := impl.DefaultRateFailures.Limit
	if got["bad"] != limit || got["limited"] != 1000-limit {
		t.Fatalf("answers %v, want %d refused keys and the rest 429", got, limit)
	}
	for _, r := range rs {
		if r.status == 429 {
			hdExpectLimited(t, r, "failures")
			break
		}
	}
	attacker["X-API-Key"] = key
	r, err := hdSend(e, "GET", "/api/auth/me", nil, attacker)
	if err != nil {
		t.Fatal(err)
	}
	hdExpectLimited(t, r, "failures")
	e.Do("GET", "/api/auth/me", nil, testkit.APIKey(key), testkit.Header("X-Forwarded-For", "198.51.100.9")).Expect(t, 200)
	e.Do("GET", "/api/auth/me", nil, testkit.APIKey("kala_wrong"), testkit.Header("X-Forwarded-For", "198.51.100.9")).Expect(t, 401)
}

// One password against 500 names from one address (spraying): limited long before the end.
func TestRateLimitPasswordSpraying(t *testing.T) {
	e := hdRated(t, true)
	before := hdVerifications(e)
	var got map[string]int
	rs := make([]hdResp, 0, 500)
	for i := range 500 {
		r, err := hdSend(e, "POST", "/api/auth/access-token",
			map[string]string{"username": fmt.Sprintf("victim%03d", i), "password": "Spr4y#2026"},
			map[string]string{"X-Forwarded-For": "203.0.113.8"})
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	got = hdCount(rs)
	if got["bad"] != impl.DefaultRateFailures.Limit || got["limited"] != 500-impl.DefaultRateFailures.Limit {
		t.Fatalf("answers %v, want %d bad credentials, then 429", got, impl.DefaultRateFailures.Limit)
	}
	hdExpectLimited(t, rs[499], "failures")
	if v := hdVerifications(e) - before; v != int64(impl.DefaultRateFailures.Limit) {
		t.Errorf("%d passwords verified, want %d", v, impl.DefaultRateFailures.Limit)
	}
	// the Kylin face answers in its own shape
	r, err := hdSend(e, "GET", "/kylin/api/projects", nil,
		map[string]string{"X-Forwarded-For": "203.0.113.8", "Authorization": hdBasic("ADMIN", testkit.AdminPassword)})
	if err != nil {
		t.Fatal(err)
	}
	hdExpectLimited(t, r, "failures")
	if !bytes.Contains(r.body, []byte(`"code":"999"`)) || !bytes.Contains(r.body, []byte("KE-010000429")) {
		t.Errorf("Kylin 429 body %s", r.body)
	}
}

// From a peer that is not a trusted proxy, X-Forwarded-For is the client's own word:
// rotating it changes nothing.
func TestRateLimitIgnoresForwardedForFromUntrustedPeer(t *testing.T) {
	e := hdRated(t, false)
	limit := impl.DefaultRateFailures.Limit
	var statuses []int
	for i := range limit + 5 {
		r, err := hdSend(e, "GET", "/api/auth/me", nil, map[string]string{
			"X-Forwarded-For": fmt.Sprintf("198.51.100.%d", i), "X-API-Key": "kala_wrong"})
		if err != nil {
			t.Fatal(err)
		}
		statuses = append(statuses, r.status)
	}
	for i, s := range statuses {
		want := 401
		if i >= limit {
			want = 429
		}
		if s != want {
			t.Fatalf("request %d: status %d, want %d (all: %v)", i, s, want, statuses)
		}
	}
}

// The limit is one for all instances: failures on A count on B.
func TestRateLimitSharedByInstances(t *testing.T) {
	a := hdRated(t, true)
	b := a.Peer()
	limit := impl.DefaultRateFailures.Limit
	for i := range limit {
		e := []*testkit.Env{a, b}[i%2]
		e.Do("GET", "/api/auth/me", nil, testkit.APIKey("kala_wrong"), testkit.Header("X-Forwarded-For", "203.0.113.9")).Expect(t, 401)
	}
	for _, e := range []*testkit.Env{a, b} {
		r, err := hdSend(e, "GET", "/api/auth/me", nil, map[string]string{"X-Forwarded-For": "203.0.113.9", "X-API-Key": "kala_wrong"})
		if err != nil {
			t.Fatal(err)
		}
		hdExpectLimited(t, r, "failures")
	}
}

// A request that authenticates pays no database write for the limits.
func TestRateLimitSuccessWritesNothing(t *testing.T) {
	e := hdRated(t, false)
	tok := testkit.Bearer(e.AdminToken())
	var before, after int
	if err := e.DB.Get(&before, `SELECT coalesce(sum(hits), 0) FROM rate_counters`); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		e.Do("GET", "/api/auth/me", nil, tok).Expect(t, 200)
		e.Do("GET", "/kylin/api/projects", nil, testkit.Basic("ADMIN", testkit.AdminPassword)).Expect(t, 200)
	}
	if err := e.DB.Get(&after, `SELECT coalesce(sum(hits), 0) FROM rate_counters`); err != nil {
		t.Fatal(err)
	}
	// one password verification: the first Basic request (then the cache answers)
	if after-before != 1 {
		t.Fatalf("rate counters grew by %d for 40 good requests, want 1 (the one verified password)", after-before)
	}
}

// The password limit counts verifications, whatever their outcome.
func TestRateLimitPasswords(t *testing.T) {
	e := testkit.New(t, func(c *impl.Config) {
		c.RatePasswords = ratelimit.Rule{Name: "passwords", Limit: 5, Window: time.Minute}
	})
	u := e.NewUser("busy", false)
	for range 5 {
		e.Do("POST", "/api/auth/access-token", map[string]string{"username": "busy", "password": u.Password}).Expect(t, 200)
	}
	r := e.Do("POST", "/api/auth/access-token", map[string]string{"username": "busy", "password": u.Password}).Expect(t, 429)
	hdExpectLimited(t, hdResp{r.Status, r.Header, r.Body}, "passwords")
}

// A failed login racing the failure that locks the name says "locked", never "bad
// username or password": over two instances and every password path, exactly the
// failures before the locking one are told "bad". And once a lock has lapsed, the next
// failure locks again at once, so a crowd racing it is told "locked" to a request.
func TestLockoutRaceSaysLocked(t *testing.T) {
	a := testkit.New(t)
	b := a.Peer()
	a.NewUser("racer2", false)
	guess := hdGuessEverywhere("racer2", a, b)
	before := hdVerifications(a, b)
	if got := hdCount(hdParallel(t, 60, guess)); got["bad"] != 2 || got["locked"] != 58 {
		t.Errorf("first race: answers %v, want 2 bad credentials and 58 locked", got)
	}
	a.Clock.Advance(31 * time.Second) // the 30 s lock of the 3rd failure lapses
	if got := hdCount(hdParallel(t, 60, guess)); got["locked"] != 60 {
		t.Errorf("race after the lock lapsed: answers %v, want 60 locked", got)
	}
	if v := hdVerifications(a, b) - before; v != 4 {
		t.Errorf("%d passwords verified, want 4 (3, then 1 after the lock lapsed)", v)
	}
	lkExpectFailures(t, a, "racer2", 4)
}

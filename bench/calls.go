package main

import (
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// call is one kind of request, driven by wrk for a round at a time.
type call struct {
	Name   string // short id, used in the logs and the chart
	Server string // bare, kala or pocketbase
	Label  string // what it is, for results.md
	Group  string // whoami, list, login or health: what it is compared with
	Req    request
}

// baseline is the call every ratio divides by.
const baseline = "bare-hello"

// kylinJSON is the media type Kylin clients ask for.
const kylinJSON = "application/vnd.apache.kylin-v4-public+json"

// calls lists the calls in the order of the tables. URLs are paths until run adds the
// servers' addresses.
func calls(k kalaCreds, p pbCreds) []call {
	get := func(path string, h map[string]string) request {
		return request{Method: "GET", URL: path, Headers: h}
	}
	post := func(path, body string, h map[string]string) request {
		if h == nil {
			h = map[string]string{}
		}
		h["Content-Type"] = "application/json"
		return request{Method: "POST", URL: path, Body: body, Headers: h}
	}
	bearer := map[string]string{"Authorization": "Bearer " + k.token}
	return []call{
		{baseline, "bare", "bare net/http JSON hello", "health", get("/hello", nil)},
		{"healthz", "kala", "`GET /healthz`", "health", get("/healthz", nil)},
		{"me-bearer", "kala", "`GET /api/auth/me` Bearer", "whoami", get("/api/auth/me", bearer)},
		{"me-apikey", "kala", "`GET /api/auth/me` X-API-Key", "whoami", get("/api/auth/me", map[string]string{"X-API-Key": k.key})},
		{"me-query", "kala", "`GET /api/auth/me?key=`", "whoami", get("/api/auth/me?key="+url.QueryEscape(k.key), nil)},
		{"kylin-basic", "kala", "`GET /kylin/api/user/authentication` Basic", "whoami", get("/kylin/api/user/authentication",
			map[string]string{"Authorization": basic("ADMIN", k.adminPassword), "Accept": kylinJSON})},
		{"kylin-cookie", "kala", "`GET /kylin/api/user/authentication` cookie", "whoami", get("/kylin/api/user/authentication",
			map[string]string{"Cookie": "JSESSIONID=" + k.session, "Accept": kylinJSON})},
		{"users-list", "kala", "`GET /api/users?limit=50` Bearer (50 of 62)", "list", get("/api/users?limit=50", bearer)},
		{"users-list-1", "kala", "`GET /api/users?limit=1` Bearer (1 of 62)", "list", get("/api/users?limit=1", bearer)},
		{"login", "kala", "`POST /api/auth/access-token` (argon2id)", "login", post("/api/auth/access-token",
			fmt.Sprintf(`{"username":%q,"password":%q}`, k.loginUser, k.loginPassword), nil)},
		{"pb-view", "pocketbase", "`GET /api/collections/users/records/{own id}` user token", "whoami",
			get("/api/collections/users/records/"+p.userID, map[string]string{"Authorization": p.userToken})},
		{"pb-refresh", "pocketbase", "`POST /api/collections/users/auth-refresh` user token", "whoami",
			post("/api/collections/users/auth-refresh", "", map[string]string{"Authorization": p.userToken})},
		{"pb-list", "pocketbase", "`GET /api/collections/users/records?perPage=50` superuser (50 of 61)", "list",
			get("/api/collections/users/records?perPage=50", map[string]string{"Authorization": p.superToken})},
		{"pb-list-own", "pocketbase", "`GET /api/collections/users/records` user token (its 1 record)", "list",
			get("/api/collections/users/records", map[string]string{"Authorization": p.userToken})},
		{"pb-login", "pocketbase", "`POST /api/collections/users/auth-with-password` (bcrypt)", "login",
			post("/api/collections/users/auth-with-password",
				fmt.Sprintf(`{"identity":%q,"password":%q}`, p.loginEmail, p.loginPassword), nil)},
	}
}

// pairs are the Kala calls set against PocketBase's: Kala's name, PocketBase's.
var pairs = [][2]string{
	{"me-bearer", "pb-view"},
	{"me-bearer", "pb-refresh"},
	{"users-list", "pb-list"},
	{"users-list", "pb-list-own"},
	{"users-list-1", "pb-list-own"},
	{"login", "pb-login"},
}

func defaultClient() *http.Client { return &http.Client{Timeout: 30 * time.Second} }

// check sends the call once and fails unless it answers 2xx: a benchmark of error
// answers would measure nothing.
func check(hc *http.Client, c call) error {
	var body io.Reader
	if c.Req.Body != "" {
		body = strings.NewReader(c.Req.Body)
	}
	req, err := http.NewRequest(c.Req.Method, c.Req.URL, body)
	if err != nil {
		return err
	}
	for k, v := range c.Req.Headers {
		req.Header.Set(k, v)
	}
	res, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s: %w", c.Name, err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		return fmt.Errorf("%s: %s %s answered %d: %.300s", c.Name, c.Req.Method, c.Req.URL, res.StatusCode, b)
	}
	return nil
}

// sample is one round of one call.
type sample struct {
	Round int
	wrkResult
	CPU time.Duration // the server's (and PostgreSQL's) CPU time during the round
}

// cpuPerReq is CPU time per completed request, in µs.
func (s sample) cpuPerReq() float64 {
	if s.Requests == 0 {
		return 0
	}
	return float64(s.CPU.Microseconds()) / float64(s.Requests)
}

// callResult is a call and its rounds.
type callResult struct {
	call
	Samples []sample
}

func (c *callResult) med(f func(sample) float64) float64 {
	v := make([]float64, len(c.Samples))
	for i, s := range c.Samples {
		v[i] = f(s)
	}
	return median(v)
}

func (c *callResult) rps() float64   { return c.med(func(s sample) float64 { return s.rps() }) }
func (c *callResult) p50() float64   { return c.med(func(s sample) float64 { return s.P50US }) }
func (c *callResult) p99() float64   { return c.med(func(s sample) float64 { return s.P99US }) }
func (c *callResult) cpu() float64   { return c.med(func(s sample) float64 { return s.cpuPerReq() }) }
func (c *callResult) errors() uint64 { return sumErrors(c.Samples) }

func sumErrors(ss []sample) uint64 {
	var n uint64
	for _, s := range ss {
		n += s.errors()
	}
	return n
}

// ratio is the median over rounds of f(a's sample)/f(b's sample) in the same round: the
// two were measured minutes apart at most, under the same load from elsewhere.
func ratio(a, b *callResult, f func(sample) float64) (float64, bool) {
	byRound := map[int]sample{}
	for _, s := range b.Samples {
		byRound[s.Round] = s
	}
	var v []float64
	for _, s := range a.Samples {
		if t, ok := byRound[s.Round]; ok && f(t) != 0 {
			v = append(v, f(s)/f(t))
		}
	}
	if len(v) == 0 {
		return 0, false
	}
	return median(v), true
}

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

func rpsOf(s sample) float64 { return s.rps() }
func cpuOf(s sample) float64 { return s.cpuPerReq() }

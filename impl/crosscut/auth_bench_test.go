package crosscut_test

import (
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/kala-server/kala/impl/testkit"
)

// BenchmarkAuthenticatedCall measures one small call over real HTTP per way of
// authenticating: GET /healthz (no contract, no credential) is the baseline; the others
// call GET /kylin/api/projects (validated, authenticated, one small list query) with a
// bearer token, an API key, cached Basic credentials and a session cookie. (Not the
// authentication endpoint: there Basic starts a session on every call.) Report the
// ratios to healthz from the same run.
func BenchmarkAuthenticatedCall(b *testing.B) {
	e := testkit.New(b, testkit.RealHashing)
	tok := e.AdminToken()
	key := e.NewKey(tok, map[string]any{"validTo": e.Clock.Now().Add(time.Hour).Format(time.RFC3339)})
	var sid string
	for _, c := range (&http.Response{Header: e.Do("POST", "/kylin/api/user/authentication", nil,
		testkit.Basic("ADMIN", testkit.AdminPassword)).Expect(b, 200).Header}).Cookies() {
		sid = c.Value
	}
	plain := &http.Client{}
	cases := []struct {
		name   string
		path   string
		client *http.Client
		set    func(*http.Request)
	}{
		{"healthz", "/healthz", plain, func(*http.Request) {}},
		{"bearer", "/kylin/api/projects", plain, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }},
		{"apikey", "/kylin/api/projects", plain, func(r *http.Request) { r.Header.Set("X-API-Key", key) }},
		{"basic-cached", "/kylin/api/projects", plain, func(r *http.Request) { r.SetBasicAuth("ADMIN", testkit.AdminPassword) }},
		{"cookie", "/kylin/api/projects", plain, func(r *http.Request) { r.Header.Set("Cookie", "JSESSIONID="+sid) }},
		// who-am-I: the credential alone, no list query
		{"me-bearer", "/api/auth/me", plain, func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }},
		{"me-apikey", "/api/auth/me", plain, func(r *http.Request) { r.Header.Set("X-API-Key", key) }},
		{"me-basic", "/kylin/api/user/authentication", plain, func(r *http.Request) { r.SetBasicAuth("ADMIN", testkit.AdminPassword) }},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			call := func() {
				req, _ := http.NewRequest("GET", e.URL+c.path, nil)
				c.set(req)
				res, err := c.client.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					b.Fatalf("%s: status %d", c.name, res.StatusCode)
				}
			}
			call() // warm: the Basic cache, connections
			b.ResetTimer()
			for range b.N {
				call()
			}
		})
	}
}

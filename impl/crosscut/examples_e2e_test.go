package crosscut_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/kala-server/kala/impl"
	"github.com/kala-server/kala/impl/testkit"
)

// exRecorder records the error message of every answer that has one: `detail` of a
// problem document, `msg` of a Kylin envelope (when not empty).
type exRecorder struct {
	next http.RoundTripper
	mu   sync.Mutex
	seen map[string]string // normalised message -> one real message
}

func (r *exRecorder) RoundTrip(req *http.Request) (*http.Response, error) {
	res, err := r.next.RoundTrip(req)
	if err != nil {
		return res, err
	}
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		return nil, err
	}
	res.Body = io.NopCloser(bytes.NewReader(b))
	var body map[string]any
	if json.Unmarshal(b, &body) == nil {
		r.mu.Lock()
		for _, k := range []string{"detail", "msg"} {
			if s, ok := body[k].(string); ok && s != "" {
				r.seen[exNormalise(s)] = s
			}
		}
		r.mu.Unlock()
	}
	return res, nil
}

// exVariable are the parts of a message that differ between two answers to the same
// request: request ids, lock ends, and how long to wait.
var exVariable = []struct {
	re   *regexp.Regexp
	with string
}{
	{regexp.MustCompile(`request id [0-9A-Za-z-]+`), "request id <id>"},
	{regexp.MustCompile(`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z`), "<time>"},
	{regexp.MustCompile(`try again in \d+ s`), "try again in <n> s"},
}

func exNormalise(s string) string {
	for _, v := range exVariable {
		s = v.re.ReplaceAllString(s, v.with)
	}
	return s
}

// exDocumented collects every error message the document shows: `detail` and `msg` of
// each response example (and named example), of the Problem schema's example, and the
// examples of the Problem.detail and KylinError.msg properties. It maps each to where it
// is written.
func exDocumented(doc *openapi3.T) map[string][]string {
	out := map[string][]string{}
	add := func(where string, v any) {
		m, ok := v.(map[string]any)
		if !ok {
			return
		}
		for _, k := range []string{"detail", "msg"} {
			if s, ok := m[k].(string); ok && s != "" {
				out[s] = append(out[s], where)
			}
		}
	}
	media := func(where string, content openapi3.Content) {
		for mt, m := range content {
			add(where+" "+mt, m.Example)
			for name, ex := range m.Examples {
				if ex.Value != nil {
					add(where+" "+mt+" examples."+name, ex.Value.Value)
				}
			}
		}
	}
	for name, r := range doc.Components.Responses {
		media("components.responses."+name, r.Value.Content)
	}
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			for status, r := range op.Responses.Map() {
				if r.Ref == "" { // a $ref is checked where it is written
					media(fmt.Sprintf("%s %s %s", method, path, status), r.Value.Content)
				}
			}
		}
	}
	problem := doc.Components.Schemas["Problem"].Value
	add("components.schemas.Problem", problem.Example)
	add("components.schemas.Problem.properties.detail", map[string]any{"detail": problem.Properties["detail"].Value.Example})
	kylinError := doc.Components.Schemas["KylinError"].Value
	add("components.schemas.KylinError.properties.msg", map[string]any{"msg": kylinError.Properties["msg"].Value.Example})
	return out
}

// exProxy forwards TCP connections to the test cluster; while down it drops every
// connection, new and open, so the server meets its database gone.
type exProxy struct {
	ln     net.Listener
	dial   func() (net.Conn, error)
	down   atomic.Bool
	mu     sync.Mutex
	conns  []net.Conn
	closed bool
}

// newExProxy starts a proxy to the cluster of adminURL and returns it with adminURL
// rewritten to go through it.
func newExProxy(t *testing.T, adminURL string) (*exProxy, string) {
	u, err := url.Parse(adminURL)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	host, port := q.Get("host"), q.Get("port")
	if host == "" {
		host = u.Hostname()
	}
	if port == "" {
		port = u.Port()
	}
	if port == "" {
		port = "5432"
	}
	network, addr := "tcp", net.JoinHostPort(host, port)
	if strings.HasPrefix(host, "/") { // a unix socket directory, as libpq reads it
		network, addr = "unix", host+"/.s.PGSQL."+port
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &exProxy{ln: ln, dial: func() (net.Conn, error) { return net.Dial(network, addr) }}
	t.Cleanup(p.close)
	go p.serve()
	q.Del("host")
	q.Del("port")
	u.Host = ln.Addr().String()
	u.RawQuery = q.Encode()
	return p, u.String()
}

func (p *exProxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		if p.down.Load() || !p.track(c) {
			c.Close()
			continue
		}
		go func() {
			up, err := p.dial()
			if err != nil || !p.track(up) {
				c.Close()
				return
			}
			go func() { _, _ = io.Copy(up, c); up.Close() }()
			_, _ = io.Copy(c, up)
			c.Close()
		}()
	}
}

func (p *exProxy) track(c net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		c.Close()
		return false
	}
	p.conns = append(p.conns, c)
	return true
}

// setDown drops every open connection and, until setDown(false), every new one.
func (p *exProxy) setDown(down bool) {
	p.down.Store(down)
	if down {
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.conns = nil
		p.mu.Unlock()
	}
}

func (p *exProxy) close() {
	p.mu.Lock()
	p.closed = true
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.ln.Close()
}

// Every error message in openapi.yaml's examples is one the server really sends: the
// test provokes each documented error on both faces, records the `detail` and `msg` of
// every answer, and finds each documented message among them. Only request ids, lock
// ends and retry delays may differ (exVariable).
func TestExampleMessagesAreReal(t *testing.T) {
	adminURL := os.Getenv("KALA_TEST_DATABASE_URL")
	if adminURL == "" {
		t.Fatal("KALA_TEST_DATABASE_URL is not set: run the tests with `make test`, which starts PostgreSQL")
	}
	// The server reaches its database through a proxy the test can cut (503). The
	// proxy's cleanup is registered first, so it runs after the database is dropped.
	proxy, proxiedURL := newExProxy(t, adminURL)
	e := testkit.NewOn(t, proxiedURL, func(c *impl.Config) {
		c.RateFailures = impl.DefaultRateFailures // as documented: 30 failures per 60 s
	})
	rec := &exRecorder{next: http.DefaultTransport, seen: map[string]string{}}
	e.HTTP = &http.Client{Transport: testkit.NewValidatingTransport(t, e.Server.Contract, rec),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	documented := exDocumented(e.Server.Contract.Doc)
	if len(documented) < 20 {
		t.Fatalf("found only %d documented messages: %v", len(documented), documented)
	}

	tok := e.AdminToken()
	basic := testkit.Basic("ADMIN", testkit.AdminPassword)
	plain := e.NewUser("plain", false)
	plainTok := e.Login("plain", plain.Password)
	noRights := e.NewKey(tok, map[string]any{"validTo": e.Clock.Now().Add(time.Hour).Format(time.RFC3339)})
	huge := testkit.Raw(`{"username":"` + strings.Repeat("a", 16<<20) + `"}`)
	textPlain := testkit.Header("Content-Type", "text/plain")
	steps := []struct {
		what   string
		status int
		do     func() *testkit.Resp
	}{
		// The Kala face.
		{"a key valid until the past", 400, func() *testkit.Resp {
			return e.Do("POST", "/api/auth/api-key", map[string]any{"validTo": "2020-01-01T00:00:00Z"}, testkit.Bearer(tok))
		}},
		{"no credential", 401, func() *testkit.Resp { return e.Do("GET", "/api/auth/me", nil) }},
		{"a wrong password", 401, func() *testkit.Resp {
			return e.Do("POST", "/api/auth/access-token", map[string]string{"username": "plain", "password": "Wrong#2026"})
		}},
		{"a second wrong password", 401, func() *testkit.Resp {
			return e.Do("POST", "/api/auth/access-token", map[string]string{"username": "plain", "password": "Wrong#2026"})
		}},
		{"a third wrong password locks", 401, func() *testkit.Resp {
			return e.Do("POST", "/api/auth/access-token", map[string]string{"username": "plain", "password": "Wrong#2026"})
		}},
		{"a locked name", 401, func() *testkit.Resp {
			return e.Do("POST", "/api/auth/access-token", map[string]string{"username": "plain", "password": plain.Password})
		}},
		{"no Data Management", 403, func() *testkit.Resp {
			return e.Do("POST", "/api/datastores", map[string]any{"name": "sales"}, testkit.APIKey(noRights))
		}},
		{"no User Management", 403, func() *testkit.Resp { return e.Do("GET", "/api/users", nil, testkit.Bearer(plainTok)) }},
		{"no such key", 404, func() *testkit.Resp {
			return e.Do("DELETE", "/api/auth/api-keys/"+uuid.NewString(), nil, testkit.Bearer(tok))
		}},
		{"a user", 201, func() *testkit.Resp {
			return e.Do("POST", "/api/users", map[string]any{"username": "analyst", "password": "Welcome#2026"}, testkit.Bearer(tok))
		}},
		{"the same user again", 409, func() *testkit.Resp {
			return e.Do("POST", "/api/users", map[string]any{"username": "analyst", "password": "Welcome#2026"}, testkit.Bearer(tok))
		}},
		{"a body over the limit", 413, func() *testkit.Resp { return e.Do("POST", "/api/auth/access-token", huge) }},
		{"text/plain", 415, func() *testkit.Resp {
			return e.Do("POST", "/api/auth/access-token", testkit.Raw("x"), textPlain)
		}},
		// The Kylin face.
		{"Kylin: an empty username", 400, func() *testkit.Resp {
			return e.Do("POST", "/kylin/api/user", map[string]any{"username": "", "password": "Welcome#2026"}, basic)
		}},
		{"Kylin: no credential", 401, func() *testkit.Resp { return e.Do("GET", "/kylin/api/user", nil) }},
		{"Kylin: a wrong password", 401, func() *testkit.Resp {
			return e.Do("GET", "/kylin/api/user", nil, testkit.Basic("nobody", "Wrong#2026"))
		}},
		{"Kylin: no User Management", 403, func() *testkit.Resp { return e.Do("GET", "/kylin/api/user", nil, testkit.Bearer(plainTok)) }},
		{"Kylin: no such project", 404, func() *testkit.Resp { return e.Do("DELETE", "/kylin/api/projects/sales", nil, basic) }},
		{"Kylin: an Accept it cannot meet", 406, func() *testkit.Resp {
			return e.Do("GET", "/kylin/api/user", nil, basic, testkit.Header("Accept", "application/xml"))
		}},
		{"Kylin: the same user again", 409, func() *testkit.Resp {
			return e.Do("POST", "/kylin/api/user", map[string]any{"username": "analyst", "password": "Welcome#2026"}, basic)
		}},
		{"Kylin: a body over the limit", 413, func() *testkit.Resp { return e.Do("POST", "/kylin/api/user", huge, basic) }},
		{"Kylin: text/plain", 415, func() *testkit.Resp { return e.Do("POST", "/kylin/api/query", testkit.Raw("x"), basic, textPlain) }},
	}
	for _, s := range steps {
		if r := s.do(); r.Status != s.status {
			t.Fatalf("%s: status %d, want %d; body %s", s.what, r.Status, s.status, r.Body)
		}
	}
	// The database goes away: 503 on each face; it comes back.
	proxy.setDown(true)
	e.Do("GET", "/api/users", nil, testkit.Bearer(tok)).Expect(t, 503)
	e.Do("GET", "/kylin/api/user", nil, basic).Expect(t, 503)
	proxy.setDown(false)
	testkit.Eventually(t, "the database is back", func() bool {
		return e.Do("GET", "/api/users", nil, testkit.Bearer(tok)).Status == 200
	})
	// Over the failure limit of this address: each face answers 429.
	for i := 0; ; i++ {
		r := e.Do("GET", "/api/auth/me", nil, testkit.APIKey("kala_not_a_key"))
		if r.Status == 429 {
			break
		}
		if r.Status != 401 || i > impl.DefaultRateFailures.Limit {
			t.Fatalf("failure %d: status %d; body %s", i+1, r.Status, r.Body)
		}
	}
	e.Do("GET", "/kylin/api/user", nil, testkit.Basic("nobody", "Wrong#2026")).Expect(t, 429)

	// Another server whose pool is closed under it: an internal error (500) on each face.
	e2 := testkit.New(t)
	e2.HTTP = e.HTTP
	tok2 := e2.AdminToken()
	e2.DB.Close()
	e2.Do("GET", "/api/users", nil, testkit.Bearer(tok2)).Expect(t, 500)
	e2.Do("GET", "/kylin/api/user", nil, basic).Expect(t, 500)

	var missing []string
	for msg, where := range documented {
		if _, ok := rec.seen[exNormalise(msg)]; !ok {
			sort.Strings(where)
			missing = append(missing, fmt.Sprintf("%q (%s)", msg, strings.Join(where, "; ")))
		}
	}
	if len(missing) > 0 {
		var real []string
		for _, s := range rec.seen {
			real = append(real, fmt.Sprintf("%q", s))
		}
		sort.Strings(missing)
		sort.Strings(real)
		t.Errorf("%d documented messages the server never sent:\n  %s\nmessages it sent:\n  %s",
			len(missing), strings.Join(missing, "\n  "), strings.Join(real, "\n  "))
	}
}

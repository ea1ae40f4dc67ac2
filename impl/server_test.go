package impl_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kala-server/kala/impl/testkit"
)

// A panic is answered 500 in the face's shape with the request id, logged with the
// request id, and still gets its access-log line and metrics.
func TestPanicKeepsRequestIDLogAndMetrics(t *testing.T) {
	e := testkit.New(t)
	boom := http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panic("boom") })
	e.Server.Mount("/api/test-panic", boom)
	e.Server.Mount("/kylin/api/test-panic", boom)

	// plain client: these paths are not in the contract, so the validating one would refuse a 500
	get := func(path, id string) (int, string, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", e.URL+path, nil)
		req.Header.Set("X-Request-Id", id)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, res.Header.Get("Content-Type"), b
	}

	st, ct, body := get("/api/test-panic", "rq-panic-kala")
	var p struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(body, &p); st != 500 || ct != "application/problem+json" || err != nil ||
		p.Status != 500 || !strings.Contains(p.Detail, "rq-panic-kala") {
		t.Errorf("kala panic: %d %s %s", st, ct, body)
	}

	st, _, body = get("/kylin/api/test-panic", "rq-panic-kylin")
	var k struct {
		Code      string `json:"code"`
		ErrorCode string `json:"error_code"`
		Msg       string `json:"msg"`
	}
	if err := json.Unmarshal(body, &k); st != 500 || err != nil || k.Code != "999" || !strings.Contains(k.Msg, "rq-panic-kylin") {
		t.Errorf("kylin panic: %d %s", st, body)
	}

	logs := e.Logs.String()
	for _, id := range []string{"rq-panic-kala", "rq-panic-kylin"} {
		var panicLine, accessLine bool
		for _, line := range strings.Split(logs, "\n") {
			if !strings.Contains(line, `"request_id":"`+id+`"`) {
				continue
			}
			panicLine = panicLine || strings.Contains(line, `"msg":"panic"`) && strings.Contains(line, `"panic":"boom"`)
			accessLine = accessLine || strings.Contains(line, `"msg":"request"`) && strings.Contains(line, `"status":500`)
		}
		if !panicLine || !accessLine {
			t.Errorf("%s: panic logged with request id %v, access line with 500 %v", id, panicLine, accessLine)
		}
	}
	r := e.Do("GET", "/metrics", nil).Expect(t, 200)
	if want := `kala_http_requests_total{operation="-",status="500"} 2`; !strings.Contains(string(r.Body), want) {
		t.Errorf("metrics lack %s", want)
	}
}

// A panic after the answer began cuts the connection (the client must not take half an
// answer for a whole one) and is still logged with its request id.
func TestPanicAfterAnswerBeganCutsConnection(t *testing.T) {
	e := testkit.New(t)
	e.Server.Mount("/api/test-panic-late", http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.WriteHeader(200)
		_, _ = w.Write([]byte(`{"data":[`))
		w.(http.Flusher).Flush()
		panic("late boom")
	}))
	req, _ := http.NewRequest("GET", e.URL+"/api/test-panic-late", nil)
	req.Header.Set("X-Request-Id", "rq-panic-late")
	res, err := http.DefaultClient.Do(req)
	if err == nil {
		_, err = io.ReadAll(res.Body)
		res.Body.Close()
	}
	if err == nil {
		t.Error("a panic after the answer began was not cut off")
	}
	logs := e.Logs.String()
	if !strings.Contains(logs, `"panic":"late boom"`) || !strings.Contains(logs, `"request_id":"rq-panic-late","client"`) {
		t.Errorf("late panic not logged with its request id and access line:\n%s", logs)
	}
}

// The server's own routes beside the faces: the docs, the spec, the key set, health and
// metrics.
func TestDocsAndSpecServed(t *testing.T) {
	e := testkit.New(t)
	for path, want := range map[string]string{"/docs/": "kala-init.js", "/docs/kala-init.js": "/openapi.json",
		"/docs/swagger-ui-bundle.js": "SwaggerUIBundle", "/openapi.yaml": "openapi: 3.0.3", "/openapi.json": `"openapi":"3.0.3"`,
		"/.well-known/jwks.json": `"kty":"OKP"`} {
		r := e.Do("GET", path, nil).Expect(t, 200)
		if !strings.Contains(string(r.Body), want) {
			t.Errorf("%s does not contain %q", path, want)
		}
		if strings.HasPrefix(path, "/docs/") {
			if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") || strings.Contains(csp, "http") {
				t.Errorf("%s CSP %q", path, csp)
			}
		}
	}
	e.Do("GET", "/healthz", nil).Expect(t, 200)
	e.Do("GET", "/readyz", nil).Expect(t, 200)
	e.Do("GET", "/api/auth/me", nil, testkit.Bearer("not-a-token")).Expect(t, 401)
	e.Do("GET", "/api/auth/me", nil, testkit.Bearer(e.AdminToken())).Expect(t, 200)
	r := e.Do("GET", "/metrics", nil).Expect(t, 200)
	for _, want := range []string{`kala_http_requests_total{operation="getMe",status="401"} 1`,
		`kala_http_requests_total{operation="getMe",status="200"} 1`,
		`kala_auth_failures_total{scheme="bearerAuth"} 1`, `kala_http_request_duration_seconds_count{operation="getMe"} 2`} {
		if !strings.Contains(string(r.Body), want) {
			t.Errorf("metrics lack %s", want)
		}
	}
}

// What the server's outer chain (request id, access log, metrics, recovery, routing)
// costs per request over a bare handler writing the same answer, in process: /healthz
// through the server vs the bare handler, and who-am-I by API key (warm caches) for the
// contract path. Read the ratio of the medians, not the absolute numbers.
func BenchmarkRequestPath(b *testing.B) {
	e := testkit.New(b)
	body := []byte(`{"status":"ok"}` + "\n")
	bare := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	key := e.NewKey(e.AdminToken(), map[string]any{"validTo": testkit.ValidTo(e)})
	run := func(b *testing.B, h http.Handler, path string, hdr map[string]string) {
		req := httptest.NewRequest("GET", path, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		b.ReportAllocs()
		for b.Loop() {
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != 200 {
				b.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
			}
			e.Logs.Reset()
		}
	}
	b.Run("bare", func(b *testing.B) { run(b, bare, "/healthz", nil) })
	b.Run("healthz", func(b *testing.B) { run(b, e.Server, "/healthz", nil) })
	b.Run("me-api-key", func(b *testing.B) { run(b, e.Server, "/api/auth/me", map[string]string{"X-API-Key": key}) })
}

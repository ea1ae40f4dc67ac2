package kylin_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kala-server/kala/impl"
	"github.com/kala-server/kala/impl/testkit"
)

func kcOrigin(o string) testkit.ReqOpt { return testkit.Header("Origin", o) }

// kcState is what the refused writes would have changed.
type kcState struct {
	Users, Projects int
	VictimDisabled  bool
}

func kcRead(t *testing.T, e *testkit.Env, victim string) kcState {
	t.Helper()
	var s kcState
	if err := e.DB.Get(&s.Users, `SELECT count(*) FROM users`); err != nil {
		t.Fatal(err)
	}
	if err := e.DB.Get(&s.Projects, `SELECT count(*) FROM projects`); err != nil {
		t.Fatal(err)
	}
	if err := e.DB.Get(&s.VictimDisabled, `SELECT disabled FROM users WHERE username_key = $1`, victim); err != nil {
		t.Fatal(err)
	}
	return s
}

// kcWrites are unsafe Kylin calls a forged page would like to make.
func kcWrites(victim string) []struct {
	method, path string
	body         any
} {
	return []struct {
		method, path string
		body         any
	}{
		{"POST", "/kylin/api/user", map[string]any{"username": "csrf_new", "password": "Welcome#2026", "authorities": []string{"ROLE_ADMIN"}}},
		{"PUT", "/kylin/api/user", map[string]any{"username": victim, "disabled": true}},
		{"DELETE", "/kylin/api/user/" + victim, nil},
		{"POST", "/kylin/api/projects", map[string]any{"name": "csrf_project"}},
		{"PUT", "/kylin/api/user/password", map[string]any{"username": "ADMIN", "password": testkit.AdminPassword, "new_password": "Pwned#2026x"}},
	}
}

// Unsafe requests from a foreign Origin are refused whatever the credential, and change
// nothing.
func TestKylinCORSForeignOriginRefused(t *testing.T) {
	e := testkit.NewCORS(t)
	victim := e.NewUser("kc_victim", false)
	session := testkit.KylinLogin(t, e, "ADMIN", testkit.AdminPassword)
	before := kcRead(t, e, victim.Name)
	host := strings.TrimPrefix(e.URL, "http://")
	port := host[strings.LastIndex(host, ":")+1:]
	foreign := []string{"https://evil.example", "null", "https://" + host, "http://localhost:" + port,
		"http://127.0.0.1:1", "https://app.example.evil.example", "http://app.example"}

	creds := map[string]testkit.ReqOpt{"basic": testkit.Basic("ADMIN", testkit.AdminPassword), "cookie": testkit.SessionCookie(session)}
	for credName, cred := range creds {
		for _, origin := range foreign {
			for _, w := range kcWrites(victim.Name) {
				r := e.Do(w.method, w.path, w.body, cred, kcOrigin(origin))
				if r.Status != 403 {
					t.Errorf("%s %s with %s from %s: %d %s", w.method, w.path, credName, origin, r.Status, r.Body)
					continue
				}
				testkit.KylinExpectErr(t, r, 403, "KE-010024001")
				if r.Header.Get("Access-Control-Allow-Origin") != "" {
					t.Errorf("a refused foreign request got Access-Control-Allow-Origin %q", r.Header.Get("Access-Control-Allow-Origin"))
				}
			}
		}
	}
	if after := kcRead(t, e, victim.Name); after != before {
		t.Errorf("refused writes changed the store: %+v -> %+v", before, after)
	}
	// the ADMIN password did not change
	testkit.KylinOK[json.RawMessage](t, e.Do("GET", "/kylin/api/projects", nil, testkit.Basic("ADMIN", testkit.AdminPassword)))

	// login CSRF: a forged login sets no session
	r := e.Do("POST", "/kylin/api/user/authentication", nil, testkit.Basic(victim.Name, victim.Password), kcOrigin("https://evil.example"))
	testkit.KylinExpectErr(t, r, 403, "KE-010024001")
	if testkit.SessionSet(r.Header) != nil || kxSessions(t, e, victim.ID) != 0 {
		t.Errorf("a cross-site login started a session")
	}
	// a forged logout (POST) does not end the session
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/j_spring_security_logout", nil, testkit.SessionCookie(session), kcOrigin("https://evil.example")), 403, "KE-010024001")
	testkit.KylinOK[json.RawMessage](t, e.Do("GET", "/kylin/api/projects", nil, testkit.SessionCookie(session)))
	// the same rule on the Kala surface, even with a bearer token
	tok := testkit.Bearer(e.AdminToken())
	e.Do("POST", "/api/datastores", map[string]any{"name": "csrf_ds"}, tok, kcOrigin("https://evil.example")).Expect(t, 403)
	if after := kcRead(t, e, victim.Name); after.Projects != before.Projects {
		t.Errorf("a cross-site datastore was created")
	}
	// without any credential it is refused all the same (before authentication)
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/projects", map[string]any{"name": "anon"}, kcOrigin("https://evil.example")), 403, "KE-010024001")

	// safe methods are not refused, but a foreign page cannot read them
	r = e.Do("GET", "/kylin/api/user", nil, testkit.SessionCookie(session), kcOrigin("https://evil.example"))
	testkit.KylinOK[json.RawMessage](t, r)
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("a foreign GET got Access-Control-Allow-Origin %q", r.Header.Get("Access-Control-Allow-Origin"))
	}
}

// From an origin in CORSOrigins, the same writes go through with credentialed CORS.
func TestKylinCORSListedOriginAllowed(t *testing.T) {
	e := testkit.NewCORS(t)
	victim := e.NewUser("kc_victim", false)
	session := testkit.KylinLogin(t, e, "ADMIN", testkit.AdminPassword, kcOrigin(testkit.AppOrigin))
	check := func(r *testkit.Resp) {
		t.Helper()
		if got := r.Header.Get("Access-Control-Allow-Origin"); got != testkit.AppOrigin {
			t.Errorf("Access-Control-Allow-Origin %q, want %q", got, testkit.AppOrigin)
		}
		if got := r.Header.Get("Access-Control-Allow-Credentials"); got != "true" {
			t.Errorf("Access-Control-Allow-Credentials %q", got)
		}
		if !strings.Contains(strings.Join(r.Header.Values("Vary"), ","), "Origin") {
			t.Errorf("Vary %q lacks Origin", r.Header.Values("Vary"))
		}
	}
	for _, cred := range []testkit.ReqOpt{testkit.SessionCookie(session), testkit.Basic("ADMIN", testkit.AdminPassword)} {
		r := e.Do("POST", "/kylin/api/projects", map[string]any{"name": "cors_p"}, cred, kcOrigin(testkit.AppOrigin))
		testkit.KylinOK[kpProject](t, r)
		check(r)
		r = e.Do("PUT", "/kylin/api/user", map[string]any{"username": victim.Name, "disabled": true}, cred, kcOrigin(testkit.AppOrigin))
		testkit.KylinOK[testkit.KylinUser](t, r)
		check(r)
		r = e.Do("DELETE", "/kylin/api/projects/cors_p", nil, cred, kcOrigin(testkit.AppOrigin))
		testkit.KylinOK[json.RawMessage](t, r)
		check(r)
		r = e.Do("PUT", "/kylin/api/user", map[string]any{"username": victim.Name, "disabled": false}, cred, kcOrigin(testkit.AppOrigin))
		testkit.KylinOK[testkit.KylinUser](t, r)
	}
	if s := kcRead(t, e, victim.Name); s.VictimDisabled || s.Projects != 0 {
		t.Errorf("state: %+v", s)
	}
	testkit.KylinOK[json.RawMessage](t, e.Do("DELETE", "/kylin/api/user/"+victim.Name, nil, testkit.SessionCookie(session), kcOrigin(testkit.AppOrigin)))
	var n int
	if err := e.DB.Get(&n, `SELECT count(*) FROM users WHERE username_key = 'kc_victim'`); err != nil || n != 0 {
		t.Errorf("the listed origin's DELETE did not delete: %d %v", n, err)
	}
	// errors are readable by the listed origin too
	r := e.Do("GET", "/kylin/api/user", nil, testkit.Basic("ADMIN", "Wrong#pass1"), kcOrigin(testkit.AppOrigin))
	testkit.KylinExpectErr(t, r, 401, "KE-010003208")
	check(r)
}

// The server's own origin and requests without Origin (curl, services) are not cross-site.
func TestKylinCORSSameOriginAndNoOrigin(t *testing.T) {
	e := testkit.New(t) // no CORS origins at all
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	session := testkit.KylinLogin(t, e, "ADMIN", testkit.AdminPassword, kcOrigin(e.URL))

	testkit.KylinOK[kpProject](t, e.Do("POST", "/kylin/api/projects", map[string]any{"name": "same_origin"}, testkit.SessionCookie(session), kcOrigin(e.URL)))
	testkit.KylinOK[kpProject](t, e.Do("POST", "/kylin/api/projects", map[string]any{"name": "same_origin_upper"}, admin, kcOrigin(strings.ToUpper(e.URL))))
	testkit.KylinOK[kpProject](t, e.Do("POST", "/kylin/api/projects", map[string]any{"name": "no_origin"}, testkit.SessionCookie(session)))
	testkit.KylinOK[json.RawMessage](t, e.Do("DELETE", "/kylin/api/projects/no_origin", nil, admin, kcOrigin(e.URL)))
	r := e.Do("PUT", "/kylin/api/user", map[string]any{"username": "ADMIN"}, admin, kcOrigin(e.URL))
	testkit.KylinOK[testkit.KylinUser](t, r)
	if r.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("same-origin answer carries Access-Control-Allow-Origin %q (CORS is off)", r.Header.Get("Access-Control-Allow-Origin"))
	}
	// with no origins configured, any foreign origin is refused
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/projects", map[string]any{"name": "foreign"}, admin, kcOrigin(testkit.AppOrigin)), 403, "KE-010024001")
	var n int
	if err := e.DB.Get(&n, `SELECT count(*) FROM projects`); err != nil || n != 2 {
		t.Errorf("projects: %d (%v), want 2", n, err)
	}
	testkit.KylinOK[json.RawMessage](t, e.Do("POST", "/kylin/api/j_spring_security_logout", nil, testkit.SessionCookie(session), kcOrigin(e.URL)))
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/projects", nil, testkit.SessionCookie(session)), 401, "KE-010003208")
}

// Preflights from a listed origin list exactly the methods the contract has for the path.
func TestKylinCORSPreflight(t *testing.T) {
	e := testkit.NewCORS(t)
	cases := map[string]string{
		"/kylin/api/user":                                           "GET, POST, PUT, DELETE",
		"/kylin/api/user/batch":                                     "POST, DELETE",
		"/kylin/api/access/project":                                 "GET, POST, PUT, DELETE",
		"/kylin/api/user/analyst":                                   "DELETE",
		"/kylin/api/user/password":                                  "PUT",
		"/kylin/api/projects":                                       "GET, POST",
		"/kylin/api/projects/sales":                                 "DELETE",
		"/kylin/api/j_spring_security_logout":                       "GET, POST",
		"/kylin/api/user/authentication":                            "GET, POST",
		"/api/datastores/" + "0196a1c0-0000-7000-8000-000000000010": "GET, PATCH, DELETE",
	}
	for path, want := range cases {
		res := testkit.Preflight(t, e, path, testkit.AppOrigin, "PUT")
		if res.StatusCode != 204 && res.StatusCode != 200 {
			t.Errorf("%s: preflight status %d", path, res.StatusCode)
		}
		if got := res.Header.Get("Access-Control-Allow-Methods"); got != want {
			t.Errorf("%s: Access-Control-Allow-Methods %q, want %q", path, got, want)
		}
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != testkit.AppOrigin {
			t.Errorf("%s: Access-Control-Allow-Origin %q", path, got)
		}
		if got := res.Header.Get("Access-Control-Allow-Credentials"); got != "true" {
			t.Errorf("%s: Access-Control-Allow-Credentials %q", path, got)
		}
		allow := strings.ToLower(res.Header.Get("Access-Control-Allow-Headers"))
		for _, h := range []string{"authorization", "content-type", "accept", "x-requested-with"} {
			if !strings.Contains(allow, h) {
				t.Errorf("%s: Access-Control-Allow-Headers %q lacks %s", path, allow, h)
			}
		}
	}
	// an unlisted origin learns nothing
	for _, origin := range []string{"https://evil.example", "null", "http://app.example"} {
		res := testkit.Preflight(t, e, "/kylin/api/user", origin, "POST")
		if got := res.Header.Get("Access-Control-Allow-Origin"); got != "" {
			t.Errorf("%s: Access-Control-Allow-Origin %q", origin, got)
		}
		if got := res.Header.Get("Access-Control-Allow-Methods"); got != "" {
			t.Errorf("%s: Access-Control-Allow-Methods %q", origin, got)
		}
	}
	// a path the contract lacks gets no CORS grant
	if res := testkit.Preflight(t, e, "/kylin/api/nosuch", testkit.AppOrigin, "POST"); res.Header.Get("Access-Control-Allow-Methods") != "" || res.StatusCode != 404 {
		t.Errorf("unknown path: %d %q", res.StatusCode, res.Header.Get("Access-Control-Allow-Methods"))
	}
	// CORS off: nobody is granted
	off := testkit.New(t)
	if res := testkit.Preflight(t, off, "/kylin/api/user", testkit.AppOrigin, "POST"); res.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("CORS off: Access-Control-Allow-Origin %q", res.Header.Get("Access-Control-Allow-Origin"))
	}
}

// Behind a TLS-terminating proxy the request says http and the inner host; with
// KALA_PUBLIC_URL the server's own pages (Swagger UI, cookie login) are still its own.
func TestPublicURLIsTheServersOwnOrigin(t *testing.T) {
	const public = "https://kala.example.com"
	e := testkit.New(t, kxOption(func(c *impl.Config) { c.PublicURL = public }))
	r := e.Do("POST", "/kylin/api/user/authentication", nil, testkit.Basic("ADMIN", testkit.AdminPassword), kcOrigin(public))
	r.Expect(t, 200)
	if sc := strings.Join(r.Header.Values("Set-Cookie"), ";"); !strings.Contains(sc, "Secure") {
		t.Errorf("an https public URL must make the session cookie Secure: %q", sc)
	}
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/user/authentication", nil, testkit.Basic("ADMIN", testkit.AdminPassword),
		kcOrigin(e.URL)), 403, "KE-010024001")
	plain := testkit.New(t)
	testkit.KylinExpectErr(t, plain.Do("POST", "/kylin/api/user/authentication", nil, testkit.Basic("ADMIN", testkit.AdminPassword),
		kcOrigin(public)), 403, "KE-010024001")
}

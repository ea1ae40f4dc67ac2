package kylin_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/kala-server/kala/impl"
	"github.com/kala-server/kala/impl/testkit"
)

// Helpers of the Kylin face's tests (prefix kx); testkit has those other packages use too.

// kxClient is a plain client with a real cookie jar whose responses are still checked
// against openapi.yaml.
type kxClient struct {
	t    *testing.T
	e    *testkit.Env
	http *http.Client
	jar  *cookiejar.Jar
}

func kxNewClient(t *testing.T, e *testkit.Env) *kxClient {
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	return &kxClient{t: t, e: e, jar: jar, http: &http.Client{Jar: jar,
		Transport: testkit.NewValidatingTransport(t, e.Server.Contract, http.DefaultTransport)}}
}

func (c *kxClient) Do(method, path string, body any, opts ...testkit.ReqOpt) *testkit.Resp {
	c.t.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			c.t.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.e.URL+path, rd)
	if err != nil {
		c.t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json;charset=utf-8")
	}
	for _, o := range opts {
		o(req)
	}
	res, err := c.http.Do(req)
	if err != nil {
		c.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return &testkit.Resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// session returns the JSESSIONID the jar holds for the server ("" if none).
func (c *kxClient) session() string {
	u, _ := url.Parse(c.e.URL + "/kylin/api/user")
	for _, k := range c.jar.Cookies(u) {
		if k.Name == "JSESSIONID" {
			return k.Value
		}
	}
	return ""
}

// kxBasicHeader is the Authorization header exactly as Kylin's docs build it.
func kxBasicHeader(user, pass string) testkit.ReqOpt {
	return testkit.Header("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
}

// kxCurl are the headers of Kylin's documented curl calls.
func kxCurl(user, pass string) []testkit.ReqOpt {
	return []testkit.ReqOpt{kxBasicHeader(user, pass), testkit.Header("Accept", testkit.KylinJSON),
		testkit.Header("Accept-Language", "en")}
}

var kxPostJSON = testkit.Header("Content-Type", "application/json;charset=utf-8")

// kxSessions counts the stored sessions of a user.
func kxSessions(t *testing.T, e *testkit.Env, id any) int {
	t.Helper()
	var n int
	if err := e.DB.Get(&n, `SELECT count(*) FROM sessions WHERE user_id = $1`, id); err != nil {
		t.Fatal(err)
	}
	return n
}

func kxOption(f func(*impl.Config)) testkit.Option { return testkit.Option(f) }

// ---------------------------------------------------------------------------

// Kylin's documented curl calls, header for header: Basic built from the user's name and
// password, Kylin's Accept and Accept-Language, and Content-Type with charset on POST.
func TestKylinSessionDocumentedCurl(t *testing.T) {
	e := testkit.New(t)
	u := e.NewUser("curl_admin", false, e.Permission("User Management"))
	curl := kxCurl(u.Name, u.Password)

	r := e.Do("POST", "/kylin/api/user/authentication", nil, append(curl, kxPostJSON)...)
	if ct := r.Header.Get("Content-Type"); ct != testkit.KylinJSON+";charset=UTF-8" {
		t.Errorf("Content-Type %q, want %s;charset=UTF-8", ct, testkit.KylinJSON)
	}
	me := testkit.KylinOK[testkit.KylinUser](t, r)
	if me.Username != u.Name || me.UUID != u.ID.String() || !me.Has("ALL_USERS") {
		t.Errorf("authentication answered %s", r.Body)
	}

	r = e.Do("GET", "/kylin/api/user?page_offset=0&page_size=10", nil, curl...)
	page := testkit.KylinOK[testkit.KylinPage[testkit.KylinUser]](t, r)
	if page.TotalSize != 2 || len(page.Value) != 2 || page.Limit != 10 || page.Offset != 0 {
		t.Errorf("user list: %s", r.Body)
	}

	r = e.Do("POST", "/kylin/api/user", testkit.Raw(`{"username":"curl_analyst","password":"Welcome#2026","disabled":false,"authorities":["ALL_USERS","ROLE_ANALYST"]}`),
		append(curl, kxPostJSON)...)
	if ct := r.Header.Get("Content-Type"); ct != testkit.KylinJSON+";charset=UTF-8" {
		t.Errorf("Content-Type %q", ct)
	}
	created := testkit.KylinOK[testkit.KylinUser](t, r)
	if created.Username != "curl_analyst" || !created.Has("ROLE_ANALYST") || !created.DefaultPassword {
		t.Errorf("created %s", r.Body)
	}
	// the new user's own curl works at once
	testkit.KylinOK[testkit.KylinUser](t, e.Do("GET", "/kylin/api/user/authentication", nil, kxCurl("curl_analyst", "Welcome#2026")...))

	// the error answers carry Kylin's media type too
	r = e.Do("GET", "/kylin/api/user", nil, kxCurl(u.Name, "Wrong#pass1")...)
	testkit.KylinExpectErr(t, r, 401, "KE-010003208")
	if ct := r.Header.Get("Content-Type"); ct != testkit.KylinJSON+";charset=UTF-8" {
		t.Errorf("error Content-Type %q", ct)
	}
	e.MustNotLog(u.Password)
}

// The cookie flow with a real cookie jar, as Kylin's docs show it with curl -c/-b.
func TestKylinSessionCookieJarFlow(t *testing.T) {
	e := testkit.New(t)
	u := e.NewUser("jar_user", false, e.Permission("User Management"))
	c := kxNewClient(t, e)

	r := c.Do("POST", "/kylin/api/user/authentication", nil, testkit.Basic(u.Name, u.Password))
	testkit.KylinOK[testkit.KylinUser](t, r)
	sc := testkit.SessionSet(r.Header)
	if sc == nil {
		t.Fatalf("no JSESSIONID: %v", r.Header)
	}
	if !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" || sc.Secure {
		t.Errorf("cookie attributes: HttpOnly=%v SameSite=%v Path=%q Secure=%v (raw %q)", sc.HttpOnly, sc.SameSite, sc.Path, sc.Secure, r.Header.Values("Set-Cookie"))
	}
	if len(sc.Value) < 22 { // 128 bits in base64url
		t.Errorf("session id too short: %d characters", len(sc.Value))
	}
	old := c.session()
	if old != sc.Value {
		t.Fatalf("the jar holds %q, the server set %q", old, sc.Value)
	}
	// stored hashed: the raw value is nowhere in the table, its SHA-256 is
	h := sha256.Sum256([]byte(old))
	var n int
	if err := e.DB.Get(&n, `SELECT count(*) FROM sessions WHERE id_hash = $1`, h[:]); err != nil || n != 1 {
		t.Errorf("session rows with the cookie's hash: %d (%v)", n, err)
	}
	if err := e.DB.Get(&n, `SELECT count(*) FROM sessions WHERE id_hash = $1`, []byte(old)); err != nil || n != 0 {
		t.Errorf("the raw cookie value is stored: %d (%v)", n, err)
	}

	// the cookie alone authenticates
	page := testkit.KylinOK[testkit.KylinPage[testkit.KylinUser]](t, c.Do("GET", "/kylin/api/user", nil))
	if page.TotalSize != 2 {
		t.Errorf("total_size %d", page.TotalSize)
	}
	// GET authentication with the cookie only: who am I, no new session
	r = c.Do("GET", "/kylin/api/user/authentication", nil)
	if me := testkit.KylinOK[testkit.KylinUser](t, r); me.Username != u.Name {
		t.Errorf("whoami: %s", r.Body)
	}
	if testkit.SessionSet(r.Header) != nil {
		t.Errorf("a cookie-only call set a new cookie: %v", r.Header.Values("Set-Cookie"))
	}

	// logout by GET (Kylin clients use GET)
	r = c.Do("GET", "/kylin/api/j_spring_security_logout", nil)
	testkit.KylinOK[json.RawMessage](t, r)
	cleared := testkit.SessionSet(r.Header)
	if cleared == nil || cleared.Value != "" || cleared.MaxAge >= 0 {
		t.Errorf("logout did not clear the cookie: %q", r.Header.Values("Set-Cookie"))
	}
	if v := c.session(); v != "" {
		t.Errorf("the jar still holds JSESSIONID=%s after logout", v)
	}
	if kxSessions(t, e, u.ID) != 0 {
		t.Errorf("the session row survived logout")
	}
	// the jar sends nothing now: no credentials
	testkit.KylinExpectErr(t, c.Do("GET", "/kylin/api/user", nil), 401, "KE-010003207")
	// the old value sent by hand is refused as a bad credential
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/user", nil, testkit.SessionCookie(old)), 401, "KE-010003208")
	// logging out again (no session) is harmless
	testkit.KylinOK[json.RawMessage](t, e.Do("POST", "/kylin/api/j_spring_security_logout", nil))
	e.MustNotLog(old)
}

func TestKylinSessionCookieSecureOption(t *testing.T) {
	for _, secure := range []bool{false, true} {
		e := testkit.New(t, kxOption(func(c *impl.Config) { c.CookieSecure = secure }))
		r := e.Do("POST", "/kylin/api/user/authentication", nil, testkit.Basic("ADMIN", testkit.AdminPassword))
		testkit.KylinOK[testkit.KylinUser](t, r)
		sc := testkit.SessionSet(r.Header)
		if sc == nil || sc.Secure != secure || !sc.HttpOnly || sc.SameSite != http.SameSiteLaxMode || sc.Path != "/" {
			t.Errorf("CookieSecure=%v: Set-Cookie %q", secure, r.Header.Values("Set-Cookie"))
		}
		// the logout's clearing cookie has the same attributes
		r = e.Do("POST", "/kylin/api/j_spring_security_logout", nil, testkit.SessionCookie(sc.Value))
		testkit.KylinOK[json.RawMessage](t, r)
		if lc := testkit.SessionSet(r.Header); lc == nil || lc.Secure != secure || lc.Path != "/" {
			t.Errorf("CookieSecure=%v: logout Set-Cookie %q", secure, r.Header.Values("Set-Cookie"))
		}
	}
}

// jQuery's $.ajax sends X-Requested-With; a Basic challenge would make the browser pop
// its own login dialog, so such requests get none.
func TestKylinSessionXHRGetsNoBasicChallenge(t *testing.T) {
	e := testkit.New(t)
	u := e.NewUser("xhr_user", false)
	xhr := testkit.Header("X-Requested-With", "XMLHttpRequest")

	r := e.Do("GET", "/kylin/api/projects", nil, testkit.Basic(u.Name, "Wrong#pass1"), xhr, testkit.Header("Accept", testkit.KylinJSON))
	testkit.KylinExpectErr(t, r, 401, "KE-010003208")
	ch := r.Header.Get("WWW-Authenticate")
	if ch == "" || strings.Contains(strings.ToLower(ch), "basic") {
		t.Errorf("XHR: WWW-Authenticate %q: want a challenge without Basic", ch)
	}
	r = e.Do("POST", "/kylin/api/user/authentication", nil, testkit.Basic(u.Name, "Wrong#pass2"), xhr)
	testkit.KylinExpectErr(t, r, 401, "KE-010003208")
	if ch := r.Header.Get("WWW-Authenticate"); strings.Contains(strings.ToLower(ch), "basic") {
		t.Errorf("XHR login: WWW-Authenticate %q", ch)
	}
	if testkit.SessionSet(r.Header) != nil {
		t.Errorf("a failed login set a cookie")
	}

	// without the header: the Basic challenge is there (curl, Kylin's clients); another
	// name, so that this failure is not the third of one name (which would lock it)
	v := e.NewUser("xhr_other", false)
	r = e.Do("GET", "/kylin/api/projects", nil, testkit.Basic(v.Name, "Wrong#pass3"))
	testkit.KylinExpectErr(t, r, 401, "KE-010003208")
	if ch := r.Header.Get("WWW-Authenticate"); !strings.Contains(ch, "Basic") {
		t.Errorf("no XHR: WWW-Authenticate %q lacks Basic", ch)
	}
}

// A cookie presented at a Basic login never becomes the logged-in session.
func TestKylinSessionFixation(t *testing.T) {
	e := testkit.New(t)
	a := e.NewUser("fix_a", false)
	b := e.NewUser("fix_b", false)
	whoami := func(cookie string) *testkit.Resp {
		return e.Do("GET", "/kylin/api/user/authentication", nil, testkit.SessionCookie(cookie))
	}

	t.Run("own valid session", func(t *testing.T) {
		c1 := testkit.KylinLogin(t, e, a.Name, a.Password)
		c2 := testkit.KylinLogin(t, e, a.Name, a.Password, testkit.SessionCookie(c1))
		if c2 == c1 {
			t.Fatal("the login kept the presented session id")
		}
		testkit.KylinExpectErr(t, whoami(c1), 401, "KE-010003208")
		if me := testkit.KylinOK[testkit.KylinUser](t, whoami(c2)); me.Username != a.Name {
			t.Errorf("new session is %s", me.Username)
		}
	})
	t.Run("another user's valid session", func(t *testing.T) {
		ca := testkit.KylinLogin(t, e, a.Name, a.Password)
		cb := testkit.KylinLogin(t, e, b.Name, b.Password, testkit.SessionCookie(ca))
		if cb == ca {
			t.Fatal("the login kept the presented session id")
		}
		testkit.KylinExpectErr(t, whoami(ca), 401, "KE-010003208")
		if me := testkit.KylinOK[testkit.KylinUser](t, whoami(cb)); me.Username != b.Name {
			t.Errorf("new session is %s, want %s", me.Username, b.Name)
		}
	})
	t.Run("random well-formed value", func(t *testing.T) {
		var raw [32]byte
		_, _ = rand.Read(raw[:])
		planted := base64.RawURLEncoding.EncodeToString(raw[:])
		got := testkit.KylinLogin(t, e, a.Name, a.Password, testkit.SessionCookie(planted))
		if got == planted {
			t.Fatal("the login adopted the planted session id")
		}
		testkit.KylinExpectErr(t, whoami(planted), 401, "KE-010003208")
		testkit.KylinOK[testkit.KylinUser](t, whoami(got))
		h := sha256.Sum256([]byte(planted))
		var n int
		if err := e.DB.Get(&n, `SELECT count(*) FROM sessions WHERE id_hash = $1`, h[:]); err != nil || n != 0 {
			t.Errorf("the planted id is stored: %d %v", n, err)
		}
	})
}

// Idle timeout (default 10 min); last-seen is written at most once a minute.
func TestKylinSessionIdleExpiry(t *testing.T) {
	e := testkit.New(t)
	u := e.NewUser("idle_user", false)
	c := testkit.KylinLogin(t, e, u.Name, u.Password)
	call := func() *testkit.Resp { return e.Do("GET", "/kylin/api/projects", nil, testkit.SessionCookie(c)) }

	e.Clock.Advance(9 * time.Minute)
	testkit.KylinOK[json.RawMessage](t, call()) // 9 min idle: valid
	e.Clock.Advance(9 * time.Minute)
	testkit.KylinOK[json.RawMessage](t, call()) // 18 min after login, 9 after the last request: refreshed
	e.Clock.Advance(9*time.Minute + 59*time.Second)
	testkit.KylinOK[json.RawMessage](t, call())
	e.Clock.Advance(10 * time.Minute)
	testkit.KylinExpectErr(t, call(), 401, "KE-010003208") // 10 min idle: gone
	if kxSessions(t, e, u.ID) != 0 {
		t.Error("the expired session is still stored")
	}
	// and it stays gone
	testkit.KylinExpectErr(t, call(), 401, "KE-010003208")

	// a configured idle timeout
	e2 := testkit.New(t, kxOption(func(c *impl.Config) { c.SessionIdle = 2 * time.Minute }))
	u2 := e2.NewUser("idle_user2", false)
	c2 := testkit.KylinLogin(t, e2, u2.Name, u2.Password)
	e2.Clock.Advance(time.Minute + 59*time.Second)
	testkit.KylinOK[json.RawMessage](t, e2.Do("GET", "/kylin/api/projects", nil, testkit.SessionCookie(c2)))
	e2.Clock.Advance(2 * time.Minute)
	testkit.KylinExpectErr(t, e2.Do("GET", "/kylin/api/projects", nil, testkit.SessionCookie(c2)), 401, "KE-010003208")
}

// A short idle timeout: a session used more often than that stays alive (its last-seen
// time is written often enough for the timeout, not only once a minute), and one left
// idle that long ends.
func TestKylinSessionShortIdleStaysAliveWhenActive(t *testing.T) {
	e := testkit.New(t, kxOption(func(c *impl.Config) { c.SessionIdle = 20 * time.Second }))
	u := e.NewUser("busy_user", false)
	c := testkit.KylinLogin(t, e, u.Name, u.Password)
	for i := 1; i <= 12; i++ { // two minutes, a request every 10 s
		e.Clock.Advance(10 * time.Second)
		if r := e.Do("GET", "/kylin/api/projects", nil, testkit.SessionCookie(c)); r.Status != 200 {
			t.Fatalf("request %d, %d s after login: %d %s", i, 10*i, r.Status, r.Body)
		}
	}
	e.Clock.Advance(20 * time.Second)
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/projects", nil, testkit.SessionCookie(c)), 401, "KE-010003208")
}

// Absolute timeout (default 12 h): activity does not stretch a session past it.
func TestKylinSessionAbsoluteExpiry(t *testing.T) {
	e := testkit.New(t)
	u := e.NewUser("abs_user", false)
	c := testkit.KylinLogin(t, e, u.Name, u.Password)
	steps := int((12 * time.Hour) / (5 * time.Minute))
	for i := 1; i < steps; i++ {
		e.Clock.Advance(5 * time.Minute)
		r := e.Do("GET", "/kylin/api/projects", nil, testkit.SessionCookie(c))
		if r.Status != 200 {
			t.Fatalf("after %v of activity: %d %s", time.Duration(i)*5*time.Minute, r.Status, r.Body)
		}
	}
	e.Clock.Advance(5 * time.Minute) // 12 h after login
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/projects", nil, testkit.SessionCookie(c)), 401, "KE-010003208")

	// configured
	e2 := testkit.New(t, kxOption(func(c *impl.Config) { c.SessionMax = time.Hour }))
	u2 := e2.NewUser("abs_user2", false)
	c2 := testkit.KylinLogin(t, e2, u2.Name, u2.Password)
	for range 11 {
		e2.Clock.Advance(5 * time.Minute)
		testkit.KylinOK[json.RawMessage](t, e2.Do("GET", "/kylin/api/projects", nil, testkit.SessionCookie(c2)))
	}
	e2.Clock.Advance(5 * time.Minute)
	testkit.KylinExpectErr(t, e2.Do("GET", "/kylin/api/projects", nil, testkit.SessionCookie(c2)), 401, "KE-010003208")
	// a fresh login works again
	testkit.KylinLogin(t, e2, u2.Name, u2.Password)
}

// A password change keeps the session making it and ends everything else of the user:
// other sessions and cached Basic credentials, at once.
func TestKylinSessionPasswordChangeEndsOtherCredentials(t *testing.T) {
	e := testkit.New(t)
	u := e.NewUser("pw_user", false)
	const newPw = "N3w-Secret#2026"
	mine := kxNewClient(t, e)
	testkit.KylinOK[testkit.KylinUser](t, mine.Do("POST", "/kylin/api/user/authentication", nil, testkit.Basic(u.Name, u.Password)))
	other := testkit.KylinLogin(t, e, u.Name, u.Password)
	testkit.KylinOK[json.RawMessage](t, e.Do("GET", "/kylin/api/projects", nil, testkit.Basic(u.Name, u.Password)))
	cached := e.Server.Basic.Len()
	if cached == 0 {
		t.Fatal("a Basic success was not cached")
	}
	if kxSessions(t, e, u.ID) != 2 {
		t.Fatalf("sessions before: %d", kxSessions(t, e, u.ID))
	}

	r := mine.Do("PUT", "/kylin/api/user/password", map[string]any{"username": u.Name, "password": u.Password, "new_password": newPw})
	testkit.KylinOK[json.RawMessage](t, r)

	if n := e.Server.Basic.Len(); n >= cached {
		t.Errorf("Basic cache entries: %d before, %d after the change", cached, n)
	}
	testkit.KylinOK[json.RawMessage](t, mine.Do("GET", "/kylin/api/projects", nil)) // this session survives
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/projects", nil, testkit.SessionCookie(other)), 401, "KE-010003208")
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/projects", nil, testkit.Basic(u.Name, u.Password)), 401, "KE-010003208")
	testkit.KylinOK[json.RawMessage](t, e.Do("GET", "/kylin/api/projects", nil, testkit.Basic(u.Name, newPw)))
	if n := kxSessions(t, e, u.ID); n != 1 {
		t.Errorf("sessions after: %d, want 1", n)
	}
	var def bool
	if err := e.DB.Get(&def, `SELECT default_password FROM users WHERE id = $1`, u.ID); err != nil || def {
		t.Errorf("own change: default_password=%v (%v)", def, err)
	}
	e.MustNotLog(newPw)
}

// Disabling a user ends their session and cached Basic credentials at once.
func TestKylinSessionDisableEndsCredentials(t *testing.T) {
	e := testkit.New(t)
	u := e.NewUser("dis_user", false)
	c := testkit.KylinLogin(t, e, u.Name, u.Password)
	basic := testkit.Basic(u.Name, u.Password)
	testkit.KylinOK[json.RawMessage](t, e.Do("GET", "/kylin/api/projects", nil, basic))
	testkit.KylinOK[json.RawMessage](t, e.Do("GET", "/kylin/api/projects", nil, testkit.SessionCookie(c)))
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	testkit.KylinOK[json.RawMessage](t, e.Do("GET", "/kylin/api/projects", nil, admin)) // ADMIN's entry is cached before counting
	cached := e.Server.Basic.Len()

	r := e.Do("PUT", "/kylin/api/user", map[string]any{"username": u.Name, "disabled": true}, admin)
	if got := testkit.KylinOK[testkit.KylinUser](t, r); !got.Disabled {
		t.Fatalf("not disabled: %s", r.Body)
	}
	if n := e.Server.Basic.Len(); n >= cached {
		t.Errorf("Basic cache entries: %d before, %d after disabling", cached, n)
	}
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/projects", nil, testkit.SessionCookie(c)), 401, "KE-010003208")
	// correct password of a disabled user: told so (KE-010003008)
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/projects", nil, basic), 401, "KE-010003008")
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/user/authentication", nil, basic), 401, "KE-010003008")
	// a wrong password still says nothing about the state
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/projects", nil, testkit.Basic(u.Name, "Wrong#pass1")), 401, "KE-010003208")
	if kxSessions(t, e, u.ID) != 0 {
		t.Error("a disabled user's session is still stored")
	}
	// enabling again does not revive the old session
	testkit.KylinOK[testkit.KylinUser](t, e.Do("PUT", "/kylin/api/user", map[string]any{"username": u.Name, "disabled": false}, admin))
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/projects", nil, testkit.SessionCookie(c)), 401, "KE-010003208")
	testkit.KylinOK[json.RawMessage](t, e.Do("GET", "/kylin/api/projects", nil, basic))
}

// kxLockAcrossSurfaces fails twice on JSON login and once with Basic, and checks the
// name is locked on both surfaces.
func kxLockAcrossSurfaces(t *testing.T, e *testkit.Env, u testkit.User) {
	t.Helper()
	for range 2 {
		r := e.Do("POST", "/api/auth/access-token", map[string]string{"username": u.Name, "password": "Wrong#pass1"}).Expect(t, 401)
		if p := kxLocked(t, r); p {
			t.Fatalf("locked too early: %s", r.Body)
		}
	}
	until := e.Clock.Now().Add(30 * time.Second).UTC().Format(time.RFC3339)
	r := e.Do("GET", "/kylin/api/user", nil, testkit.Basic(u.Name, "Wrong#pass1"))
	ke := testkit.KylinExpectErr(t, r, 401, "KE-010003005")
	if ke.Suggestion == nil || !strings.Contains(*ke.Suggestion, until) {
		t.Errorf("the lock's suggestion does not say until %s: %s", until, r.Body)
	}

	// locked on the Kala surface too, correct password or not
	r = e.Do("POST", "/api/auth/access-token", map[string]string{"username": u.Name, "password": u.Password}).Expect(t, 401)
	if !kxLocked(t, r) {
		t.Errorf("JSON login while locked: %s", r.Body)
	}
	// the correct Basic is refused while locked, on Kylin's login and elsewhere
	ke = testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/user", nil, testkit.Basic(u.Name, u.Password)), 401, "KE-010003005")
	if ke.Suggestion == nil || !strings.Contains(*ke.Suggestion, until) {
		t.Errorf("suggestion: %v", ke.Suggestion)
	}
	r = e.Do("POST", "/kylin/api/user/authentication", nil, testkit.Basic(strings.ToUpper(u.Name), u.Password))
	testkit.KylinExpectErr(t, r, 401, "KE-010003005")
	if testkit.SessionSet(r.Header) != nil {
		t.Error("a locked login set a session cookie")
	}
	// once the lock has passed, the right password works
	e.Clock.Advance(31 * time.Second)
	testkit.KylinOK[testkit.KylinPage[testkit.KylinUser]](t, e.Do("GET", "/kylin/api/user", nil, testkit.Basic(u.Name, u.Password)))
	e.Login(u.Name, u.Password)
}

// kxLocked reports whether a JSON login answer is the locked problem.
func kxLocked(t *testing.T, r *testkit.Resp) bool {
	t.Helper()
	var p struct {
		Type        string `json:"type"`
		LockedUntil string `json:"lockedUntil"`
	}
	r.JSON(t, &p)
	return strings.HasSuffix(p.Type, "/locked") && p.LockedUntil != ""
}

// One failure counter per name, whichever surface the passwords come through.
func TestKylinSessionLockoutAcrossSurfaces(t *testing.T) {
	e := testkit.New(t)
	u := e.NewUser("lock_user", false, e.Permission("User Management"))
	kxLockAcrossSurfaces(t, e, u)
}

// The same, after a successful Basic call: the Basic cache must not let the right
// password through while the name is locked (SPEC §2: while locked every attempt is
// refused).
func TestKylinSessionLockoutBeatsBasicCache(t *testing.T) {
	e := testkit.New(t)
	u := e.NewUser("lock_cached", false, e.Permission("User Management"))
	testkit.KylinOK[testkit.KylinPage[testkit.KylinUser]](t, e.Do("GET", "/kylin/api/user", nil, testkit.Basic(u.Name, u.Password)))
	if e.Server.Basic.Len() == 0 {
		t.Fatal("the Basic success was not cached")
	}
	kxLockAcrossSurfaces(t, e, u)
}

// A login with a wrong Basic password fails even when the request also carries a valid
// session: the caller asked to be someone, and is not (Kylin's Spring Security rejects a
// bad Basic header whatever session the request has). It must not answer as the
// cookie's user, nor keep the presented session as if the login had succeeded.
func TestKylinSessionWrongBasicAtLoginDespiteCookie(t *testing.T) {
	e := testkit.New(t)
	a := e.NewUser("wb_a", false)
	b := e.NewUser("wb_b", false)
	ca := testkit.KylinLogin(t, e, a.Name, a.Password)
	r := e.Do("POST", "/kylin/api/user/authentication", nil, testkit.Basic(b.Name, "Wrong#pass1"), testkit.SessionCookie(ca))
	if r.Status == 200 {
		var env testkit.KylinEnvelope[testkit.KylinUser]
		r.JSON(t, &env)
		t.Errorf("a login as %s with a wrong password answered 200 as %s", b.Name, env.Data.Username)
		return
	}
	testkit.KylinExpectErr(t, r, 401, "KE-010003208")
}

// Every 401 that follows a presented-but-invalid credential says "bad credential"
// (KE-010003208), never "no credentials were given" (KE-010003207).
func TestKylinSessionInvalidCredentialIsNotAbsent(t *testing.T) {
	e := testkit.New(t)
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/projects", nil), 401, "KE-010003207")
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/projects", nil, testkit.Basic("nobody", "Wrong#pass1")), 401, "KE-010003208")
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/projects", nil, testkit.Header("Authorization", "Basic !!!")), 401, "KE-010003208")
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/projects", nil, testkit.Bearer("not.a.token")), 401, "KE-010003208")
	var raw [32]byte
	_, _ = rand.Read(raw[:])
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/projects", nil, testkit.SessionCookie(base64.RawURLEncoding.EncodeToString(raw[:]))), 401, "KE-010003208")
}

// 406 comes in Kylin's error envelope; error answers follow the Accept like successes.
func TestKylinSessionNotAcceptableEnvelope(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	for _, accept := range []string{"text/html", "application/xml", testkit.KylinJSON + ";q=0, text/html", "image/*"} {
		r := e.Do("GET", "/kylin/api/user", nil, admin, testkit.Header("Accept", accept))
		testkit.KylinExpectErr(t, r, 406, "KE-010000406")
		if ct := r.Header.Get("Content-Type"); ct != "application/json" {
			t.Errorf("Accept %q: 406 Content-Type %q", accept, ct)
		}
	}
	// a 406 happens before anything else: no credentials needed to learn it
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/user", nil, testkit.Header("Accept", "text/html")), 406, "KE-010000406")
	// q-values and lists: anything that admits JSON is fine
	for accept, want := range map[string]string{
		"text/html, */*;q=0.1":                       "application/json",
		"application/*":                              "application/json",
		"text/html, " + testkit.KylinJSON + ";q=0.9": testkit.KylinJSON + ";charset=UTF-8",
	} {
		r := e.Do("GET", "/kylin/api/user", nil, admin, testkit.Header("Accept", accept)).Expect(t, 200)
		if ct := r.Header.Get("Content-Type"); ct != want {
			t.Errorf("Accept %q: Content-Type %q, want %q", accept, ct, want)
		}
	}
	// errors with Kylin's Accept carry Kylin's media type
	r := e.Do("DELETE", "/kylin/api/user/nobody", nil, admin, testkit.Header("Accept", testkit.KylinJSON))
	testkit.KylinExpectErr(t, r, 404, "KE-010003001")
	if ct := r.Header.Get("Content-Type"); ct != testkit.KylinJSON+";charset=UTF-8" {
		t.Errorf("404 Content-Type %q", ct)
	}
}

// GET /kylin/api/user/authentication is who-am-I: with Basic it answers the caller and
// starts no session (kylinpy calls it on every request); only the POST logs in.
func TestKylinGetAuthenticationStartsNoSession(t *testing.T) {
	e := testkit.New(t)
	count := func() int {
		var n int
		if err := e.DB.Get(&n, `SELECT count(*) FROM sessions`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for range 3 {
		r := e.Do("GET", "/kylin/api/user/authentication", nil, testkit.Basic("ADMIN", testkit.AdminPassword)).Expect(t, 200)
		if sc := r.Header.Values("Set-Cookie"); len(sc) != 0 {
			t.Fatalf("GET set a cookie: %q", sc)
		}
	}
	if n := count(); n != 0 {
		t.Fatalf("%d sessions after three GETs, want 0", n)
	}
	r := e.Do("POST", "/kylin/api/user/authentication", nil, testkit.Basic("ADMIN", testkit.AdminPassword)).Expect(t, 200)
	if len(r.Header.Values("Set-Cookie")) == 0 || count() != 1 {
		t.Fatalf("POST: Set-Cookie %q, %d sessions; want a cookie and one session", r.Header.Values("Set-Cookie"), count())
	}
}

// A session cookie is ambient (browsers send it on their own): a stale one must not make
// a request with an explicit credential fail, while the explicit credential still decides
// over a valid cookie, and a stale cookie alone is still refused.
func TestKylinStaleCookieRanksBelowExplicitCredentials(t *testing.T) {
	e := testkit.New(t)
	u := e.NewUser("k_ambient", false)
	tok := e.Login(u.Name, u.Password)
	key := e.NewKey(tok, map[string]any{"validTo": e.Clock.Now().Add(24 * time.Hour).Format(time.RFC3339)})
	stale := testkit.KylinLogin(t, e, u.Name, u.Password)
	e.Do("POST", "/kylin/api/j_spring_security_logout", nil, testkit.SessionCookie(stale))
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/projects", nil, testkit.SessionCookie(stale)), 401, "KE-010003208")
	junk := strings.Repeat("A", 43)

	for name, cred := range map[string]testkit.ReqOpt{"X-API-Key": testkit.APIKey(key), "?key=": testkit.QueryKey(key),
		"bearer": testkit.Bearer(tok), "basic": testkit.Basic(u.Name, u.Password)} {
		for _, cookie := range []string{stale, junk, "not-even-the-shape"} {
			r := e.Do("GET", "/kylin/api/projects", nil, cred, testkit.SessionCookie(cookie))
			if r.Status != 200 {
				t.Errorf("%s with a stale cookie %.8s…: %d %s", name, cookie, r.Status, r.Body)
			}
		}
	}
	// an explicit credential that fails decides, even over a valid cookie
	live := testkit.KylinLogin(t, e, u.Name, u.Password)
	testkit.KylinOK[json.RawMessage](t, e.Do("GET", "/kylin/api/projects", nil, testkit.SessionCookie(live)))
	for name, cred := range map[string]testkit.ReqOpt{"X-API-Key": testkit.APIKey("kala_bad"), "?key=": testkit.QueryKey("kala_bad"),
		"bearer": testkit.Bearer("bad.token.here")} {
		if r := e.Do("GET", "/kylin/api/projects", nil, cred, testkit.SessionCookie(live)); r.Status != 401 {
			t.Errorf("a bad %s beside a valid cookie: %d %s", name, r.Status, r.Body)
		}
	}
}

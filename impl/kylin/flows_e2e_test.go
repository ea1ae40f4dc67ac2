package kylin_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/kala-server/kala/impl/testkit"
)

// Kylin's documented curl call: Basic on every request, Kylin's Accept and Content-Type.
func TestKylinBasicCurlFlow(t *testing.T) {
	e := testkit.New(t)
	hdrs := []testkit.ReqOpt{testkit.Basic("ADMIN", testkit.AdminPassword),
		testkit.Header("Accept", testkit.KylinJSON), testkit.Header("Accept-Language", "en")}
	r := e.Do("GET", "/kylin/api/user?page_offset=0&page_size=10", nil, hdrs...).Expect(t, 200)
	if ct := r.Header.Get("Content-Type"); ct != testkit.KylinJSON+";charset=UTF-8" {
		t.Errorf("Content-Type %q", ct)
	}
	var env struct {
		Code string `json:"code"`
		Data struct {
			Value []struct {
				Username string `json:"username"`
			} `json:"value"`
			TotalSize int `json:"total_size"`
		} `json:"data"`
	}
	r.JSON(t, &env)
	if env.Code != "000" || env.Data.TotalSize != 1 || env.Data.Value[0].Username != "ADMIN" {
		t.Fatalf("unexpected: %s", r.Body)
	}
	e.Do("POST", "/kylin/api/user", map[string]any{"username": "analyst", "password": "Welcome#2026",
		"authorities": []string{"ALL_USERS", "ROLE_ANALYST"}}, hdrs...).Expect(t, 200)
	r = e.Do("POST", "/kylin/api/user", map[string]any{"username": "ANALYST", "password": "Welcome#2026"}, hdrs...).Expect(t, 409)
	if !strings.Contains(string(r.Body), "KE-010003004") {
		t.Errorf("duplicate user code missing: %s", r.Body)
	}
	r = e.Do("GET", "/kylin/api/user", nil, testkit.Basic("ADMIN", "wrong-pass#1")).Expect(t, 401)
	if !strings.Contains(string(r.Body), "KE-010003208") {
		t.Errorf("bad credentials code missing: %s", r.Body)
	}
	r = e.Do("GET", "/kylin/api/user", nil).Expect(t, 401)
	if !strings.Contains(string(r.Body), "KE-010003207") || !strings.Contains(r.Header.Get("WWW-Authenticate"), "Basic") {
		t.Errorf("no-credentials answer: %s %v", r.Body, r.Header)
	}
}

func TestKylinCookieFlow(t *testing.T) {
	e := testkit.New(t)
	r := e.Do("POST", "/kylin/api/user/authentication", nil, testkit.Basic("admin", testkit.AdminPassword)).Expect(t, 200)
	var sid string
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == "JSESSIONID" {
			sid = c.Value
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" {
				t.Errorf("cookie attributes: %+v", c)
			}
		}
	}
	if sid == "" {
		t.Fatal("no JSESSIONID")
	}
	cookie := testkit.Header("Cookie", "JSESSIONID="+sid)
	e.Do("GET", "/kylin/api/user", nil, cookie).Expect(t, 200)
	e.Do("POST", "/kylin/api/j_spring_security_logout", nil, cookie).Expect(t, 200)
	e.Do("GET", "/kylin/api/user", nil, cookie).Expect(t, 401)
	e.MustNotLog(sid)
}

func TestKylinAcceptMatrix(t *testing.T) {
	e := testkit.New(t)
	cases := map[string]string{"": "application/json", "*/*": "application/json", "application/json": "application/json",
		testkit.KylinJSON: testkit.KylinJSON + ";charset=UTF-8", "application/vnd.apache.kylin-v4+json": "application/json", "text/html": "406"}
	for accept, want := range cases {
		r := e.Do("GET", "/kylin/api/user", nil, testkit.Basic("ADMIN", testkit.AdminPassword), testkit.Header("Accept", accept))
		if want == "406" {
			r.Expect(t, 406)
			continue
		}
		r.Expect(t, 200)
		if got := r.Header.Get("Content-Type"); got != want {
			t.Errorf("Accept %q: Content-Type %q, want %q", accept, got, want)
		}
	}
}

func TestCrossSiteWriteRefused(t *testing.T) {
	e := testkit.New(t)
	basic := testkit.Basic("ADMIN", testkit.AdminPassword)
	body := map[string]any{"name": "p1"}
	e.Do("POST", "/kylin/api/projects", body, basic, testkit.Header("Origin", "https://evil.example")).Expect(t, 403)
	e.Do("POST", "/kylin/api/projects", body, basic).Expect(t, 200)
}

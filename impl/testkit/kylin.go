package testkit

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// Helpers for the Kylin face (/kylin/api), shared by the test packages of impl/kala,
// impl/kylin and impl/crosscut.

// KylinJSON is Kylin's public media type.
const KylinJSON = "application/vnd.apache.kylin-v4-public+json"

// KylinEnvelope is Kylin's success envelope.
type KylinEnvelope[T any] struct {
	Code string `json:"code"`
	Data T      `json:"data"`
	Msg  string `json:"msg"`
}

// KylinPage is Kylin's page.
type KylinPage[T any] struct {
	Value     []T `json:"value"`
	Offset    int `json:"offset"`
	Limit     int `json:"limit"`
	TotalSize int `json:"total_size"`
}

// KylinErr is Kylin's error envelope.
type KylinErr struct {
	Code       string          `json:"code"`
	Data       json.RawMessage `json:"data"`
	Msg        string          `json:"msg"`
	ErrorCode  string          `json:"error_code"`
	Suggestion *string         `json:"suggestion"`
}

// KylinUser is Kylin's user object.
type KylinUser struct {
	UUID        string `json:"uuid"`
	Username    string `json:"username"`
	Authorities []struct {
		Authority string `json:"authority"`
	} `json:"authorities"`
	Disabled             bool  `json:"disabled"`
	DefaultPassword      bool  `json:"default_password"`
	Locked               bool  `json:"locked"`
	LockedTime           int64 `json:"locked_time"`
	WrongTime            int   `json:"wrong_time"`
	FirstLoginFailedTime int64 `json:"first_login_failed_time"`
	CreateTime           int64 `json:"create_time"`
	LastModified         int64 `json:"last_modified"`
}

// Has reports whether the user holds authority.
func (u KylinUser) Has(authority string) bool {
	for _, a := range u.Authorities {
		if a.Authority == authority {
			return true
		}
	}
	return false
}

// KylinAccess is one entry of a project's access list.
type KylinAccess struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	Permission string `json:"permission"`
}

// KylinExpectErr checks status and Kylin error code of an error answer and returns the body.
func KylinExpectErr(t *testing.T, r *Resp, status int, code string) KylinErr {
	t.Helper()
	r.Expect(t, status)
	var out KylinErr
	r.JSON(t, &out)
	if out.Code != "999" || string(out.Data) != "null" || !strings.HasPrefix(out.Msg, out.ErrorCode+": ") {
		t.Fatalf("not Kylin's error envelope (code 999, data null, msg prefixed by error_code): %s", r.Body)
	}
	if out.ErrorCode != code {
		// not fatal: the rest of the test still runs
		t.Errorf("want Kylin error %s, got %s", code, r.Body)
	}
	if strings.Contains(string(r.Body), ".go:") || strings.Contains(string(r.Body), "goroutine") {
		t.Fatalf("the error body looks like a stack trace: %s", r.Body)
	}
	return out
}

// KylinOK checks a 200 Kylin envelope and decodes its data.
func KylinOK[T any](t *testing.T, r *Resp) T {
	t.Helper()
	r.Expect(t, 200)
	var env KylinEnvelope[T]
	r.JSON(t, &env)
	if env.Code != "000" || env.Msg != "" {
		t.Fatalf("not a Kylin success envelope: %s", r.Body)
	}
	return env.Data
}

// SessionCookie sends a session cookie by hand.
func SessionCookie(v string) ReqOpt { return Header("Cookie", "JSESSIONID="+v) }

// SessionSet returns the JSESSIONID cookie the response sets, or nil.
func SessionSet(h http.Header) *http.Cookie {
	for _, c := range (&http.Response{Header: h}).Cookies() {
		if c.Name == "JSESSIONID" {
			return c
		}
	}
	return nil
}

// KylinLogin logs in with Basic and returns the new session cookie's value.
func KylinLogin(t *testing.T, e *Env, user, pass string, opts ...ReqOpt) string {
	t.Helper()
	r := e.Do("POST", "/kylin/api/user/authentication", nil, append([]ReqOpt{Basic(user, pass)}, opts...)...)
	u := KylinOK[KylinUser](t, r)
	if !strings.EqualFold(u.Username, user) {
		t.Fatalf("logged in as %s, want %s", u.Username, user)
	}
	c := SessionSet(r.Header)
	if c == nil || c.Value == "" {
		t.Fatalf("no JSESSIONID set: %v", r.Header)
	}
	return c.Value
}

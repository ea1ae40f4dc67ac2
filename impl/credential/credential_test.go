package credential

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kala-server/kala/impl/auth"
)

func authReq(header []string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	if header != nil {
		r.Header["Authorization"] = header
	}
	return r
}

func TestAuthorization(t *testing.T) {
	tests := []struct {
		name   string
		header []string // nil: no Authorization header
		scheme string
		cred   string
		ok     bool
	}{
		{"no header", nil, "Bearer", "", false},
		{"empty header", []string{""}, "Bearer", "", false},
		{"bearer", []string{"Bearer abc.def.ghi"}, "Bearer", "abc.def.ghi", true},
		{"lower-case scheme", []string{"bearer abc"}, "Bearer", "abc", true},
		{"upper-case scheme", []string{"BEARER abc"}, "Bearer", "abc", true},
		{"mixed-case scheme", []string{"bEaReR abc"}, "Bearer", "abc", true},
		{"basic", []string{"Basic YTpi"}, "Basic", "YTpi", true},
		{"basic lower-case", []string{"basic YTpi"}, "Basic", "YTpi", true},
		{"extra spaces trimmed", []string{"Bearer    abc   "}, "Bearer", "abc", true},
		{"token68 padding kept", []string{"Bearer abc=="}, "Bearer", "abc==", true},
		{"scheme alone", []string{"Bearer"}, "Bearer", "", false},
		{"scheme and a space", []string{"Bearer "}, "Bearer", "", false},
		{"scheme and spaces", []string{"Bearer      "}, "Bearer", "", false},
		{"scheme and tab", []string{"Bearer \t"}, "Bearer", "", false},
		{"longer scheme name", []string{"Bearerx abc"}, "Bearer", "", false},
		{"shorter scheme name", []string{"Beare abc"}, "Bearer", "", false},
		{"no space after scheme", []string{"Bearerabc"}, "Bearer", "", false},
		{"tab instead of space", []string{"Bearer\tabc"}, "Bearer", "", false},
		{"leading space", []string{" Bearer abc"}, "Bearer", "", false},
		{"other scheme", []string{"Basic YTpi"}, "Bearer", "", false},
		{"bearer is not basic", []string{"Bearer abc"}, "Basic", "", false},
		{"non-ASCII look-alike", []string{"Baſic YTpi"}, "Basic", "", false},
		{"first header wins", []string{"Basic YTpi", "Bearer abc"}, "Bearer", "", false},
		{"short garbage", []string{"B"}, "Bearer", "", false},
		{"invalid UTF-8", []string{"Bearer \xff\xfe"}, "Bearer", "\xff\xfe", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cred, ok := authorization(authReq(tt.header), tt.scheme)
			if ok != tt.ok || cred != tt.cred {
				t.Fatalf("authorization(%q, %q) = %q, %v; want %q, %v", tt.header, tt.scheme, cred, ok, tt.cred, tt.ok)
			}
		})
	}
}

// asciiCase changes the case of the ASCII letters of s only (strings.ToUpper would also
// change non-ASCII letters, and byte lengths with them): op is 's'wap, 'u'pper or 'l'ower.
func asciiCase(s string, op byte) string {
	b := []byte(s)
	for i, c := range b {
		switch {
		case 'a' <= c && c <= 'z' && op != 'l':
			b[i] = c - 'a' + 'A'
		case 'A' <= c && c <= 'Z' && op != 'u':
			b[i] = c - 'A' + 'a'
		}
	}
	return string(b)
}

// FuzzAuthorizationHeader: authorization never panics; it accepts exactly "<scheme, in
// any case> SP <credentials>" with non-blank credentials, returned trimmed; the scheme's
// case does not matter.
func FuzzAuthorizationHeader(f *testing.F) {
	for _, s := range []string{
		"", "Bearer", "Bearer ", "Bearer    ", "Bearer \t ", "Bearer abc", "bearer abc", "BEARER abc",
		"Bearerx abc", "Bearer\tabc", " Bearer abc", "Basic YTpi", "basic YTpi", "Basic", "Basic  ",
		"Bearer  a b  ", "Bearer \xff", "B\xc3\xa9arer abc", "Baſic YTpi", "Bearer \u00a0", "Bearer\u00a0abc",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, v string) {
		for _, scheme := range []string{"Bearer", "Basic"} {
			cred, ok := authorization(authReq([]string{v}), scheme)

			// an independent statement of what is accepted
			n := len(scheme)
			wantOK := len(v) > n && strings.EqualFold(v[:n], scheme) && v[n] == ' ' && strings.TrimSpace(v[n+1:]) != ""
			if ok != wantOK {
				t.Fatalf("authorization(%q, %q) ok = %v, want %v", v, scheme, ok, wantOK)
			}
			if !ok {
				if cred != "" {
					t.Fatalf("authorization(%q, %q) = %q but not ok", v, scheme, cred)
				}
			} else if cred != strings.TrimSpace(v[n+1:]) || cred == "" {
				t.Fatalf("authorization(%q, %q) = %q, want %q", v, scheme, cred, strings.TrimSpace(v[n+1:]))
			}

			// the scheme's case does not matter
			if len(v) >= n {
				for _, w := range []string{asciiCase(v[:n], 's') + v[n:], asciiCase(v[:n], 'u') + v[n:], asciiCase(v[:n], 'l') + v[n:]} {
					c2, ok2 := authorization(authReq([]string{w}), scheme)
					if c2 != cred || ok2 != ok {
						t.Fatalf("authorization(%q, %q) = %q, %v but authorization(%q) = %q, %v", v, scheme, cred, ok, w, c2, ok2)
					}
				}
			}

			// v as the credentials: accepted exactly when not blank, and trimmed
			for _, prefix := range []string{scheme + " ", strings.ToLower(scheme) + " ", strings.ToUpper(scheme) + "   "} {
				c3, ok3 := authorization(authReq([]string{prefix + v}), scheme)
				want := strings.TrimSpace(v)
				if ok3 != (want != "") || c3 != want {
					t.Fatalf("authorization(%q, %q) = %q, %v; want %q, %v", prefix+v, scheme, c3, ok3, want, want != "")
				}
			}
			// "<scheme>x <v>" is another scheme
			if _, ok4 := authorization(authReq([]string{scheme + "x " + v}), scheme); ok4 {
				t.Fatalf("authorization(%q, %q) accepted another scheme", scheme+"x "+v, scheme)
			}
		}
	})
}

// Each scheme's credential is read from its own place; the session cookie, which a
// browser sends on its own, counts only when no explicit credential is beside it.
func TestRead(t *testing.T) {
	req := func(target string, h map[string]string, cookie string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, target, nil)
		for k, v := range h {
			r.Header.Set(k, v)
		}
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: auth.SessionCookie, Value: cookie})
		}
		return r
	}
	for _, tc := range []struct {
		name   string
		r      *http.Request
		scheme string
		want   string
		ok     bool
	}{
		{"bearer", req("/", map[string]string{"Authorization": "Bearer t"}, ""), auth.SchemeBearer, "t", true},
		{"basic is not bearer", req("/", map[string]string{"Authorization": "Basic b"}, ""), auth.SchemeBearer, "", false},
		{"basic", req("/", map[string]string{"Authorization": "Basic b"}, ""), auth.SchemeBasic, "b", true},
		{"key header", req("/", map[string]string{"X-API-Key": "k"}, ""), auth.SchemeAPIKeyHeader, "k", true},
		{"key query", req("/?key=q", nil, ""), auth.SchemeAPIKeyQuery, "q", true},
		{"empty key query", req("/?key=", nil, ""), auth.SchemeAPIKeyQuery, "", false},
		{"cookie alone", req("/", nil, "s"), auth.SchemeCookie, "s", true},
		{"cookie beside a bearer", req("/", map[string]string{"Authorization": "Bearer t"}, "s"), auth.SchemeCookie, "", false},
		{"cookie beside any Authorization", req("/", map[string]string{"Authorization": "Negotiate x"}, "s"), auth.SchemeCookie, "", false},
		{"cookie beside a key header", req("/", map[string]string{"X-API-Key": "k"}, "s"), auth.SchemeCookie, "", false},
		{"cookie beside a key query", req("/?key=q", nil, "s"), auth.SchemeCookie, "", false},
		{"no cookie", req("/", nil, ""), auth.SchemeCookie, "", false},
		{"unknown scheme", req("/", map[string]string{"Authorization": "Bearer t"}, ""), "other", "", false},
	} {
		got, ok := Read(tc.r, tc.scheme)
		if got != tc.want || ok != tc.ok {
			t.Errorf("%s: Read = %q, %v; want %q, %v", tc.name, got, ok, tc.want, tc.ok)
		}
	}
}

// Package credential reads the credential of each security scheme off an HTTP request.
// Verifying it is auth's part; this package knows only where each scheme's credential
// travels.
package credential

import (
	"net/http"
	"strings"

	"github.com/kala-server/kala/impl/auth"
)

// Read is the request's credential for scheme, if it carries one. The session cookie is
// ambient (a browser sends it on its own), so it ranks below every explicit credential:
// beside one it is not presented at all, and cannot decide the request either way (a
// stale cookie does not refuse a valid key; a valid cookie does not rescue a bad one).
// Alone, it is presented like any other.
func Read(r *http.Request, scheme string) (string, bool) {
	switch scheme {
	case auth.SchemeBearer:
		return authorization(r, "Bearer")
	case auth.SchemeBasic:
		return authorization(r, "Basic")
	case auth.SchemeAPIKeyHeader:
		v := r.Header.Get("X-API-Key")
		return v, v != ""
	case auth.SchemeAPIKeyQuery:
		v := r.URL.Query().Get("key")
		return v, v != ""
	case auth.SchemeCookie:
		if explicit(r) {
			return "", false
		}
		c, err := r.Cookie(auth.SessionCookie)
		if err != nil {
			return "", false
		}
		return c.Value, c.Value != ""
	}
	return "", false
}

// explicit reports whether the request carries a credential its sender chose to send:
// any Authorization header, an X-API-Key or a ?key=.
func explicit(r *http.Request) bool {
	return r.Header.Get("Authorization") != "" || r.Header.Get("X-API-Key") != "" || r.URL.Query().Get("key") != ""
}

// authorization returns the credentials of an Authorization header of the given scheme
// (compared case-insensitively, RFC 9110).
func authorization(r *http.Request, scheme string) (string, bool) {
	v := r.Header.Get("Authorization")
	if len(v) <= len(scheme)+1 || !strings.EqualFold(v[:len(scheme)], scheme) || v[len(scheme)] != ' ' {
		return "", false
	}
	cred := strings.TrimSpace(v[len(scheme)+1:])
	return cred, cred != ""
}

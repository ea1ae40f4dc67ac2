package kala_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kala-server/kala/impl/testkit"
)

// The README's walk-through: log in as ADMIN, make a key, call /me with it by header
// and by query.
func TestHappyPath(t *testing.T) {
	e := testkit.New(t)
	tok := e.AdminToken()
	key := e.NewKey(tok, map[string]any{
		"name":        "walk-through",
		"validTo":     e.Clock.Now().Add(24 * time.Hour).Format(time.RFC3339),
		"permissions": []string{e.Permission("Data Management")},
	})
	if !strings.HasPrefix(key, "kala_") {
		t.Fatalf("key %q lacks the kala_ prefix", key)
	}
	type me struct {
		Data struct {
			Kind        string   `json:"kind"`
			Permissions []string `json:"permissions"`
			Services    []string `json:"services"`
			User        struct {
				Username string `json:"username"`
				Admin    bool   `json:"admin"`
			} `json:"user"`
			APIKey *struct {
				Name   string `json:"name"`
				Prefix string `json:"prefix"`
			} `json:"apiKey"`
		} `json:"data"`
	}
	for name, opt := range map[string]testkit.ReqOpt{"header": testkit.APIKey(key), "query": testkit.QueryKey(key)} {
		t.Run(name, func(t *testing.T) {
			r := e.Do("GET", "/api/auth/me", nil, opt).Expect(t, 200)
			if got := r.Header.Get("Cache-Control"); got != "no-store" {
				t.Errorf("Cache-Control %q, want no-store", got)
			}
			var m me
			r.JSON(t, &m)
			if m.Data.Kind != "apiKey" || m.Data.User.Username != "ADMIN" || m.Data.APIKey == nil || m.Data.APIKey.Name != "walk-through" {
				t.Fatalf("unexpected /me: %s", r.Body)
			}
			if !strings.HasPrefix(key, m.Data.APIKey.Prefix) {
				t.Errorf("prefix %q is not the start of the key", m.Data.APIKey.Prefix)
			}
			if len(m.Data.Permissions) != 1 || m.Data.Permissions[0] != e.Permission("Data Management") {
				t.Errorf("effective permissions %v, want only Data Management", m.Data.Permissions)
			}
			if len(m.Data.Services) != 3 {
				t.Errorf("services %v, want all three by default", m.Data.Services)
			}
		})
	}
	var m me
	e.Do("GET", "/api/auth/me", nil, testkit.Bearer(tok)).Expect(t, 200).JSON(t, &m)
	if m.Data.Kind != "user" || !m.Data.User.Admin || len(m.Data.Permissions) != 2 {
		t.Fatalf("unexpected /me for the token: %+v", m.Data)
	}
	e.MustNotLog(key)
	e.MustNotLog(tok)
	e.MustNotLog(testkit.AdminPassword)
	if !strings.Contains(e.Logs.String(), `"operation":"getMe"`) {
		t.Errorf("the access log does not name the operation: %s", e.Logs.String())
	}
	if !strings.Contains(e.Logs.String(), `"principal":"key:`) || !strings.Contains(e.Logs.String(), `"request_id":"`) {
		t.Errorf("the access log does not name the principal and request id: %s", e.Logs.String())
	}
}

func TestBothKeyPlacesIsRefused(t *testing.T) {
	e := testkit.New(t)
	key := e.NewKey(e.AdminToken(), map[string]any{"validTo": e.Clock.Now().Add(time.Hour).Format(time.RFC3339)})
	r := e.Do("GET", "/api/auth/me", nil, testkit.APIKey(key), testkit.QueryKey(key)).Expect(t, 400)
	if !strings.Contains(string(r.Body), `"field":"key"`) {
		t.Errorf("the 400 does not name the key field: %s", r.Body)
	}
}

func TestNoCredential(t *testing.T) {
	e := testkit.New(t)
	r := e.Do("GET", "/api/auth/me", nil).Expect(t, 401)
	if c := r.Header.Get("WWW-Authenticate"); !strings.Contains(c, "Bearer") || !strings.Contains(c, "ApiKey") {
		t.Errorf("WWW-Authenticate %q should name Bearer and ApiKey", c)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q", ct)
	}
}

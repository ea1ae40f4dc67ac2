package crosscut_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/kala-server/kala/impl/auth"
	"github.com/kala-server/kala/impl/testkit"
)

// Two instances on one database, as behind a load balancer: what one does, the other
// honours — cached Basic credentials dropped, keys revoked, tokens killed, signing keys
// rotated.
func TestScaleOutTwoInstances(t *testing.T) {
	a := testkit.New(t)
	b := a.Peer()
	u := a.NewUser("roamer", false, a.Permission("User Management"))
	basic := testkit.Basic(u.Name, u.Password)

	// B caches the Basic login; a password change through A ends it on B
	b.Do("GET", "/kylin/api/user", nil, basic).Expect(t, 200)
	if b.Server.Basic.Len() == 0 {
		t.Fatal("B did not cache the Basic login")
	}
	tok := b.Login(u.Name, u.Password)
	a.Do("PUT", "/kylin/api/user/password", map[string]any{"username": u.Name, "password": u.Password,
		"new_password": "Moved#Pass-2026"}, basic).Expect(t, 200)
	testkit.Eventually(t, "B to drop the cached Basic login", func() bool { return b.Server.Basic.Len() == 0 })
	b.Do("GET", "/kylin/api/user", nil, basic).Expect(t, 401)
	b.Do("GET", "/kylin/api/user", nil, testkit.Basic(u.Name, "Moved#Pass-2026")).Expect(t, 200)
	b.Do("GET", "/api/auth/me", nil, testkit.Bearer(tok)).Expect(t, 401)

	// a key made on A works on B, and once revoked on A it is refused by B at once
	adminTok := a.AdminToken()
	key := a.NewKey(adminTok, map[string]any{"validTo": a.Clock.Now().Add(time.Hour).Format(time.RFC3339)})
	var me struct {
		Data struct {
			APIKey struct{ ID string } `json:"apiKey"`
		} `json:"data"`
	}
	b.Do("GET", "/api/auth/me", nil, testkit.APIKey(key)).Expect(t, 200).JSON(t, &me)
	a.Do("DELETE", "/api/auth/api-keys/"+me.Data.APIKey.ID, nil, testkit.Bearer(adminTok)).Expect(t, 204)
	a.Do("GET", "/api/auth/me", nil, testkit.APIKey(key)).Expect(t, 401) // on A at once
	// B kept the key for its warm requests and forgets it when the revocation's NOTIFY
	// arrives (milliseconds)
	revoked := time.Now()
	testkit.Eventually(t, "B to refuse the revoked key", func() bool {
		return b.Do("GET", "/api/auth/me", nil, testkit.APIKey(key)).Status == 401
	})
	t.Logf("B refused the revoked key %v after the revocation answered", time.Since(revoked))

	// a key rotated through A signs on A at once, and B learns it through NOTIFY
	if err := auth.Rotate(context.Background(), a.DB, a.Clock.Now(), a.Server.Config.TokenTTL); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, "B to publish the rotated key", func() bool {
		r, err := http.Get(b.URL + "/.well-known/jwks.json")
		if err != nil {
			return false
		}
		defer r.Body.Close()
		var set struct{ Keys []any }
		return json.NewDecoder(r.Body).Decode(&set) == nil && len(set.Keys) == 2
	})
	testkit.Eventually(t, "A to sign with the rotated key", func() bool {
		newTok := a.AdminToken()
		return b.Do("GET", "/api/auth/me", nil, testkit.Bearer(newTok)).Status == 200 &&
			newTok != "" && kidOf(t, newTok) != kidOf(t, adminTok)
	})
}

func kidOf(t *testing.T, tok string) string {
	t.Helper()
	var h struct{ Kid string }
	parts := splitJWT(tok)
	if err := json.Unmarshal(parts, &h); err != nil {
		t.Fatal(err)
	}
	return h.Kid
}

// splitJWT returns a token's decoded header.
func splitJWT(tok string) []byte {
	head, _, _ := strings.Cut(tok, ".")
	b, _ := base64.RawURLEncoding.DecodeString(head)
	return b
}

// A warm bearer or API-key request is answered from what the instance keeps: an edit
// behind the server's back (no NOTIFY) is not seen, while a change through any instance
// is, on this instance at once and on the other when its NOTIFY arrives.
func TestPrincipalCacheWarmAndInvalidated(t *testing.T) {
	a := testkit.New(t)
	b := a.Peer()
	u := a.NewUser("cached", false)
	tok := a.Login(u.Name, u.Password)
	key := a.NewKey(tok, map[string]any{"validTo": a.Clock.Now().Add(time.Hour).Format(time.RFC3339)})
	name := func(e *testkit.Env, cred testkit.ReqOpt) string {
		var me struct {
			Data struct{ User struct{ Username string } } `json:"data"`
		}
		e.Do("GET", "/api/auth/me", nil, cred).Expect(t, 200).JSON(t, &me)
		return me.Data.User.Username
	}
	for _, e := range []*testkit.Env{a, b} {
		name(e, testkit.Bearer(tok))
		name(e, testkit.APIKey(key))
	}
	if _, err := a.DB.Exec(`UPDATE users SET username = 'renamed' WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*testkit.Env{a, b} {
		if got := name(e, testkit.Bearer(tok)); got != "cached" {
			t.Fatalf("a warm bearer request read the database: %q", got)
		}
		if got := name(e, testkit.APIKey(key)); got != "cached" {
			t.Fatalf("a warm API-key request read the database: %q", got)
		}
	}
	// disabled through A: refused on A at once, on B once the NOTIFY arrives
	adminTok := testkit.Bearer(a.AdminToken())
	a.Do("PATCH", "/api/users/"+u.ID.String(), map[string]any{"disabled": true}, adminTok).Expect(t, 200)
	a.Do("GET", "/api/auth/me", nil, testkit.Bearer(tok)).Expect(t, 401)
	a.Do("GET", "/api/auth/me", nil, testkit.APIKey(key)).Expect(t, 401)
	testkit.Eventually(t, "B to refuse the disabled user's token and key", func() bool {
		return b.Do("GET", "/api/auth/me", nil, testkit.Bearer(tok)).Status == 401 &&
			b.Do("GET", "/api/auth/me", nil, testkit.APIKey(key)).Status == 401
	})
}

// A warm session is answered from what the instance keeps, like a token: an edit behind
// the server's back is not seen; a logout through one instance ends the session there at
// once and on the other when its NOTIFY arrives; so does disabling its user.
func TestSessionCacheWarmAndInvalidated(t *testing.T) {
	a := testkit.New(t)
	b := a.Peer()
	u := a.NewUser("cached_s", false)
	other := a.NewUser("cached_t", false)
	name := func(e *testkit.Env, cookie string) (int, string) {
		r := e.Do("GET", "/kylin/api/user/authentication", nil, testkit.SessionCookie(cookie))
		if r.Status != 200 {
			return r.Status, ""
		}
		return 200, testkit.KylinOK[testkit.KylinUser](t, r).Username
	}
	c := testkit.KylinLogin(t, a, u.Name, u.Password)
	c2 := testkit.KylinLogin(t, a, other.Name, other.Password)
	for _, e := range []*testkit.Env{a, b} {
		for _, cookie := range []string{c, c2} {
			if st, _ := name(e, cookie); st != 200 {
				t.Fatalf("a fresh session: %d", st)
			}
		}
	}
	if _, err := a.DB.Exec(`UPDATE users SET username = 'renamed_s' WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	for _, e := range []*testkit.Env{a, b} {
		if _, got := name(e, c); got != "cached_s" {
			t.Fatalf("a warm session request read the database: %q", got)
		}
	}
	// logged out through A: refused on A at once, on B once the NOTIFY arrives
	a.Do("POST", "/kylin/api/j_spring_security_logout", nil, testkit.SessionCookie(c)).Expect(t, 200)
	if st, _ := name(a, c); st != 401 {
		t.Fatalf("A answered a session it ended: %d", st)
	}
	testkit.Eventually(t, "B to refuse the ended session", func() bool { st, _ := name(b, c); return st == 401 })
	// the other user disabled through B: refused on B at once, on A after its NOTIFY
	b.Do("PATCH", "/api/users/"+other.ID.String(), map[string]any{"disabled": true}, testkit.Bearer(b.AdminToken())).Expect(t, 200)
	if st, _ := name(b, c2); st != 401 {
		t.Fatalf("B answered a disabled user's session: %d", st)
	}
	testkit.Eventually(t, "A to refuse the disabled user's session", func() bool { st, _ := name(a, c2); return st == 401 })
}

package kala_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"

	"github.com/kala-server/kala/impl"
	"github.com/kala-server/kala/impl/auth"
	"github.com/kala-server/kala/impl/testkit"
)

// jwtKey is a signing key read straight from the signing_keys table.
type jwtKey struct {
	kid  string
	priv ed25519.PrivateKey
	pub  ed25519.PublicKey
}

// jwtActiveKey is the key the server signs with now.
func jwtActiveKey(t *testing.T, e *testkit.Env) jwtKey {
	t.Helper()
	var row struct {
		Kid  string `db:"kid"`
		Seed []byte `db:"private_key"`
		Pub  []byte `db:"public_key"`
	}
	if err := e.DB.Get(&row, `SELECT kid, private_key, public_key FROM signing_keys WHERE retired_at IS NULL`); err != nil {
		t.Fatalf("read the active signing key: %v", err)
	}
	if len(row.Seed) != ed25519.SeedSize {
		t.Fatalf("private_key is %d bytes, want an Ed25519 seed", len(row.Seed))
	}
	priv := ed25519.NewKeyFromSeed(row.Seed)
	if !priv.Public().(ed25519.PublicKey).Equal(ed25519.PublicKey(row.Pub)) {
		t.Fatal("the stored public key is not the seed's")
	}
	return jwtKey{kid: row.Kid, priv: priv, pub: row.Pub}
}

// jwtClaims are the claims the server itself would put in a token for u, now.
func jwtClaims(t *testing.T, e *testkit.Env, id uuid.UUID) jwt.MapClaims {
	t.Helper()
	var ver int64
	if err := e.DB.Get(&ver, `SELECT credential_version FROM users WHERE id = $1`, id); err != nil {
		t.Fatalf("credential version: %v", err)
	}
	now := e.Clock.Now()
	return jwt.MapClaims{
		"iss": e.Server.Config.Issuer,
		"aud": []string{e.Server.Config.Audience},
		"sub": id.String(),
		"iat": now.Unix(),
		"nbf": now.Unix(),
		"exp": now.Add(e.Server.Config.TokenTTL).Unix(),
		"jti": uuid.NewString(),
		"ver": ver,
	}
}

// jwtSign builds a token with the given method, kid header and key.
func jwtSign(t *testing.T, m jwt.SigningMethod, kid string, key any, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("sign %s token: %v", m.Alg(), err)
	}
	return s
}

// jwtHeader is the unverified header of a token.
func jwtHeader(t *testing.T, tok string) map[string]any {
	t.Helper()
	p, _, err := jwt.NewParser().ParseUnverified(tok, jwt.MapClaims{})
	if err != nil {
		t.Fatalf("parse %q: %v", tok, err)
	}
	return p.Header
}

type jwtMe struct {
	Data struct {
		Kind string `json:"kind"`
		User struct {
			ID       string `json:"id"`
			Username string `json:"username"`
		} `json:"user"`
	} `json:"data"`
}

// jwtWorks asserts the token authenticates as user id on GET /api/auth/me.
func jwtWorks(t *testing.T, e *testkit.Env, tok string, id uuid.UUID) {
	t.Helper()
	r := e.Do("GET", "/api/auth/me", nil, testkit.Bearer(tok))
	if r.Status != 200 {
		t.Fatalf("a valid token got %d: %s", r.Status, r.Body)
	}
	var m jwtMe
	r.JSON(t, &m)
	if m.Data.Kind != "user" || m.Data.User.ID != id.String() {
		t.Fatalf("the token authenticated as %+v, want user %s", m.Data, id)
	}
}

// jwtRefused asserts the token gets a 401 problem with a Bearer challenge on
// GET /api/auth/me, and returns the body.
func jwtRefused(t *testing.T, e *testkit.Env, tok string) []byte {
	t.Helper()
	r := e.Do("GET", "/api/auth/me", nil, testkit.Bearer(tok))
	if r.Status != 401 {
		t.Errorf("status %d, want 401; body: %s", r.Status, r.Body)
		return r.Body
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	if c := r.Header.Get("WWW-Authenticate"); !strings.Contains(c, "Bearer") {
		t.Errorf("WWW-Authenticate %q does not name Bearer", c)
	}
	var p struct {
		Type   string `json:"type"`
		Status int    `json:"status"`
		Title  string `json:"title"`
	}
	r.JSON(t, &p)
	if p.Status != 401 || p.Type == "" || p.Title == "" {
		t.Errorf("not a 401 problem: %s", r.Body)
	}
	return r.Body
}

// The positive control first: a token this test builds with the server's real key is
// accepted, so each forged variant below fails because of its one change.
func TestJWTForgedTokensAreRefused(t *testing.T) {
	e := testkit.New(t)
	u := e.NewUser("jwt_alice", false)
	other := e.NewUser("jwt_bob", false)
	k := jwtActiveKey(t, e)

	t.Run("control: built with the real key", func(t *testing.T) {
		jwtWorks(t, e, jwtSign(t, jwt.SigningMethodEdDSA, k.kid, k.priv, jwtClaims(t, e, u.ID)), u.ID)
		jwtWorks(t, e, e.Login(u.Name, u.Password), u.ID)
	})

	_, stranger, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	with := func(change func(jwt.MapClaims)) jwt.MapClaims {
		c := jwtClaims(t, e, u.ID)
		change(c)
		return c
	}
	now := e.Clock.Now()
	cases := map[string]string{
		"alg none": jwtSign(t, jwt.SigningMethodNone, k.kid, jwt.UnsafeAllowNoneSignatureType, jwtClaims(t, e, u.ID)),
		"alg none, no kid": jwtSign(t, jwt.SigningMethodNone, "", jwt.UnsafeAllowNoneSignatureType,
			jwtClaims(t, e, u.ID)),
		"HS256 keyed with the public key bytes": jwtSign(t, jwt.SigningMethodHS256, k.kid, []byte(k.pub), jwtClaims(t, e, u.ID)),
		"HS256 keyed with the public key base64url": jwtSign(t, jwt.SigningMethodHS256, k.kid,
			[]byte(base64.RawURLEncoding.EncodeToString(k.pub)), jwtClaims(t, e, u.ID)),
		"HS256 with some secret":    jwtSign(t, jwt.SigningMethodHS256, k.kid, []byte("secret"), jwtClaims(t, e, u.ID)),
		"HS512 with some secret":    jwtSign(t, jwt.SigningMethodHS512, k.kid, []byte("secret"), jwtClaims(t, e, u.ID)),
		"EdDSA, unknown kid":        jwtSign(t, jwt.SigningMethodEdDSA, "jwt-test-unknown-kid", stranger, jwtClaims(t, e, u.ID)),
		"EdDSA, no kid":             jwtSign(t, jwt.SigningMethodEdDSA, "", stranger, jwtClaims(t, e, u.ID)),
		"EdDSA, real kid, own key":  jwtSign(t, jwt.SigningMethodEdDSA, k.kid, stranger, jwtClaims(t, e, u.ID)),
		"real key, no kid":          jwtSign(t, jwt.SigningMethodEdDSA, "", k.priv, jwtClaims(t, e, u.ID)),
		"missing exp":               jwtSign(t, jwt.SigningMethodEdDSA, k.kid, k.priv, with(func(c jwt.MapClaims) { delete(c, "exp") })),
		"nbf beyond the leeway":     jwtSign(t, jwt.SigningMethodEdDSA, k.kid, k.priv, with(func(c jwt.MapClaims) { c["nbf"] = now.Add(time.Minute).Unix() })),
		"iat beyond the leeway":     jwtSign(t, jwt.SigningMethodEdDSA, k.kid, k.priv, with(func(c jwt.MapClaims) { c["iat"] = now.Add(time.Minute).Unix() })),
		"exp in the past":           jwtSign(t, jwt.SigningMethodEdDSA, k.kid, k.priv, with(func(c jwt.MapClaims) { c["exp"] = now.Add(-time.Minute).Unix() })),
		"wrong iss":                 jwtSign(t, jwt.SigningMethodEdDSA, k.kid, k.priv, with(func(c jwt.MapClaims) { c["iss"] = "not-kala" })),
		"missing iss":               jwtSign(t, jwt.SigningMethodEdDSA, k.kid, k.priv, with(func(c jwt.MapClaims) { delete(c, "iss") })),
		"wrong aud":                 jwtSign(t, jwt.SigningMethodEdDSA, k.kid, k.priv, with(func(c jwt.MapClaims) { c["aud"] = []string{"another-api"} })),
		"missing aud":               jwtSign(t, jwt.SigningMethodEdDSA, k.kid, k.priv, with(func(c jwt.MapClaims) { delete(c, "aud") })),
		"sub not a uuid":            jwtSign(t, jwt.SigningMethodEdDSA, k.kid, k.priv, with(func(c jwt.MapClaims) { c["sub"] = "ADMIN" })),
		"sub of no user":            jwtSign(t, jwt.SigningMethodEdDSA, k.kid, k.priv, with(func(c jwt.MapClaims) { c["sub"] = uuid.NewString() })),
		"older credential version":  jwtSign(t, jwt.SigningMethodEdDSA, k.kid, k.priv, with(func(c jwt.MapClaims) { c["ver"] = 0 })),
		"garbage":                   "garbage",
		"three garbage parts":       "a.b.c",
		"base64 garbage":            base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"EdDSA"}`)) + ".e30.AAAA",
		"a valid token, truncated":  e.Login(u.Name, u.Password)[:60],
		"a valid token, sig cut":    strings.TrimRight(e.Login(u.Name, u.Password), "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
		"an API key as bearer":      e.NewKey(e.AdminToken(), map[string]any{"validTo": now.Add(time.Hour).Format(time.RFC3339)}),
		"JSON of claims, no header": base64.RawURLEncoding.EncodeToString([]byte(`{"sub":"` + u.ID.String() + `"}`)),
	}

	// tampered: the server's own token for u, with sub changed to other's id, signature kept
	issued := e.Login(u.Name, u.Password)
	parts := strings.Split(issued, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatal(err)
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil {
		t.Fatal(err)
	}
	if claims["sub"] != u.ID.String() {
		t.Fatalf("the server's token has sub %v, want %s", claims["sub"], u.ID)
	}
	claims["sub"] = other.ID.String()
	forged, _ := json.Marshal(claims)
	cases["tampered sub, signature kept"] = parts[0] + "." + base64.RawURLEncoding.EncodeToString(forged) + "." + parts[2]

	bodies := map[string][]byte{}
	for _, name := range slices.Sorted(maps.Keys(cases)) {
		t.Run(name, func(t *testing.T) { bodies[name] = jwtRefused(t, e, cases[name]) })
	}
	// the 401 never says which part was wrong: every refusal reads the same
	want := bodies["garbage"]
	for name, b := range bodies {
		if string(b) != string(want) {
			t.Errorf("the 401 for %q differs from the one for garbage:\n%s\n%s", name, b, want)
		}
	}

	t.Run("control: the tampered claims, properly signed, are other's", func(t *testing.T) {
		var c jwt.MapClaims
		_ = json.Unmarshal(forged, &c)
		jwtWorks(t, e, jwtSign(t, jwt.SigningMethodEdDSA, k.kid, k.priv, c), other.ID)
		jwtWorks(t, e, issued, u.ID)
	})
	t.Run("control: nbf inside the leeway", func(t *testing.T) {
		c := jwtClaims(t, e, u.ID)
		c["nbf"] = e.Clock.Now().Add(20 * time.Second).Unix()
		jwtWorks(t, e, jwtSign(t, jwt.SigningMethodEdDSA, k.kid, k.priv, c), u.ID)
	})
}

func TestJWTExpiryAndLeeway(t *testing.T) {
	ttl := 5 * time.Minute
	e := testkit.New(t, func(c *impl.Config) { c.TokenTTL = ttl })
	u := e.NewUser("jwt_expiry", false)

	r := e.Do("POST", "/api/auth/access-token", map[string]string{"username": u.Name, "password": u.Password}).Expect(t, 200)
	var out struct {
		Data struct {
			AccessToken string `json:"access_token"`
			TokenType   string `json:"token_type"`
			ExpiresIn   int    `json:"expires_in"`
		} `json:"data"`
	}
	r.JSON(t, &out)
	if out.Data.TokenType != "Bearer" || out.Data.ExpiresIn != int(ttl/time.Second) {
		t.Fatalf("token_type %q expires_in %d, want Bearer and %d", out.Data.TokenType, out.Data.ExpiresIn, int(ttl/time.Second))
	}
	tok := out.Data.AccessToken
	if h := jwtHeader(t, tok); h["alg"] != "EdDSA" || h["kid"] != jwtActiveKey(t, e).kid {
		t.Fatalf("token header %v, want EdDSA and the active kid", h)
	}
	jwtWorks(t, e, tok, u.ID)

	e.Clock.Advance(ttl)
	jwtWorks(t, e, tok, u.ID) // exactly at exp: inside the leeway
	e.Clock.Advance(auth.Leeway - time.Second)
	jwtWorks(t, e, tok, u.ID) // 29 s past exp: still inside the leeway
	e.Clock.Advance(2 * time.Second)
	jwtRefused(t, e, tok) // 31 s past exp
	e.Clock.Advance(time.Hour)
	jwtRefused(t, e, tok)

	// a fresh token at the new time works: the refusal is the old token's age
	jwtWorks(t, e, e.Login(u.Name, u.Password), u.ID)
}

func TestJWTDiesWithPasswordChange(t *testing.T) {
	e := testkit.New(t)
	u := e.NewUser("jwt_pwchange", false)
	other := e.NewUser("jwt_bystander", false)
	tok := e.Login(u.Name, u.Password)
	otherTok := e.Login(other.Name, other.Password)
	jwtWorks(t, e, tok, u.ID)

	const newPassword = "N3w#Password-x"
	e.Do("PUT", "/api/users/"+u.ID.String()+"/password", map[string]string{"oldPassword": u.Password, "newPassword": newPassword},
		testkit.Bearer(tok)).Expect(t, 204)
	jwtRefused(t, e, tok)
	jwtWorks(t, e, e.Login(u.Name, newPassword), u.ID)
	jwtWorks(t, e, otherTok, other.ID) // only that user's tokens die
	r := e.Do("POST", "/api/auth/access-token", map[string]string{"username": u.Name, "password": u.Password})
	r.Expect(t, 401)
}

func TestJWTDiesWithDisabledUser(t *testing.T) {
	e := testkit.New(t)
	u := e.NewUser("jwt_disabled", false)
	tok := e.Login(u.Name, u.Password)
	jwtWorks(t, e, tok, u.ID)

	// the disabled flag alone, credential version untouched, must stop the token
	if _, err := e.DB.Exec(`UPDATE users SET disabled = true WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	e.ChangedBehindItsBack()
	jwtRefused(t, e, tok)
	// built with the real key and the current credential version: still refused
	k := jwtActiveKey(t, e)
	jwtRefused(t, e, jwtSign(t, jwt.SigningMethodEdDSA, k.kid, k.priv, jwtClaims(t, e, u.ID)))

	// what the API will do: disable and bump the version; re-enabling does not revive it
	if _, err := e.DB.Exec(`UPDATE users SET disabled = false WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	e.ChangedBehindItsBack()
	jwtWorks(t, e, tok, u.ID) // the refusal above was the disabled check
	if _, err := e.DB.Exec(`UPDATE users SET disabled = true, credential_version = credential_version + 1 WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	e.ChangedBehindItsBack()
	jwtRefused(t, e, tok)
	if _, err := e.DB.Exec(`UPDATE users SET disabled = false WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	e.ChangedBehindItsBack()
	jwtRefused(t, e, tok)
	jwtWorks(t, e, e.Login(u.Name, u.Password), u.ID)
}

func TestJWTDiesWithDeletedUser(t *testing.T) {
	e := testkit.New(t)
	u := e.NewUser("jwt_deleted", false)
	tok := e.Login(u.Name, u.Password)
	jwtWorks(t, e, tok, u.ID)
	res, err := e.DB.Exec(`DELETE FROM users WHERE id = $1`, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.ChangedBehindItsBack()
	if n, _ := res.RowsAffected(); n != 1 {
		t.Fatalf("deleted %d users", n)
	}
	jwtRefused(t, e, tok)
	// a user made again with the same name is a new id: the old token is not theirs
	again := e.NewUser("jwt_deleted", false)
	jwtRefused(t, e, tok)
	jwtWorks(t, e, e.Login(again.Name, again.Password), again.ID)
}

func jwtJWKSKids(t *testing.T, e *testkit.Env) []string {
	t.Helper()
	res, err := http.Get(e.URL + "/.well-known/jwks.json")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != 200 {
		t.Fatalf("jwks: %d %s", res.StatusCode, b)
	}
	var set struct {
		Keys []struct {
			Kty, Crv, X, Kid, Alg string
		} `json:"keys"`
	}
	if err := json.Unmarshal(b, &set); err != nil {
		t.Fatalf("jwks %s: %v", b, err)
	}
	var kids []string
	for _, k := range set.Keys {
		if k.Kty != "OKP" || k.Crv != "Ed25519" || k.Alg != "EdDSA" || k.X == "" {
			t.Errorf("unexpected JWK %+v", k)
		}
		kids = append(kids, k.Kid)
	}
	return kids
}

func jwtHasAll(have []string, want ...string) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			found = found || h == w
		}
		if !found {
			return false
		}
	}
	return true
}

func TestJWTKeyRotation(t *testing.T) {
	e := testkit.New(t)
	ctx := context.Background()
	u := e.NewUser("jwt_rotation", false)
	old := jwtActiveKey(t, e)
	oldTok := e.Login(u.Name, u.Password)
	if kid := jwtHeader(t, oldTok)["kid"]; kid != old.kid {
		t.Fatalf("token kid %v, want %s", kid, old.kid)
	}
	if kids := jwtJWKSKids(t, e); len(kids) != 1 || kids[0] != old.kid {
		t.Fatalf("jwks kids before rotation %v, want [%s]", kids, old.kid)
	}

	ttl := e.Server.Config.TokenTTL
	if err := auth.Rotate(ctx, e.DB, e.Clock.Now(), ttl); err != nil {
		t.Fatal(err)
	}
	if err := e.Server.Tokens.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	cur := jwtActiveKey(t, e)
	if cur.kid == old.kid {
		t.Fatal("rotation kept the same kid")
	}
	jwtWorks(t, e, oldTok, u.ID) // the retired key still verifies
	newTok := e.Login(u.Name, u.Password)
	if kid := jwtHeader(t, newTok)["kid"]; kid != cur.kid {
		t.Fatalf("a token after rotation has kid %v, want the new %s", kid, cur.kid)
	}
	jwtWorks(t, e, newTok, u.ID)
	if kids := jwtJWKSKids(t, e); len(kids) != 2 || !jwtHasAll(kids, old.kid, cur.kid) {
		t.Fatalf("jwks kids after rotation %v, want both %s and %s", kids, old.kid, cur.kid)
	}

	// once every token of the old key has expired, the old key verifies nothing
	e.Clock.Advance(ttl + auth.Leeway + time.Second)
	if err := e.Server.Tokens.Reload(ctx); err != nil {
		t.Fatal(err)
	}
	jwtRefused(t, e, jwtSign(t, jwt.SigningMethodEdDSA, old.kid, old.priv, jwtClaims(t, e, u.ID)))
	jwtWorks(t, e, jwtSign(t, jwt.SigningMethodEdDSA, cur.kid, cur.priv, jwtClaims(t, e, u.ID)), u.ID)
	if kids := jwtJWKSKids(t, e); len(kids) != 1 || kids[0] != cur.kid {
		t.Fatalf("jwks kids after the old key's tokens expired %v, want [%s]", kids, cur.kid)
	}
}

// A token signed with the server's own key but another typ is refused like any invalid
// token, on both faces.
func TestStrictJWTType(t *testing.T) {
	e := testkit.New(t)
	u := e.NewUser("st_typ", false, e.Permission("User Management"))
	k := jwtActiveKey(t, e)
	sign := func(typ any) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwtClaims(t, e, u.ID))
		tok.Header["kid"] = k.kid
		if typ == nil {
			delete(tok.Header, "typ")
		} else {
			tok.Header["typ"] = typ
		}
		s, err := tok.SignedString(k.priv)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	t.Run("control: typ JWT", func(t *testing.T) {
		good := sign("JWT")
		if h := jwtHeader(t, good); h["typ"] != "JWT" {
			t.Fatalf("header %v", h)
		}
		if h := jwtHeader(t, e.Login(u.Name, u.Password)); h["typ"] != "JWT" {
			t.Fatalf("the server issues typ %v, not JWT", h["typ"])
		}
		jwtWorks(t, e, good, u.ID)
		testkit.KylinOK[json.RawMessage](t, e.Do("GET", "/kylin/api/user", nil, testkit.Bearer(good)))
	})
	for name, typ := range map[string]any{"at+jwt": "at+jwt", "lower case": "jwt", "JOSE": "JOSE",
		"empty": "", "absent": nil, "a number": 1, "JWT with space": "JWT "} {
		t.Run(name, func(t *testing.T) {
			bad := sign(typ)
			jwtRefused(t, e, bad)
			testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/user", nil, testkit.Bearer(bad)), 401, "KE-010003208")
		})
	}
}

package kala_test

import (
	"encoding/base32"
	"encoding/binary"
	"hash/crc32"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kala-server/kala/impl"
	"github.com/kala-server/kala/impl/auth"
	"github.com/kala-server/kala/impl/testkit"
)

// Key layout (impl/auth/apikey.go): kala_ + 16 lookup + _ + 32 secret + 7 checksum.
const (
	akSecretStart   = len("kala_") + 16 + 1
	akChecksumStart = akSecretStart + 32
)

var akB32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// akChecksum is the key checksum as impl/auth/apikey.go computes it: CRC-32 (IEEE) of
// everything before it, big-endian, in lower-case unpadded base32.
func akChecksum(body string) string {
	var c [4]byte
	binary.BigEndian.PutUint32(c[:], crc32.ChecksumIEEE([]byte(body)))
	return akB32.EncodeToString(c[:])
}

// akOtherChar is a base32 character other than c.
func akOtherChar(c byte) byte {
	if c == 'a' {
		return 'b'
	}
	return 'a'
}

func akValidTo(e *testkit.Env, d time.Duration) string {
	return e.Clock.Now().Add(d).Format(time.RFC3339)
}

type akMeResp struct {
	Data struct {
		Kind        string   `json:"kind"`
		Permissions []string `json:"permissions"`
		Services    []string `json:"services"`
		User        struct {
			ID string `json:"id"`
		} `json:"user"`
		APIKey *struct {
			ID     string `json:"id"`
			Prefix string `json:"prefix"`
		} `json:"apiKey"`
	} `json:"data"`
}

// akWorks asserts the key authenticates (X-API-Key) and returns /me.
func akWorks(t *testing.T, e *testkit.Env, key string) akMeResp {
	t.Helper()
	r := e.Do("GET", "/api/auth/me", nil, testkit.APIKey(key))
	if r.Status != 200 {
		t.Fatalf("the key got %d, want 200: %s", r.Status, r.Body)
	}
	var m akMeResp
	r.JSON(t, &m)
	if m.Data.Kind != "apiKey" || m.Data.APIKey == nil || !strings.HasPrefix(key, m.Data.APIKey.Prefix) {
		t.Fatalf("/me for the key: %s", r.Body)
	}
	return m
}

// akRefused asserts the key gets a 401 problem with an ApiKey challenge.
func akRefused(t *testing.T, e *testkit.Env, key string, opts ...testkit.ReqOpt) *testkit.Resp {
	t.Helper()
	if len(opts) == 0 {
		opts = []testkit.ReqOpt{testkit.APIKey(key)}
	}
	r := e.Do("GET", "/api/auth/me", nil, opts...)
	if r.Status != 401 {
		t.Fatalf("status %d, want 401; body: %s", r.Status, r.Body)
	}
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q, want application/problem+json", ct)
	}
	if c := r.Header.Get("WWW-Authenticate"); !strings.Contains(c, "ApiKey") {
		t.Errorf("WWW-Authenticate %q does not name ApiKey", c)
	}
	return r
}

func akCount(t *testing.T, e *testkit.Env) int {
	t.Helper()
	var n int
	if err := e.DB.Get(&n, `SELECT count(*) FROM api_keys`); err != nil {
		t.Fatal(err)
	}
	return n
}

type akListed struct {
	ID          string     `json:"id"`
	Name        string     `json:"name"`
	Prefix      string     `json:"prefix"`
	Permissions []string   `json:"permissions"`
	LastUsedAt  *time.Time `json:"lastUsedAt"`
}

type akList struct {
	Data []akListed `json:"data"`
	Page struct {
		Offset int `json:"offset"`
		Limit  int `json:"limit"`
		Total  int `json:"total"`
	} `json:"page"`
}

func akListKeys(t *testing.T, e *testkit.Env, tok, query string) (akList, *testkit.Resp) {
	t.Helper()
	r := e.Do("GET", "/api/auth/api-keys"+query, nil, testkit.Bearer(tok)).Expect(t, 200)
	var l akList
	r.JSON(t, &l)
	return l, r
}

// akIDOf is the listed id of key, from its owner's list.
func akIDOf(t *testing.T, e *testkit.Env, tok, key string) string {
	t.Helper()
	l, _ := akListKeys(t, e, tok, "?limit=200")
	for _, k := range l.Data {
		if strings.HasPrefix(key, k.Prefix+"_") {
			return k.ID
		}
	}
	t.Fatalf("key %.21s… is not in its owner's list", key)
	return ""
}

func TestAPIKeyValidityWindow(t *testing.T) {
	e := testkit.New(t)
	tok := e.AdminToken()
	key := e.NewKey(tok, map[string]any{"validFrom": akValidTo(e, time.Hour), "validTo": akValidTo(e, 2*time.Hour)})

	akRefused(t, e, key) // before validFrom
	e.Clock.Advance(59 * time.Minute)
	akRefused(t, e, key) // a minute before validFrom
	e.Clock.Advance(time.Minute)
	akWorks(t, e, key) // from validFrom on
	e.Clock.Advance(59 * time.Minute)
	akWorks(t, e, key) // a minute before validTo
	e.Clock.Advance(time.Minute)
	akRefused(t, e, key) // at validTo
	e.Clock.Advance(24 * time.Hour)
	akRefused(t, e, key, testkit.QueryKey(key))
}

func TestAPIKeyRevoke(t *testing.T) {
	e := testkit.New(t)
	alice := e.NewUser("ak_alice", false)
	bob := e.NewUser("ak_bob", false)
	aTok, bTok := e.Login(alice.Name, alice.Password), e.Login(bob.Name, bob.Password)
	aKey := e.NewKey(aTok, map[string]any{"validTo": akValidTo(e, time.Hour)})
	aKeep := e.NewKey(aTok, map[string]any{"validTo": akValidTo(e, time.Hour)})
	bKey := e.NewKey(bTok, map[string]any{"validTo": akValidTo(e, time.Hour)})
	akWorks(t, e, aKey)
	aID, bID := akIDOf(t, e, aTok, aKey), akIDOf(t, e, bTok, bKey)

	// another user's key is not found, and keeps working
	r := e.Do("DELETE", "/api/auth/api-keys/"+bID, nil, testkit.Bearer(aTok)).Expect(t, 404)
	if ct := r.Header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type %q", ct)
	}
	akWorks(t, e, bKey)

	r = e.Do("DELETE", "/api/auth/api-keys/"+aID, nil, testkit.Bearer(aTok)).Expect(t, 204)
	if len(r.Body) != 0 {
		t.Errorf("a 204 with a body: %s", r.Body)
	}
	akRefused(t, e, aKey)
	akRefused(t, e, aKey, testkit.QueryKey(aKey))
	akWorks(t, e, aKeep) // only that key
	e.Do("DELETE", "/api/auth/api-keys/"+aID, nil, testkit.Bearer(aTok)).Expect(t, 404)
	e.Do("DELETE", "/api/auth/api-keys/"+uuid.NewString(), nil, testkit.Bearer(aTok)).Expect(t, 404)
	// a key cannot revoke keys (bearer only)
	e.Do("DELETE", "/api/auth/api-keys/"+akIDOf(t, e, aTok, aKeep), nil, testkit.APIKey(aKeep)).Expect(t, 401)
	akWorks(t, e, aKeep)
	l, _ := akListKeys(t, e, aTok, "")
	if l.Page.Total != 1 || len(l.Data) != 1 || l.Data[0].ID == aID {
		t.Errorf("after revoking, alice's list is %+v", l)
	}
}

func TestAPIKeyMangledKeys(t *testing.T) {
	e := testkit.New(t)
	key := e.NewKey(e.AdminToken(), map[string]any{"validTo": akValidTo(e, time.Hour)})
	if len(key) != auth.KeyLen || akChecksum(key[:akChecksumStart]) != key[akChecksumStart:] {
		t.Fatalf("key %q does not have the documented layout", key)
	}
	akWorks(t, e, key)

	// one secret character changed, checksum left as it was: refused by the checksum
	b := []byte(key)
	b[akSecretStart+5] = akOtherChar(b[akSecretStart+5])
	typo := string(b)
	if _, _, err := auth.ParseAPIKey(typo); err == nil {
		t.Fatal("a typo in the secret passed the checksum")
	}
	akRefused(t, e, typo)

	// the same wrong secret with its checksum recomputed: well-formed, but the wrong secret
	wrongSecret := typo[:akChecksumStart] + akChecksum(typo[:akChecksumStart])
	lookup, _, err := auth.ParseAPIKey(wrongSecret)
	if err != nil {
		t.Fatalf("the recomputed key is not well-formed: %v", err)
	}
	if want := key[len("kala_") : len("kala_")+16]; lookup != want {
		t.Fatalf("lookup %q, want %q", lookup, want)
	}
	akRefused(t, e, wrongSecret)
	akRefused(t, e, wrongSecret, testkit.QueryKey(wrongSecret))

	// the right secret with a wrong checksum
	b = []byte(key)
	b[len(b)-1] = akOtherChar(b[len(b)-1])
	akRefused(t, e, string(b))
	b = []byte(key)
	b[akChecksumStart] = akOtherChar(b[akChecksumStart])
	akRefused(t, e, string(b))

	// a lookup id that exists with a secret and checksum that do not
	b = []byte(key)
	b[len("kala_")] = akOtherChar(b[len("kala_")])
	otherLookup := string(b[:akChecksumStart]) + akChecksum(string(b[:akChecksumStart]))
	akRefused(t, e, otherLookup)

	for _, bad := range []string{key[:len(key)-1], key + "a", strings.ToUpper(key), "kala_", "not-a-key"} {
		akRefused(t, e, bad)
	}
	akWorks(t, e, key) // the original is unharmed
}

func TestAPIKeyCreateRules(t *testing.T) {
	e := testkit.New(t, func(c *impl.Config) { c.APIKeyMaxDays = 30 })
	dm, um := e.Permission("Data Management"), e.Permission("User Management")
	if dm == "" || um == "" {
		t.Fatal("permission ids not found")
	}
	u := e.NewUser("ak_creator", false, dm)
	tok := e.Login(u.Name, u.Password)
	before := akCount(t, e)

	refused := func(t *testing.T, status int, body any, field string) testkit.Problem {
		t.Helper()
		r := e.Do("POST", "/api/auth/api-key", body, testkit.Bearer(tok))
		if r.Status != status {
			t.Fatalf("status %d, want %d; body: %s", r.Status, status, r.Body)
		}
		var p testkit.Problem
		r.JSON(t, &p)
		if p.Status != status {
			t.Errorf("problem status %d", p.Status)
		}
		if field != "" && !p.Names(field) {
			t.Errorf("the %d does not name %s: %s", status, field, r.Body)
		}
		if n := akCount(t, e); n != before {
			t.Errorf("api_keys has %d rows, had %d: a refused key was stored", n, before)
		}
		return p
	}
	in := func(d time.Duration) string { return akValidTo(e, d) }

	t.Run("permission the creator lacks", func(t *testing.T) {
		p := refused(t, 403, map[string]any{"validTo": in(time.Hour), "permissions": []string{um}}, "")
		if !strings.HasSuffix(p.Type, "/forbidden") {
			t.Errorf("problem type %q", p.Type)
		}
		refused(t, 403, map[string]any{"validTo": in(time.Hour), "permissions": []string{dm, um}}, "")
	})
	t.Run("unknown permission", func(t *testing.T) {
		refused(t, 400, map[string]any{"validTo": in(time.Hour), "permissions": []string{uuid.NewString()}}, "permissions")
		refused(t, 400, map[string]any{"validTo": in(time.Hour), "permissions": []string{"not-a-uuid"}}, "permissions")
	})
	t.Run("unknown service", func(t *testing.T) {
		refused(t, 400, map[string]any{"validTo": in(time.Hour), "services": []string{uuid.NewString()}}, "services")
	})
	t.Run("duplicate permission", func(t *testing.T) {
		refused(t, 400, map[string]any{"validTo": in(time.Hour), "permissions": []string{dm, dm}}, "permissions")
	})
	t.Run("validTo in the past", func(t *testing.T) {
		refused(t, 400, map[string]any{"validTo": in(-time.Minute)}, "validTo")
		refused(t, 400, map[string]any{"validFrom": in(-2 * time.Hour), "validTo": in(-time.Hour)}, "validTo")
	})
	t.Run("validTo beyond the maximum lifetime", func(t *testing.T) {
		refused(t, 400, map[string]any{"validTo": in(31 * 24 * time.Hour)}, "validTo")
		refused(t, 400, map[string]any{"validTo": in(30*24*time.Hour + time.Hour)}, "validTo")
	})
	t.Run("validTo before validFrom", func(t *testing.T) {
		refused(t, 400, map[string]any{"validFrom": in(2 * time.Hour), "validTo": in(time.Hour)}, "validTo")
		refused(t, 400, map[string]any{"validFrom": in(time.Hour), "validTo": in(time.Hour)}, "validTo")
	})
	t.Run("unknown field", func(t *testing.T) {
		refused(t, 400, map[string]any{"validTo": in(time.Hour), "colour": "red"}, "colour")
	})
	t.Run("validTo missing", func(t *testing.T) {
		refused(t, 400, map[string]any{"name": "no end"}, "validTo")
	})
	t.Run("a key cannot create keys", func(t *testing.T) {
		key := e.NewKey(tok, map[string]any{"validTo": in(time.Hour), "permissions": []string{dm}})
		before = akCount(t, e)
		for _, opt := range []testkit.ReqOpt{testkit.APIKey(key), testkit.QueryKey(key)} {
			r := e.Do("POST", "/api/auth/api-key", map[string]any{"validTo": in(time.Hour)}, opt)
			if r.Status != 401 {
				t.Fatalf("a key creating a key got %d, want 401: %s", r.Status, r.Body)
			}
			if c := r.Header.Get("WWW-Authenticate"); !strings.Contains(c, "Bearer") {
				t.Errorf("WWW-Authenticate %q", c)
			}
		}
		if n := akCount(t, e); n != before {
			t.Errorf("a key made a key: %d rows, had %d", n, before)
		}
	})
	// controls: each refused body differs from an accepted one by its one fault
	t.Run("controls", func(t *testing.T) {
		for _, body := range []map[string]any{
			{"validTo": in(time.Hour), "permissions": []string{dm}},
			{"validTo": in(time.Hour), "permissions": []string{}},
			{"validTo": in(30*24*time.Hour - time.Minute)},
			{"validFrom": in(time.Hour), "validTo": in(2 * time.Hour), "name": "later"},
			{"validFrom": in(-time.Hour), "validTo": in(time.Hour)},
		} {
			n := akCount(t, e)
			e.NewKey(tok, body)
			if akCount(t, e) != n+1 {
				t.Errorf("creating %v did not store one key", body)
			}
		}
	})
}

func TestAPIKeyListing(t *testing.T) {
	e := testkit.New(t)
	alice := e.NewUser("ak_lister", false, e.Permission("Data Management"))
	bob := e.NewUser("ak_other", false)
	aTok, bTok := e.Login(alice.Name, alice.Password), e.Login(bob.Name, bob.Password)
	var keys []string // oldest first
	for i := range 3 {
		keys = append(keys, e.NewKey(aTok, map[string]any{"validTo": akValidTo(e, time.Hour),
			"name": "k" + string(rune('0'+i)), "permissions": []string{e.Permission("Data Management")}}))
		e.Clock.Advance(time.Second)
	}
	bKey := e.NewKey(bTok, map[string]any{"validTo": akValidTo(e, time.Hour), "name": "bob's"})
	bID := akIDOf(t, e, bTok, bKey)

	l, r := akListKeys(t, e, aTok, "")
	if l.Page.Total != 3 || len(l.Data) != 3 || l.Page.Offset != 0 {
		t.Fatalf("alice's list: %s", r.Body)
	}
	for _, k := range append(slices.Clone(keys), bKey) {
		if strings.Contains(string(r.Body), k) || strings.Contains(string(r.Body), k[akSecretStart:akChecksumStart]) {
			t.Fatalf("the list shows a key's secret: %s", r.Body)
		}
	}
	var all []string
	for i, k := range l.Data {
		if k.ID == bID || k.Name == "bob's" {
			t.Errorf("alice's list shows bob's key: %s", r.Body)
		}
		// newest first
		if want := keys[len(keys)-1-i]; !strings.HasPrefix(want, k.Prefix+"_") || k.Name != "k"+string(rune('0'+len(keys)-1-i)) {
			t.Errorf("entry %d is %+v, want the key %.21s…", i, k, want)
		}
		if len(k.Permissions) != 1 || k.Permissions[0] != e.Permission("Data Management") {
			t.Errorf("entry %d permissions %v", i, k.Permissions)
		}
		all = append(all, k.ID)
	}
	if lb, _ := akListKeys(t, e, bTok, ""); lb.Page.Total != 1 || len(lb.Data) != 1 || lb.Data[0].ID != bID {
		t.Errorf("bob's list: %+v", lb)
	}

	var paged []string
	for off := range 3 {
		p, r := akListKeys(t, e, aTok, testkit.Sprintf("?offset=%d&limit=1", off))
		if p.Page.Total != 3 || p.Page.Offset != off || p.Page.Limit != 1 || len(p.Data) != 1 {
			t.Fatalf("page at offset %d: %s", off, r.Body)
		}
		paged = append(paged, p.Data[0].ID)
	}
	if !slices.Equal(paged, all) {
		t.Errorf("paging gives %v, the whole list %v", paged, all)
	}
	p, r := akListKeys(t, e, aTok, "?offset=2&limit=2")
	if p.Page.Total != 3 || len(p.Data) != 1 || p.Data[0].ID != all[2] {
		t.Errorf("last page: %s", r.Body)
	}
	p, r = akListKeys(t, e, aTok, "?offset=3")
	if p.Page.Total != 3 || len(p.Data) != 0 {
		t.Errorf("past the end: %s", r.Body)
	}
	// keys cannot list keys
	e.Do("GET", "/api/auth/api-keys", nil, testkit.APIKey(keys[0])).Expect(t, 401)
}

func TestAPIKeyRightsAreKeyAndOwnerNow(t *testing.T) {
	e := testkit.New(t)
	dm := e.Permission("Data Management")
	u := e.NewUser("ak_rights", false, dm)
	tok := e.Login(u.Name, u.Password)
	key := e.NewKey(tok, map[string]any{"validTo": akValidTo(e, time.Hour), "permissions": []string{dm}})
	bare := e.NewKey(tok, map[string]any{"validTo": akValidTo(e, time.Hour)})

	m := akWorks(t, e, key)
	if !slices.Equal(m.Data.Permissions, []string{dm}) || m.Data.User.ID != u.ID.String() {
		t.Fatalf("/me for the key: %+v", m.Data)
	}
	if m := akWorks(t, e, bare); len(m.Data.Permissions) != 0 {
		t.Errorf("a key given no permissions has %v", m.Data.Permissions)
	}

	if _, err := e.DB.Exec(`UPDATE users SET permissions = '{}' WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	e.ChangedBehindItsBack()
	if m := akWorks(t, e, key); len(m.Data.Permissions) != 0 {
		t.Errorf("the owner lost Data Management, yet the key has %v", m.Data.Permissions)
	}
	if _, err := e.DB.Exec(`UPDATE users SET permissions = $2 WHERE id = $1`, u.ID, "{"+dm+"}"); err != nil {
		t.Fatal(err)
	}
	e.ChangedBehindItsBack()
	if m := akWorks(t, e, key); !slices.Equal(m.Data.Permissions, []string{dm}) {
		t.Errorf("the owner has Data Management again, the key has %v", m.Data.Permissions)
	}

	// a disabled owner kills the key
	if _, err := e.DB.Exec(`UPDATE users SET disabled = true WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	e.ChangedBehindItsBack()
	akRefused(t, e, key)
	akRefused(t, e, key, testkit.QueryKey(key))
	if _, err := e.DB.Exec(`UPDATE users SET disabled = false WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	e.ChangedBehindItsBack()
	akWorks(t, e, key)

	// a deleted owner takes the key along
	if _, err := e.DB.Exec(`DELETE FROM users WHERE id = $1`, u.ID); err != nil {
		t.Fatal(err)
	}
	e.ChangedBehindItsBack()
	akRefused(t, e, key)
}

func TestAPIKeyLastUsed(t *testing.T) {
	e := testkit.New(t)
	tok := e.AdminToken()
	key := e.NewKey(tok, map[string]any{"validTo": akValidTo(e, time.Hour)})
	id := akIDOf(t, e, tok, key)
	lastUsed := func() *time.Time {
		t.Helper()
		// uses are written in the background: write what this instance marked so far
		if err := e.Server.Touches.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		var at *time.Time
		if err := e.DB.Get(&at, `SELECT last_used_at FROM api_keys WHERE id = $1`, id); err != nil {
			t.Fatal(err)
		}
		return at
	}
	same := func(got *time.Time, want time.Time, what string) {
		t.Helper()
		if got == nil || !got.Equal(want) {
			t.Fatalf("%s: last_used_at %v, want %v", what, got, want)
		}
	}
	if at := lastUsed(); at != nil {
		t.Fatalf("an unused key has last_used_at %v", at)
	}
	t0 := e.Clock.Now()
	akWorks(t, e, key)
	same(lastUsed(), t0, "first use")
	e.Clock.Advance(10 * time.Second)
	akWorks(t, e, key)
	same(lastUsed(), t0, "10 s later")
	e.Clock.Advance(49 * time.Second)
	akWorks(t, e, key)
	same(lastUsed(), t0, "59 s after the first use")
	e.Clock.Advance(2 * time.Second)
	t61 := e.Clock.Now()
	akWorks(t, e, key)
	same(lastUsed(), t61, "61 s after the first use")
	e.Clock.Advance(10 * time.Second)
	e.Do("GET", "/api/auth/me", nil, testkit.QueryKey(key)).Expect(t, 200)
	same(lastUsed(), t61, "10 s after that")

	l, _ := akListKeys(t, e, tok, "")
	if len(l.Data) != 1 || l.Data[0].LastUsedAt == nil || !l.Data[0].LastUsedAt.Equal(t61) {
		t.Errorf("the list shows lastUsedAt %+v, want %v", l.Data, t61)
	}
	// a refused key is not a use
	other := e.NewKey(tok, map[string]any{"validFrom": akValidTo(e, time.Hour), "validTo": akValidTo(e, 2*time.Hour)})
	akRefused(t, e, other)
	if err := e.Server.Touches.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	var n int
	if err := e.DB.Get(&n, `SELECT count(*) FROM api_keys WHERE last_used_at IS NOT NULL`); err != nil {
		t.Fatal(err)
	}
	if n != 1 {
		t.Errorf("%d keys have last_used_at, want 1", n)
	}
}

func TestAPIKeyInQueryIsNeverLogged(t *testing.T) {
	e := testkit.New(t)
	tok := e.AdminToken()
	key := e.NewKey(tok, map[string]any{"validTo": akValidTo(e, time.Hour)})
	revoked := e.NewKey(tok, map[string]any{"validTo": akValidTo(e, time.Hour)})
	e.Do("DELETE", "/api/auth/api-keys/"+akIDOf(t, e, tok, revoked), nil, testkit.Bearer(tok)).Expect(t, 204)
	b := []byte(key)
	b[akSecretStart] = akOtherChar(b[akSecretStart])
	typo := string(b)

	for _, c := range []struct {
		path   string
		key    string
		status int
	}{
		{"/api/auth/me", key, 200},
		{"/api/permissions", key, 200},
		{"/api/auth/me", revoked, 401},
		{"/api/auth/me", typo, 401},
		{"/api/users", key, 403}, // a key with no permissions
		{"/api/no-such-route", key, 404},
	} {
		r := e.Do("GET", c.path, nil, testkit.QueryKey(c.key))
		if r.Status != c.status {
			t.Errorf("GET %s?key=…: %d, want %d: %s", c.path, r.Status, c.status, r.Body)
		}
		if cc := r.Header.Get("Cache-Control"); cc != "no-store" {
			t.Errorf("GET %s?key=… (%d): Cache-Control %q, want no-store", c.path, r.Status, cc)
		}
	}
	if !strings.Contains(e.Logs.String(), `"path":"/api/auth/me"`) {
		t.Fatalf("the requests were not logged at all, so the check below proves nothing: %s", e.Logs.String())
	}
	for _, k := range []string{key, revoked, typo} {
		e.MustNotLog(k)
		e.MustNotLog(k[akSecretStart:akChecksumStart]) // not even the secret alone
	}
}

package kala_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/testkit"
)

// usView is the Kala view of a user, as far as these tests read it.
type usView struct {
	ID              string   `json:"id"`
	Username        string   `json:"username"`
	Admin           bool     `json:"admin"`
	Disabled        bool     `json:"disabled"`
	DefaultPassword bool     `json:"defaultPassword"`
	Locked          bool     `json:"locked"`
	LockedUntil     *string  `json:"lockedUntil"`
	Permissions     []string `json:"permissions"`
}

func usGet(t *testing.T, e *testkit.Env, tok testkit.ReqOpt, id string) usView {
	t.Helper()
	var u testkit.Envelope[usView]
	e.Do("GET", "/api/users/"+id, nil, tok).Expect(t, 200).JSON(t, &u)
	return u.Data
}

func usCreate(t *testing.T, e *testkit.Env, tok testkit.ReqOpt, body map[string]any) usView {
	t.Helper()
	var u testkit.Envelope[usView]
	e.Do("POST", "/api/users", body, tok).Expect(t, 201).JSON(t, &u)
	return u.Data
}

func usLogin(e *testkit.Env, name, pw string) *testkit.Resp {
	return e.Do("POST", "/api/auth/access-token", map[string]any{"username": name, "password": pw})
}

// usExpectLocked fails unless a login with the right password is refused as locked.
func usExpectLocked(t *testing.T, e *testkit.Env, name, pw string) {
	t.Helper()
	r := usLogin(e, name, pw).Expect(t, 401)
	p := testkit.ProblemOf(t, r)
	if !strings.HasSuffix(p.Type, "/locked") || p.LockedUntil == "" || !strings.Contains(p.Detail, "locked") {
		t.Fatalf("the login is not refused as locked: %s", r.Body)
	}
}

// usLock locks a login name with three failed logins.
func usLock(t *testing.T, e *testkit.Env, name string) {
	t.Helper()
	for range 3 {
		usLogin(e, name, "Wrong#pass1").Expect(t, 401)
	}
}

func TestUsersPasswordRuleIsNamed(t *testing.T) {
	e := testkit.New(t)
	tok := testkit.Bearer(e.AdminToken())
	msg := testkit.ExpectField(t, e.Do("POST", "/api/users", map[string]any{"username": "pw1", "password": "Ab#1"}, tok), "password")
	if !strings.Contains(msg, "8 characters") {
		t.Errorf("a short password's message does not mention 8 characters: %q", msg)
	}
	msg = testkit.ExpectField(t, e.Do("POST", "/api/users", map[string]any{"username": "pw2", "password": "Abcdefgh12"}, tok), "password")
	const specials = "~!@#$%^&*(){}|:\"<>?[];',./`" // SPEC §2, Kylin's rule
	if !strings.Contains(msg, specials) {
		t.Errorf("a password without a special character: the message does not list %s: %q", specials, msg)
	}
	testkit.ExpectField(t, e.Do("POST", "/api/users", map[string]any{"username": "pw3", "password": "########1"}, tok), "password")
	testkit.ExpectField(t, e.Do("POST", "/api/users", map[string]any{"username": "pw4", "password": "Abcdefgh#"}, tok), "password")
	testkit.ExpectField(t, e.Do("POST", "/api/users", map[string]any{"username": "pw5", "password": "Ab1#" + strings.Repeat("x", 125)}, tok), "password")
	usCreate(t, e, tok, map[string]any{"username": "pw6", "password": "Abcdefg1#"})
	// the same rule on a password change
	u := e.NewUser("pw7", false)
	utok := e.Login(u.Name, u.Password)
	msg = testkit.ExpectField(t, e.Do("PUT", "/api/users/"+u.ID.String()+"/password",
		map[string]any{"oldPassword": u.Password, "newPassword": "short#1"}, testkit.Bearer(utok)), "newPassword")
	if !strings.Contains(msg, "8 characters") {
		t.Errorf("a short new password's message does not mention 8 characters: %q", msg)
	}
}

func TestUsersUsernameRules(t *testing.T) {
	e := testkit.New(t)
	tok := testkit.Bearer(e.AdminToken())
	for _, name := range []string{".hidden", "trailing ", " leading", "a/b", `a\b`, "a:b", "a*b", "a?b", `a"b`, "a<b", "a>b", "a|b",
		"tab\there", strings.Repeat("n", 181), ""} {
		r := e.Do("POST", "/api/users", map[string]any{"username": name, "password": "Welcome#2026"}, tok)
		if r.Status != 400 {
			t.Errorf("username %q: status %d, want 400", name, r.Status)
			continue
		}
		testkit.ExpectField(t, r, "username")
	}
	for _, name := range []string{strings.Repeat("n", 180), "x", "Ana.Lyst", "ana lyst", "ünïcødé_名前", "a.b-c_d@e"} {
		u := usCreate(t, e, tok, map[string]any{"username": name, "password": "Welcome#2026"})
		if u.Username != name {
			t.Errorf("username %q stored as %q", name, u.Username)
		}
	}
	e.Do("POST", "/api/users", map[string]any{"username": "ANA.LYST", "password": "Welcome#2026"}, tok).Expect(t, 409)
}

func TestUsersUnknownFieldIsRefused(t *testing.T) {
	e := testkit.New(t)
	tok := testkit.Bearer(e.AdminToken())
	testkit.ExpectField(t, e.Do("POST", "/api/users", map[string]any{"username": "u1", "password": "Welcome#2026", "role": "admin"}, tok), "role")
	u := e.NewUser("u2", false)
	testkit.ExpectField(t, e.Do("PATCH", "/api/users/"+u.ID.String(), map[string]any{"superuser": true}, tok), "superuser")
	testkit.ExpectField(t, e.Do("PUT", "/api/users/"+u.ID.String()+"/password", map[string]any{"newPassword": "Welcome#2026", "force": true}, tok), "force")
	var list testkit.Envelope[[]usView]
	e.Do("GET", "/api/users?name=u1", nil, tok).Expect(t, 200).JSON(t, &list)
	if len(list.Data) != 0 {
		t.Fatalf("a refused create stored a user: %s", testkit.MustJSON(list))
	}
}

// A non-admin with User Management manages users but grants only what they hold.
func TestUsersGrantRules(t *testing.T) {
	e := testkit.New(t)
	um, dm := e.Permission("User Management"), e.Permission("Data Management")
	m := e.NewUser("manager", false, um)
	mtok := testkit.Bearer(e.Login(m.Name, m.Password))
	e.Do("POST", "/api/users", map[string]any{"username": "a1", "password": "Welcome#2026", "admin": true}, mtok).Expect(t, 403)
	e.Do("POST", "/api/users", map[string]any{"username": "a2", "password": "Welcome#2026", "authorities": []string{"ROLE_ADMIN"}}, mtok).Expect(t, 403)
	e.Do("POST", "/api/users", map[string]any{"username": "a3", "password": "Welcome#2026", "permissions": []string{dm}}, mtok).Expect(t, 403)
	e.Do("POST", "/api/users", map[string]any{"username": "a4", "password": "Welcome#2026", "permissions": []string{um, dm}}, mtok).Expect(t, 403)
	u := usCreate(t, e, mtok, map[string]any{"username": "a5", "password": "Welcome#2026", "permissions": []string{um}})
	if len(u.Permissions) != 1 || u.Permissions[0] != um || u.Admin {
		t.Errorf("created user: %+v", u)
	}
	// the same on a change
	e.Do("PATCH", "/api/users/"+u.ID, map[string]any{"permissions": []string{um, dm}}, mtok).Expect(t, 403)
	e.Do("PATCH", "/api/users/"+u.ID, map[string]any{"admin": true}, mtok).Expect(t, 403)
	e.Do("PATCH", "/api/users/"+u.ID, map[string]any{"authorities": []string{"ROLE_ADMIN"}}, mtok).Expect(t, 403)
	if got := usGet(t, e, mtok, u.ID); got.Admin || len(got.Permissions) != 1 {
		t.Errorf("refused changes changed the user: %+v", got)
	}
	e.Do("PATCH", "/api/users/"+u.ID, map[string]any{"permissions": []string{}}, mtok).Expect(t, 200)
	// the refused creates stored nothing
	var list testkit.Envelope[[]usView]
	e.Do("GET", "/api/users?name=a", nil, mtok).Expect(t, 200).JSON(t, &list)
	for _, x := range list.Data {
		if x.Username != "a5" && strings.HasPrefix(x.Username, "a") && len(x.Username) == 2 {
			t.Errorf("a refused create stored %s", x.Username)
		}
	}
	// an admin may do all of it
	admin := testkit.Bearer(e.AdminToken())
	a := usCreate(t, e, admin, map[string]any{"username": "a6", "password": "Welcome#2026", "admin": true})
	if !a.Admin || len(a.Permissions) != 2 {
		t.Errorf("admin-created admin: %+v", a)
	}
	// and a manager cannot touch an admin
	e.Do("PATCH", "/api/users/"+a.ID, map[string]any{"disabled": true}, mtok).Expect(t, 403)
	e.Do("DELETE", "/api/users/"+a.ID, nil, mtok).Expect(t, 403)
}

// Nobody deletes, disables or demotes themselves; the built-in ADMIN survives everyone.
func TestUsersSelfAndBuiltinProtection(t *testing.T) {
	e := testkit.New(t)
	root := e.AdminToken()
	rootID := testkit.WhoAmI(t, e, root)
	other := e.NewUser("other_admin", true)
	otok := e.Login(other.Name, other.Password)
	o := testkit.Bearer(otok)
	id := other.ID.String()
	e.Do("DELETE", "/api/users/"+id, nil, o).Expect(t, 403)
	e.Do("PATCH", "/api/users/"+id, map[string]any{"disabled": true}, o).Expect(t, 403)
	e.Do("PATCH", "/api/users/"+id, map[string]any{"admin": false}, o).Expect(t, 403)
	e.Do("PATCH", "/api/users/"+id, map[string]any{"authorities": []string{"ROLE_ANALYST"}}, o).Expect(t, 403)
	if u := usGet(t, e, o, id); !u.Admin || u.Disabled {
		t.Fatalf("refused self-changes changed the admin: %+v", u)
	}

	m := e.NewUser("manager", false, e.Permission("User Management"))
	mtok := testkit.Bearer(e.Login(m.Name, m.Password))
	e.Do("DELETE", "/api/users/"+m.ID.String(), nil, mtok).Expect(t, 403)
	e.Do("PATCH", "/api/users/"+m.ID.String(), map[string]any{"disabled": true}, mtok).Expect(t, 403)

	for _, req := range []struct {
		method string
		body   any
	}{
		{"DELETE", nil},
		{"PATCH", map[string]any{"disabled": true}},
		{"PATCH", map[string]any{"admin": false}},
		{"PATCH", map[string]any{"authorities": []string{"ALL_USERS"}}},
	} {
		r := e.Do(req.method, "/api/users/"+rootID, req.body, o)
		if r.Status != 403 {
			t.Errorf("another admin's %s %v of the built-in ADMIN: status %d, want 403; body %s", req.method, req.body, r.Status, r.Body)
		}
		r = e.Do(req.method, "/api/users/"+rootID, req.body, testkit.Bearer(root))
		if r.Status != 403 {
			t.Errorf("ADMIN's own %s %v: status %d, want 403; body %s", req.method, req.body, r.Status, r.Body)
		}
	}
	if u := usGet(t, e, o, rootID); !u.Admin || u.Disabled || u.Username != "ADMIN" {
		t.Fatalf("the built-in ADMIN changed: %+v", u)
	}
	e.Do("GET", "/api/auth/me", nil, testkit.Bearer(root)).Expect(t, 200)
	// the other admin is not protected from ADMIN
	e.Do("PATCH", "/api/users/"+id, map[string]any{"admin": false}, testkit.Bearer(root)).Expect(t, 200)
	e.Do("DELETE", "/api/users/"+id, nil, testkit.Bearer(root)).Expect(t, 204)
}

// Deleting a user ends their token and key at once; a new user of the same name inherits
// nothing: not the credentials, not the permissions, not the access, not the lockout.
func TestUsersDeleteKillsEverything(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Bearer(e.AdminToken())
	um := e.Permission("User Management")
	old := e.NewUser("Phoenix", false, um)
	tok := e.Login(old.Name, old.Password)
	key := e.NewKey(tok, map[string]any{"validTo": testkit.ValidTo(e), "permissions": []string{um}})
	e.Do("GET", "/api/users", nil, testkit.Bearer(tok)).Expect(t, 200)
	e.Do("GET", "/api/users", nil, testkit.APIKey(key)).Expect(t, 200)
	ds := testkit.ID(t, e.Do("POST", "/api/datastores", map[string]any{"name": "phoenix_ds"}, admin).Expect(t, 201))
	bolaSetAccess(t, e, ds, old.ID, 4)
	usLock(t, e, old.Name)
	usExpectLocked(t, e, old.Name, old.Password)

	e.Do("DELETE", "/api/users/"+old.ID.String(), nil, admin).Expect(t, 204)
	e.Do("GET", "/api/auth/me", nil, testkit.Bearer(tok)).Expect(t, 401)
	e.Do("GET", "/api/auth/me", nil, testkit.APIKey(key)).Expect(t, 401)
	e.Do("GET", "/api/users/"+old.ID.String(), nil, admin).Expect(t, 404)
	if f, err := db.LoginFailuresOf(context.Background(), e.DB, "phoenix"); err != nil || f != nil {
		t.Fatalf("the deleted user's failure counter is left: %+v %v", f, err)
	}

	reborn := usCreate(t, e, admin, map[string]any{"username": "PHOENIX", "password": "Reborn#2026"})
	if reborn.ID == old.ID.String() || len(reborn.Permissions) != 0 || reborn.Locked {
		t.Fatalf("the new user inherits: %+v", reborn)
	}
	ntok := e.Login("phoenix", "Reborn#2026") // not locked
	e.Do("GET", "/api/auth/me", nil, testkit.Bearer(tok)).Expect(t, 401)
	e.Do("GET", "/api/auth/me", nil, testkit.APIKey(key)).Expect(t, 401)
	e.Do("GET", "/api/users", nil, testkit.APIKey(key)).Expect(t, 401)
	var me testkit.Envelope[struct {
		Permissions []string `json:"permissions"`
		User        usView   `json:"user"`
	}]
	e.Do("GET", "/api/auth/me", nil, testkit.Bearer(ntok)).Expect(t, 200).JSON(t, &me)
	if len(me.Data.Permissions) != 0 || me.Data.User.ID != reborn.ID {
		t.Fatalf("the new user's /me: %s", testkit.MustJSON(me))
	}
	e.Do("GET", "/api/users", nil, testkit.Bearer(ntok)).Expect(t, 403)
	e.Do("GET", "/api/datastores/"+ds, nil, testkit.Bearer(ntok)).Expect(t, 404)
	var list testkit.Envelope[[]testkit.Datastore]
	e.Do("GET", "/api/datastores", nil, testkit.Bearer(ntok)).Expect(t, 200).JSON(t, &list)
	if list.Page.Total != 0 {
		t.Fatalf("the new user sees the old one's datastores: %s", testkit.MustJSON(list))
	}
	var keys testkit.Envelope[[]struct{}]
	e.Do("GET", "/api/auth/api-keys", nil, testkit.Bearer(ntok)).Expect(t, 200).JSON(t, &keys)
	if keys.Page.Total != 0 {
		t.Fatalf("the new user holds the old one's keys: %d", keys.Page.Total)
	}
}

func TestUsersDisableKillsTokenAtOnce(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Bearer(e.AdminToken())
	u := e.NewUser("dormant", false, e.Permission("Data Management"))
	tok := e.Login(u.Name, u.Password)
	key := e.NewKey(tok, map[string]any{"validTo": testkit.ValidTo(e)})
	e.Do("GET", "/api/auth/me", nil, testkit.Bearer(tok)).Expect(t, 200)
	e.Do("GET", "/api/auth/me", nil, testkit.APIKey(key)).Expect(t, 200)
	var got testkit.Envelope[usView]
	e.Do("PATCH", "/api/users/"+u.ID.String(), map[string]any{"disabled": true}, admin).Expect(t, 200).JSON(t, &got)
	if !got.Data.Disabled {
		t.Fatalf("PATCH answer: %+v", got.Data)
	}
	e.Do("GET", "/api/auth/me", nil, testkit.Bearer(tok)).Expect(t, 401)
	e.Do("GET", "/api/datastores", nil, testkit.Bearer(tok)).Expect(t, 401)
	e.Do("GET", "/api/auth/me", nil, testkit.APIKey(key)).Expect(t, 401)
	r := usLogin(e, u.Name, u.Password).Expect(t, 401)
	if p := testkit.ProblemOf(t, r); !strings.HasSuffix(p.Type, "/disabled") {
		t.Errorf("a disabled user's correct password: %s", r.Body)
	}
	// enabling again does not revive the old token
	e.Do("PATCH", "/api/users/"+u.ID.String(), map[string]any{"disabled": false}, admin).Expect(t, 200)
	e.Do("GET", "/api/auth/me", nil, testkit.Bearer(tok)).Expect(t, 401)
	e.Do("GET", "/api/auth/me", nil, testkit.Bearer(e.Login(u.Name, u.Password))).Expect(t, 200)
}

func TestUsersChangePassword(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Bearer(e.AdminToken())
	pwPath := func(id uuid.UUID) string { return "/api/users/" + id.String() + "/password" }

	t.Run("own, with the old password", func(t *testing.T) {
		se := testkit.Sub(e, t)
		u := se.NewUser("self_changer", false)
		tok := se.Login(u.Name, u.Password)
		se.Do("PUT", pwPath(u.ID), map[string]any{"oldPassword": u.Password, "newPassword": "Fresh#Pass1"}, testkit.Bearer(tok)).Expect(t, 204)
		se.Do("GET", "/api/auth/me", nil, testkit.Bearer(tok)).Expect(t, 401)
		usLogin(se, u.Name, u.Password).Expect(t, 401)
		ntok := se.Login(u.Name, "Fresh#Pass1")
		if got := usGet(t, se, admin, u.ID.String()); got.DefaultPassword {
			t.Errorf("a password the user chose is marked default")
		}
		se.Do("GET", "/api/auth/me", nil, testkit.Bearer(ntok)).Expect(t, 200)
	})

	t.Run("own, with a wrong or no old password", func(t *testing.T) {
		se := testkit.Sub(e, t)
		u := se.NewUser("forgetful", false)
		tok := testkit.Bearer(se.Login(u.Name, u.Password))
		testkit.ExpectField(t, se.Do("PUT", pwPath(u.ID), map[string]any{"newPassword": "Fresh#Pass1"}, tok), "oldPassword")
		testkit.ExpectField(t, se.Do("PUT", pwPath(u.ID), map[string]any{"oldPassword": "", "newPassword": "Fresh#Pass1"}, tok), "oldPassword")
		se.Do("GET", "/api/auth/me", nil, tok).Expect(t, 200) // no failure counted so far
		testkit.ExpectField(t, se.Do("PUT", pwPath(u.ID), map[string]any{"oldPassword": "Wrong#pass1", "newPassword": "Fresh#Pass1"}, tok), "oldPassword")
		testkit.ExpectField(t, se.Do("PUT", pwPath(u.ID), map[string]any{"oldPassword": "Wrong#pass2", "newPassword": "Fresh#Pass1"}, tok), "oldPassword")
		// the third wrong old password locks the name, like a third failed login
		r := se.Do("PUT", pwPath(u.ID), map[string]any{"oldPassword": "Wrong#pass3", "newPassword": "Fresh#Pass1"}, tok)
		if r.Status != 400 && r.Status != 403 {
			t.Errorf("third wrong old password: status %d; body %s", r.Status, r.Body)
		}
		usExpectLocked(t, se, u.Name, u.Password)
		usLogin(se, u.Name, "Fresh#Pass1").Expect(t, 401)
		if got := usGet(t, se, admin, u.ID.String()); !got.Locked || got.LockedUntil == nil {
			t.Errorf("the user is not shown locked: %+v", got)
		}
	})

	t.Run("another's, by an admin", func(t *testing.T) {
		se := testkit.Sub(e, t)
		u := se.NewUser("reset_me", false)
		if got := usGet(t, se, admin, u.ID.String()); got.DefaultPassword {
			t.Fatalf("the fixture user starts with a default password")
		}
		tok := se.Login(u.Name, u.Password)
		se.Do("PUT", pwPath(u.ID), map[string]any{"newPassword": "Given#Pass1"}, admin).Expect(t, 204)
		if got := usGet(t, se, admin, u.ID.String()); !got.DefaultPassword {
			t.Errorf("an admin-set password is not marked default")
		}
		se.Do("GET", "/api/auth/me", nil, testkit.Bearer(tok)).Expect(t, 401)
		usLogin(se, u.Name, u.Password).Expect(t, 401)
		se.Login(u.Name, "Given#Pass1")
	})

	t.Run("another's, without User Management", func(t *testing.T) {
		se := testkit.Sub(e, t)
		victim := se.NewUser("victim", false)
		// Data Management is no help, and neither is knowing the old password
		mallory := se.NewUser("mallory", false, se.Permission("Data Management"))
		mtok := testkit.Bearer(se.Login(mallory.Name, mallory.Password))
		se.Do("PUT", pwPath(victim.ID), map[string]any{"newPassword": "Taken#Over1"}, mtok).Expect(t, 403)
		se.Do("PUT", pwPath(victim.ID), map[string]any{"oldPassword": victim.Password, "newPassword": "Taken#Over1"}, mtok).Expect(t, 403)
		se.Login(victim.Name, victim.Password)
		// a manager cannot reset an admin's
		m := se.NewUser("pw_manager", false, se.Permission("User Management"))
		rootID := testkit.WhoAmI(t, se, se.AdminToken())
		se.Do("PUT", "/api/users/"+rootID+"/password", map[string]any{"newPassword": "Taken#Over1"},
			testkit.Bearer(se.Login(m.Name, m.Password))).Expect(t, 403)
		se.AdminToken()
	})

	t.Run("never with an API key", func(t *testing.T) {
		se := testkit.Sub(e, t)
		u := se.NewUser("key_holder", false, se.Permission("User Management"))
		key := se.NewKey(se.Login(u.Name, u.Password), map[string]any{"validTo": testkit.ValidTo(se),
			"permissions": []string{se.Permission("User Management")}})
		other := se.NewUser("key_target", false)
		for _, opt := range []testkit.ReqOpt{testkit.APIKey(key), testkit.QueryKey(key)} {
			se.Do("PUT", pwPath(u.ID), map[string]any{"oldPassword": u.Password, "newPassword": "Via#Key123"}, opt).Expect(t, 401)
			se.Do("PUT", pwPath(other.ID), map[string]any{"newPassword": "Via#Key123"}, opt).Expect(t, 401)
		}
		se.Login(u.Name, u.Password)
		se.Login(other.Name, other.Password)
	})

	t.Run("of nobody", func(t *testing.T) {
		se := testkit.Sub(e, t)
		se.Do("PUT", pwPath(uuid.Must(uuid.NewV7())), map[string]any{"newPassword": "Nobody#123"}, admin).Expect(t, 404)
		testkit.ExpectField(t, se.Do("PUT", "/api/users/me/password", map[string]any{"newPassword": "Nobody#123"}, admin), "id")
	})
}

func TestUsersUnlock(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Bearer(e.AdminToken())
	u := e.NewUser("locked_out", false)
	usLock(t, e, u.Name)
	usExpectLocked(t, e, u.Name, u.Password)
	if got := usGet(t, e, admin, u.ID.String()); !got.Locked || got.LockedUntil == nil {
		t.Fatalf("the user is not shown locked: %+v", got)
	}
	testkit.ExpectField(t, e.Do("PATCH", "/api/users/"+u.ID.String(), map[string]any{"locked": true}, admin), "locked")
	var got testkit.Envelope[usView]
	e.Do("PATCH", "/api/users/"+u.ID.String(), map[string]any{"locked": false}, admin).Expect(t, 200).JSON(t, &got)
	if got.Data.Locked || got.Data.LockedUntil != nil {
		t.Errorf("PATCH answer still locked: %+v", got.Data)
	}
	e.Login(u.Name, u.Password) // at once: the clock has not moved
	// and the counter restarted: two failures do not lock again
	usLogin(e, u.Name, "Wrong#pass1").Expect(t, 401)
	usLogin(e, u.Name, "Wrong#pass1").Expect(t, 401)
	e.Login(u.Name, u.Password)
}

func TestUsersListPagingAndFilter(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Bearer(e.AdminToken())
	names := []string{"Pg_Echo", "pg_alpha", "PG_DELTA", "pg_Charlie", "pg_bravo", "pg_golf", "pg_Foxtrot"}
	for _, n := range names {
		e.NewUser(n, false)
	}
	e.NewUser("other", false)
	const total = 9 // with ADMIN and other
	var list testkit.Envelope[[]usView]
	got := func(q string) []string {
		t.Helper()
		e.Do("GET", "/api/users"+q, nil, admin).Expect(t, 200).JSON(t, &list)
		out := make([]string, len(list.Data))
		for i, u := range list.Data {
			out[i] = u.Username
		}
		return out
	}
	check := func(q string, want []string, offset, limit, tot int) {
		t.Helper()
		g := got(q)
		if strings.Join(g, ",") != strings.Join(want, ",") {
			t.Errorf("%s: %v, want %v", q, g, want)
		}
		if list.Page == nil || list.Page.Offset != offset || list.Page.Limit != limit || list.Page.Total != tot {
			t.Errorf("%s: page %+v, want offset %d limit %d total %d", q, list.Page, offset, limit, tot)
		}
	}
	check("", []string{"ADMIN", "other", "pg_alpha", "pg_bravo", "pg_Charlie", "PG_DELTA", "Pg_Echo", "pg_Foxtrot", "pg_golf"}, 0, 50, total)
	check("?limit=3", []string{"ADMIN", "other", "pg_alpha"}, 0, 3, total)
	check("?offset=3&limit=3", []string{"pg_bravo", "pg_Charlie", "PG_DELTA"}, 3, 3, total)
	check("?offset=7&limit=3", []string{"pg_Foxtrot", "pg_golf"}, 7, 3, total)
	check("?offset=20", []string{}, 20, 50, total)
	check("?name=PG_", []string{"pg_alpha", "pg_bravo", "pg_Charlie", "PG_DELTA", "Pg_Echo", "pg_Foxtrot", "pg_golf"}, 0, 50, 7)
	check("?name=g_d", []string{"PG_DELTA"}, 0, 50, 1)
	check("?name=pG&offset=5&limit=5", []string{"pg_Foxtrot", "pg_golf"}, 5, 5, 7)
	check("?name=zulu", []string{}, 0, 50, 0)
	testkit.ExpectField(t, e.Do("GET", "/api/users?limit=0", nil, admin), "limit")
	testkit.ExpectField(t, e.Do("GET", "/api/users?limit=501", nil, admin), "limit")
	testkit.ExpectField(t, e.Do("GET", "/api/users?offset=-1", nil, admin), "offset")
}

// usStored fails unless the stored user's admin column and ROLE_ADMIN in its authorities
// both say admin.
func usStored(t *testing.T, e *testkit.Env, id uuid.UUID, admin bool) {
	t.Helper()
	u, err := db.UserByID(context.Background(), e.DB, id)
	if err != nil {
		t.Fatal(err)
	}
	if u.Admin != admin || slices.Contains(u.Authorities, "ROLE_ADMIN") != admin {
		t.Fatalf("stored user: admin column %v, authorities %v; want admin %v in both", u.Admin, u.Authorities, admin)
	}
}

// Groups without ROLE_ADMIN demote, on both faces; the built-in ADMIN refuses a demotion
// but accepts a change that keeps it admin; admin and authorities never disagree.
func TestUsersDemotionByAuthorities(t *testing.T) {
	e := testkit.New(t)
	root := testkit.Bearer(e.AdminToken())
	rootID := uuid.MustParse(testkit.WhoAmI(t, e, e.AdminToken()))
	other := e.NewUser("other_admin", true)
	otok := testkit.Bearer(e.Login(other.Name, other.Password))
	id := other.ID.String()
	e.Do("GET", "/api/users", nil, otok).Expect(t, 200)

	var u testkit.Envelope[usView]
	e.Do("PATCH", "/api/users/"+id, map[string]any{"authorities": []string{"ALL_USERS", "ROLE_ANALYST"}}, root).Expect(t, 200).JSON(t, &u)
	if u.Data.Admin {
		t.Errorf("authorities without ROLE_ADMIN answered an admin: %+v", u.Data)
	}
	usStored(t, e, other.ID, false)
	// the demoted user's token now carries a plain user's rights
	e.Do("GET", "/api/users", nil, otok).Expect(t, 403)

	// groups with ROLE_ADMIN promote
	e.Do("PATCH", "/api/users/"+id, map[string]any{"authorities": []string{"ROLE_ADMIN", "ROLE_ANALYST"}}, root).Expect(t, 200).JSON(t, &u)
	if !u.Data.Admin {
		t.Errorf("authorities with ROLE_ADMIN answered a non-admin: %+v", u.Data)
	}
	usStored(t, e, other.ID, true)
	// admin and authorities that disagree are refused, and change nothing
	testkit.ExpectField(t, e.Do("PATCH", "/api/users/"+id, map[string]any{"admin": false, "authorities": []string{"ROLE_ADMIN"}}, root), "authorities")
	testkit.ExpectField(t, e.Do("PATCH", "/api/users/"+id, map[string]any{"admin": true, "authorities": []string{"ALL_USERS"}}, root), "authorities")
	usStored(t, e, other.ID, true)

	// the same on the Kylin face
	testkit.KylinOK[testkit.KylinUser](t, e.Do("PUT", "/kylin/api/user", map[string]any{"username": other.Name, "authorities": []string{"ROLE_MODELER"}},
		testkit.Basic("ADMIN", testkit.AdminPassword)))
	usStored(t, e, other.ID, false)
	testkit.KylinOK[testkit.KylinUser](t, e.Do("PUT", "/kylin/api/user", map[string]any{"username": other.Name, "authorities": []string{"ROLE_ADMIN"}},
		testkit.Basic("ADMIN", testkit.AdminPassword)))
	usStored(t, e, other.ID, true)

	// the built-in ADMIN: a demotion is refused, a change that keeps it admin is not
	for _, tok := range []testkit.ReqOpt{root, otok} {
		e.Do("PATCH", "/api/users/"+rootID.String(), map[string]any{"authorities": []string{"ROLE_MODELER"}}, tok).Expect(t, 403)
		usStored(t, e, rootID, true)
		for _, noop := range []map[string]any{{"admin": true}, {"authorities": []string{"ALL_USERS", "ROLE_ADMIN"}},
			{"admin": true, "authorities": []string{"ROLE_ADMIN", "ROLE_MODELER"}}, {"disabled": false}} {
			e.Do("PATCH", "/api/users/"+rootID.String(), noop, tok).Expect(t, 200).JSON(t, &u)
			if !u.Data.Admin || u.Data.Disabled {
				t.Errorf("%v changed the built-in ADMIN: %+v", noop, u.Data)
			}
			usStored(t, e, rootID, true)
		}
	}
	testkit.KylinOK[testkit.KylinUser](t, e.Do("PUT", "/kylin/api/user", map[string]any{"username": "ADMIN", "authorities": []string{"ROLE_ADMIN"}},
		testkit.Basic("ADMIN", testkit.AdminPassword)))
	// a user without ROLE_ADMIN asking for it on themselves is a plain non-admin no-op
	plain := e.NewUser("plain_um", false, e.Permission("User Management"))
	ptok := testkit.Bearer(e.Login(plain.Name, plain.Password))
	e.Do("PATCH", "/api/users/"+plain.ID.String(), map[string]any{"authorities": []string{"ROLE_ANALYST"}}, ptok).Expect(t, 200)
	e.Do("PATCH", "/api/users/"+plain.ID.String(), map[string]any{"authorities": []string{"ROLE_ADMIN"}}, ptok).Expect(t, 403)
	usStored(t, e, plain.ID, false)
}

// Changing one's own password while the login name is locked is refused as locked on
// both faces: Kylin's locked code, and the problem says until when.
func TestUsersPasswordChangeWhileLocked(t *testing.T) {
	e := testkit.New(t)
	u := e.NewUser("locked_changer", false)
	tok := testkit.Bearer(e.Login(u.Name, u.Password))
	usLock(t, e, u.Name)
	usExpectLocked(t, e, u.Name, u.Password)

	r := e.Do("PUT", "/api/users/"+u.ID.String()+"/password", map[string]any{"oldPassword": u.Password, "newPassword": "Fresh#Pass1"}, tok).Expect(t, 403)
	if p := testkit.ProblemOf(t, r); p.LockedUntil == "" || !strings.Contains(p.Detail, "locked") {
		t.Errorf("Kala: the refusal does not say locked until when: %s", r.Body)
	}
	ke := testkit.KylinExpectErr(t, e.Do("PUT", "/kylin/api/user/password", map[string]any{"username": u.Name, "password": u.Password,
		"new_password": "Fresh#Pass1"}, tok), 403, "KE-010003005")
	if ke.Suggestion == nil || !strings.Contains(*ke.Suggestion, "Try again after") {
		t.Errorf("Kylin: the refusal does not say until when: %+v", ke)
	}
	e.Clock.Advance(time.Hour)
	e.Login(u.Name, u.Password)
}

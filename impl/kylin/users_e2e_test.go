package kylin_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"testing"
	"time"

	"github.com/kala-server/kala/impl/testkit"
)

// kuList lists users on the Kylin surface.
func kuList(t *testing.T, e *testkit.Env, auth testkit.ReqOpt, query url.Values) testkit.KylinPage[testkit.KylinUser] {
	t.Helper()
	return testkit.KylinOK[testkit.KylinPage[testkit.KylinUser]](t, e.Do("GET", "/kylin/api/user?"+query.Encode(), nil, auth))
}

// kuGet reads one user through the Kylin list (exact name, as ADMIN).
func kuGet(t *testing.T, e *testkit.Env, name string) testkit.KylinUser {
	t.Helper()
	p := kuList(t, e, testkit.Basic("ADMIN", testkit.AdminPassword), url.Values{"name": {name}, "is_case_sensitive": {"true"}})
	for _, u := range p.Value {
		if u.Username == name {
			return u
		}
	}
	t.Fatalf("user %s not listed", name)
	return testkit.KylinUser{}
}

func kuNames(us []testkit.KylinUser) []string {
	out := make([]string, len(us))
	for i, u := range us {
		out[i] = u.Username
	}
	return out
}

// page_offset is a page index, not a row offset; total_size counts every match.
func TestKylinUsersListPaging(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	for i := range 25 {
		e.NewUser(fmt.Sprintf("ku_user%02d", i), false)
	}

	p := kuList(t, e, admin, url.Values{"name": {"ku_user"}, "page_size": {"10"}, "page_offset": {"2"}})
	if p.TotalSize != 25 || p.Offset != 2 || p.Limit != 10 || len(p.Value) != 5 {
		t.Fatalf("filtered page 2: total %d offset %d limit %d items %v", p.TotalSize, p.Offset, p.Limit, kuNames(p.Value))
	}
	if p.Value[0].Username != "ku_user20" || p.Value[4].Username != "ku_user24" {
		t.Errorf("filtered page 2 holds %v", kuNames(p.Value))
	}

	// without a filter ADMIN is there too (first in name order)
	p = kuList(t, e, admin, url.Values{"page_size": {"10"}, "page_offset": {"2"}})
	if p.TotalSize != 26 || len(p.Value) != 6 || p.Value[0].Username != "ku_user19" {
		t.Errorf("unfiltered page 2: total %d items %v", p.TotalSize, kuNames(p.Value))
	}
	p = kuList(t, e, admin, url.Values{"page_size": {"10"}, "page_offset": {"0"}})
	if len(p.Value) != 10 || p.Value[0].Username != "ADMIN" {
		t.Errorf("unfiltered page 0: %v", kuNames(p.Value))
	}

	// defaults: page 0, 10 items
	p = kuList(t, e, admin, url.Values{"name": {"ku_user"}})
	if p.Offset != 0 || p.Limit != 10 || len(p.Value) != 10 || p.Value[0].Username != "ku_user00" {
		t.Errorf("defaults: offset %d limit %d %v", p.Offset, p.Limit, kuNames(p.Value))
	}
	// past the end: empty page, same total
	p = kuList(t, e, admin, url.Values{"name": {"ku_user"}, "page_size": {"10"}, "page_offset": {"3"}})
	if p.TotalSize != 25 || len(p.Value) != 0 {
		t.Errorf("page 3: total %d items %v", p.TotalSize, kuNames(p.Value))
	}
	// one big page
	p = kuList(t, e, admin, url.Values{"page_size": {"500"}})
	if len(p.Value) != 26 {
		t.Errorf("page_size 500: %d items", len(p.Value))
	}
	// bad paging is a 400 in the envelope
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/user?page_size=2147483648", nil, admin), 400, "KE-010000003")
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/user?page_offset=-1", nil, admin), 400, "KE-010000003")
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/user?page_size=0", nil, admin), 400, "KE-010000003")
}

func TestKylinUsersNameFilterCase(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	e.NewUser("MixedAnalyst", false)
	e.NewUser("mixedbuilder", false)
	e.NewUser("other", false)
	cases := []struct {
		name, sensitive string
		want            []string
	}{
		{"mixed", "false", []string{"MixedAnalyst", "mixedbuilder"}},
		{"MIXED", "false", []string{"MixedAnalyst", "mixedbuilder"}},
		{"mixed", "", []string{"MixedAnalyst", "mixedbuilder"}}, // default: any case
		{"mixed", "true", []string{"mixedbuilder"}},
		{"Mixed", "true", []string{"MixedAnalyst"}},
		{"MIXED", "true", nil},
		{"analyst", "false", []string{"MixedAnalyst"}},
		{"nothing", "false", nil},
		{"%", "false", nil}, // a substring, not a LIKE pattern
		{"_", "true", nil},
	}
	for _, c := range cases {
		q := url.Values{"name": {c.name}}
		if c.sensitive != "" {
			q.Set("is_case_sensitive", c.sensitive)
		}
		p := kuList(t, e, admin, q)
		got := kuNames(p.Value)
		if fmt.Sprint(got) != fmt.Sprint(append([]string{}, c.want...)) || p.TotalSize != len(c.want) {
			t.Errorf("name=%q is_case_sensitive=%q: %v (total %d), want %v", c.name, c.sensitive, got, p.TotalSize, c.want)
		}
	}
}

func TestKylinUsersCreateRules(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	create := func(body map[string]any) *testkit.Resp { return e.Do("POST", "/kylin/api/user", body, admin) }

	testkit.KylinExpectErr(t, create(map[string]any{"username": "k_short", "password": "Ab1#xyz"}), 400, "KE-010005002")
	testkit.KylinExpectErr(t, create(map[string]any{"username": "k_weak1", "password": "abcdefgh1"}), 400, "KE-010005001") // no special
	testkit.KylinExpectErr(t, create(map[string]any{"username": "k_weak2", "password": "abcdefgh#"}), 400, "KE-010005001") // no digit
	testkit.KylinExpectErr(t, create(map[string]any{"username": "k_weak3", "password": "12345678#"}), 400, "KE-010005001") // no letter
	testkit.KylinExpectErr(t, create(map[string]any{"username": "bad:name", "password": "Welcome#2026"}), 400, "KE-010000003")
	testkit.KylinExpectErr(t, create(map[string]any{"username": ".dotted", "password": "Welcome#2026"}), 400, "KE-010000003")
	// authorities other than the built-in ones name user groups, which must exist
	testkit.KylinExpectErr(t, create(map[string]any{"username": "k_x", "password": "Welcome#2026", "authorities": []string{"ROLE_NOPE"}}), 400, "KE-010004001")
	var n int
	if err := e.DB.Get(&n, `SELECT count(*) FROM users`); err != nil || n != 1 {
		t.Fatalf("refused creates left users behind: %d (%v)", n, err)
	}

	r := create(map[string]any{"username": "Analyst_K", "password": "Welcome#2026", "disabled": true, "authorities": []string{"ROLE_ANALYST"}})
	u := testkit.KylinOK[testkit.KylinUser](t, r)
	if u.Username != "Analyst_K" || !u.Disabled || !u.DefaultPassword || !u.Has("ALL_USERS") || !u.Has("ROLE_ANALYST") || u.Has("ROLE_ADMIN") {
		t.Errorf("created: %s", r.Body)
	}
	// the same name in another case is a duplicate (Kylin's code)
	testkit.KylinExpectErr(t, create(map[string]any{"username": "analyst_k", "password": "Welcome#2026"}), 409, "KE-010003004")
	testkit.KylinExpectErr(t, create(map[string]any{"username": "ANALYST_K", "password": "Welcome#2026"}), 409, "KE-010003004")

	// a User Management holder who is not an admin cannot make an admin
	um := e.NewUser("k_um", false, e.Permission("User Management"))
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/user", map[string]any{"username": "k_admin2", "password": "Welcome#2026",
		"authorities": []string{"ALL_USERS", "ROLE_ADMIN"}}, testkit.Basic(um.Name, um.Password)), 403, "KE-010024001")
	// but can make others
	testkit.KylinOK[testkit.KylinUser](t, e.Do("POST", "/kylin/api/user", map[string]any{"username": "k_plain", "password": "Welcome#2026"}, testkit.Basic(um.Name, um.Password)))
}

// PUT /kylin/api/user changes only the fields given.
func TestKylinUsersPartialUpdate(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	created := testkit.KylinOK[testkit.KylinUser](t, e.Do("POST", "/kylin/api/user", map[string]any{"username": "k_part", "password": "Welcome#2026",
		"authorities": []string{"ALL_USERS", "ROLE_MODELER"}}, admin))

	e.Clock.Advance(time.Minute)
	r := e.Do("PUT", "/kylin/api/user", map[string]any{"username": "K_PART", "disabled": true}, admin)
	u := testkit.KylinOK[testkit.KylinUser](t, r)
	if !u.Disabled || !u.Has("ROLE_MODELER") || !u.Has("ALL_USERS") || u.Has("ROLE_ANALYST") {
		t.Errorf("after disabling: %s", r.Body)
	}
	if u.CreateTime != created.CreateTime || u.LastModified != e.Clock.Now().UnixMilli() || u.UUID != created.UUID {
		t.Errorf("times: create %d (was %d), last_modified %d (now %d)", u.CreateTime, created.CreateTime, u.LastModified, e.Clock.Now().UnixMilli())
	}

	r = e.Do("PUT", "/kylin/api/user", map[string]any{"username": "k_part", "authorities": []string{"ALL_USERS", "ROLE_ANALYST"}}, admin)
	u = testkit.KylinOK[testkit.KylinUser](t, r)
	if !u.Disabled || !u.Has("ROLE_ANALYST") || u.Has("ROLE_MODELER") || !u.Has("ALL_USERS") {
		t.Errorf("after changing authorities: %s", r.Body)
	}
	// ALL_USERS stays even if left out
	u = testkit.KylinOK[testkit.KylinUser](t, e.Do("PUT", "/kylin/api/user", map[string]any{"username": "k_part", "authorities": []string{"ROLE_ANALYST"}, "disabled": false}, admin))
	if u.Disabled || !u.Has("ALL_USERS") || !u.Has("ROLE_ANALYST") {
		t.Errorf("after enabling: %+v", u)
	}
	// only the username: nothing changes
	same := testkit.KylinOK[testkit.KylinUser](t, e.Do("PUT", "/kylin/api/user", map[string]any{"username": "k_part"}, admin))
	if same.Disabled != u.Disabled || len(same.Authorities) != len(u.Authorities) {
		t.Errorf("an empty update changed the user: %+v", same)
	}
	// an admin reset of the password: default_password, old one dead, new one alive
	u = testkit.KylinOK[testkit.KylinUser](t, e.Do("PUT", "/kylin/api/user", map[string]any{"username": "k_part", "password": "Reset#2026x"}, admin))
	if !u.DefaultPassword {
		t.Errorf("an admin reset is not marked default: %+v", u)
	}
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/projects", nil, testkit.Basic("k_part", "Welcome#2026")), 401, "KE-010003208")
	testkit.KylinOK[json.RawMessage](t, e.Do("GET", "/kylin/api/projects", nil, testkit.Basic("k_part", "Reset#2026x")))
	testkit.KylinExpectErr(t, e.Do("PUT", "/kylin/api/user", map[string]any{"username": "k_part", "password": "short#1"}, admin), 400, "KE-010005002")

	testkit.KylinExpectErr(t, e.Do("PUT", "/kylin/api/user", map[string]any{"username": "nobody", "disabled": true}, admin), 404, "KE-010003001")
	// the built-in ADMIN cannot be disabled or demoted
	testkit.KylinExpectErr(t, e.Do("PUT", "/kylin/api/user", map[string]any{"username": "ADMIN", "disabled": true}, admin), 403, "KE-010024001")
	testkit.KylinExpectErr(t, e.Do("PUT", "/kylin/api/user", map[string]any{"username": "ADMIN", "authorities": []string{"ALL_USERS"}}, admin), 403, "KE-010024001")
	if a := kuGet(t, e, "ADMIN"); a.Disabled || !a.Has("ROLE_ADMIN") {
		t.Errorf("ADMIN changed: %+v", a)
	}
}

// Without User Management: 403 with Kylin's access-denied code, and nothing changes.
func TestKylinUsersNeedUserManagement(t *testing.T) {
	e := testkit.New(t)
	u := e.NewUser("k_nobody", false, e.Permission("Data Management"))
	victim := e.NewUser("k_victim", false)
	basic := testkit.Basic(u.Name, u.Password)
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/user", nil, basic), 403, "KE-010024001")
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/user", map[string]any{"username": "k_new", "password": "Welcome#2026"}, basic), 403, "KE-010024001")
	testkit.KylinExpectErr(t, e.Do("PUT", "/kylin/api/user", map[string]any{"username": victim.Name, "disabled": true}, basic), 403, "KE-010024001")
	testkit.KylinExpectErr(t, e.Do("DELETE", "/kylin/api/user/"+victim.Name, nil, basic), 403, "KE-010024001")
	// nor another user's password, even through the password endpoint
	testkit.KylinExpectErr(t, e.Do("PUT", "/kylin/api/user/password", map[string]any{"username": victim.Name, "new_password": "Taken#2026x"}, basic), 403, "KE-010024001")
	if v := kuGet(t, e, victim.Name); v.Disabled {
		t.Error("the victim was disabled")
	}
	var n int
	if err := e.DB.Get(&n, `SELECT count(*) FROM users WHERE username_key = 'k_new'`); err != nil || n != 0 {
		t.Errorf("k_new exists: %d %v", n, err)
	}
	testkit.KylinOK[json.RawMessage](t, e.Do("GET", "/kylin/api/projects", nil, testkit.Basic(victim.Name, victim.Password)))
}

func TestKylinUsersDelete(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	gone := e.NewUser("k_gone", false)
	c := testkit.KylinLogin(t, e, gone.Name, gone.Password)
	testkit.KylinOK[json.RawMessage](t, e.Do("GET", "/kylin/api/projects", nil, testkit.Basic(gone.Name, gone.Password))) // cached

	testkit.KylinOK[json.RawMessage](t, e.Do("DELETE", "/kylin/api/user/K_Gone", nil, admin))
	testkit.KylinExpectErr(t, e.Do("DELETE", "/kylin/api/user/k_gone", nil, admin), 404, "KE-010003001")
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/projects", nil, testkit.SessionCookie(c)), 401, "KE-010003208")
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/projects", nil, testkit.Basic(gone.Name, gone.Password)), 401, "KE-010003208")
	if p := kuList(t, e, admin, url.Values{"name": {"k_gone"}}); p.TotalSize != 0 {
		t.Errorf("still listed: %v", kuNames(p.Value))
	}

	// ADMIN cannot be deleted, even by another admin
	other := e.NewUser("k_admin2", true)
	testkit.KylinExpectErr(t, e.Do("DELETE", "/kylin/api/user/ADMIN", nil, testkit.Basic(other.Name, other.Password)), 403, "KE-010024001")
	// nobody deletes themselves
	testkit.KylinExpectErr(t, e.Do("DELETE", "/kylin/api/user/"+other.Name, nil, testkit.Basic(other.Name, other.Password)), 403, "KE-010024001")
	um := e.NewUser("k_um", false, e.Permission("User Management"))
	testkit.KylinExpectErr(t, e.Do("DELETE", "/kylin/api/user/k_um", nil, testkit.Basic(um.Name, um.Password)), 403, "KE-010024001")
	// a non-admin cannot delete an admin
	testkit.KylinExpectErr(t, e.Do("DELETE", "/kylin/api/user/"+other.Name, nil, testkit.Basic(um.Name, um.Password)), 403, "KE-010024001")
	var n int
	if err := e.DB.Get(&n, `SELECT count(*) FROM users`); err != nil || n != 3 {
		t.Errorf("users left: %d (%v), want ADMIN, k_admin2, k_um", n, err)
	}
}

func TestKylinUsersOwnPasswordChange(t *testing.T) {
	e := testkit.New(t)
	u := e.NewUser("k_self", false)
	basic := testkit.Basic(u.Name, u.Password)
	change := func(old, nw string, auth testkit.ReqOpt) *testkit.Resp {
		body := map[string]any{"username": u.Name, "new_password": nw}
		if old != "" {
			body["password"] = old
		}
		return e.Do("PUT", "/kylin/api/user/password", body, auth)
	}
	testkit.KylinExpectErr(t, change("Wrong#old1", "N3w-Secret#2026", basic), 400, "KE-010005003")
	if got := kuGet(t, e, u.Name); got.WrongTime != 1 {
		t.Errorf("a wrong old password does not count toward the lockout: wrong_time %d", got.WrongTime)
	}
	testkit.KylinExpectErr(t, change("", "N3w-Secret#2026", basic), 400, "KE-010000003")
	testkit.KylinExpectErr(t, change(u.Password, "short#1", basic), 400, "KE-010005002")
	testkit.KylinExpectErr(t, change(u.Password, "longenough1", basic), 400, "KE-010005001")

	testkit.KylinOK[json.RawMessage](t, change(u.Password, "N3w-Secret#2026", basic))
	got := kuGet(t, e, u.Name)
	if got.DefaultPassword || got.WrongTime != 0 {
		t.Errorf("after the change: default_password %v wrong_time %d", got.DefaultPassword, got.WrongTime)
	}
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/projects", nil, basic), 401, "KE-010003208")
	testkit.KylinOK[json.RawMessage](t, e.Do("GET", "/kylin/api/projects", nil, testkit.Basic(u.Name, "N3w-Secret#2026")))

	// API keys cannot change passwords
	tok := e.Login(u.Name, "N3w-Secret#2026")
	key := e.NewKey(tok, map[string]any{"validTo": e.Clock.Now().Add(time.Hour).Format(time.RFC3339)})
	testkit.KylinExpectErr(t, e.Do("PUT", "/kylin/api/user/password", map[string]any{"username": u.Name, "password": "N3w-Secret#2026",
		"new_password": "Other#2026x"}, testkit.APIKey(key)), 403, "KE-010024001")
	e.MustNotLog("N3w-Secret#2026")
}

// The user object's fields, with values, through a lockout.
func TestKylinUsersObjectFields(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	created := e.Clock.Now()
	r := e.Do("POST", "/kylin/api/user", map[string]any{"username": "Field_User", "password": "Welcome#2026"}, admin)
	var raw struct {
		Data map[string]json.RawMessage `json:"data"`
	}
	r.JSON(t, &raw)
	for _, f := range []string{"uuid", "username", "authorities", "disabled", "default_password", "locked", "locked_time",
		"wrong_time", "first_login_failed_time", "create_time", "last_modified"} {
		if _, ok := raw.Data[f]; !ok {
			t.Errorf("the user object lacks %s: %s", f, r.Body)
		}
	}
	if _, ok := raw.Data["password"]; ok {
		t.Errorf("the user object carries a password field: %s", r.Body)
	}
	u := testkit.KylinOK[testkit.KylinUser](t, r)
	var id string
	if err := e.DB.Get(&id, `SELECT id FROM users WHERE username_key = 'field_user'`); err != nil || id != u.UUID {
		t.Errorf("uuid %s, stored %s (%v)", u.UUID, id, err)
	}
	if u.Username != "Field_User" || len(u.Authorities) != 1 || u.Authorities[0].Authority != "ALL_USERS" || u.Disabled ||
		!u.DefaultPassword || u.Locked || u.LockedTime != 0 || u.WrongTime != 0 || u.FirstLoginFailedTime != 0 ||
		u.CreateTime != created.UnixMilli() || u.LastModified != created.UnixMilli() {
		t.Errorf("new user: %s (clock %d)", r.Body, created.UnixMilli())
	}

	fail := func() {
		e.Do("POST", "/api/auth/access-token", map[string]string{"username": "field_user", "password": "Wrong#pass1"}).Expect(t, 401)
	}
	e.Clock.Advance(time.Second)
	first := e.Clock.Now()
	fail()
	e.Clock.Advance(time.Second)
	fail()
	got := kuGet(t, e, "Field_User")
	if got.WrongTime != 2 || got.Locked || got.LockedTime != 0 || got.FirstLoginFailedTime != first.UnixMilli() {
		t.Errorf("after 2 failures: %+v (first failure %d)", got, first.UnixMilli())
	}
	e.Clock.Advance(time.Second)
	third := e.Clock.Now()
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/projects", nil, testkit.Basic("FIELD_USER", "Wrong#pass1")), 401, "KE-010003005")
	got = kuGet(t, e, "Field_User")
	if got.WrongTime != 3 || !got.Locked || got.LockedTime != third.UnixMilli() || got.FirstLoginFailedTime != first.UnixMilli() {
		t.Errorf("after 3 failures: %+v (third failure %d)", got, third.UnixMilli())
	}
	// while locked the counter does not grow
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/projects", nil, testkit.Basic("field_user", "Wrong#pass1")), 401, "KE-010003005")
	if got = kuGet(t, e, "Field_User"); got.WrongTime != 3 {
		t.Errorf("a refused attempt while locked counted: wrong_time %d", got.WrongTime)
	}
	// the lock passes; a success clears everything
	e.Clock.Advance(30 * time.Second)
	if got = kuGet(t, e, "Field_User"); got.Locked || got.LockedTime != 0 {
		t.Errorf("after the lock passed: %+v", got)
	}
	testkit.KylinOK[json.RawMessage](t, e.Do("GET", "/kylin/api/projects", nil, testkit.Basic("Field_User", "Welcome#2026")))
	if got = kuGet(t, e, "Field_User"); got.WrongTime != 0 || got.FirstLoginFailedTime != 0 || got.Locked {
		t.Errorf("after a success: %+v", got)
	}
	// the admin's own object
	a := kuGet(t, e, "ADMIN")
	if !a.Has("ROLE_ADMIN") || !a.Has("ALL_USERS") {
		t.Errorf("ADMIN: %+v", a)
	}
}

// A refused PUT /kylin/api/user changes nothing: not even the password it carried.
func TestKylinUsersRefusedUpdateIsAtomic(t *testing.T) {
	e := testkit.New(t)
	other := e.NewUser("k_admin2", true)
	auth := testkit.Basic(other.Name, other.Password)
	// disabling the built-in ADMIN is refused; the password in the same body must not stick
	testkit.KylinExpectErr(t, e.Do("PUT", "/kylin/api/user", map[string]any{"username": "ADMIN", "password": "Changed#2026x", "disabled": true}, auth), 403, "KE-010024001")
	if r := e.Do("GET", "/kylin/api/projects", nil, testkit.Basic("ADMIN", testkit.AdminPassword)); r.Status != 200 {
		t.Errorf("a refused update changed ADMIN's password: the old one answers %d", r.Status)
	}
	// a User Management holder cannot make an admin; the password in that body must not stick either
	um := e.NewUser("k_um", false, e.Permission("User Management"))
	target := e.NewUser("k_target", false)
	testkit.KylinExpectErr(t, e.Do("PUT", "/kylin/api/user", map[string]any{"username": target.Name, "password": "Changed#2026x",
		"authorities": []string{"ALL_USERS", "ROLE_ADMIN"}}, testkit.Basic(um.Name, um.Password)), 403, "KE-010024001")
	if r := e.Do("GET", "/kylin/api/projects", nil, testkit.Basic(target.Name, target.Password)); r.Status != 200 {
		t.Errorf("a refused update changed %s's password: the old one answers %d", target.Name, r.Status)
	}
}

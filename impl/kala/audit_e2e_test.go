package kala_test

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kala-server/kala/impl"
	"github.com/kala-server/kala/impl/audit"
	"github.com/kala-server/kala/impl/testkit"
)

// auEvent is an event as GET /api/audit-events shows it.
type auEvent struct {
	ID         string         `json:"id"`
	At         time.Time      `json:"at"`
	Event      string         `json:"event"`
	Outcome    string         `json:"outcome"`
	Actor      *string        `json:"actor"`
	ActorName  *string        `json:"actorName"`
	Target     *string        `json:"target"`
	ClientAddr *string        `json:"clientAddr"`
	RequestID  *string        `json:"requestId"`
	Detail     map[string]any `json:"detail"`
}

type auPage struct {
	Data []auEvent `json:"data"`
	Page struct {
		Offset, Limit, Total int
	} `json:"page"`
}

// auList lists events with the given query, as the bearer of tok.
func auList(t *testing.T, e *testkit.Env, tok string, q url.Values) auPage {
	t.Helper()
	var p auPage
	e.Do("GET", "/api/audit-events?"+q.Encode(), nil, testkit.Bearer(tok)).Expect(t, 200).JSON(t, &p)
	return p
}

// auRequest sends a request id, by which a test finds the events of that request.
func auRequest(id string) testkit.ReqOpt { return testkit.Header("X-Request-Id", id) }

// auOne returns the one event named name that request rid recorded, failing otherwise.
func auOne(t *testing.T, e *testkit.Env, tok string, name audit.Name, rid string) auEvent {
	t.Helper()
	var found []auEvent
	for _, ev := range auList(t, e, tok, url.Values{"event": {string(name)}, "limit": {"500"}}).Data {
		if ev.RequestID != nil && *ev.RequestID == rid {
			found = append(found, ev)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s events of request %s, want 1: %+v", len(found), name, rid, found)
	}
	return found[0]
}

func auStr(p *string) string {
	if p == nil {
		return "<null>"
	}
	return *p
}

// auExpect checks who did it, to what, with what outcome, from where.
func auExpect(t *testing.T, ev auEvent, outcome, actor, actorName, target string) {
	t.Helper()
	if ev.Outcome != outcome || auStr(ev.Actor) != actor || auStr(ev.ActorName) != actorName || auStr(ev.Target) != target {
		t.Errorf("%s: outcome %s, actor %s (%s), target %s; want %s, %s (%s), %s", ev.Event, ev.Outcome,
			auStr(ev.Actor), auStr(ev.ActorName), auStr(ev.Target), outcome, actor, actorName, target)
	}
	if auStr(ev.ClientAddr) != "127.0.0.1" {
		t.Errorf("%s: client address %s, want 127.0.0.1", ev.Event, auStr(ev.ClientAddr))
	}
}

// auNotLogin drops login.* events, which the tests here do not make on purpose (logins
// for tokens may record them), so that the sets they compare stay exact.
func auNotLogin(evs []auEvent) []auEvent {
	return slices.DeleteFunc(slices.Clone(evs), func(ev auEvent) bool { return strings.HasPrefix(ev.Event, "login.") })
}

// auKey creates an API key in request rid and returns it with its id.
func auKey(t *testing.T, e *testkit.Env, tok, rid string, body map[string]any) (key, id string) {
	t.Helper()
	var out testkit.Envelope[string]
	e.Do("POST", "/api/auth/api-key", body, testkit.Bearer(tok), auRequest(rid)).Expect(t, 201).JSON(t, &out)
	return out.Data, testkit.KeyID(t, e, tok, out.Data)
}

// Every event the server emits appears once, in the request that caused it, with its
// actor, target, client address and request id; and no column of any row holds any of
// the passwords, tokens, keys or cookies the test used.
func TestAuditEveryEvent(t *testing.T) {
	e := testkit.New(t)
	adminTok := e.AdminToken()
	adminID := testkit.WhoAmI(t, e, adminTok)
	admin := testkit.Bearer(adminTok)
	um := e.Permission("User Management")
	secrets := []string{testkit.AdminPassword, adminTok}
	emitted := map[string]bool{}
	one := func(name audit.Name, rid string) auEvent {
		t.Helper()
		emitted[string(name)] = true
		return auOne(t, e, adminTok, name, rid)
	}

	// API keys, by the admin (bearer only)
	key, keyID := auKey(t, e, adminTok, "rq-key-create", map[string]any{"validTo": testkit.ValidTo(e), "permissions": []string{um}, "name": "audit"})
	secrets = append(secrets, key, key[len("kala_")+17:])
	ev := one(audit.APIKeyCreate, "rq-key-create")
	auExpect(t, ev, "success", adminID, "admin", keyID)
	if ev.Detail["name"] != "audit" {
		t.Errorf("api_key.create detail %v, want the key's name", ev.Detail)
	}
	spare, spareID := auKey(t, e, adminTok, "rq-key-create-2", map[string]any{"validTo": testkit.ValidTo(e)})
	secrets = append(secrets, spare, spare[len("kala_")+17:])
	e.Do("DELETE", "/api/auth/api-keys/"+spareID, nil, admin, auRequest("rq-key-revoke")).Expect(t, 204)
	auExpect(t, one(audit.APIKeyRevoke, "rq-key-revoke"), "success", adminID, "admin", spareID)

	// users, by a User Management key: the actor is the key, named by its owner
	pw1, pw2, pw3, wrong := "Audit#Pass1", "Audit#Pass2", "Audit#Pass3", "Audit#Wrong9"
	secrets = append(secrets, pw1, pw2, pw3, wrong)
	var anna testkit.Envelope[struct {
		ID string `json:"id"`
	}]
	e.Do("POST", "/api/users", map[string]any{"username": "Audit_Anna", "password": pw1}, testkit.APIKey(key),
		auRequest("rq-user-create")).Expect(t, 201).JSON(t, &anna)
	annaID := anna.Data.ID
	ev = one(audit.UserCreate, "rq-user-create")
	auExpect(t, ev, "success", "key:"+keyID, "admin", annaID)
	if ev.Detail["username"] != "Audit_Anna" {
		t.Errorf("user.create detail %v, want the username", ev.Detail)
	}
	e.Do("PATCH", "/api/users/"+annaID, map[string]any{"disabled": false, "authorities": []string{"ROLE_ANALYST"}}, admin,
		auRequest("rq-user-update")).Expect(t, 200)
	ev = one(audit.UserUpdate, "rq-user-update")
	auExpect(t, ev, "success", adminID, "admin", annaID)
	if ev.Detail["disabled"] != false || ev.Detail["authorities"] == nil || ev.Detail["permissions"] != nil {
		t.Errorf("user.update detail %v, want the fields set and only those", ev.Detail)
	}

	// passwords: reset by the admin, changed by the user (and once refused)
	e.Do("PUT", "/api/users/"+annaID+"/password", map[string]any{"newPassword": pw2}, admin, auRequest("rq-pw-reset")).Expect(t, 204)
	auExpect(t, one(audit.PasswordReset, "rq-pw-reset"), "success", adminID, "admin", annaID)
	annaTok := e.Login("Audit_Anna", pw2)
	secrets = append(secrets, annaTok)
	e.Do("PUT", "/api/users/"+annaID+"/password", map[string]any{"oldPassword": wrong, "newPassword": pw3},
		testkit.Bearer(annaTok), auRequest("rq-pw-wrong")).Expect(t, 400)
	auExpect(t, one(audit.PasswordChange, "rq-pw-wrong"), "failure", annaID, "audit_anna", annaID)
	e.Do("PUT", "/api/users/"+annaID+"/password", map[string]any{"oldPassword": pw2, "newPassword": pw3},
		testkit.Bearer(annaTok), auRequest("rq-pw-change")).Expect(t, 204)
	auExpect(t, one(audit.PasswordChange, "rq-pw-change"), "success", annaID, "audit_anna", annaID)
	annaTok = e.Login("Audit_Anna", pw3) // the change ended the old token
	secrets = append(secrets, annaTok)

	// Kylin sessions
	r := e.Do("POST", "/kylin/api/user/authentication", nil, testkit.Basic("AUDIT_anna", pw3), auRequest("rq-session-login"))
	r.Expect(t, 200)
	cookie := testkit.SessionSet(r.Header)
	if cookie == nil {
		t.Fatal("no session cookie")
	}
	secrets = append(secrets, cookie.Value)
	auExpect(t, one(audit.SessionLogin, "rq-session-login"), "success", annaID, "audit_anna", annaID)
	e.Do("POST", "/kylin/api/j_spring_security_logout", nil, testkit.SessionCookie(cookie.Value), auRequest("rq-session-logout")).Expect(t, 200)
	auExpect(t, one(audit.SessionLogout, "rq-session-logout"), "success", annaID, "audit_anna", annaID)

	// project access lists
	basic := testkit.Basic("ADMIN", testkit.AdminPassword)
	proj := testkit.KylinOK[struct {
		UUID string `json:"uuid"`
	}](t, e.Do("POST", "/kylin/api/projects", map[string]any{"name": "audited"}, basic))
	e.Do("POST", "/kylin/api/access/project", map[string]any{"project": "audited", "type": "user", "permission": "QUERY",
		"names": []string{"audit_anna"}}, basic, auRequest("rq-access-grant")).Expect(t, 200)
	ev = one(audit.AccessGrant, "rq-access-grant")
	auExpect(t, ev, "success", adminID, "admin", proj.UUID)
	if ev.Detail["userId"] != annaID || ev.Detail["level"] != "QUERY" {
		t.Errorf("access.grant detail %v, want the user and the level", ev.Detail)
	}
	e.Do("PUT", "/kylin/api/access/project", map[string]any{"project": "audited", "type": "user", "permission": "MANAGEMENT",
		"name": "audit_anna"}, basic, auRequest("rq-access-change")).Expect(t, 200)
	ev = one(audit.AccessChange, "rq-access-change")
	auExpect(t, ev, "success", adminID, "admin", proj.UUID)
	if ev.Detail["level"] != "MANAGEMENT" {
		t.Errorf("access.change detail %v, want the new level", ev.Detail)
	}
	e.Do("DELETE", "/kylin/api/access/project?project=audited&type=user&name=audit_anna", nil, basic,
		auRequest("rq-access-revoke")).Expect(t, 200)
	auExpect(t, one(audit.AccessRevoke, "rq-access-revoke"), "success", adminID, "admin", proj.UUID)

	// user groups, their members and their entries on access lists
	e.Do("POST", "/kylin/api/user_group", map[string]any{"group_name": "Auditors"}, basic, auRequest("rq-group-create")).Expect(t, 200)
	ev = one(audit.GroupCreate, "rq-group-create")
	groupID := auStr(ev.Target)
	auExpect(t, ev, "success", adminID, "admin", groupID)
	if ev.Detail["group"] != "Auditors" || groupID == "<null>" {
		t.Errorf("group.create detail %v, target %s; want the group", ev.Detail, groupID)
	}
	e.Do("PUT", "/kylin/api/user_group/users", map[string]any{"group_name": "auditors", "users": []string{"audit_anna"}}, basic,
		auRequest("rq-group-members")).Expect(t, 200)
	ev = one(audit.GroupMembers, "rq-group-members")
	auExpect(t, ev, "success", adminID, "admin", groupID)
	if fmt.Sprint(ev.Detail["joined"]) != "[Audit_Anna]" || fmt.Sprint(ev.Detail["left"]) != "[]" {
		t.Errorf("group.members detail %v, want who joined and who left", ev.Detail)
	}
	e.Do("POST", "/kylin/api/access/project", map[string]any{"project": "audited", "type": "group", "permission": "QUERY",
		"names": []string{"auditors"}}, basic, auRequest("rq-group-grant")).Expect(t, 200)
	ev = one(audit.AccessGrant, "rq-group-grant")
	auExpect(t, ev, "success", adminID, "admin", proj.UUID)
	if ev.Detail["groupId"] != groupID || ev.Detail["group"] != "Auditors" || ev.Detail["level"] != "QUERY" || ev.Detail["userId"] != nil {
		t.Errorf("access.grant detail of a group %v, want the group and the level", ev.Detail)
	}
	e.Do("DELETE", "/kylin/api/user_group/auditors", nil, basic, auRequest("rq-group-delete")).Expect(t, 200)
	ev = one(audit.GroupDelete, "rq-group-delete")
	auExpect(t, ev, "success", adminID, "admin", groupID)
	if ev.Detail["group"] != "Auditors" || ev.Detail["members"] != 1.0 {
		t.Errorf("group.delete detail %v, want the group and its member count", ev.Detail)
	}

	// a 403 to an authenticated caller, here a user without User Management asking for the
	// audit log itself
	e.Do("GET", "/api/audit-events", nil, testkit.Bearer(annaTok), auRequest("rq-refused")).Expect(t, 403)
	ev = one(audit.PermissionRefused, "rq-refused")
	auExpect(t, ev, "failure", annaID, "audit_anna", "<null>")
	if ev.Detail["operation"] != "listAuditEvents" {
		t.Errorf("permission.refused detail %v, want the operation", ev.Detail)
	}

	// the command line: no actor, no request
	cliPW, err := e.Server.Accounts.ResetPassword(context.Background(), "audit_ANNA")
	if err != nil {
		t.Fatal(err)
	}
	secrets = append(secrets, cliPW)
	emitted[string(audit.PasswordReset)] = true
	var cli []auEvent
	for _, ev := range auList(t, e, adminTok, url.Values{"event": {"password.reset"}}).Data {
		if ev.Detail["via"] == "cli" {
			cli = append(cli, ev)
		}
	}
	if len(cli) != 1 || cli[0].Actor != nil || cli[0].ActorName != nil || auStr(cli[0].Target) != annaID ||
		cli[0].RequestID != nil || cli[0].ClientAddr != nil {
		t.Errorf("the command line's reset: %+v, want one event with no actor or request, on the user", cli)
	}

	e.Do("DELETE", "/api/users/"+annaID, nil, admin, auRequest("rq-user-delete")).Expect(t, 204)
	auExpect(t, one(audit.UserDelete, "rq-user-delete"), "success", adminID, "admin", annaID)

	// every name but the logins' (which the login code records) was seen
	for _, name := range audit.Names {
		if !strings.HasPrefix(string(name), "login.") && !emitted[string(name)] {
			t.Errorf("no test made a %s event", name)
		}
	}

	// the access log line of a request names its client address, as its events do
	logged := false
	for _, line := range strings.Split(e.Logs.String(), "\n") {
		if strings.Contains(line, `"request_id":"rq-user-create"`) && strings.Contains(line, `"msg":"request"`) {
			logged = true
			if !strings.Contains(line, `"client":"127.0.0.1"`) {
				t.Errorf("the access log line does not name the client address: %s", line)
			}
		}
	}
	if !logged {
		t.Error("no access log line for request rq-user-create")
	}

	// no secret in any column of any row
	var rows []string
	if err := e.DB.Select(&rows, `SELECT to_jsonb(a)::text FROM audit_events a`); err != nil {
		t.Fatal(err)
	}
	if len(rows) < len(emitted) {
		t.Fatalf("%d rows, fewer than the %d kinds of event made", len(rows), len(emitted))
	}
	for _, row := range rows {
		for _, s := range secrets {
			if strings.Contains(row, s) {
				t.Errorf("an audit row holds a secret (%.8s…): %s", s, row)
			}
		}
	}
}

// auIDs are the ids of evs, in order.
func auIDs(evs []auEvent) []string {
	out := make([]string, len(evs))
	for i, ev := range evs {
		out[i] = ev.ID
	}
	return out
}

// Filters by time range, actor and event, and paging, over events made an hour apart.
func TestAuditFiltersAndPaging(t *testing.T) {
	e := testkit.New(t, func(c *impl.Config) { c.TokenTTL = 24 * time.Hour }) // outlives the clock's moves
	adminTok := e.AdminToken()
	e.Clock.Advance(time.Second) // the admin's login event stays before t0
	adminID := testkit.WhoAmI(t, e, adminTok)
	admin := testkit.Bearer(adminTok)
	um := e.Permission("User Management")
	key, keyID := auKey(t, e, adminTok, "rq-f-key", map[string]any{"validTo": e.Clock.Now().Add(24 * time.Hour).Format(time.RFC3339),
		"permissions": []string{um}})

	// t0: the key (above) and user 1 by the admin; t1: user 2 by the key; t2: user 2 changed
	t0 := e.Clock.Now()
	u1 := testkit.ID(t, e.Do("POST", "/api/users", map[string]any{"username": "Filter_One", "password": "Filter#Pass1"}, admin).Expect(t, 201))
	e.Clock.Advance(time.Hour)
	t1 := e.Clock.Now()
	u2 := testkit.ID(t, e.Do("POST", "/api/users", map[string]any{"username": "Filter_Two", "password": "Filter#Pass2"}, testkit.APIKey(key)).Expect(t, 201))
	e.Clock.Advance(time.Hour)
	t2 := e.Clock.Now()
	e.Do("PATCH", "/api/users/"+u2, map[string]any{"disabled": true}, admin).Expect(t, 200)
	e.Clock.Advance(time.Hour)

	all := auNotLogin(auList(t, e, adminTok, url.Values{"limit": {"500"}}).Data)
	if len(all) != 4 {
		t.Fatalf("%d events, want 4 (key, two users, an update): %+v", len(all), all)
	}
	for i := 1; i < len(all); i++ {
		if all[i].At.After(all[i-1].At) {
			t.Errorf("event %d is newer than event %d: not newest first", i, i-1)
		}
	}
	names := func(evs []auEvent) []string {
		var out []string
		for _, ev := range auNotLogin(evs) {
			out = append(out, ev.Event+" "+auStr(ev.Target))
		}
		return out
	}
	rfc := func(t time.Time) string { return t.Format(time.RFC3339Nano) }
	for _, tc := range []struct {
		name  string
		query url.Values
		want  []string
	}{
		{"from (inclusive)", url.Values{"from": {rfc(t1)}}, []string{"user.update " + u2, "user.create " + u2}},
		{"to (exclusive)", url.Values{"to": {rfc(t1)}}, []string{"user.create " + u1, "api_key.create " + keyID}},
		{"from and to", url.Values{"from": {rfc(t1)}, "to": {rfc(t2)}}, []string{"user.create " + u2}},
		{"actor: the key", url.Values{"actor": {"key:" + keyID}}, []string{"user.create " + u2}},
		{"actor: a user id", url.Values{"actor": {adminID}}, []string{"user.update " + u2, "user.create " + u1, "api_key.create " + keyID}},
		{"actor: a login name in any case", url.Values{"actor": {"Admin"}},
			[]string{"user.update " + u2, "user.create " + u2, "user.create " + u1, "api_key.create " + keyID}},
		{"actor: nobody", url.Values{"actor": {"nobody"}}, nil},
		{"event", url.Values{"event": {"user.create"}}, []string{"user.create " + u2, "user.create " + u1}},
		{"event and time", url.Values{"event": {"user.create"}, "from": {rfc(t0.Add(time.Minute))}}, []string{"user.create " + u2}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			se := testkit.Sub(e, t)
			tc.query.Set("limit", "500")
			p := auList(t, se, adminTok, tc.query)
			if got := names(p.Data); !slices.Equal(got, tc.want) {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if p.Page.Total != len(p.Data) {
				t.Errorf("total %d for %d events", p.Page.Total, len(p.Data))
			}
		})
	}

	// pages of two: disjoint, in order, together the whole list
	var paged []auEvent
	for offset := 0; ; offset += 2 {
		p := auList(t, e, adminTok, url.Values{"limit": {"2"}, "offset": {strconv.Itoa(offset)}, "from": {rfc(t0)}})
		if p.Page.Offset != offset || p.Page.Limit != 2 || p.Page.Total != 4 {
			t.Fatalf("page %+v, want offset %d, limit 2, total 4", p.Page, offset)
		}
		if len(p.Data) == 0 {
			break
		}
		paged = append(paged, p.Data...)
	}
	whole := auList(t, e, adminTok, url.Values{"from": {rfc(t0)}}).Data
	if !slices.Equal(auIDs(paged), auIDs(whole)) || len(whole) != 4 {
		t.Errorf("pages %v, want the whole list %v", auIDs(paged), auIDs(whole))
	}

	// bad filters are 400s naming the parameter
	for q, field := range map[string]string{
		"from=" + url.QueryEscape(rfc(t1)) + "&to=" + url.QueryEscape(rfc(t1)): "to",
		"from=" + url.QueryEscape(rfc(t2)) + "&to=" + url.QueryEscape(rfc(t1)): "to",
		"event=login.maybe":                 "event",
		"from=yesterday":                    "from",
		"limit=501":                         "limit",
		"actor=" + strings.Repeat("a", 201): "actor",
	} {
		testkit.ExpectField(t, e.Do("GET", "/api/audit-events?"+q, nil, admin), field)
	}
}

// A change that rolls back leaves no event: a grant of two users, the second already on
// the list, grants neither and records neither.
func TestAuditRolledBackChangeLeavesNoEvent(t *testing.T) {
	e := testkit.New(t)
	adminTok := e.AdminToken()
	basic := testkit.Basic("ADMIN", testkit.AdminPassword)
	one, two := e.NewUser("rb_one", false), e.NewUser("rb_two", false)
	testkit.KylinOK[struct{}](t, e.Do("POST", "/kylin/api/projects", map[string]any{"name": "rolled"}, basic))
	grant := func(rid string, names ...string) *testkit.Resp {
		return e.Do("POST", "/kylin/api/access/project", map[string]any{"project": "rolled", "type": "user", "permission": "QUERY",
			"names": names}, basic, auRequest(rid))
	}
	grant("rq-rb-first", two.Name).Expect(t, 200)
	auOne(t, e, adminTok, audit.AccessGrant, "rq-rb-first")

	grant("rq-rb-both", one.Name, two.Name).Expect(t, 409)
	for _, ev := range auList(t, e, adminTok, url.Values{"limit": {"500"}}).Data {
		if auStr(ev.RequestID) == "rq-rb-both" && ev.Event != string(audit.PermissionRefused) {
			t.Errorf("the refused grant left an event: %+v", ev)
		}
	}
	list := testkit.KylinOK[testkit.KylinPage[testkit.KylinAccess]](t, e.Do("GET", "/kylin/api/access/project?project=rolled", nil, basic))
	if len(list.Value) != 1 {
		t.Errorf("access list %+v, want only %s", list.Value, two.Name)
	}
}

// Retention: pruning deletes the events older than KALA_AUDIT_RETENTION and keeps the rest.
func TestAuditRetention(t *testing.T) {
	e := testkit.New(t, func(c *impl.Config) { c.AuditRetention, c.TokenTTL = time.Hour, 24*time.Hour })
	adminTok := e.AdminToken()
	admin := testkit.Bearer(adminTok)
	old := testkit.ID(t, e.Do("POST", "/api/users", map[string]any{"username": "ret_old", "password": "Retain#Pass1"}, admin).Expect(t, 201))
	e.Clock.Advance(30 * time.Minute)
	kept := testkit.ID(t, e.Do("POST", "/api/users", map[string]any{"username": "ret_kept", "password": "Retain#Pass2"}, admin).Expect(t, 201))
	e.Clock.Advance(45 * time.Minute) // old is 75 minutes old, kept 45

	targets := func() []string {
		var out []string
		for _, ev := range auList(t, e, adminTok, url.Values{"event": {"user.create"}}).Data {
			out = append(out, auStr(ev.Target))
		}
		return out
	}
	if got := targets(); !slices.Equal(got, []string{kept, old}) {
		t.Fatalf("before pruning: %v, want both users' events", got)
	}
	e.Server.Prune(context.Background())
	if got := targets(); !slices.Equal(got, []string{kept}) {
		t.Errorf("after pruning: %v, want only the newer event (%s)", got, kept)
	}

	if d := testkit.New(t).Server.Config.AuditRetention; d != 90*24*time.Hour {
		t.Errorf("default retention %v, want 90 days", d)
	}
}

// Ordinary authenticated requests, on every scheme, write no event.
func TestAuditNoWriteOnOrdinaryRequests(t *testing.T) {
	e := testkit.New(t)
	adminTok := e.AdminToken()
	key := e.NewKey(adminTok, map[string]any{"validTo": testkit.ValidTo(e)})
	cookie := testkit.KylinLogin(t, e, "ADMIN", testkit.AdminPassword)
	count := func() int {
		var n int
		if err := e.DB.Get(&n, `SELECT count(*) FROM audit_events WHERE event NOT LIKE 'login.%'`); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	for _, r := range []struct {
		path string
		opt  testkit.ReqOpt
	}{
		{"/api/auth/me", testkit.Bearer(adminTok)},
		{"/api/auth/me", testkit.APIKey(key)},
		{"/api/auth/me", testkit.QueryKey(key)},
		{"/kylin/api/user", testkit.Basic("ADMIN", testkit.AdminPassword)},
		{"/kylin/api/user", testkit.SessionCookie(cookie)},
	} {
		for range 3 {
			e.Do("GET", r.path, nil, r.opt).Expect(t, 200)
		}
	}
	if after := count(); after != before {
		t.Errorf("%d events written by ordinary requests", after-before)
	}
}

// Logins on every password path are events: success, failure with its reason, and the
// failure that locks the name; the login name is recorded normalised, never the password.
func TestAuditLoginEvents(t *testing.T) {
	e := testkit.New(t)
	adminTok := e.AdminToken()
	u := e.NewUser("Audit_Lena", false)
	uid := u.ID.String()
	e.Do("POST", "/api/auth/access-token", map[string]string{"username": "AUDIT_LENA", "password": u.Password},
		auRequest("lg-ok")).Expect(t, 200)
	auExpect(t, auOne(t, e, adminTok, audit.LoginSuccess, "lg-ok"), "success", uid, "audit_lena", "<null>")

	e.Do("POST", "/api/auth/access-token", map[string]string{"username": "audit_lena", "password": "Wr0ng#one"},
		auRequest("lg-bad")).Expect(t, 401)
	bad := auOne(t, e, adminTok, audit.LoginFailure, "lg-bad")
	auExpect(t, bad, "failure", "<null>", "audit_lena", "<null>")
	if bad.Detail["reason"] != "bad-credentials" {
		t.Errorf("failure detail %v", bad.Detail)
	}
	e.Do("GET", "/kylin/api/user/authentication", nil, testkit.Basic("audit_lena", "Wr0ng#two"), auRequest("lg-basic")).Expect(t, 401)
	auExpect(t, auOne(t, e, adminTok, audit.LoginFailure, "lg-basic"), "failure", "<null>", "audit_lena", "<null>")
	e.Do("POST", "/api/auth/access-token", map[string]string{"username": "audit_lena", "password": "Wr0ng#three"},
		auRequest("lg-lock")).Expect(t, 401)
	auExpect(t, auOne(t, e, adminTok, audit.LoginLocked, "lg-lock"), "failure", "<null>", "audit_lena", "<null>")
	var leaked int
	if err := e.DB.Get(&leaked, `SELECT count(*) FROM audit_events WHERE (audit_events.*)::text ~ ('Wr0ng#|' || $1)`,
		regexp.QuoteMeta(u.Password)); err != nil {
		t.Fatal(err)
	}
	if leaked != 0 {
		t.Errorf("%d audit rows hold a password", leaked)
	}
}

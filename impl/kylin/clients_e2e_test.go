package kylin_test

// Kylin's own clients against /kylin/api, each flow described from the client's source or
// Kylin 5's REST docs (../shared/KYLIN-CLIENTS.md maps them; prefix kj). Every response is
// validated against openapi.yaml by the testkit.

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/account"
	"github.com/kala-server/kala/impl/testkit"
)

// Kylin 5's codes for a bad parameter (INVALID_PARAMETER), an unknown user
// (USER_NOT_EXIST) and an unknown project (ErrorCodeServer.PROJECT_NOT_EXIST).
const (
	kjInvalid   = "KE-010000003"
	kjNoUser    = "KE-010003001"
	kjNoProject = "KE-010001201"
)

// kjProject makes a project with table t (i integer, s text) holding rows i = 1..n, s =
// "s<i>", through the Kala API as ADMIN.
func kjProject(t *testing.T, e *testkit.Env, name string, n int) {
	t.Helper()
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	e.Do("POST", "/kylin/api/projects", map[string]any{"name": name}, admin).Expect(t, 200)
	tok := testkit.Bearer(e.AdminToken())
	var ds testkit.Envelope[[]testkit.Datastore]
	e.Do("GET", "/api/datastores?name="+name, nil, tok).Expect(t, 200).JSON(t, &ds)
	base := "/api/datastores/" + ds.Data[0].ID
	e.Do("POST", base+"/tables", map[string]any{"name": "t", "columns": []map[string]any{
		{"name": "i", "type": "integer"}, {"name": "s", "type": "text"}}}, tok).Expect(t, 201)
	for start := 1; start <= n; start += 10000 {
		rows := []map[string]any{}
		for i := start; i <= n && i < start+10000; i++ {
			rows = append(rows, map[string]any{"i": i, "s": testkit.Sprintf("s%d", i)})
		}
		e.Do("POST", base+"/tables/t/rows", rows, tok).Expect(t, 201)
	}
}

// kjQuery posts a query body and decodes the answer (status 200 expected).
func kjQuery(t *testing.T, e *testkit.Env, body any, opts ...testkit.ReqOpt) queryResult {
	t.Helper()
	var q queryResult
	e.Do("POST", "/kylin/api/query", body, opts...).Expect(t, 200).JSON(t, &q)
	if q.Code != "000" {
		t.Fatalf("query answer: %+v", q)
	}
	return q
}

// The Kylin 5 JDBC driver's headers (KylinClient.addHttpHeadersV2): Kylin's public media
// type first, its own User-Agent, Auto, and Basic on every request.
func kjJDBC(user, pass string) []testkit.ReqOpt {
	return []testkit.ReqOpt{testkit.Basic(user, pass),
		testkit.Header("Accept", "application/vnd.apache.kylin-v4-public+json, text/plain, */*"),
		testkit.Header("User-Agent", "KylinJDBCDriver"), testkit.Header("Auto", "true")}
}

// Kylin reads request bodies as a tolerant reader (its mapper ignores unknown properties):
// the JDBC driver's fields, Kylin 5's documented extras and fields of future clients all
// pass, on every Kylin request schema. The Kala face stays strict.
func TestKylinClientsTolerantReader(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	kjProject(t, e, "p1", 3)

	// the JDBC driver's PreparedQueryRequest, as it serialises one without parameters:
	// backdoorToggles always, params empty, queryId, acceptPartial false, no limit
	q := kjQuery(t, e, map[string]any{"queryId": "q-1", "sql": "SELECT i, s FROM t ORDER BY i", "project": "p1",
		"acceptPartial": false, "backdoorToggles": map[string]string{"ATTR_STATEMENT_MAX_ROWS": "0"}, "params": []any{}},
		kjJDBC("ADMIN", testkit.AdminPassword)...)
	if q.Data.IsException || q.Data.ResultRowCount != 3 || *q.Data.Results[2][1] != "s3" {
		t.Fatalf("JDBC-shaped query: %+v", q.Data)
	}
	// Kylin 5's documented query extras, and a field no schema knows
	q = kjQuery(t, e, map[string]any{"sql": "SELECT count(*) FROM t", "project": "p1", "forcedToPushDown": false,
		"forced_to_index": false, "partialMatchIndex": true, "forcedToTieredStorage": 1, "params": nil,
		"user_defined_tag": "nightly", "someFutureField": map[string]any{"nested": []int{1}}}, admin)
	if q.Data.IsException || *q.Data.Results[0][0] != "3" {
		t.Fatalf("documented extras: %+v", q.Data)
	}
	// the other Kylin request schemas
	testkit.KylinOK[kpProject](t, e.Do("POST", "/kylin/api/projects", map[string]any{"name": "p2", "description": "",
		"maintain_model_type": "MANUAL_MAINTAIN", "override_kylin_properties": map[string]string{"kylin.x": "1"}, "extra": 1}, admin))
	u := testkit.KylinOK[testkit.KylinUser](t, e.Do("POST", "/kylin/api/user", map[string]any{"username": "tol", "password": "Welcome#2026",
		"disabled": false, "authorities": []string{"ALL_USERS"}, "default_password": false, "extra": "x"}, admin))
	testkit.KylinOK[testkit.KylinUser](t, e.Do("PUT", "/kylin/api/user", map[string]any{"uuid": u.UUID, "username": "tol",
		"default_password": true, "disabled": false, "authorities": []string{"ALL_USERS"}, "extra": []int{}}, admin))
	testkit.KylinOK[json.RawMessage](t, e.Do("POST", "/kylin/api/access/project", map[string]any{"project": "p1", "type": "user",
		"permission": "QUERY", "names": []string{"tol"}, "extra": true}, admin))
	testkit.KylinOK[json.RawMessage](t, e.Do("PUT", "/kylin/api/access/project", map[string]any{"project": "p1", "type": "user",
		"permission": "MANAGEMENT", "name": "tol", "extra": true}, admin))
	testkit.KylinOK[json.RawMessage](t, e.Do("PUT", "/kylin/api/user/password", map[string]any{"username": "tol",
		"new_password": "N3w-Secret#2026", "extra": 1}, admin))

	// strictness that stays: a known field of the wrong type, duplicate keys
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/query", map[string]any{"sql": "SELECT 1", "project": "p1", "backdoorToggles": []int{1}}, admin), 400, kjInvalid)
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/query", map[string]any{"sql": "SELECT 1", "project": "p1", "forcedToPushDown": "maybe"}, admin), 400, kjInvalid)
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/query", testkit.Raw(`{"sql":"SELECT 1","project":"p1","limit":1,"limit":2}`), admin), 400, kjInvalid)

	// the Kala face refuses unknown fields and strings for booleans
	tok := testkit.Bearer(e.AdminToken())
	r := e.Do("POST", "/api/users", map[string]any{"username": "strict1", "password": "Welcome#2026", "extra": 1}, tok).Expect(t, 400)
	if !strings.Contains(string(r.Body), "extra") {
		t.Errorf("Kala face, unknown field: %s", r.Body)
	}
	e.Do("POST", "/api/users", map[string]any{"username": "strict2", "password": "Welcome#2026", "disabled": "false"}, tok).Expect(t, 400)
}

// Scalars as strings, where Kylin's Jackson deserializers read them: "true"/"false" for
// booleans, "500" for integers.
func TestKylinClientsScalarsAsStrings(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	kjProject(t, e, "p1", 5)

	var created []string
	for _, c := range []struct {
		disabled any
		want     bool
	}{{"false", false}, {"true", true}, {"TRUE", true}, {" False ", false}, {true, true}} {
		name := testkit.Sprintf("s_%d", len(created))
		created = append(created, name)
		u := testkit.KylinOK[testkit.KylinUser](t, e.Do("POST", "/kylin/api/user", map[string]any{"username": name, "password": "Welcome#2026",
			"disabled": c.disabled, "authorities": []string{"ALL_USERS"}}, admin))
		if u.Disabled != c.want {
			t.Errorf("disabled %q: user disabled=%v", c.disabled, u.Disabled)
		}
	}
	u := testkit.KylinOK[testkit.KylinUser](t, e.Do("PUT", "/kylin/api/user", map[string]any{"username": "s_0", "disabled": "true"}, admin))
	if !u.Disabled {
		t.Errorf(`PUT disabled "true": %+v`, u)
	}
	for _, bad := range []any{"yes", "1", "", "tRUE"} {
		er := testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/user", map[string]any{"username": "s_bad", "password": "Welcome#2026",
			"disabled": bad}, admin), 400, kjInvalid)
		if !strings.Contains(er.Msg, "disabled") {
			t.Errorf("disabled %q: %s", bad, er.Msg)
		}
	}

	q := kjQuery(t, e, map[string]any{"sql": "SELECT i FROM t ORDER BY i", "project": "p1", "offset": "1", "limit": " 2 ",
		"acceptPartial": "true", "partialMatchIndex": "true", "forcedToTieredStorage": "0"}, admin)
	if q.Data.ResultRowCount != 2 || *q.Data.Results[0][0] != "2" || !q.Data.Partial {
		t.Errorf("offset/limit as strings: %+v", q.Data)
	}
	q = kjQuery(t, e, map[string]any{"sql": "SELECT i FROM t ORDER BY i", "project": "p1", "limit": "+3"}, admin)
	if q.Data.ResultRowCount != 3 {
		t.Errorf(`limit "+3": %+v`, q.Data)
	}
	// toggles are ignored whatever their values
	q = kjQuery(t, e, map[string]any{"sql": "SELECT 1", "project": "p1",
		"backdoorToggles": map[string]any{"ATTR_STATEMENT_MAX_ROWS": 0, "DEBUG": true}}, admin)
	if q.Data.IsException {
		t.Errorf("toggles: %+v", q.Data)
	}
	// a number where Kylin reads a string is still a mistake here
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/query", map[string]any{"sql": "SELECT 1", "project": "p1", "queryId": 42}, admin), 400, kjInvalid)
	for _, bad := range []map[string]any{{"limit": "ten"}, {"limit": "2.5"}, {"offset": "-1"}, {"limit": "99999999999999999999"}, {"acceptPartial": "maybe"}} {
		body := map[string]any{"sql": "SELECT 1", "project": "p1"}
		for k, v := range bad {
			body[k] = v
		}
		er := testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/query", body, admin), 400, kjInvalid)
		for k := range bad {
			if !strings.Contains(er.Msg, k) {
				t.Errorf("%v: message does not name the field: %s", bad, er.Msg)
			}
		}
	}
}

// executeAs (the JDBC driver's EXECUTE_AS_USER_ID) never widens rights: only an admin may
// send it, and the query then runs with the named user's access.
func TestKylinClientsExecuteAs(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	kjProject(t, e, "p1", 2)
	kjProject(t, e, "p2", 2)
	analyst := e.NewUser("analyst", false)
	kpGrant(e, admin, "p1", "QUERY", "analyst").Expect(t, 200)
	other := e.NewUser("other_admin", true)
	sql := func(project, as string) map[string]any {
		return map[string]any{"sql": "SELECT count(*) FROM t", "project": project, "executeAs": as}
	}

	// not an admin: refused, even naming themselves
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/query", sql("p1", "analyst"), testkit.Basic(analyst.Name, analyst.Password)), 403, "KE-010024001")
	// an admin's API key is no admin
	key := e.NewKey(e.AdminToken(), map[string]any{"validTo": e.Clock.Now().Add(time.Hour).Format(time.RFC3339),
		"permissions": []string{e.Permission("Data Management")}})
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/query", sql("p1", "analyst"), testkit.APIKey(key)), 403, "KE-010024001")
	// the key without executeAs works: the refusal is about executeAs
	kjQuery(t, e, map[string]any{"sql": "SELECT 1", "project": "p1"}, testkit.APIKey(key))

	// an admin as analyst: analyst's projects only
	if q := kjQuery(t, e, sql("p1", "ANALYST"), admin); q.Data.IsException || *q.Data.Results[0][0] != "2" {
		t.Errorf("as analyst on p1: %+v", q.Data)
	}
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/query", sql("p2", "analyst"), admin), 404, kjNoProject)
	// as themselves, in any case, or with an empty executeAs: as usual
	kjQuery(t, e, sql("p2", "admin"), admin)
	kjQuery(t, e, sql("p2", ""), testkit.Basic(other.Name, other.Password))
	// unknown and disabled users
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/query", sql("p1", "nobody"), admin), 404, kjNoUser)
	testkit.KylinOK[testkit.KylinUser](t, e.Do("PUT", "/kylin/api/user", map[string]any{"username": "analyst", "disabled": true}, admin))
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/query", sql("p1", "analyst"), admin), 403, "KE-010024001")
}

// kjParam is one PreparedStatement value as Kylin's JDBC driver sends it: the value's
// Java class and String.valueOf(value); a null is java.lang.Object with no value (its
// mapper leaves out null fields).
func kjParam(class string, value ...string) map[string]any {
	m := map[string]any{"className": class}
	if len(value) > 0 {
		m["value"] = value[0]
	}
	return m
}

// The JDBC driver's PreparedStatement: `?` placeholders in the SQL, values in params,
// bound as typed PostgreSQL parameters in order, never spliced into the SQL.
func TestKylinClientsPreparedStatement(t *testing.T) {
	e := testkit.New(t)
	jdbc := kjJDBC("ADMIN", testkit.AdminPassword)
	kjProject(t, e, "p1", 5)
	prepared := func(sql string, params ...map[string]any) map[string]any {
		return map[string]any{"sql": sql, "project": "p1", "acceptPartial": false,
			"backdoorToggles": map[string]string{"ATTR_STATEMENT_MAX_ROWS": "0"}, "params": params}
	}

	q := kjQuery(t, e, prepared("SELECT s FROM t WHERE i = ? OR i = ? ORDER BY i", kjParam("java.lang.Integer", "2"), kjParam("java.lang.Long", "4")), jdbc...)
	if q.Data.IsException || q.Data.ResultRowCount != 2 || *q.Data.Results[0][0] != "s2" || *q.Data.Results[1][0] != "s4" {
		t.Fatalf("two Integer parameters: %+v", q.Data)
	}
	// every class the driver sends, read back with the type it was bound as
	q = kjQuery(t, e, prepared("SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?",
		kjParam("java.lang.String", "it's"), kjParam("java.lang.Integer", "-7"), kjParam("java.lang.Long", "9007199254740993"),
		kjParam("java.lang.Short", "12"), kjParam("java.lang.Byte", "-3"), kjParam("java.lang.Double", "2.5E-3"),
		kjParam("java.lang.Float", "1.5"), kjParam("java.math.BigDecimal", "12345678901234567890.125"),
		kjParam("java.lang.Boolean", "true"), kjParam("java.sql.Date", "2026-11-23"), kjParam("java.sql.Time", "09:30:00"),
		kjParam("java.sql.Timestamp", "2026-11-23 09:30:00.25"), kjParam("java.lang.Object")), jdbc...)
	if q.Data.IsException {
		t.Fatalf("every class: %v", *q.Data.ExceptionMessage)
	}
	wantValues := []string{"it's", "-7", "9007199254740993", "12", "-3", "0.0025", "1.5", "12345678901234567890.125", "true",
		"2026-11-23", "09:30:00", "2026-11-23 09:30:00.25"}
	wantTypes := []string{"VARCHAR", "INTEGER", "BIGINT", "SMALLINT", "SMALLINT", "DOUBLE", "REAL", "DECIMAL", "BOOLEAN",
		"DATE", "TIME", "TIMESTAMP", "VARCHAR"}
	for i, w := range wantValues {
		if got := q.Data.Results[0][i]; got == nil || *got != w {
			t.Errorf("value %d: %v, want %s", i, got, w)
		}
	}
	if q.Data.Results[0][12] != nil {
		t.Errorf("the driver's null: %v", *q.Data.Results[0][12])
	}
	for i, w := range wantTypes {
		if got := q.Data.ColumnMetas[i].ColumnTypeName; got != w {
			t.Errorf("column %d: type %s, want %s", i, got, w)
		}
	}
	// values are never SQL: a quote in a string is a quote
	q = kjQuery(t, e, prepared("SELECT count(*) FROM t WHERE s = ?", kjParam("java.lang.String", "x' OR '1'='1")), jdbc...)
	if *q.Data.Results[0][0] != "0" {
		t.Errorf("a value was spliced: %+v", q.Data)
	}
	// a ? in a string, a quoted identifier or a comment is not a placeholder
	q = kjQuery(t, e, prepared(`SELECT '?' AS "q?", i FROM t WHERE i = ? -- or ?`+"\n/* ? */", kjParam("java.lang.Integer", "3")), jdbc...)
	if q.Data.IsException || q.Data.ResultRowCount != 1 || *q.Data.Results[0][0] != "?" || *q.Data.Results[0][1] != "3" {
		t.Errorf("quoted ?: %+v", q.Data)
	}
	// offset and limit still apply around the bound statement
	q = kjQuery(t, e, map[string]any{"sql": "SELECT i FROM t WHERE i > ? ORDER BY i", "project": "p1", "limit": 2, "offset": 1,
		"params": []any{kjParam("java.lang.Integer", "1")}}, jdbc...)
	if q.Data.ResultRowCount != 2 || *q.Data.Results[0][0] != "3" || !q.Data.Partial {
		t.Errorf("offset/limit with parameters: %+v", q.Data)
	}
	// a value its type cannot read fails the SQL, as Kylin reports SQL failures
	q = kjQuery(t, e, prepared("SELECT ?", kjParam("java.lang.Integer", "abc")), jdbc...)
	if !q.Data.IsException || !strings.Contains(*q.Data.ExceptionMessage, "integer") {
		t.Errorf("bad Integer: %+v", q.Data)
	}
	// the caller's mistakes are 400
	for _, c := range []struct {
		body map[string]any
		want string
	}{
		{prepared("SELECT ?, ?", kjParam("java.lang.Integer", "1")), "params"},
		{prepared("SELECT ?", kjParam("java.lang.Integer", "1"), kjParam("java.lang.Integer", "2")), "params"},
		{prepared("SELECT 1", kjParam("java.lang.Integer", "1")), "params"},
		{prepared("SELECT ?", kjParam("java.util.UUID", "x")), "params.0.className"},
		{prepared("SELECT ?", map[string]any{"value": "1"}), "className"},
	} {
		er := testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/query", c.body, jdbc...), 400, kjInvalid)
		if !strings.Contains(er.Msg, c.want) {
			t.Errorf("%v: %s", c.body["sql"], er.Msg)
		}
	}
	// without params a ? is the SQL's own (here PostgreSQL's jsonb operator)
	q = kjQuery(t, e, map[string]any{"sql": `SELECT '{"a":1}'::jsonb ? 'a'`, "project": "p1", "params": []any{}}, jdbc...)
	if q.Data.IsException || *q.Data.Results[0][0] != "true" {
		t.Errorf("jsonb ? without params: %+v", q.Data)
	}
}

// kjManyUsers stores n users (kc_user0000, …) sharing one password hash: hashing each
// would take the test's time, and only their names matter.
func kjManyUsers(t *testing.T, e *testkit.Env, n int) {
	t.Helper()
	ctx := context.Background()
	hash, err := e.Server.Accounts.Hasher.Hash(ctx, "Unused#pw1")
	if err != nil {
		t.Fatal(err)
	}
	now := e.Clock.Now()
	for i := range n {
		name := testkit.Sprintf("kc_user%04d", i)
		u := &db.User{ID: uuid.Must(uuid.NewV7()), Username: name, UsernameKey: account.UsernameKey(name),
			Authorities: []string{account.AuthorityAllUsers}, Permissions: []string{}, CredentialVersion: 1, CreatedAt: now, ModifiedAt: now}
		if err := db.InsertUser(ctx, e.DB, u, hash); err != nil {
			t.Fatal(err)
		}
	}
}

// Kylin's clients ask big pages to mean "all": kylinpy's projects() 1,000, the web UI
// 100,000 for projects, the JDBC driver 2^31-1 for tables. Any positive page_size is
// served, up to 1,000 items; `limit` says the size applied and page_offset counts pages
// of that size.
func TestKylinClientsPageSize(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	kjManyUsers(t, e, 1004) // with ADMIN: 1,005

	for _, size := range []string{"1000", "100000", "2147483647"} {
		p := kuList(t, e, admin, url.Values{"page_size": {size}})
		if p.Limit != 1000 || len(p.Value) != 1000 || p.TotalSize != 1005 || p.Offset != 0 {
			t.Errorf("page_size %s: limit %d, %d items, total %d", size, p.Limit, len(p.Value), p.TotalSize)
		}
	}
	p := kuList(t, e, admin, url.Values{"page_size": {"100000"}, "page_offset": {"1"}})
	if p.Limit != 1000 || p.Offset != 1 || len(p.Value) != 5 || p.Value[0].Username != "kc_user0999" {
		t.Errorf("second page of 1,000: limit %d offset %d, %d items from %v", p.Limit, p.Offset, len(p.Value), kuNames(p.Value[:min(1, len(p.Value))]))
	}
	p = kuList(t, e, admin, url.Values{"page_size": {"501"}, "page_offset": {"2"}})
	if p.Limit != 501 || len(p.Value) != 3 {
		t.Errorf("page_size 501, page 2: limit %d, %d items", p.Limit, len(p.Value))
	}
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/user?page_size=0", nil, admin), 400, kjInvalid)
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/user?page_size=2147483648", nil, admin), 400, kjInvalid)

	// the same on projects (kylinpy, the web UI) and access lists
	kpCreate(t, e, admin, "p1")
	pp := kpList(t, e, admin, url.Values{"page_offset": {"0"}, "page_size": {"1000"}})
	if pp.Limit != 1000 || len(pp.Value) != 1 {
		t.Errorf("kylinpy projects(): %+v", pp)
	}
	pp = kpList(t, e, admin, url.Values{"page_size": {"100000"}})
	if pp.Limit != 1000 || len(pp.Value) != 1 {
		t.Errorf("web UI projects: %+v", pp)
	}
	kpGrant(e, admin, "p1", "QUERY", "kc_user0001").Expect(t, 200)
	ap := testkit.KylinOK[testkit.KylinPage[testkit.KylinAccess]](t, e.Do("GET", "/kylin/api/access/project?project=p1&page_size=2147483647", nil, admin))
	if ap.Limit != 1000 || len(ap.Value) != 1 {
		t.Errorf("access list: %+v", ap)
	}
}

// A query without a limit, or with Kylin's 0 for "no limit", gets up to the server's row
// cap (50,000), marked partial when cut: the JDBC driver sends no limit for a statement
// without max rows, and ignores partial.
func TestKylinClientsQueryLimitCap(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	kjProject(t, e, "p1", 0)
	over := "SELECT g FROM generate_series(1, 50001) AS g"
	for _, limit := range []any{nil, 0, "0", 50001, 2147483647} {
		body := map[string]any{"sql": over, "project": "p1"}
		if limit != nil {
			body["limit"] = limit
		}
		q := kjQuery(t, e, body, admin)
		if q.Data.IsException || q.Data.ResultRowCount != 50000 || len(q.Data.Results) != 50000 || !q.Data.Partial ||
			*q.Data.Results[49999][0] != "50000" {
			t.Errorf("limit %v: %d rows, partial %v, exception %v", limit, q.Data.ResultRowCount, q.Data.Partial, q.Data.ExceptionMessage)
		}
	}
	q := kjQuery(t, e, map[string]any{"sql": "SELECT g FROM generate_series(1, 50000) AS g", "project": "p1"}, admin)
	if q.Data.ResultRowCount != 50000 || q.Data.Partial {
		t.Errorf("exactly the cap: %d rows, partial %v", q.Data.ResultRowCount, q.Data.Partial)
	}
	q = kjQuery(t, e, map[string]any{"sql": over, "project": "p1", "offset": 49990}, admin)
	if q.Data.ResultRowCount != 11 || q.Data.Partial {
		t.Errorf("offset without limit: %d rows, partial %v", q.Data.ResultRowCount, q.Data.Partial)
	}
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/query", map[string]any{"sql": "SELECT 1", "project": "p1", "limit": -1}, admin), 400, kjInvalid)
}

// kjCanLogIn reports whether Basic credentials authenticate on the Kylin face.
func kjCanLogIn(t *testing.T, e *testkit.Env, user, pass string) bool {
	t.Helper()
	r := e.Do("GET", "/kylin/api/user/authentication", nil, testkit.Basic(user, pass))
	if r.Status != 200 && r.Status != 401 {
		t.Fatalf("login %s: %d %s", user, r.Status, r.Body)
	}
	return r.Status == 200
}

// kjExists reports whether a user of that name exists.
func kjExists(t *testing.T, e *testkit.Env, name string) bool {
	t.Helper()
	var n int
	if err := e.DB.Get(&n, `SELECT count(*) FROM users WHERE username_key = $1`, account.UsernameKey(name)); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

// Kylin 5's documented user deletion (`DELETE /kylin/api/user` with the name in the body)
// and its batch delete (a list of names), all or nothing; `/user/batch` is never read as
// a user named "batch".
func TestKylinClientsDeleteUsers(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	for _, n := range []string{"batch", "x1", "x2", "y1", "y2", "one"} {
		e.NewUser(n, false)
	}
	del := func(path string, body any) *testkit.Resp { return e.Do("DELETE", path, body, admin) }

	testkit.KylinOK[json.RawMessage](t, del("/kylin/api/user", map[string]any{"username": "ONE", "default_password": false}))
	if kjExists(t, e, "one") {
		t.Error("DELETE /user with a body left the user")
	}
	testkit.KylinExpectErr(t, del("/kylin/api/user", map[string]any{"username": "one"}), 404, kjNoUser)
	testkit.KylinExpectErr(t, del("/kylin/api/user", map[string]any{"username": "ADMIN"}), 403, "KE-010024001")
	testkit.KylinExpectErr(t, del("/kylin/api/user", map[string]any{}), 400, kjInvalid)
	testkit.KylinExpectErr(t, del("/kylin/api/user", nil), 400, kjInvalid)

	testkit.KylinOK[json.RawMessage](t, del("/kylin/api/user/batch", []string{"x1", "X2"}))
	if kjExists(t, e, "x1") || kjExists(t, e, "x2") || !kjExists(t, e, "batch") {
		t.Errorf("batch delete: x1 %v x2 %v batch %v", kjExists(t, e, "x1"), kjExists(t, e, "x2"), kjExists(t, e, "batch"))
	}
	// without a body it is still the batch operation, never the user "batch"
	testkit.KylinExpectErr(t, del("/kylin/api/user/batch", nil), 400, kjInvalid)
	testkit.KylinExpectErr(t, del("/kylin/api/user/batch", []string{}), 400, kjInvalid)
	if !kjExists(t, e, "batch") {
		t.Fatal("DELETE /user/batch deleted the user named batch")
	}
	// all or nothing: unknown names are listed, refused ones stop the rest
	er := testkit.KylinExpectErr(t, del("/kylin/api/user/batch", []string{"y1", "nobody", "y2", "ghost"}), 404, kjNoUser)
	if !strings.Contains(er.Msg, "nobody, ghost") {
		t.Errorf("unknown names not listed: %s", er.Msg)
	}
	testkit.KylinExpectErr(t, del("/kylin/api/user/batch", []string{"y1", "ADMIN"}), 403, "KE-010024001")
	if !kjExists(t, e, "y1") || !kjExists(t, e, "y2") {
		t.Fatal("a refused batch deleted some users")
	}
	um := e.NewUser("um", false, e.Permission("User Management"))
	testkit.KylinExpectErr(t, e.Do("DELETE", "/kylin/api/user/batch", []string{"y1", "um"}, testkit.Basic(um.Name, um.Password)), 403, "KE-010024001")
	if !kjExists(t, e, "y1") {
		t.Fatal("deleting yourself in a batch deleted the others")
	}
	// the same name twice is one user
	testkit.KylinOK[json.RawMessage](t, del("/kylin/api/user/batch", []string{"y1", "Y1", "y2", "batch"}))
	if kjExists(t, e, "y1") || kjExists(t, e, "y2") || kjExists(t, e, "batch") {
		t.Error("batch with repeats")
	}
	// Kylin's web UI deletes by uuid; a user named like an id is found by name first
	byID := e.NewUser("by_id", false)
	named := e.NewUser(byID.ID.String(), false)
	testkit.KylinOK[json.RawMessage](t, del("/kylin/api/user/"+byID.ID.String(), nil))
	if !kjExists(t, e, "by_id") || kjExists(t, e, named.Name) {
		t.Fatal("a name that is a user's name must name that user, not the user with that id")
	}
	testkit.KylinOK[json.RawMessage](t, del("/kylin/api/user/"+strings.ToUpper(byID.ID.String()), nil))
	if kjExists(t, e, "by_id") {
		t.Error("DELETE /user/{uuid} left the user")
	}
	testkit.KylinExpectErr(t, del("/kylin/api/user/"+byID.ID.String(), nil), 404, kjNoUser)

	r := e.Do("GET", "/kylin/api/user/batch", nil, admin)
	testkit.KylinExpectErr(t, r, 405, "KE-010000405")
	if a := r.Header.Get("Allow"); a != "DELETE, POST" && a != "POST, DELETE" {
		t.Errorf("Allow %q", r.Header.Get("Allow"))
	}
}

// Kylin's batch create takes a list of its create-user bodies. Kala creates all or none.
func TestKylinClientsCreateUsers(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	create := func(body any, auth testkit.ReqOpt) *testkit.Resp {
		return e.Do("POST", "/kylin/api/user/batch", body, auth)
	}
	user := func(name, pw string, extra ...any) map[string]any {
		m := map[string]any{"username": name, "password": pw, "disabled": "false", "authorities": []string{"ALL_USERS"}}
		for i := 0; i+1 < len(extra); i += 2 {
			m[extra[i].(string)] = extra[i+1]
		}
		return m
	}

	us := testkit.KylinOK[[]testkit.KylinUser](t, create([]any{user("b1", "Welcome#2026"), user("B2", "Welcome#2027", "disabled", "true", "authorities", []string{"ROLE_ANALYST"})}, admin))
	if len(us) != 2 || us[0].Username != "b1" || us[1].Username != "B2" || us[0].Disabled || !us[1].Disabled || !us[1].Has("ROLE_ANALYST") || !us[1].DefaultPassword {
		t.Fatalf("created: %+v", us)
	}
	if !kjCanLogIn(t, e, "b1", "Welcome#2026") {
		t.Error("b1 cannot log in")
	}
	none := func(names ...string) {
		t.Helper()
		for _, n := range names {
			if kjExists(t, e, n) {
				t.Errorf("a refused batch created %s", n)
			}
		}
	}
	er := testkit.KylinExpectErr(t, create([]any{user("c1", "Welcome#2026"), user("c2", "short#1")}, admin), 400, "KE-010005002")
	if !strings.Contains(er.Msg, "1.password") {
		t.Errorf("the refused item is not named: %s", er.Msg)
	}
	testkit.KylinExpectErr(t, create([]any{user("c1", "Welcome#2026"), user("C1", "Welcome#2026")}, admin), 409, "KE-010003004")
	testkit.KylinExpectErr(t, create([]any{user("c1", "Welcome#2026"), user("b1", "Welcome#2026")}, admin), 409, "KE-010003004")
	testkit.KylinExpectErr(t, create([]any{user("c1", "Welcome#2026"), user("c:2", "Welcome#2026")}, admin), 400, kjInvalid)
	none("c1", "c2")
	um := e.NewUser("um", false, e.Permission("User Management"))
	testkit.KylinExpectErr(t, create([]any{user("c1", "Welcome#2026"), user("c3", "Welcome#2026", "authorities", []string{"ROLE_ADMIN"})},
		testkit.Basic(um.Name, um.Password)), 403, "KE-010024001")
	none("c1", "c3")
	testkit.KylinExpectErr(t, create([]any{}, admin), 400, kjInvalid)
	testkit.KylinExpectErr(t, create(map[string]any{"username": "c1"}, admin), 400, kjInvalid)
}

// Kylin decodes a password value that is base64 (its web UI sends them so):
// NUserController.pwdBase64Decode, on create, update and password change. Kala does the
// same when the value decodes to text, and takes it as typed otherwise.
func TestKylinClientsBase64Passwords(t *testing.T) {
	e := testkit.New(t)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	b64 := func(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

	testkit.KylinOK[testkit.KylinUser](t, e.Do("POST", "/kylin/api/user", map[string]any{"username": "web", "password": b64("Welcome#2026"),
		"disabled": false, "authorities": []string{"ALL_USERS"}}, admin))
	if !kjCanLogIn(t, e, "web", "Welcome#2026") || kjCanLogIn(t, e, "web", b64("Welcome#2026")) {
		t.Error("create: the base64 value was not decoded")
	}
	testkit.KylinOK[testkit.KylinUser](t, e.Do("POST", "/kylin/api/user", map[string]any{"username": "utf8", "password": b64("Grüße#2026x"),
		"disabled": false, "authorities": []string{"ALL_USERS"}}, admin))
	if !kjCanLogIn(t, e, "utf8", "Grüße#2026x") {
		t.Error("create: UTF-8 text in base64 was not decoded")
	}
	// matches the pattern but decodes to bytes, not text: taken as typed
	testkit.KylinOK[testkit.KylinUser](t, e.Do("POST", "/kylin/api/user", map[string]any{"username": "plain", "password": "Pass/123",
		"disabled": false, "authorities": []string{"ALL_USERS"}}, admin))
	if !kjCanLogIn(t, e, "plain", "Pass/123") {
		t.Error("a plain password that looks like base64 was changed")
	}
	// the rule applies to the decoded value
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/user", map[string]any{"username": "short", "password": b64("Ab#1"),
		"disabled": false, "authorities": []string{"ALL_USERS"}}, admin), 400, "KE-010005002")

	// the user's own change: old and new both decoded
	testkit.KylinOK[json.RawMessage](t, e.Do("PUT", "/kylin/api/user/password", map[string]any{"username": "web",
		"password": b64("Welcome#2026"), "new_password": b64("N3w-Secret#2026")}, testkit.Basic("web", "Welcome#2026")))
	if !kjCanLogIn(t, e, "web", "N3w-Secret#2026") {
		t.Error("password change: the new base64 value was not decoded")
	}
	// an admin reset with PUT /user
	u := testkit.KylinOK[testkit.KylinUser](t, e.Do("PUT", "/kylin/api/user", map[string]any{"username": "web", "password": b64("Reset#2026x")}, admin))
	if !kjCanLogIn(t, e, "web", "Reset#2026x") || !u.DefaultPassword {
		t.Error("reset: the base64 value was not decoded")
	}
	// the Kala face never decodes ("QWJjMT8/Pz8=" is base64 for "Abc1????")
	tok := testkit.Bearer(e.AdminToken())
	e.Do("POST", "/api/users", map[string]any{"username": "kala", "password": "QWJjMT8/Pz8="}, tok).Expect(t, 201)
	if !kjCanLogIn(t, e, "kala", "QWJjMT8/Pz8=") {
		t.Error("the Kala face changed a password")
	}
}

// Kylin's web UI logs out with an XHR `GET /kylin/api/j_spring_security_logout` and
// `Accept: text/html` (kystudio's request interceptor sets it for this URL): Kylin's
// Spring Security logout ends the session and redirects to its start page. JSON clients
// keep the envelope.
func TestKylinClientsLogoutAsWebUI(t *testing.T) {
	e := testkit.New(t)
	const browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
	for _, c := range []struct {
		method, accept string
		redirect       bool
	}{
		{"GET", "text/html", true}, // kystudio
		{"GET", browser, true},     // a browser following a link
		{"POST", "text/html", true},
		{"GET", "", false},
		{"GET", "*/*", false},
		{"GET", "application/vnd.apache.kylin-v4-public+json, text/plain, */*", false},
		{"POST", "application/json", false},
		{"GET", "text/html, application/json", false}, // a tie goes to JSON
		{"GET", "text/html;q=0.5, application/json;q=0.9", false},
	} {
		sid := testkit.KylinLogin(t, e, "ADMIN", testkit.AdminPassword)
		r := e.Do(c.method, "/kylin/api/j_spring_security_logout", nil, testkit.SessionCookie(sid), testkit.Header("Accept", c.accept))
		if c.redirect {
			r.Expect(t, 302)
			if loc := r.Header.Get("Location"); loc != "/kylin/" {
				t.Errorf("%s %q: Location %q", c.method, c.accept, loc)
			}
		} else {
			testkit.KylinOK[json.RawMessage](t, r)
		}
		if k := testkit.SessionSet(r.Header); k == nil || k.Value != "" || k.MaxAge >= 0 {
			t.Errorf("%s %q: the cookie is not cleared: %v", c.method, c.accept, r.Header.Values("Set-Cookie"))
		}
		testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/user", nil, testkit.SessionCookie(sid)), 401, "KE-010003208")
	}
	// without a session: still the redirect
	e.Do("GET", "/kylin/api/j_spring_security_logout", nil, testkit.Header("Accept", "text/html")).Expect(t, 302)
	// an Accept that admits neither HTML nor JSON is still refused, and other operations
	// still refuse HTML
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/j_spring_security_logout", nil, testkit.Header("Accept", "application/xml")), 406, "KE-010000406")
	testkit.KylinExpectErr(t, e.Do("GET", "/kylin/api/user", nil, testkit.Basic("ADMIN", testkit.AdminPassword), testkit.Header("Accept", "text/html")), 406, "KE-010000406")
}

// kjDocs are the headers of every curl example in Kylin 5's REST docs, with ADMIN's
// password in place of the docs' KYLIN.
func kjDocs() []testkit.ReqOpt {
	return []testkit.ReqOpt{testkit.Header("Accept", testkit.KylinJSON), testkit.Header("Accept-Language", "en"),
		kxBasicHeader("ADMIN", testkit.AdminPassword), kxPostJSON}
}

// Kylin 5's REST docs (website/docs/restapi: authentication, user_api, project_api,
// project_acl_api, query_api), each curl example run as written: its method, path,
// headers and body. Where an example needs something to exist (the user it changes, the
// project it queries), the test makes it first.
func TestKylinClientsRESTDocsExamples(t *testing.T) {
	e := testkit.New(t)
	docs := kjDocs()
	do := func(method, path string, body any) *testkit.Resp {
		t.Helper()
		r := e.Do(method, path, body, docs...)
		if ct := r.Header.Get("Content-Type"); r.Status < 300 && ct != testkit.KylinJSON+";charset=UTF-8" {
			t.Errorf("%s %s: Content-Type %q", method, path, ct)
		}
		return r
	}

	// authentication.md
	testkit.KylinOK[testkit.KylinUser](t, do("POST", "/kylin/api/user/authentication", nil))

	// user_api.md: create user, with "disabled" as a string
	u := testkit.KylinOK[testkit.KylinUser](t, do("POST", "/kylin/api/user", testkit.Raw(`{
	"username": "test",
	"password": "Password@123",
	"disabled": "false",
	"authorities":["ALL_USERS"]
	}`)))
	if u.Disabled || !u.Has("ALL_USERS") {
		t.Errorf("created: %+v", u)
	}
	p := testkit.KylinOK[testkit.KylinPage[testkit.KylinUser]](t, do("GET", "/kylin/api/user", nil))
	if p.TotalSize != 2 || p.Limit != 10 {
		t.Errorf("user list: %+v", p)
	}
	// modify the groups of a user
	testkit.KylinOK[testkit.KylinUser](t, do("POST", "/kylin/api/user", map[string]any{"username": "createuser", "password": "Password@123", "disabled": "false", "authorities": []string{"ALL_USERS"}}))
	testkit.KylinOK[testkit.KylinUser](t, do("PUT", "/kylin/api/user", testkit.Raw(`{
	"username": "createuser",
	"authorities":["ALL_USERS"]
	}`)))
	// the change-password example, as the docs print it: sent to PUT /user, where Kylin
	// reads `password` as the user's password and ignores `new_password`; so does Kala
	change := testkit.Raw(`{
    "username": "test",
    "password": "Password@123",
    "new_password": "Password@1234"
	}`)
	testkit.KylinOK[testkit.KylinUser](t, do("PUT", "/kylin/api/user", change))
	if !kjCanLogIn(t, e, "test", "Password@123") || kjCanLogIn(t, e, "test", "Password@1234") {
		t.Error("PUT /user with new_password: the password should be the `password` field's")
	}
	// and at the endpoint the example's heading names
	testkit.KylinOK[json.RawMessage](t, do("PUT", "/kylin/api/user/password", change))
	if !kjCanLogIn(t, e, "test", "Password@1234") {
		t.Error("PUT /user/password did not change the password")
	}
	// delete user: the name in the body
	testkit.KylinOK[testkit.KylinUser](t, do("POST", "/kylin/api/user", map[string]any{"username": "testuser", "password": "Password@123", "disabled": "false", "authorities": []string{"ALL_USERS"}}))
	testkit.KylinOK[json.RawMessage](t, do("DELETE", "/kylin/api/user", testkit.Raw(`{
	"username": "testuser"
	}`)))
	if kjExists(t, e, "testuser") {
		t.Error("DELETE /user left testuser")
	}

	// project_api.md: create a project with Kylin 5's maintain_model_type; delete one
	pr := testkit.KylinOK[kpProject](t, do("POST", "/kylin/api/projects", testkit.Raw(`{
    "name": "a",
    "description": "",
    "maintain_model_type": "MANUAL_MAINTAIN"
  }`)))
	if pr.Name != "a" || pr.Owner == nil || *pr.Owner != "ADMIN" {
		t.Errorf("project: %+v", pr)
	}
	kpCreate(t, e, kxBasicHeader("ADMIN", testkit.AdminPassword), "b")
	testkit.KylinOK[json.RawMessage](t, do("DELETE", "/kylin/api/projects/b", nil))

	// project_acl_api.md: projects "Kylin" and "learn_kylin", user "test"
	kpCreate(t, e, kxBasicHeader("ADMIN", testkit.AdminPassword), "Kylin")
	kpCreate(t, e, kxBasicHeader("ADMIN", testkit.AdminPassword), "learn_kylin")
	kpGrant(e, kxBasicHeader("ADMIN", testkit.AdminPassword), "learn_kylin", "QUERY", "test").Expect(t, 200)
	acl := testkit.KylinOK[testkit.KylinPage[testkit.KylinAccess]](t, do("GET", "/kylin/api/access/project?project=learn_kylin", nil))
	if acl.TotalSize != 1 || acl.Value[0].Name != "test" {
		t.Errorf("access list: %+v", acl)
	}
	testkit.KylinOK[json.RawMessage](t, do("POST", "/kylin/api/access/project", testkit.Raw(`{
      "project": "Kylin",
      "type": "user",
      "permission": "QUERY",
      "names":["test"]
    }`)))
	testkit.KylinOK[json.RawMessage](t, do("PUT", "/kylin/api/access/project", testkit.Raw(`{
      "project": "Kylin",
      "type": "user",
      "permission": "ADMIN",
      "name": "test"
    }`)))
	testkit.KylinOK[json.RawMessage](t, do("DELETE", "/kylin/api/access/project?project=learn_kylin&type=user&name=test", nil))
	levels := kpLevels(kpList(t, e, testkit.Basic("test", "Password@1234"), url.Values{}))
	if len(levels) != 1 || levels["Kylin"] != "ADMINISTRATION" {
		t.Errorf("test's projects after the ACL examples: %v", levels)
	}

	// query_api.md, with "partialMatchIndex" as a string. The example's SQL names its
	// table with the SSB schema (SSB.P_LINEORDER); here the table is the project's own.
	kjProject(t, e, "ssb", 3)
	tok := testkit.Bearer(e.AdminToken())
	var ds testkit.Envelope[[]testkit.Datastore]
	e.Do("GET", "/api/datastores?name=ssb", nil, tok).Expect(t, 200).JSON(t, &ds)
	e.Do("POST", "/api/datastores/"+ds.Data[0].ID+"/tables", map[string]any{"name": "P_LINEORDER", "columns": []map[string]any{
		{"name": "lo_orderkey", "type": "bigint"}}}, tok).Expect(t, 201)
	e.Do("POST", "/api/datastores/"+ds.Data[0].ID+"/tables/p_lineorder/rows", []map[string]any{{"lo_orderkey": 1}, {"lo_orderkey": 2}}, tok).Expect(t, 201)
	q := testkit.KylinOK[struct {
		Results     [][]*string `json:"results"`
		IsException bool        `json:"isException"`
	}](t, do("POST", "/kylin/api/query", testkit.Raw(`{ "sql":"select count(*) from P_LINEORDER", "project":"ssb", "partialMatchIndex":"true"}`)))
	if q.IsException || len(q.Results) != 1 || *q.Results[0][0] != "2" {
		t.Errorf("query: %+v", q)
	}
}

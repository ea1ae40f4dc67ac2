package kylin_test

// Kylin 4's clients and Kylin 5's compatibility paths (prefix kl), described from
// NQueryControllerV2 and the drivers (../shared/KYLIN-CLIENTS.md): the bare query answer
// for `Accept: application/json`, the v2 media type, /query/prestate, the legacy
// /tables_and_columns and the JDBC driver's /tables. Every response is validated against
// openapi.yaml by the testkit (media type by media type).

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/kala-server/kala/impl/testkit"
)

const klV2 = "application/vnd.apache.kylin-v2+json"

// The Kylin 4 JDBC driver's headers: application/json and Basic on every request.
func klJDBC4(user, pass string) []testkit.ReqOpt {
	return []testkit.ReqOpt{testkit.Basic(user, pass), testkit.Header("Accept", "application/json")}
}

// klResult is a query result's fields, bare or inside `data`.
type klResult struct {
	ColumnMetas []struct {
		Name           string `json:"name"`
		ColumnTypeName string `json:"columnTypeName"`
	} `json:"columnMetas"`
	Results        [][]*string `json:"results"`
	IsException    bool        `json:"isException"`
	ResultRowCount int         `json:"resultRowCount"`
	Cube           *string     `json:"cube"`
	IsPrepare      *bool       `json:"is_prepare"`
}

func klMediaType(r *testkit.Resp) string {
	return strings.TrimSpace(strings.Split(r.Header.Get("Content-Type"), ";")[0])
}

func TestKylinLegacyQueryShapesFollowAccept(t *testing.T) {
	e := testkit.New(t)
	kjProject(t, e, "legacy", 3)
	body := map[string]any{"sql": "SELECT i, s FROM t ORDER BY i", "project": "legacy"}

	// Kylin 4's driver: login, then the bare SQLResponse (no envelope).
	e.Do("POST", "/kylin/api/user/authentication", map[string]any{}, klJDBC4("ADMIN", testkit.AdminPassword)...).Expect(t, 200)
	r := e.Do("POST", "/kylin/api/query", body, klJDBC4("ADMIN", testkit.AdminPassword)...).Expect(t, 200)
	if mt := klMediaType(r); mt != "application/json" {
		t.Fatalf("bare answer's media type %q", mt)
	}
	var raw map[string]json.RawMessage
	r.JSON(t, &raw)
	if _, enveloped := raw["code"]; enveloped {
		t.Fatalf("application/json got the envelope: %s", r.Body)
	}
	var bare klResult
	r.JSON(t, &bare)
	if bare.IsException || bare.ResultRowCount != 3 || *bare.Results[2][1] != "s3" || bare.ColumnMetas[1].Name != "s" {
		t.Fatalf("bare result: %s", r.Body)
	}
	// Errors keep the envelope whatever the media type.
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/query", map[string]any{"sql": "SELECT 1", "project": "nope"},
		klJDBC4("ADMIN", testkit.AdminPassword)...), 404, kjNoProject)

	// The v2 media type: the envelope with Kylin's v2 fields, labelled v2.
	r = e.Do("POST", "/kylin/api/query", body, testkit.Basic("ADMIN", testkit.AdminPassword), testkit.Header("Accept", klV2)).Expect(t, 200)
	if mt := klMediaType(r); mt != klV2 {
		t.Fatalf("v2 answer's media type %q", mt)
	}
	var v2 testkit.Envelope[klResult]
	r.JSON(t, &v2)
	if v2.Data.ResultRowCount != 3 || v2.Data.Cube == nil || *v2.Data.Cube != "" || v2.Data.IsPrepare == nil || *v2.Data.IsPrepare {
		t.Fatalf("v2 result: %s", r.Body)
	}

	// The public type (also listed beside application/json), no Accept and */* keep the
	// envelope without the v2 fields, labelled with the public media type.
	for _, accept := range []string{"application/vnd.apache.kylin-v4-public+json, application/json", "", "*/*"} {
		r = e.Do("POST", "/kylin/api/query", body, testkit.Basic("ADMIN", testkit.AdminPassword), testkit.Header("Accept", accept)).Expect(t, 200)
		var env testkit.Envelope[klResult]
		r.JSON(t, &env)
		if env.Data.ResultRowCount != 3 || env.Data.Cube != nil || klMediaType(r) != "application/vnd.apache.kylin-v4-public+json" {
			t.Fatalf("Accept %q: %s %s", accept, r.Header.Get("Content-Type"), r.Body)
		}
	}
}

func TestKylinLegacyPrestateDescribesColumns(t *testing.T) {
	e := testkit.New(t)
	kjProject(t, e, "prep", 5)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)

	// Placeholders without values (ODBC's SQLPrepare sends `params: []`): the columns, no rows.
	body := map[string]any{"sql": "SELECT i, s, i * 2.5 AS x FROM t WHERE i > ? AND s <> ?", "project": "prep", "params": []any{}}
	r := e.Do("POST", "/kylin/api/query/prestate", body, admin, testkit.Header("Accept", klV2)).Expect(t, 200)
	var v2 testkit.Envelope[klResult]
	r.JSON(t, &v2)
	got := []string{}
	for _, c := range v2.Data.ColumnMetas {
		got = append(got, c.Name+":"+c.ColumnTypeName)
	}
	if strings.Join(got, ",") != "i:INTEGER,s:VARCHAR,x:DECIMAL" || len(v2.Data.Results) != 0 || v2.Data.ResultRowCount != 0 ||
		v2.Data.IsPrepare == nil || !*v2.Data.IsPrepare || v2.Data.IsException {
		t.Fatalf("prestate: %s", r.Body)
	}
	// With values, and for Kylin 4's driver: still the columns only, bare.
	body["params"] = []any{kjParam("java.lang.Integer", "1"), kjParam("java.lang.String", "s2")}
	r = e.Do("POST", "/kylin/api/query/prestate", body, klJDBC4("ADMIN", testkit.AdminPassword)...).Expect(t, 200)
	var bare klResult
	r.JSON(t, &bare)
	if len(bare.ColumnMetas) != 3 || len(bare.Results) != 0 {
		t.Fatalf("prestate, bare: %s", r.Body)
	}
	// SQL that fails is answered as the query answers it.
	r = e.Do("POST", "/kylin/api/query/prestate", map[string]any{"sql": "SELECT nope FROM t", "project": "prep"}, admin).Expect(t, 200)
	var failed testkit.Envelope[klResult]
	r.JSON(t, &failed)
	if !failed.Data.IsException {
		t.Fatalf("failing prestate: %s", r.Body)
	}
	// Only a read statement, as for the query.
	r = e.Do("POST", "/kylin/api/query/prestate", map[string]any{"sql": "DELETE FROM t", "project": "prep"}, admin).Expect(t, 200)
	r.JSON(t, &failed)
	if !failed.Data.IsException {
		t.Fatalf("DELETE through prestate: %s", r.Body)
	}
	var n queryResult
	e.Do("POST", "/kylin/api/query", map[string]any{"sql": "SELECT count(*) FROM t", "project": "prep"}, admin).Expect(t, 200).JSON(t, &n)
	if *n.Data.Results[0][0] != "5" {
		t.Fatalf("rows after prestate: %v", *n.Data.Results[0][0])
	}
}

func TestKylinLegacyTablesForDrivers(t *testing.T) {
	e := testkit.New(t)
	kjProject(t, e, "cat", 1)
	jdbc := kjJDBC("ADMIN", testkit.AdminPassword)

	// Kylin 4's legacy path: the same tables as tables_and_columns, bare.
	var legacy []struct {
		Schema  string `json:"table_SCHEM"`
		Name    string `json:"table_NAME"`
		Columns []struct {
			Name string `json:"column_NAME"`
		} `json:"columns"`
	}
	e.Do("GET", "/kylin/api/tables_and_columns?project=cat", nil, klJDBC4("ADMIN", testkit.AdminPassword)...).Expect(t, 200).JSON(t, &legacy)
	var current testkit.Envelope[json.RawMessage]
	e.Do("GET", "/kylin/api/query/tables_and_columns?project=cat", nil, jdbc...).Expect(t, 200).JSON(t, &current)
	var again []any
	e.Do("GET", "/kylin/api/tables_and_columns?project=cat", nil, klJDBC4("ADMIN", testkit.AdminPassword)...).Expect(t, 200).JSON(t, &again)
	cur, _ := json.Marshal(mustAny(t, current.Data))
	leg, _ := json.Marshal(again)
	if len(legacy) != 1 || legacy[0].Name != "t" || len(legacy[0].Columns) != 2 || string(cur) != string(leg) {
		t.Fatalf("legacy tables_and_columns %s, current %s", leg, cur)
	}

	// The JDBC driver's remarks request: every table with its columns, `database` the
	// schema tables_and_columns reports.
	type desc struct {
		Database string `json:"database"`
		Name     string `json:"name"`
		Columns  []struct {
			Name     string  `json:"name"`
			Datatype string  `json:"datatype"`
			Comment  *string `json:"comment"`
		} `json:"columns"`
	}
	tables := testkit.KylinOK[testkit.KylinPage[desc]](t, e.Do("GET", "/kylin/api/tables?project=cat&page_size=2147483647", nil, jdbc...))
	if tables.TotalSize != 1 || len(tables.Value) != 1 || tables.Value[0].Name != "t" || tables.Value[0].Database != legacy[0].Schema ||
		tables.Value[0].Columns[0].Name != "i" || tables.Value[0].Columns[0].Datatype != "integer" || tables.Value[0].Columns[1].Datatype != "varchar" ||
		tables.Value[0].Columns[1].Comment != nil {
		t.Fatalf("tables: %+v", tables)
	}

	// A user with no access to the project sees none of it, on every path.
	stranger := e.NewUser("kl_stranger", false)
	for _, path := range []string{"/kylin/api/tables?project=cat", "/kylin/api/tables_and_columns?project=cat"} {
		testkit.KylinExpectErr(t, e.Do("GET", path, nil, testkit.Basic(stranger.Name, stranger.Password)), 404, kjNoProject)
	}
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/query/prestate", map[string]any{"sql": "SELECT 1", "project": "cat"},
		testkit.Basic(stranger.Name, stranger.Password)), 404, kjNoProject)
}

func mustAny(t *testing.T, raw json.RawMessage) any {
	t.Helper()
	var v any
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	return v
}

// The Kylin 5 JDBC driver's whole flow, as its KylinClient does it: connect (POST
// authentication with `{}`), metadata (tables_and_columns, then /tables for remarks),
// then a PreparedStatement, all with its headers and Basic on every request.
func TestKylinClientsJDBC5Flow(t *testing.T) {
	e := testkit.New(t)
	kjProject(t, e, "jdbc5", 20)
	analyst := e.NewUser("jdbc_user", false)
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	e.Do("POST", "/kylin/api/access/project", map[string]any{"project": "jdbc5", "type": "user",
		"permission": "QUERY", "names": []string{analyst.Name}}, admin).Expect(t, 200)
	jdbc := kjJDBC(analyst.Name, analyst.Password)

	testkit.KylinOK[json.RawMessage](t, e.Do("POST", "/kylin/api/user/authentication", map[string]any{}, jdbc...))
	tc := psTablesOf(t, e, jdbc[0], "jdbc5")
	if len(tc.Data) != 1 || tc.Data[0].Schema != "jdbc5" || len(tc.Data[0].Columns) != 2 {
		t.Fatalf("tables_and_columns: %+v", tc)
	}
	remarks := testkit.KylinOK[testkit.KylinPage[struct {
		Database string `json:"database"`
		Name     string `json:"name"`
	}]](t, e.Do("GET", "/kylin/api/tables?project=jdbc5&page_size=2147483647", nil, jdbc...))
	if len(remarks.Value) != 1 || remarks.Value[0].Database != tc.Data[0].Schema || remarks.Value[0].Name != tc.Data[0].Name {
		t.Fatalf("tables: %+v", remarks)
	}
	// the table as the driver's metadata names it, qualified, with two parameters
	sql := `SELECT i, s FROM ` + tc.Data[0].Schema + `.` + tc.Data[0].Name + ` WHERE i > ? AND s <> ? ORDER BY i`
	q := kjQuery(t, e, map[string]any{"sql": sql, "project": "jdbc5", "queryId": "jdbc-1", "acceptPartial": false,
		"backdoorToggles": map[string]string{"ATTR_STATEMENT_MAX_ROWS": "0"},
		"params":          []any{kjParam("java.lang.Integer", "17"), kjParam("java.lang.String", "s19")}}, jdbc...)
	if q.Data.IsException || q.Data.ResultRowCount != 2 || *q.Data.Results[0][0] != "18" || *q.Data.Results[1][1] != "s20" {
		t.Fatalf("query: %+v", q.Data)
	}
}

// kylinpy's v4 flow (Kyligence/kylinpy ke4_service): who-am-I by GET, projects() with
// page_size 1000, tables_and_columns keyed "<table_SCHEM>.<table_NAME>", and the
// schema-qualified GROUP BY its SQLAlchemy dialect compiles (Superset's charts).
func TestKylinClientsKylinpyFlow(t *testing.T) {
	e := testkit.New(t)
	kjProject(t, e, "Shop", 6)
	py := []testkit.ReqOpt{testkit.Basic("ADMIN", testkit.AdminPassword), testkit.Header("User-Agent", "Kylin Python Client"),
		testkit.Header("Accept", "application/vnd.apache.kylin-v4-public+json")}

	who := testkit.KylinOK[map[string]any](t, e.Do("GET", "/kylin/api/user/authentication", nil, py...))
	if len(who) == 0 { // kylinpy reads an empty object as "unauthorised"
		t.Fatal("authentication: empty data")
	}
	projects := testkit.KylinOK[testkit.KylinPage[struct {
		Name string `json:"name"`
	}]](t, e.Do("GET", "/kylin/api/projects?page_offset=0&page_size=1000", nil, py...))
	if len(projects.Value) != 1 || projects.Value[0].Name != "Shop" {
		t.Fatalf("projects: %+v", projects)
	}
	tc := psTablesOf(t, e, py[0], "Shop")
	key := tc.Data[0].Schema + "." + tc.Data[0].Name
	if key != "Shop.t" {
		t.Fatalf("kylinpy's table key %q", key)
	}
	schema, _, _ := strings.Cut(key, ".") // get_all_schemas() splits the key so
	r := psKylinpy(t, e, "ADMIN", testkit.AdminPassword, "Shop", `SELECT i % 2 AS parity, count(*) AS "COUNT(*)"  FROM "`+
		schema+`".t GROUP BY i % 2 ORDER BY i % 2`)
	if r.Data.IsException || psRows(r) != "0|3;1|3" {
		t.Fatalf("kylinpy's GROUP BY: %s (%s)", psRows(r), r.msg())
	}
}

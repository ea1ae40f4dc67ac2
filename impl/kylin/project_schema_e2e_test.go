package kylin_test

// The project as the SQL schema (SPEC §6, §7): Kylin's clients qualify tables by the
// table_SCHEM that tables_and_columns reports, and that works in any case, quoted or not,
// while another project's name means nothing to a query (prefix ps).

import (
	"context"
	"strings"
	"testing"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/testkit"
)

// psKylinpy is how kylinpy (ke4 service) sends a query: its headers, Basic on every
// request, and its body (acceptPartial, limit 50000, offset 0, project, sql).
func psKylinpy(t *testing.T, e *testkit.Env, user, pass, project, sql string) *sbResult {
	t.Helper()
	return sbQuery(t, e, testkit.Basic(user, pass), map[string]any{"acceptPartial": false, "limit": 50000, "offset": 0,
		"project": project, "sql": sql}, testkit.Header("User-Agent", "Kylin Python Client"),
		testkit.Header("Accept", "application/vnd.apache.kylin-v4-public+json"))
}

// psTables is tables_and_columns as kylinpy reads it: "<table_SCHEM>.<table_NAME>" keys.
type psTables struct {
	Data []struct {
		Catalog string `json:"table_CAT"`
		Schema  string `json:"table_SCHEM"`
		Name    string `json:"table_NAME"`
		Columns []struct {
			Schema        string `json:"table_SCHEM"`
			Name          string `json:"column_NAME"`
			Type          int    `json:"data_TYPE"`
			TypeName      string `json:"type_NAME"`
			Size          int    `json:"column_SIZE"`
			DecimalDigits int    `json:"decimal_DIGITS"`
		} `json:"columns"`
	} `json:"data"`
}

func psTablesOf(t *testing.T, e *testkit.Env, auth testkit.ReqOpt, project string) psTables {
	t.Helper()
	var tc psTables
	e.Do("GET", "/kylin/api/query/tables_and_columns?project="+project, nil, auth).Expect(t, 200).JSON(t, &tc)
	return tc
}

// psRows is every row of a result, its cells joined by "|" and the rows by ";".
func psRows(r *sbResult) string {
	var rows []string
	for i := range r.Data.Results {
		var cells []string
		for j := range r.Data.Results[i] {
			cells = append(cells, r.cell(i, j))
		}
		rows = append(rows, strings.Join(cells, "|"))
	}
	return strings.Join(rows, ";")
}

// Superset through kylinpy: the SQL its SQLAlchemy dialect compiles for the schema and
// tables tables_and_columns reports runs, and so do the other spellings Kylin's SQL
// takes (unquoted in any case, quoted as reported), beside unqualified names.
func TestProjectSchemaKylinpySQL(t *testing.T) {
	e := testkit.New(t)
	tok := testkit.Bearer(e.AdminToken())
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	p := testkit.NewProject(t, e, tok, "MyProj", "")
	base := "/api/datastores/" + p.ID
	e.Do("POST", base+"/tables", map[string]any{"name": "sales", "columns": []map[string]any{
		{"name": "region", "type": "text"}, {"name": "amount", "type": "numeric"}}}, tok).Expect(t, 201)
	e.Do("POST", base+"/tables/sales/rows", []map[string]any{{"region": "north", "amount": "1.25"}, {"region": "south", "amount": "2"},
		{"region": "north", "amount": "3.5"}}, tok).Expect(t, 201)
	e.Do("POST", base+"/tables", map[string]any{"name": "region", "columns": []map[string]any{
		{"name": "region", "type": "text"}, {"name": "name", "type": "text"}}}, tok).Expect(t, 201)
	e.Do("POST", base+"/tables/region/rows", []map[string]any{{"region": "north", "name": "North"}, {"region": "south", "name": "South"}}, tok).Expect(t, 201)

	tc := psTablesOf(t, e, admin, "myproj") // the project, named in any case
	if len(tc.Data) != 3 {
		t.Fatalf("tables_and_columns: %+v", tc)
	}
	for _, tb := range tc.Data {
		if tb.Schema != "MyProj" || tb.Catalog != "MyProj" {
			t.Errorf("%s: table_CAT %q, table_SCHEM %q, want the project's name MyProj", tb.Name, tb.Catalog, tb.Schema)
		}
		for _, c := range tb.Columns {
			if c.Schema != tb.Schema {
				t.Errorf("%s.%s: table_SCHEM %q", tb.Name, c.Name, c.Schema)
			}
		}
	}

	const sums = "north|4.75;south|2"
	for _, c := range []struct{ sql, want string }{
		// kylinpy 2.8.5's dialect under SQLAlchemy 1.4, compiled for table_SCHEM as
		// reported and for the other cases (it quotes a name with capitals)
		{`SELECT "MyProj".sales.region, sum("MyProj".sales.amount) AS total  FROM "MyProj".sales GROUP BY "MyProj".sales.region ORDER BY "MyProj".sales.region`, sums},
		{`SELECT region AS region, sum(amount) AS "SUM(amount)"  FROM "MyProj".sales GROUP BY region ORDER BY region  LIMIT 10000`, sums},
		{`SELECT myproj.sales.region, sum(myproj.sales.amount) AS total  FROM myproj.sales GROUP BY myproj.sales.region ORDER BY myproj.sales.region`, sums},
		{`SELECT "MYPROJ".sales.region, sum("MYPROJ".sales.amount) AS total  FROM "MYPROJ".sales GROUP BY "MYPROJ".sales.region ORDER BY 1`, sums},
		// Kylin's SQL, unquoted in any case
		{`SELECT region, sum(amount) FROM MyProj.sales GROUP BY region ORDER BY region`, sums},
		{`SELECT REGION, SUM(AMOUNT) FROM MYPROJ.SALES GROUP BY REGION ORDER BY REGION`, sums},
		// catalog.schema.table, as table_CAT and table_SCHEM read together
		{`SELECT region, sum(amount) FROM "MyProj"."MyProj".sales GROUP BY region ORDER BY region`, sums},
		// unqualified, as before
		{`SELECT region, sum(amount) FROM sales GROUP BY region ORDER BY region`, sums},
		// a table named like the column it joins on: table.column stays a column
		{`SELECT region.name, sum(sales.amount) FROM MyProj.sales JOIN MyProj.region ON sales.region = region.region GROUP BY region.name ORDER BY 1`, "North|4.75;South|2"},
		{`SELECT r.name, count(*) FROM MyProj.sales s, MyProj.region r WHERE s.region = r.region GROUP BY r.name ORDER BY 1`, "North|2;South|1"},
		{`SELECT count(*) FROM (SELECT * FROM MyProj.sales) s WHERE region IN (SELECT region FROM "MyProj".region)`, "3"},
		{`TABLE MyProj.region ORDER BY region`, "north|North;south|South"},
	} {
		r := psKylinpy(t, e, "ADMIN", testkit.AdminPassword, "MyProj", c.sql)
		if r.Data.IsException || psRows(r) != c.want {
			t.Errorf("%s\n got %s (%s), want %s", c.sql, psRows(r), r.msg(), c.want)
			continue
		}
		for _, m := range r.Data.ColumnMetas {
			if m.SchemaName == nil || *m.SchemaName != "MyProj" {
				t.Errorf("%s: column %s has schemaName %v, want MyProj as table_SCHEM says", c.sql, m.Name, m.SchemaName)
			}
		}
	}

	// a missing table of the project is named as the statement named it
	r := sbRun(t, e, admin, "MyProj", `SELECT * FROM MyProj.nosuch`)
	if !r.Data.IsException || r.msg() != `relation "MyProj.nosuch" does not exist` {
		t.Errorf("a missing table: %s", r.raw)
	}
	if strings.Contains(r.raw, p.Schema) {
		t.Errorf("the answer shows the schema's own name %s: %s", p.Schema, r.raw)
	}
}

// A project whose table has the project's name, as a star schema's fact table often does:
// sales.sales is the table, sales.region its column or the table region, by position.
func TestProjectSchemaTableNamedAsProject(t *testing.T) {
	e := testkit.New(t)
	tok := testkit.Bearer(e.AdminToken())
	p := testkit.NewProject(t, e, tok, "sales", "")
	base := "/api/datastores/" + p.ID
	e.Do("POST", base+"/tables", map[string]any{"name": "sales", "columns": []map[string]any{
		{"name": "region", "type": "integer"}, {"name": "amount", "type": "numeric"}}}, tok).Expect(t, 201)
	e.Do("POST", base+"/tables/sales/rows", []map[string]any{{"region": 1, "amount": "5"}, {"region": 2, "amount": "7"}, {"region": 1, "amount": "1"}}, tok).Expect(t, 201)
	e.Do("POST", base+"/tables", map[string]any{"name": "region", "columns": []map[string]any{
		{"name": "id", "type": "integer"}, {"name": "name", "type": "text"}}}, tok).Expect(t, 201)
	e.Do("POST", base+"/tables/region/rows", []map[string]any{{"id": 1, "name": "North"}, {"id": 2, "name": "South"}}, tok).Expect(t, 201)
	for _, c := range []struct{ sql, want string }{
		{`SELECT region.name, sum(sales.amount) FROM sales.sales JOIN sales.region ON sales.region = region.id GROUP BY region.name ORDER BY 1`, "North|6;South|7"},
		{`SELECT sales.sales.region, count(*) FROM sales.sales GROUP BY sales.sales.region ORDER BY 1`, "1|2;2|1"},
		{`SELECT sales.region FROM sales ORDER BY 1 LIMIT 1`, "1"},
		{`SELECT extract(year FROM DATE '2026-01-02'), count(*) FROM sales.sales WHERE sales.region IS DISTINCT FROM 2`, "2026|2"},
	} {
		r := psKylinpy(t, e, "ADMIN", testkit.AdminPassword, "sales", c.sql)
		if r.Data.IsException || psRows(r) != c.want {
			t.Errorf("%s\n got %s (%s), want %s", c.sql, psRows(r), r.msg(), c.want)
		}
	}
}

// From project alpha, naming project beta reads exactly as naming a project that does not
// exist (gamma), whatever the form: a project the caller may not see is absent (SPEC §7),
// and no schema in the database carries a project's name for the catalog to show.
func TestProjectSchemaOtherProjectsAbsent(t *testing.T) {
	e := testkit.New(t)
	tok := testkit.Bearer(e.AdminToken())
	alpha := testkit.NewProject(t, e, tok, "alpha", "CANARY-ALPHA")
	beta := testkit.NewProject(t, e, tok, "beta", "CANARY-BETA")
	reader := e.NewUser("ps_reader", false)
	if err := db.SetAccess(context.Background(), e.DB, sbUUID(t, alpha.ID), reader.ID, 1, e.Clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.Do("POST", "/kylin/api/query", map[string]any{"sql": "SELECT 1", "project": beta.Name}, testkit.Basic(reader.Name, reader.Password)).Expect(t, 404)

	forms := []string{
		`SELECT * FROM %s.t`,
		`SELECT * FROM "%s".t`,
		`SELECT * FROM %s.nosuch`,
		`TABLE %s.t`,
		`SELECT t.note FROM t JOIN %s.t u ON u.id = t.id`,
		`SELECT %s.t.note FROM t`,
		`SELECT query_to_xml('SELECT note FROM %s.t', false, false, '')`,
		`SELECT '%s.t'::regclass`,
		`SELECT to_regclass('%s.t') IS NULL`,
		`SELECT '%s'::regnamespace`,
		`SELECT to_regnamespace('%s') IS NULL`,
		`SELECT has_schema_privilege('%s', 'USAGE')`,
		`SELECT count(*) FROM pg_namespace WHERE nspname ILIKE '%%%s%%'`,
		`SELECT count(*) FROM pg_class WHERE relnamespace::regnamespace::text ILIKE '%%%s%%'`,
		`SELECT count(*) FROM pg_roles WHERE rolname ILIKE '%%%s%%'`,
		`SELECT count(*) FROM information_schema.schemata WHERE schema_name ILIKE '%%%s%%'`,
	}
	for _, who := range []struct {
		name string
		auth testkit.ReqOpt
	}{{"a user with QUERY on alpha only", testkit.Basic(reader.Name, reader.Password)}, {"ADMIN", testkit.Basic("ADMIN", testkit.AdminPassword)}} {
		for _, f := range forms {
			got := sbRun(t, e, who.auth, alpha.Name, testkit.Sprintf(f, "beta"))
			absent := sbRun(t, e, who.auth, alpha.Name, testkit.Sprintf(f, "gamma"))
			if strings.Contains(got.raw, "CANARY-BETA") {
				t.Errorf("%s, %s: beta's data reached alpha: %s", who.name, f, got.raw)
			}
			g := strings.ReplaceAll(got.msg()+" "+psRows(got), "beta", "gamma")
			a := absent.msg() + " " + psRows(absent)
			if got.Data.IsException != absent.Data.IsException || g != a {
				t.Errorf("%s, %s: beta reads otherwise than a project that does not exist:\n beta  %s\n gamma %s", who.name, f, got.raw, absent.raw)
			}
			t.Logf("%-95.95s -> %s", testkit.Sprintf(f, "beta"), g)
		}
	}
	// alpha's own name still reads alpha
	if r := sbRun(t, e, testkit.Basic(reader.Name, reader.Password), alpha.Name, `SELECT note FROM ALPHA.t`); r.cell(0, 0) != "CANARY-ALPHA" {
		t.Errorf("alpha.t from alpha: %s", r.raw)
	}
}

// Names PostgreSQL (or the database) already gives a schema are refused on both faces with
// a 400 naming the problem: in SQL the project's name is its schema. Names that merely
// contain them are fine.
func TestProjectNamesReservedForSchemas(t *testing.T) {
	e := testkit.New(t)
	tok := testkit.Bearer(e.AdminToken())
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	existing := testkit.NewProject(t, e, tok, "existing", "")
	if _, err := e.DB.Exec(`CREATE SCHEMA ext_tools`); err != nil {
		t.Fatal(err)
	}
	var own string
	if err := e.DB.Get(&own, `SELECT current_schema()`); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ name, says string }{
		{"public", "PostgreSQL"},
		{"PUBLIC", "PostgreSQL"},
		{"Information_Schema", "PostgreSQL"},
		{"pg_catalog", "pg_"},
		{"pg_temp_1", "pg_"},
		{"PG_toast", "pg_"},
		{"pg_mine", "pg_"},
		{own, "schema"},         // the server's own tables live there
		{"ext_tools", "schema"}, // another schema of the database
		{"EXT_TOOLS", "schema"},
		{existing.Schema, "schema"}, // where a project's tables live
	} {
		p := testkit.ExpectProblem(t, e.Do("POST", "/api/datastores", map[string]any{"name": c.name}, tok), 400, "name", c.says)
		if !strings.Contains(p.Detail, c.name) {
			t.Errorf("%s: the problem does not name it: %+v", c.name, p)
		}
		k := testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/projects", map[string]any{"name": c.name}, admin), 400, "KE-010001003")
		if !strings.Contains(k.Msg, c.name) || !strings.Contains(k.Msg, c.says) {
			t.Errorf("%s: Kylin's message does not say why: %s", c.name, k.Msg)
		}
	}
	var n int
	if err := e.DB.Get(&n, `SELECT count(*) FROM projects`); err != nil || n != 1 {
		t.Errorf("projects: %d (%v), want only the first", n, err)
	}
	for _, ok := range []string{"public_data", "pgx", "my_pg_x", "information", "ext_tools2"} {
		e.Do("POST", "/api/datastores", map[string]any{"name": ok}, tok).Expect(t, 201)
		testkit.KylinOK[kpProject](t, e.Do("POST", "/kylin/api/projects", map[string]any{"name": ok + "_k"}, admin))
	}
}

// A project made before names were checked against schemas keeps working under a name
// now refused: its queries read its own tables by it (qualified or not), nobody can make
// another project of that name, and other projects are not affected.
func TestProjectSchemaEarlierReservedName(t *testing.T) {
	e := testkit.New(t)
	tok := testkit.Bearer(e.AdminToken())
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	old := testkit.NewProject(t, e, tok, "was_public", "CANARY-OLD")
	other := testkit.NewProject(t, e, tok, "other", "CANARY-OTHER")
	if _, err := e.DB.Exec(`UPDATE projects SET name = 'Public', name_key = 'public' WHERE id = $1`, old.ID); err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{`SELECT note FROM t`, `SELECT note FROM public.t`, `SELECT "Public".t.note FROM "Public".t`} {
		if r := sbRun(t, e, admin, "public", sql); r.Data.IsException || r.cell(0, 0) != "CANARY-OLD" {
			t.Errorf("%s in project Public: %s", sql, r.raw)
		}
	}
	// in another project public is PostgreSQL's schema, closed to query roles
	if r := sbRun(t, e, admin, other.Name, `SELECT note FROM public.t`); !r.Data.IsException || strings.Contains(r.raw, "CANARY") {
		t.Errorf("public.t from another project: %s", r.raw)
	}
	testkit.KylinExpectErr(t, e.Do("POST", "/kylin/api/projects", map[string]any{"name": "PUBLIC"}, admin), 400, "KE-010001003")
	e.Do("DELETE", "/api/datastores/"+old.ID, nil, tok).Expect(t, 204)
}

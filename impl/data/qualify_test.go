package data

import (
	"strings"
	"testing"
)

// S is the schema qualifyCases' project lives in, as it appears in SQL.
const qS = `"kala_p_0123"`

// qualifyCases are statements of a project (named MyProj unless project says otherwise)
// with what qualifyProject makes of them ("" out: unchanged).
var qualifyCases = []struct {
	name, project, in, out string
}{
	// what kylinpy's SQLAlchemy dialect (kylinpy 2.8.5, SQLAlchemy 1.4) compiles for a
	// table whose table_SCHEM is MyProj, myproj or MYPROJ: it quotes a name with capitals
	{name: "kylinpy, reported spelling", in: `SELECT "MyProj".t.region, sum("MyProj".t.amount) AS total  FROM "MyProj".t GROUP BY "MyProj".t.region ORDER BY total DESC`,
		out: `SELECT ` + qS + `.t.region, sum(` + qS + `.t.amount) AS total  FROM ` + qS + `.t GROUP BY ` + qS + `.t.region ORDER BY total DESC`},
	{name: "kylinpy, Superset's literal columns", in: `SELECT region AS region, count(*) AS "count"  FROM "MyProj".t GROUP BY region  LIMIT 100`,
		out: `SELECT region AS region, count(*) AS "count"  FROM ` + qS + `.t GROUP BY region  LIMIT 100`},
	{name: "kylinpy, lower case", in: `SELECT myproj.t.region, count(myproj.t.amount) AS n  FROM myproj.t GROUP BY myproj.t.region`,
		out: `SELECT ` + qS + `.t.region, count(` + qS + `.t.amount) AS n  FROM ` + qS + `.t GROUP BY ` + qS + `.t.region`},
	{name: "kylinpy, upper case quoted", in: `SELECT "MYPROJ".t.region FROM "MYPROJ".t`, out: `SELECT ` + qS + `.t.region FROM ` + qS + `.t`},
	{name: "unquoted upper case", in: `SELECT * FROM MYPROJ.T`, out: `SELECT * FROM ` + qS + `.T`},
	{name: "any case, keywords too", in: `select * from MyProj.t inner join myproj.u on true`, out: `select * from ` + qS + `.t inner join ` + qS + `.u on true`},

	// where a schema can stand
	{name: "comma list", in: `SELECT * FROM myproj.a, myproj.b WHERE myproj.a.x = myproj.b.y`,
		out: `SELECT * FROM ` + qS + `.a, ` + qS + `.b WHERE ` + qS + `.a.x = ` + qS + `.b.y`},
	{name: "comma after a join condition", in: `SELECT * FROM myproj.a JOIN myproj.b ON a.x = b.x, myproj.c`,
		out: `SELECT * FROM ` + qS + `.a JOIN ` + qS + `.b ON a.x = b.x, ` + qS + `.c`},
	{name: "parenthesised join", in: `SELECT * FROM (myproj.a JOIN myproj.b USING (x))`, out: `SELECT * FROM (` + qS + `.a JOIN ` + qS + `.b USING (x))`},
	{name: "subqueries", in: `SELECT * FROM (SELECT x FROM myproj.a) s WHERE x IN (SELECT x FROM myproj.b)`,
		out: `SELECT * FROM (SELECT x FROM ` + qS + `.a) s WHERE x IN (SELECT x FROM ` + qS + `.b)`},
	{name: "CTE", in: `WITH w AS (SELECT * FROM myproj.t) SELECT * FROM w, myproj.u`, out: `WITH w AS (SELECT * FROM ` + qS + `.t) SELECT * FROM w, ` + qS + `.u`},
	{name: "UNION", in: `SELECT x FROM myproj.a UNION SELECT x FROM myproj.b`, out: `SELECT x FROM ` + qS + `.a UNION SELECT x FROM ` + qS + `.b`},
	{name: "TABLE", in: `TABLE myproj.t`, out: `TABLE ` + qS + `.t`},
	{name: "parenthesised TABLE", in: `(TABLE myproj.t) UNION (TABLE myproj.u)`, out: `(TABLE ` + qS + `.t) UNION (TABLE ` + qS + `.u)`},
	{name: "LATERAL", in: `SELECT * FROM myproj.a, LATERAL (SELECT * FROM myproj.b WHERE b.x = a.x) l`,
		out: `SELECT * FROM ` + qS + `.a, LATERAL (SELECT * FROM ` + qS + `.b WHERE b.x = a.x) l`},
	{name: "ONLY", in: `SELECT * FROM ONLY myproj.t`, out: `SELECT * FROM ONLY ` + qS + `.t`},
	{name: "star", in: `SELECT myproj.t.* FROM myproj.t`, out: `SELECT ` + qS + `.t.* FROM ` + qS + `.t`},
	{name: "window", in: `SELECT sum(myproj.t.x) OVER (PARTITION BY myproj.t.y) FROM myproj.t`,
		out: `SELECT sum(` + qS + `.t.x) OVER (PARTITION BY ` + qS + `.t.y) FROM ` + qS + `.t`},
	{name: "types", in: `SELECT ROW(1)::myproj.t, CAST(NULL AS MyProj.t)`, out: `SELECT ROW(1)::` + qS + `.t, CAST(NULL AS ` + qS + `.t)`},
	{name: "catalog.schema.table, as table_CAT and table_SCHEM say", in: `SELECT "MyProj"."MyProj".t.x FROM "MyProj"."MyProj".t`,
		out: `SELECT ` + qS + `.t.x FROM ` + qS + `.t`},
	{name: "comments and space around the dot", in: "SELECT * FROM -- c\n myproj /* x */ . -- y\n t",
		out: "SELECT * FROM -- c\n " + qS + " /* x */ . -- y\n t"},
	{name: "placeholders", in: `SELECT * FROM myproj.t WHERE x = ? AND y = $3`, out: `SELECT * FROM ` + qS + `.t WHERE x = ? AND y = $3`},
	{name: "numbers", in: `SELECT 1.5, .5, 1e5, 2.e-3 FROM myproj.t`, out: `SELECT 1.5, .5, 1e5, 2.e-3 FROM ` + qS + `.t`},
	{name: "FOR UPDATE OF", in: `SELECT * FROM myproj.t FOR UPDATE OF t`, out: `SELECT * FROM ` + qS + `.t FOR UPDATE OF t`},
	{name: "writes, which the sandbox refuses", in: `WITH d AS (DELETE FROM myproj.t RETURNING *) SELECT * INTO myproj.n FROM d; UPDATE myproj.t SET x = 1`,
		out: `WITH d AS (DELETE FROM ` + qS + `.t RETURNING *) SELECT * INTO ` + qS + `.n FROM d; UPDATE ` + qS + `.t SET x = 1`},
	{name: "alias like the project", in: `SELECT * FROM myproj.t AS myproj`, out: `SELECT * FROM ` + qS + `.t AS myproj`},

	// a project and its table of the same name (a star schema: sales.sales has a column
	// region, and there is a table region): table.column stays, schema.table changes
	{name: "table named as the project", project: "sales", in: `SELECT sales.amount FROM sales.sales`, out: `SELECT sales.amount FROM ` + qS + `.sales`},
	{name: "star schema", project: "sales",
		in:  `SELECT sales.region, region.name FROM sales.sales JOIN sales.region ON sales.region = region.id`,
		out: `SELECT sales.region, region.name FROM ` + qS + `.sales JOIN ` + qS + `.region ON sales.region = region.id`},
	{name: "schema.table.column of that table", project: "sales", in: `SELECT sales.sales.region FROM sales.sales`,
		out: `SELECT ` + qS + `.sales.region FROM ` + qS + `.sales`},
	{name: "FROM inside functions", project: "sales",
		in:  `SELECT extract(year FROM sales.day), substring(sales.note FROM 2 FOR 3), trim(both 'x' FROM sales.note) FROM sales.sales`,
		out: `SELECT extract(year FROM sales.day), substring(sales.note FROM 2 FOR 3), trim(both 'x' FROM sales.note) FROM ` + qS + `.sales`},
	{name: "IS DISTINCT FROM", project: "sales", in: `SELECT * FROM sales.sales WHERE sales.a IS NOT DISTINCT FROM sales.b`,
		out: `SELECT * FROM ` + qS + `.sales WHERE sales.a IS NOT DISTINCT FROM sales.b`},

	// left alone
	{name: "another project", in: `SELECT * FROM other.t, "Other".u`},
	{name: "a longer name", in: `SELECT * FROM myproj2.t, myproj_x.t`},
	{name: "alias.column", in: `SELECT myproj.x FROM t AS myproj`},
	{name: "bare name", in: `SELECT myproj, "MyProj" FROM t`},
	{name: "schema.function", in: `SELECT myproj.f(1)`},
	{name: "in strings", in: `SELECT 'myproj.t', E'myproj.t\'', $$myproj.t$$, $q$myproj.t$q$`},
	{name: "in comments", in: "SELECT 1 /* myproj.t */ -- myproj.t"},
	{name: "inside a catalog.schema.table of another catalog", in: `SELECT * FROM db.myproj.t`},
	{name: "a quoted name with a quote in it", in: `SELECT * FROM "My""Proj".t`},
	{name: "values", in: `VALUES (1)`},
}

func TestQualifyProject(t *testing.T) {
	for _, c := range qualifyCases {
		project := c.project
		if project == "" {
			project = "MyProj"
		}
		want := c.out
		if want == "" {
			want = c.in
		}
		if got := qualifyProject(c.in, project, "kala_p_0123"); got != want {
			t.Errorf("%s:\n in  %s\n got %s\n want %s", c.name, c.in, got, want)
		}
	}
}

// Whatever the statement, qualifying it changes only names: it stays one statement of the
// same kind with the same placeholders, and a statement that does not mention the project
// comes back as it was.
func FuzzQualifyProject(f *testing.F) {
	for _, c := range qualifyCases {
		f.Add(c.in)
	}
	for _, c := range statementCases {
		f.Add(c.in)
	}
	f.Fuzz(func(t *testing.T, sql string) {
		stmt, err := Statement(sql)
		if err != nil {
			return
		}
		out := qualifyProject(stmt, "MyProj", "kala_p_0123")
		if !strings.Contains(strings.ToLower(stmt), "myproj") && out != stmt {
			t.Fatalf("changed a statement that does not name the project:\n in  %q\n out %q", stmt, out)
		}
		again, err := Statement(out)
		if err != nil || again != out {
			t.Fatalf("no longer one statement: %q -> %q (%v)", stmt, out, err)
		}
		if firstWord(out) != firstWord(stmt) {
			t.Fatalf("the kind changed: %q -> %q", stmt, out)
		}
		if count(stmt, '?') != count(out, '?') {
			t.Fatalf("the placeholders changed: %q -> %q", stmt, out)
		}
	})
}

// count is how many c there are outside quotes and comments.
func count(s string, c byte) int {
	n := 0
	_, _ = scanCode(s, func(i int) bool {
		if s[i] == c {
			n++
		}
		return false
	})
	return n
}

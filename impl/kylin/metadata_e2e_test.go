package kylin_test

// JDBC-sane column metadata (SPEC §6): what Kylin's JDBC driver and the tools on it size
// columns by, in a query's columnMetas and in tables_and_columns.

import (
	"math"
	"strings"
	"testing"

	"github.com/kala-server/kala/impl/testkit"
)

// psMeta is what a column's metadata must say: the java.sql.Types number and name,
// precision, scale and display size.
type psMeta struct {
	code                      int
	name                      string
	precision, scale, display int
}

// Column metadata a JDBC tool can use, for every column type a table can have and for
// computed columns: sane precision, scale and display size (no 131089, no 65535), the
// same for a table's columns in tables_and_columns as in a query's columnMetas, and every
// value fits its display size.
func TestKylinColumnMetadataJDBC(t *testing.T) {
	e := testkit.New(t)
	tok := testkit.Bearer(e.AdminToken())
	admin := testkit.Basic("ADMIN", testkit.AdminPassword)
	p := testkit.NewProject(t, e, tok, "md", "")
	const maxInt = math.MaxInt32
	var (
		integer   = psMeta{4, "INTEGER", 10, 0, 11}
		bigint    = psMeta{-5, "BIGINT", 19, 0, 20}
		decimal   = psMeta{3, "DECIMAL", 38, 18, 40} // an unconstrained numeric: Spark's DECIMAL(38,18)
		double    = psMeta{8, "DOUBLE", 17, 0, 25}
		boolean   = psMeta{16, "BOOLEAN", 1, 0, 5}
		date      = psMeta{91, "DATE", 10, 0, 10}
		timestamp = psMeta{93, "TIMESTAMP", 26, 6, 26}
		varchar   = psMeta{12, "VARCHAR", maxInt, 0, maxInt}
	)
	cols := []struct {
		name, typ string
		want      psMeta
	}{
		{"i", "integer", integer}, {"b", "bigint", bigint}, {"n", "numeric", decimal}, {"d", "double", double},
		{"ok", "boolean", boolean}, {"day", "date", date}, {"at", "timestamp", timestamp}, {"s", "text", varchar},
	}
	var defs []map[string]any
	for _, c := range cols {
		defs = append(defs, map[string]any{"name": c.name, "type": c.typ})
	}
	base := "/api/datastores/" + p.ID
	e.Do("POST", base+"/tables", map[string]any{"name": "ty", "columns": defs}, tok).Expect(t, 201)
	e.Do("POST", base+"/tables/ty/rows", []map[string]any{{"i": -2147483648, "b": "-9223372036854775808",
		"n": "-12345678901234567890.123456789012345678", "d": -1.2345678901234567e-300, "ok": false, "day": "2026-11-23",
		"at": "2026-11-23T09:00:00.123456Z", "s": "hé"}}, tok).Expect(t, 201)

	exprs := []struct {
		sql  string
		want psMeta
	}{
		{"count(*)", bigint},
		{"sum(i)", bigint},
		{"sum(b)", decimal},
		{"sum(n)", decimal},
		{"sum(d)", double},
		{"avg(i)", decimal},
		{"max(n)", decimal},
		{"max(s)", varchar},
		{"max(at)", timestamp},
		{"cast(-1.5 AS numeric(10,2))", psMeta{3, "DECIMAL", 10, 2, 12}},
		{"cast(-12345 AS numeric(5))", psMeta{3, "DECIMAL", 5, 0, 6}},
		{"cast(-123 AS numeric(3,-2))", psMeta{3, "DECIMAL", 3, -2, 6}},
		{"max(s)::varchar(20)", psMeta{12, "VARCHAR", 20, 0, 20}},
		{"cast(max(s) AS char(3))", psMeta{1, "CHAR", 3, 0, 3}},
		{"cast(max(at) AS date)", date},
		{"cast(-32768 AS smallint)", psMeta{5, "SMALLINT", 5, 0, 6}},
		{"cast(-1.17549435e-38 AS real)", psMeta{7, "REAL", 8, 0, 15}},
		{"1.5", decimal},
		{"'x'", varchar},
		{"true", boolean},
		{"max(at)::timestamptz", psMeta{93, "TIMESTAMP", 32, 6, 32}},
	}
	var sel []string
	for _, c := range cols {
		sel = append(sel, c.name)
	}
	r := sbRun(t, e, admin, "md", `SELECT `+strings.Join(sel, ", ")+` FROM ty`)
	var aggs []string
	for _, x := range exprs {
		aggs = append(aggs, x.sql)
	}
	ra := sbRun(t, e, admin, "md", `SELECT `+strings.Join(aggs, ", ")+` FROM md.ty`)
	if r.Data.IsException || ra.Data.IsException || len(r.Data.ColumnMetas) != len(cols) || len(ra.Data.ColumnMetas) != len(exprs) {
		t.Fatalf("queries: %s\n%s", r.raw, ra.raw)
	}
	check := func(what string, m psMeta, want psMeta, value string) {
		t.Helper()
		if m != want {
			t.Errorf("%s: %+v, want %+v", what, m, want)
		}
		if len([]rune(value)) > m.display {
			t.Errorf("%s: the value %q is wider than the display size %d", what, value, m.display)
		}
		t.Logf("%-32s %-9s precision %10d scale %2d display %10d  value %s", what, m.name, m.precision, m.scale, m.display, value)
	}
	for j, c := range cols {
		m := r.Data.ColumnMetas[j]
		check("column "+c.name+" ("+c.typ+")", psMeta{m.ColumnType, m.ColumnTypeName, m.Precision, m.Scale, m.DisplaySize}, c.want, r.cell(0, j))
	}
	for j, x := range exprs {
		m := ra.Data.ColumnMetas[j]
		check(x.sql, psMeta{m.ColumnType, m.ColumnTypeName, m.Precision, m.Scale, m.DisplaySize}, x.want, ra.cell(0, j))
	}

	// tables_and_columns says the same of the table's columns: COLUMN_SIZE is the
	// precision, DECIMAL_DIGITS the scale
	tc := psTablesOf(t, e, admin, "md")
	if len(tc.Data) != 2 { // t and ty
		t.Fatalf("tables_and_columns: %+v", tc)
	}
	for _, tb := range tc.Data {
		if tb.Name != "ty" {
			continue
		}
		for j, c := range tb.Columns {
			want := cols[j].want
			if c.Name != cols[j].name || c.Type != want.code || c.TypeName != want.name || c.Size != want.precision || c.DecimalDigits != want.scale {
				t.Errorf("tables_and_columns %s: %+v, want %+v", cols[j].name, c, want)
			}
		}
	}
}

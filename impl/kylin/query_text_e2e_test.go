package kylin_test

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/kala-server/kala/impl/testkit"
)

// textForms are values as /kylin/api/query answers them, one per SQL expression: what the
// answer carried when every value went through a Go type (lib/pq's) and back to text, so
// that reading PostgreSQL's own text cannot change a byte of it. A nil want is NULL.
var textForms = []struct {
	expr string
	want *string
}{
	// integers
	{`42`, sp("42")}, {`7::int2`, sp("7")}, {`(-2147483648)::int4`, sp("-2147483648")},
	{`9223372036854775807::int8`, sp("9223372036854775807")}, {`(-9223372036854775808)::int8`, sp("-9223372036854775808")},
	{`0::int8`, sp("0")},
	// numeric: PostgreSQL's text, scale kept
	{`12.50::numeric`, sp("12.50")}, {`(-0.001)::numeric(10,4)`, sp("-0.0010")}, {`'NaN'::numeric`, sp("NaN")},
	{`1e30::numeric`, sp("1000000000000000000000000000000")}, {`2::numeric / 3`, sp("0.66666666666666666667")},
	// double and real: Go's shortest form, exponent from 1e21 and below 1e-4 (and from 1e6
	// for the digits of an integer), infinities as Go writes them
	{`0.5::float8`, sp("0.5")}, {`1234567::float8`, sp("1.234567e+06")}, {`123456::float8`, sp("123456")},
	{`1e-7::float8`, sp("1e-07")}, {`0.0001::float8`, sp("0.0001")}, {`1e21::float8`, sp("1e+21")},
	{`0.1::float8 + 0.2::float8`, sp("0.30000000000000004")}, {`'-0'::float8`, sp("-0")},
	{`'Infinity'::float8`, sp("+Inf")}, {`'-Infinity'::float8`, sp("-Inf")}, {`'NaN'::float8`, sp("NaN")},
	{`1.5::float4`, sp("1.5")}, {`0.1::float4`, sp("0.1")}, {`16777217::float4`, sp("1.6777216e+07")},
	{`1.7976931348623157e308::float8`, sp("1.7976931348623157e+308")}, {`5e-324::float8`, sp("5e-324")},
	// booleans
	{`true`, sp("true")}, {`false`, sp("false")}, {`1 < 2`, sp("true")},
	// dates and timestamps in ISO form, fractions without trailing zeros
	{`date '2026-11-23'`, sp("2026-11-23")}, {`date '0001-01-01'`, sp("0001-01-01")}, {`date '9999-12-31'`, sp("9999-12-31")},
	{`date 'infinity'`, sp("infinity")}, {`date '-infinity'`, sp("-infinity")},
	{`date '0044-03-15 BC'`, sp("-0043-03-15")}, {`date '10000-01-01'`, sp("10000-01-01")},
	{`timestamp '2026-11-23 09:00:00'`, sp("2026-11-23 09:00:00")}, {`timestamp '2026-11-23 09:00:00.5'`, sp("2026-11-23 09:00:00.5")},
	{`timestamp '2026-11-23 23:59:59.123456'`, sp("2026-11-23 23:59:59.123456")},
	{`timestamp '2026-11-23 09:00:00.000001'`, sp("2026-11-23 09:00:00.000001")},
	{`timestamp '2026-11-23 09:00:00.1200'`, sp("2026-11-23 09:00:00.12")},
	{`timestamp 'infinity'`, sp("infinity")}, {`timestamp '-infinity'`, sp("-infinity")},
	{`timestamp '0044-03-15 12:30:00 BC'`, sp("-0043-03-15 12:30:00")},
	{`date '2026-11-23' + time '10:11:12'`, sp("2026-11-23 10:11:12")},
	// times: no time zone, whatever the type
	{`time '09:00:00.5'`, sp("09:00:00.5")}, {`time '24:00:00'`, sp("00:00:00")}, {`timetz '09:00:00+02'`, sp("09:00:00")},
	// text as it is, escaped in JSON only
	{`'a"b\c'`, sp(`a"b\c`)}, {`''`, sp("")}, {`'<&>'`, sp("<&>")}, {`E'tab\there\nline'`, sp("tab\there\nline")},
	{`'hé 漢字 🎉'`, sp("hé 漢字 🎉")}, {`E'\u2028'`, sp("\u2028")}, {`'x'::varchar(3)`, sp("x")}, {`'a'::char(3)`, sp("a  ")},
	{`'z'::"char"`, sp("z")}, {`'n'::name`, sp("n")}, {`repeat('é', 3000)`, sp(strings.Repeat("é", 3000))},
	// everything else in PostgreSQL's text form
	{`interval '1 day 02:00'`, sp("1 day 02:00:00")}, {`array[1,2]`, sp("{1,2}")}, {`array['a b', NULL]`, sp(`{"a b",NULL}`)},
	{`'{"a":1}'::json`, sp(`{"a":1}`)}, {`'{"a":1}'::jsonb`, sp(`{"a": 1}`)},
	{`'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11'::uuid`, sp("a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11")},
	{`'192.168.0.1'::inet`, sp("192.168.0.1")}, {`row(1, 'a b')`, sp(`(1,"a b")`)}, {`'1.5'::money`, sp("$1.50")},
	{`'\x41ff'::bytea`, sp("A\ufffd")}, {`pg_sleep(0)`, sp("")}, {`'abc'::regclass::oid`, nil},
	// NULL of every type
	{`NULL::int4`, nil}, {`NULL::int8`, nil}, {`NULL::numeric`, nil}, {`NULL::float8`, nil}, {`NULL::bool`, nil},
	{`NULL::date`, nil}, {`NULL::timestamp`, nil}, {`NULL::timestamptz`, nil}, {`NULL::text`, nil}, {`NULL::bytea`, nil},
	{`NULL`, nil},
}

// Every value comes back in the text the answer has always had: one expression at a time,
// then all of them as the columns of one row (a NULL row below it).
func TestQueryValueTextForms(t *testing.T) {
	e := testkit.New(t)
	basic := testkit.Basic("ADMIN", testkit.AdminPassword)
	p := testkit.NewProject(t, e, testkit.Bearer(e.AdminToken()), "sb_text", "")
	var exprs, nulls []string
	for i, c := range textForms {
		if c.expr == `'abc'::regclass::oid` {
			continue // fails by itself; here to say a failing value stays a failure
		}
		r := sbRun(t, e, basic, p.Name, "SELECT "+c.expr+" AS v")
		if r.Data.IsException || len(r.Data.Results) != 1 || len(r.Data.Results[0]) != 1 {
			t.Errorf("%s: %s", c.expr, r.raw)
			continue
		}
		if got := r.Data.Results[0][0]; !sameText(got, c.want) {
			t.Errorf("%s: %s, want %s", c.expr, show(got), show(c.want))
		}
		exprs = append(exprs, fmt.Sprintf("%s AS c%d", c.expr, i))
		nulls = append(nulls, "NULL")
	}
	r := sbRun(t, e, basic, p.Name, "SELECT "+strings.Join(exprs, ", ")+" UNION ALL SELECT "+strings.Join(nulls, ", "))
	if r.Data.IsException || len(r.Data.Results) != 2 || len(r.Data.Results[0]) != len(exprs) {
		t.Fatalf("all at once: %.500s", r.raw)
	}
	j := 0
	for _, c := range textForms {
		if c.expr == `'abc'::regclass::oid` {
			continue
		}
		if got := r.Data.Results[0][j]; !sameText(got, c.want) {
			t.Errorf("%s among the others: %s, want %s", c.expr, show(got), show(c.want))
		}
		if got := r.Data.Results[1][j]; got != nil {
			t.Errorf("%s: NULL came back as %q", c.expr, *got)
		}
		j++
	}
	// a value that fails is the SQL failing
	if r := sbRun(t, e, basic, p.Name, `SELECT 'abc'::regclass::oid`); !r.Data.IsException || !strings.Contains(r.msg(), "abc") {
		t.Errorf("a failing value: %s", r.raw)
	}
	// the JSON escapes are encoding/json's
	r = sbRun(t, e, basic, p.Name, `SELECT '<&>' AS a, E'\u2028' AS b, E'\x01' AS c`)
	if !strings.Contains(r.raw, `"results":[["\u003c\u0026\u003e","\u2028","\u0001"]]`) {
		t.Errorf("escapes: %s", r.raw)
	}
	// now() is a timestamp with its offset
	r = sbRun(t, e, basic, p.Name, `SELECT now(), localtimestamp(3), current_date`)
	if got := r.cell(0, 0); !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,6})?(Z|[+-]\d\d:\d\d)$`).MatchString(got) {
		t.Errorf("now(): %q", got)
	}
	if got := r.cell(0, 1); !regexp.MustCompile(`^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d{1,3})?$`).MatchString(got) {
		t.Errorf("localtimestamp(3): %q", got)
	}
	if got := r.cell(0, 2); !regexp.MustCompile(`^\d{4}-\d\d-\d\d$`).MatchString(got) {
		t.Errorf("current_date: %q", got)
	}
}

// Columns of the same name, and no columns at all, come back as asked.
func TestQueryOddColumns(t *testing.T) {
	e := testkit.New(t)
	basic := testkit.Basic("ADMIN", testkit.AdminPassword)
	p := testkit.NewProject(t, e, testkit.Bearer(e.AdminToken()), "sb_odd", "")
	r := sbRun(t, e, basic, p.Name, `SELECT 1 AS a, 'x' AS a, 2.5::float8 AS a, 3`)
	if r.Data.IsException || r.cell(0, 0)+","+r.cell(0, 1)+","+r.cell(0, 2)+","+r.cell(0, 3) != "1,x,2.5,3" || len(r.Data.ColumnMetas) != 4 ||
		r.Data.ColumnMetas[1].Name != "a" || r.Data.ColumnMetas[2].ColumnTypeName != "DOUBLE" || r.Data.ColumnMetas[3].Name != "?column?" {
		t.Errorf("same names: %s", r.raw)
	}
	r = sbRun(t, e, basic, p.Name, `SELECT FROM generate_series(1, 3)`)
	if r.Data.IsException || len(r.Data.ColumnMetas) != 0 || !strings.Contains(r.raw, `"results":[[],[],[]]`) {
		t.Errorf("no columns: %s", r.raw)
	}
}

// Every column type a datastore table can have, over many rows, in the text it was
// written with (a double in Go's shortest form).
func TestQueryTableValuesAsText(t *testing.T) {
	e := testkit.New(t)
	tok := testkit.Bearer(e.AdminToken())
	basic := testkit.Basic("ADMIN", testkit.AdminPassword)
	p := testkit.NewProject(t, e, tok, "sb_rows", "")
	base := "/api/datastores/" + p.ID
	e.Do("POST", base+"/tables", map[string]any{"name": "v", "columns": []map[string]any{
		{"name": "i", "type": "integer"}, {"name": "b", "type": "bigint"}, {"name": "n", "type": "numeric"},
		{"name": "d", "type": "double"}, {"name": "ok", "type": "boolean"}, {"name": "day", "type": "date"},
		{"name": "at", "type": "timestamp"}, {"name": "s", "type": "text"}}}, tok).Expect(t, 201)
	const n = 600
	var rows []map[string]any
	want := make([]string, n)
	for k := range n {
		row := map[string]any{"i": k - 300}
		cells := []string{fmt.Sprint(k - 300)}
		add := func(name string, v any, text string) {
			if k%7 == 3 {
				cells = append(cells, "<null>")
				return
			}
			row[name] = v
			cells = append(cells, text)
		}
		b := int64(k) * 15_485_863_000_003 * int64(1-2*(k%2))
		d := float64(k*k-90000) * []float64{1, 1e-9, 3.7e5, 1.25e17, 1e-3}[k%5]
		day := fmt.Sprintf("%04d-%02d-%02d", 1+k*16%9999, 1+k%12, 1+k%28)
		frac := []string{"", ".5", ".25", ".123456", ".000001", ".1"}[k%6]
		at := fmt.Sprintf("%sT%02d:%02d:%02d%s", day, k%24, k%60, (k*7)%60, frac)
		add("b", fmt.Sprint(b), fmt.Sprint(b))
		add("n", fmt.Sprintf("%d.%02d", k-300, k%100), fmt.Sprintf("%d.%02d", k-300, k%100))
		add("d", d, strconv.FormatFloat(d, 'g', -1, 64))
		add("ok", k%2 == 0, fmt.Sprint(k%2 == 0))
		add("day", day, day)
		add("at", at, strings.Replace(at, "T", " ", 1))
		s := []string{"plain", `q"uote \ back`, "", "<&>", "é\u2028🎉", "\x01ctl"}[k%6]
		add("s", s, s)
		rows = append(rows, row)
		want[k] = strings.Join(cells, "|")
	}
	e.Do("POST", base+"/tables/v/rows", rows, tok).Expect(t, 201)
	r := sbQuery(t, e, basic, map[string]any{"sql": "SELECT i, b, n, d, ok, day, at, s FROM v ORDER BY i", "project": p.Name, "limit": n})
	if r.Data.IsException || len(r.Data.Results) != n {
		t.Fatalf("query: %.500s", r.raw)
	}
	for k := range n {
		var cells []string
		for j := range 8 {
			cells = append(cells, r.cell(k, j))
		}
		if got := strings.Join(cells, "|"); got != want[k] {
			t.Errorf("row %d:\n got %s\nwant %s", k, got, want[k])
		}
	}
}

func sameText(a, b *string) bool { return a == nil && b == nil || a != nil && b != nil && *a == *b }

func show(s *string) string {
	if s == nil {
		return "NULL"
	}
	return fmt.Sprintf("%.200q", *s)
}

func sp(s string) *string { return &s }

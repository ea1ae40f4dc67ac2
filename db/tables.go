package db

import (
	"context"
	"database/sql"
	"fmt"
	"regexp"
	"strings"

	"github.com/lib/pq"
)

// Column is one column of a project table, with its type in the API's words.
type Column struct {
	Name     string
	Type     string
	Nullable bool
}

// Table is a project table.
type Table struct {
	Name    string
	Columns []Column
}

// SQLTypes maps the API's column types to PostgreSQL's.
var SQLTypes = map[string]string{
	"text": "text", "integer": "integer", "bigint": "bigint", "double": "double precision",
	"numeric": "numeric", "boolean": "boolean", "date": "date", "timestamp": "timestamp without time zone",
}

func apiType(sqlType string) string {
	for api, s := range SQLTypes {
		if s == sqlType {
			return api
		}
	}
	return sqlType
}

// Tables lists a schema's tables and columns in name and column order; with only set,
// just that table.
func Tables(ctx context.Context, q Queryer, schema, only string) ([]Table, error) {
	rows, err := q.QueryxContext(ctx, `SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), NOT a.attnotnull
		FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
		JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
		WHERE n.nspname = $1 AND c.relkind = 'r' AND ($2 = '' OR c.relname = $2)
		ORDER BY c.relname, a.attnum`, schema, only)
	if err != nil {
		return nil, mapErr(err)
	}
	defer rows.Close()
	var out []Table
	for rows.Next() {
		var t, col, typ string
		var nullable bool
		if err := rows.Scan(&t, &col, &typ, &nullable); err != nil {
			return nil, err
		}
		if len(out) == 0 || out[len(out)-1].Name != t {
			out = append(out, Table{Name: t})
		}
		last := &out[len(out)-1]
		last.Columns = append(last.Columns, Column{Name: col, Type: apiType(typ), Nullable: nullable})
	}
	return out, mapErr(rows.Err())
}

// CreateTable makes a table and lets the project's role read it. Names must already be
// validated; they are quoted regardless.
func CreateTable(ctx context.Context, q Queryer, schema, role string, t Table) error {
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		typ, ok := SQLTypes[c.Type]
		if !ok {
			return fmt.Errorf("unknown column type %q", c.Type)
		}
		cols[i] = pq.QuoteIdentifier(c.Name) + " " + typ
		if !c.Nullable {
			cols[i] += " NOT NULL"
		}
	}
	qualified := pq.QuoteIdentifier(schema) + "." + pq.QuoteIdentifier(t.Name)
	if _, err := q.ExecContext(ctx, `CREATE TABLE `+qualified+` (`+strings.Join(cols, ", ")+`)`); err != nil {
		return mapErr(err)
	}
	if _, err := q.ExecContext(ctx, `GRANT SELECT ON `+qualified+` TO `+pq.QuoteIdentifier(role)); err != nil {
		return mapErr(err)
	}
	_, err := q.ExecContext(ctx, `INSERT INTO table_rows (schema_name, table_name, n) VALUES ($1, $2, 0)`, schema, t.Name)
	return mapErr(err)
}

// DropTable drops a table and its row count.
func DropTable(ctx context.Context, q Queryer, schema, table string) error {
	if _, err := q.ExecContext(ctx, `DROP TABLE `+pq.QuoteIdentifier(schema)+"."+pq.QuoteIdentifier(table)); err != nil {
		return mapErr(err)
	}
	_, err := q.ExecContext(ctx, `DELETE FROM table_rows WHERE schema_name = $1 AND table_name = $2`, schema, table)
	return mapErr(err)
}

// CopyRows streams rows into a table with COPY, inside the caller's transaction, and
// counts them in the table's row count (which makes concurrent inserts into one table
// take turns until the first commits).
func CopyRows(ctx context.Context, q interface {
	PrepareContext(context.Context, string) (*sql.Stmt, error)
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, schema, table string, cols []string, rows [][]any) error {
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = pq.QuoteIdentifier(c)
	}
	stmt, err := q.PrepareContext(ctx, `COPY `+pq.QuoteIdentifier(schema)+"."+pq.QuoteIdentifier(table)+
		` (`+strings.Join(quoted, ", ")+`) FROM STDIN`)
	if err != nil {
		return mapErr(err)
	}
	defer stmt.Close()
	for _, r := range rows {
		if _, err := stmt.ExecContext(ctx, r...); err != nil {
			return mapErr(err)
		}
	}
	if _, err = stmt.ExecContext(ctx); err != nil {
		return mapErr(err)
	}
	_, err = q.ExecContext(ctx, `UPDATE table_rows SET n = n + $3 WHERE schema_name = $1 AND table_name = $2`,
		schema, table, len(rows))
	return mapErr(err)
}

// RowsPage asks for a page of a table's rows: Offset rows skipped after the row After (a
// RowKey; "" for the start), Limit rows at most.
type RowsPage struct {
	After         string
	Offset, Limit int
}

var rowKey = regexp.MustCompile(`^([0-9]{1,10})-([0-9]{1,5})$`)

// ValidRowKey reports whether s has the form of a RowKey.
func ValidRowKey(s string) bool { return rowKey.MatchString(s) }

// Rows reads a page of a table, every value as text (nil for NULL), in storage order,
// the table's row count, and the key of the page's last row when more rows follow.
// Rows are only ever inserted, so storage order is insertion order and a row's place
// (its ctid) a stable key. The page is read by a TID range scan, which walks the table's
// blocks in order and so returns rows in storage order without sorting the table (an
// ORDER BY ctid sorts every row: seconds at a million); `After` starts the scan at the
// row after the key, so a deep page costs what the first does.
func Rows(ctx context.Context, q Queryer, schema string, t Table, p RowsPage) (rows [][]*string, total int, next string, err error) {
	qualified := pq.QuoteIdentifier(schema) + "." + pq.QuoteIdentifier(t.Name)
	cols := make([]string, len(t.Columns), len(t.Columns)+1)
	for i, c := range t.Columns {
		cols[i] = pq.QuoteIdentifier(c.Name) + "::text"
	}
	from := "(0,0)"
	op := ">="
	if m := rowKey.FindStringSubmatch(p.After); m != nil {
		from, op = "("+m[1]+","+m[2]+")", ">"
	}
	rs, err := q.QueryContext(ctx, `SELECT `+strings.Join(append(cols, "ctid::text"), ", ")+` FROM `+qualified+
		` WHERE ctid `+op+` $1::tid OFFSET $2 LIMIT $3`, from, p.Offset, p.Limit+1)
	if err != nil {
		return nil, 0, "", mapErr(err)
	}
	defer rs.Close()
	rows = [][]*string{}
	var last string
	for rs.Next() {
		if len(rows) == p.Limit {
			next = strings.NewReplacer("(", "", ")", "", ",", "-").Replace(last) // more follow
			break
		}
		vals := make([]*string, len(cols))
		ptrs := make([]any, len(cols)+1)
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		ptrs[len(cols)] = &last
		if err := rs.Scan(ptrs...); err != nil {
			return nil, 0, "", err
		}
		rows = append(rows, vals)
	}
	if err := rs.Err(); err != nil {
		return nil, 0, "", mapErr(err)
	}
	// a table without a count (made outside the API) is counted
	err = q.GetContext(ctx, &total, `SELECT COALESCE((SELECT n FROM table_rows WHERE schema_name = $1 AND table_name = $2),
		(SELECT count(*) FROM `+qualified+`))`, schema, t.Name)
	return rows, total, next, mapErr(err)
}

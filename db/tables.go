package db

import (
	"context"
	"database/sql"
	"fmt"
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
	_, err := q.ExecContext(ctx, `GRANT SELECT ON `+qualified+` TO `+pq.QuoteIdentifier(role))
	return mapErr(err)
}

// DropTable drops a table.
func DropTable(ctx context.Context, q Queryer, schema, table string) error {
	_, err := q.ExecContext(ctx, `DROP TABLE `+pq.QuoteIdentifier(schema)+"."+pq.QuoteIdentifier(table))
	return mapErr(err)
}

// CopyRows streams rows into a table with COPY, inside the caller's transaction.
func CopyRows(ctx context.Context, q interface {
	PrepareContext(context.Context, string) (*sql.Stmt, error)
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
	_, err = stmt.ExecContext(ctx)
	return mapErr(err)
}

// Rows reads a page of a table, every value as text (nil for NULL), in storage order:
// rows are only ever inserted, so their physical order is stable.
func Rows(ctx context.Context, q Queryer, schema string, t Table, offset, limit int) ([][]*string, int, error) {
	qualified := pq.QuoteIdentifier(schema) + "." + pq.QuoteIdentifier(t.Name)
	cols := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		cols[i] = pq.QuoteIdentifier(c.Name) + "::text"
	}
	rs, err := q.QueryContext(ctx, `SELECT `+strings.Join(cols, ", ")+` FROM `+qualified+
		` ORDER BY ctid OFFSET $1 LIMIT $2`, offset, limit)
	if err != nil {
		return nil, 0, mapErr(err)
	}
	defer rs.Close()
	out := [][]*string{}
	for rs.Next() {
		vals := make([]*string, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rs.Scan(ptrs...); err != nil {
			return nil, 0, err
		}
		out = append(out, vals)
	}
	if err := rs.Err(); err != nil {
		return nil, 0, mapErr(err)
	}
	var total int
	err = q.GetContext(ctx, &total, `SELECT count(*) FROM `+qualified)
	return out, total, mapErr(err)
}

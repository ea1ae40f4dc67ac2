package data

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/impl/errs"
)

var identifier = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_]{0,62}$`)

// MaxRows is the most rows one insert takes.
const MaxRows = 10000

func checkIdentifier(field, name string) (string, error) {
	if !identifier.MatchString(name) {
		return "", errs.Field(field, "must be letters, digits and underscores, starting with a letter, at most 63 characters")
	}
	return strings.ToLower(name), nil
}

// Tables returns a page of an opened project's tables and how many there are.
func (s *Core) Tables(ctx context.Context, proj *Project, offset, limit int) ([]db.Table, int, error) {
	ts, err := db.Tables(ctx, s.DB, proj.SchemaName, "")
	if err != nil {
		return nil, 0, errs.Wrap(err, "list tables")
	}
	if offset >= len(ts) {
		return []db.Table{}, len(ts), nil
	}
	return ts[offset:min(len(ts), offset+limit)], len(ts), nil
}

// Table returns one table of an opened project.
func (s *Core) Table(ctx context.Context, proj *Project, name string) (*db.Table, error) {
	n, err := checkIdentifier("table", name)
	if err != nil {
		return nil, err
	}
	ts, err := db.Tables(ctx, s.DB, proj.SchemaName, n)
	if err != nil {
		return nil, errs.Wrap(err, "load table")
	}
	if len(ts) == 0 {
		return nil, errs.E(errs.NotFound, "project %s has no table %s", proj.Name, n)
	}
	return &ts[0], nil
}

// CreateTable makes a table in an opened project.
func (s *Core) CreateTable(ctx context.Context, proj *Project, t db.Table) (*db.Table, error) {
	var err error
	if t.Name, err = checkIdentifier("name", t.Name); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for i := range t.Columns {
		c := &t.Columns[i]
		field := fmt.Sprintf("columns[%d]", i)
		if c.Name, err = checkIdentifier(field+".name", c.Name); err != nil {
			return nil, err
		}
		if seen[c.Name] {
			return nil, errs.Field(field+".name", "repeats column "+c.Name)
		}
		seen[c.Name] = true
		if _, ok := db.SQLTypes[c.Type]; !ok {
			return nil, errs.Field(field+".type", "is not a column type")
		}
	}
	if len(t.Columns) == 0 {
		return nil, errs.Field("columns", "must have at least one column")
	}
	err = s.DB.Tx(ctx, func(tx db.Queryer) error { return db.CreateTable(ctx, tx, proj.SchemaName, proj.RoleName, t) })
	if errors.Is(err, db.ErrDuplicate) {
		return nil, errs.E(errs.Conflict, "project %s already has a table %s", proj.Name, t.Name)
	} else if err != nil {
		return nil, errs.Wrap(err, "create table")
	}
	return &t, nil
}

// DropTable drops a table of an opened project.
func (s *Core) DropTable(ctx context.Context, proj *Project, name string) error {
	t, err := s.Table(ctx, proj, name)
	if err != nil {
		return err
	}
	return errs.Wrap(s.DB.Tx(ctx, func(tx db.Queryer) error { return db.DropTable(ctx, tx, proj.SchemaName, t.Name) }), "drop table")
}

// InsertRows checks every row against the table's columns, then inserts them all in one
// transaction. The first bad value is reported with its row index and column, and
// nothing is inserted.
func (s *Core) InsertRows(ctx context.Context, proj *Project, table string, raw []json.RawMessage) (int, error) {
	if len(raw) > MaxRows {
		return 0, errs.Field("body", fmt.Sprintf("must have at most %d rows", MaxRows))
	}
	t, err := s.Table(ctx, proj, table)
	if err != nil {
		return 0, err
	}
	cols := make([]string, len(t.Columns))
	index := map[string]int{}
	for i, c := range t.Columns {
		cols[i] = c.Name
		index[c.Name] = i
	}
	rows := make([][]any, len(raw))
	for i, r := range raw {
		dec := json.NewDecoder(bytes.NewReader(r))
		dec.UseNumber()
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil || obj == nil {
			return 0, errs.Field(fmt.Sprintf("rows[%d]", i), "must be an object")
		}
		vals := make([]any, len(cols))
		for k, v := range obj {
			ci, ok := index[k]
			if !ok {
				return 0, errs.Field(fmt.Sprintf("rows[%d].%s", i, k), "is not a column of "+t.Name)
			}
			if vals[ci], err = convert(t.Columns[ci].Type, v); err != nil {
				return 0, errs.Field(fmt.Sprintf("rows[%d].%s", i, k), err.Error())
			}
		}
		for ci, c := range t.Columns {
			if vals[ci] == nil && !c.Nullable {
				return 0, errs.Field(fmt.Sprintf("rows[%d].%s", i, c.Name), "is required (the column is NOT NULL)")
			}
		}
		rows[i] = vals
	}
	err = s.DB.Tx(ctx, func(tx db.Queryer) error { return db.CopyRows(ctx, tx, proj.SchemaName, t.Name, cols, rows) })
	if err != nil {
		return 0, errs.Wrap(err, "insert rows")
	}
	return len(rows), nil
}

var dateRE = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}$`)

// convert checks a JSON value against a column type and returns what COPY takes.
func convert(typ string, v any) (any, error) {
	if v == nil {
		return nil, nil
	}
	switch typ {
	case "text":
		if s, ok := v.(string); ok {
			if strings.ContainsRune(s, 0) {
				return nil, errors.New("must not contain NUL characters")
			}
			return s, nil
		}
		return nil, errors.New("must be a string")
	case "integer", "bigint":
		bits := 32
		if typ == "bigint" {
			bits = 64
		}
		var text string
		switch x := v.(type) {
		case json.Number:
			text = x.String()
		case string:
			if typ == "bigint" {
				text = x
			}
		}
		n, err := strconv.ParseInt(text, 10, bits)
		if err != nil {
			return nil, fmt.Errorf("must be a whole number that fits %s", typ)
		}
		return n, nil
	case "double":
		x, ok := v.(json.Number)
		if !ok {
			return nil, errors.New("must be a number")
		}
		f, err := strconv.ParseFloat(x.String(), 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, errors.New("must be a finite number")
		}
		return f, nil
	case "numeric":
		var text string
		switch x := v.(type) {
		case json.Number:
			text = x.String()
		case string:
			text = x
		}
		if _, ok := new(big.Float).SetString(text); !ok || text == "" || strings.ContainsAny(text, "xXpP_") || len(text) > 1000 {
			return nil, errors.New("must be a number or a string of digits")
		}
		return text, nil
	case "boolean":
		if b, ok := v.(bool); ok {
			return b, nil
		}
		return nil, errors.New("must be true or false")
	case "date":
		s, ok := v.(string)
		if !ok || !dateRE.MatchString(s) {
			return nil, errors.New("must be a date YYYY-MM-DD")
		}
		if _, err := time.Parse(time.DateOnly, s); err != nil {
			return nil, errors.New("must be a real date YYYY-MM-DD")
		}
		return s, nil
	case "timestamp":
		s, ok := v.(string)
		if !ok {
			return nil, errors.New("must be a timestamp string")
		}
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"} {
			if t, err := time.Parse(layout, s); err == nil {
				// stored without a zone: an offset is applied, then dropped (as UTC)
				return t.UTC().Format("2006-01-02 15:04:05.999999"), nil
			}
		}
		return nil, errors.New("must be an RFC 3339 timestamp or YYYY-MM-DD HH:MM:SS")
	}
	return nil, fmt.Errorf("has unknown type %s", typ)
}

// Rows returns a page of a table's rows as JSON-ready values, the table's row count, and
// the key to continue after the page when more rows follow (see db.Rows).
func (s *Core) Rows(ctx context.Context, proj *Project, table string, p db.RowsPage) ([]map[string]any, int, string, error) {
	if p.After != "" && !db.ValidRowKey(p.After) {
		return nil, 0, "", errs.Field("after", "is not a row key (use page.next of the previous page)")
	}
	t, err := s.Table(ctx, proj, table)
	if err != nil {
		return nil, 0, "", err
	}
	raw, total, next, err := db.Rows(ctx, s.DB, proj.SchemaName, *t, p)
	if err != nil {
		return nil, 0, "", errs.Wrap(err, "read rows")
	}
	out := make([]map[string]any, len(raw))
	for i, r := range raw {
		m := make(map[string]any, len(r))
		for ci, c := range t.Columns {
			m[c.Name] = present(c.Type, r[ci])
		}
		out[i] = m
	}
	return out, total, next, nil
}

// present turns PostgreSQL's text form of a value into JSON: integers and finite doubles
// as numbers, booleans as booleans, bigint and numeric as strings (no digit lost).
func present(typ string, v *string) any {
	if v == nil {
		return nil
	}
	s := *v
	switch typ {
	case "integer":
		return json.Number(s)
	case "double":
		if _, err := strconv.ParseFloat(s, 64); err == nil && !strings.ContainsAny(s, "aIn") {
			return json.Number(s)
		}
		return s // NaN, Infinity
	case "boolean":
		return s == "t" || s == "true"
	case "timestamp":
		return strings.Replace(s, " ", "T", 1)
	}
	return s
}

package db

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
)

// A query's values reach its answer as text, in the forms Kylin's answers have always
// had here, which are mostly PostgreSQL's own. lib/pq hands on most types as the bytes
// PostgreSQL sent, and turns a few into Go values. For integers, floats and booleans that
// is cheap and their text is appended straight from the value (no string is made for
// it). Dates and timestamps cost it a string, a parse under a global lock and a
// time.Time, and text a copy into a string: so the statement is run a second time
// wrapped in casts (textStatement) that make PostgreSQL send those columns as a type
// lib/pq hands on as received, and each of their values goes from lib/pq's read buffer to
// the answer as it is, but for the rare dates outside the ISO form (valueText). Casting
// the other types too costs more in PostgreSQL than it saves here (measured).

// sentAsText are the types textStatement casts.
var sentAsText = map[string]bool{"DATE": true, "TIMESTAMP": true, "TEXT": true, "VARCHAR": true}

// textStatement wraps sql, whose columns are cols, as runQuery's wrapper does, with each
// column of sentAsText cast to text and on to refcursor: a type with text's own input and
// output, which lib/pq hands on as the bytes received. The columns are renamed by
// position, so that names the statement repeats or leaves out do not matter.
func textStatement(sql string, cols []ResultColumn) string {
	var sel, names strings.Builder
	cast := false
	for i, c := range cols {
		if i > 0 {
			sel.WriteString(", ")
			names.WriteString(", ")
		}
		name := "kala_c" + strconv.Itoa(i+1)
		names.WriteString(name)
		sel.WriteString(name)
		if sentAsText[c.Type] {
			sel.WriteString("::text::refcursor")
			cast = true
		}
	}
	if !cast {
		return wrapped(sql)
	}
	return "SELECT " + sel.String() + " FROM (\n" + sql + "\n) AS kala_query(" + names.String() + ") OFFSET $1 LIMIT $2"
}

// cell takes a column's value from database/sql as the driver gave it: nil for NULL, a
// []byte that is lib/pq's read buffer until the next row, or a Go value.
type cell struct{ v any }

func (c *cell) Scan(src any) error {
	c.v = src
	return nil
}

// noText is an empty value, which is not NULL.
var noText = []byte{}

// valueText is the text of a value of a column of type typ, nil for NULL: the bytes
// received when they are the answer's text already, else the text appended to buf.
// grown is buf, to reuse for the next row.
func valueText(v any, typ string, buf []byte) (out, grown []byte, err error) {
	switch x := v.(type) {
	case nil:
		return nil, buf, nil
	case []byte:
		if typ == "DATE" && !isoDate(x) || typ == "TIMESTAMP" && !isoTimestamp(x) {
			return otherTime(x, typ, buf)
		}
		if x == nil {
			x = noText
		}
		return x, buf, nil
	case string:
		buf = append(buf, x...)
	case int64:
		buf = strconv.AppendInt(buf, x, 10)
	case float64:
		buf = strconv.AppendFloat(buf, x, 'g', -1, 64)
	case bool:
		buf = strconv.AppendBool(buf, x)
	case time.Time:
		buf = x.AppendFormat(buf, timeLayout(typ))
	default:
		buf = fmt.Append(buf, v)
	}
	if buf == nil {
		return noText, buf, nil
	}
	return buf, buf, nil
}

// otherTime is the text of a date or timestamp PostgreSQL did not send in the ISO form
// the answer has (BC, after 9999, infinite, or another DateStyle), read as lib/pq reads
// it.
func otherTime(b []byte, typ string, buf []byte) (out, grown []byte, err error) {
	s := string(b)
	if s == "infinity" || s == "-infinity" {
		return b, buf, nil // lib/pq hands these on as text
	}
	t, err := pq.ParseTimestamp(nil, s)
	if err != nil {
		return nil, buf, fmt.Errorf("pq: %w", err)
	}
	buf = t.AppendFormat(buf, timeLayout(typ))
	return buf, buf, nil
}

// timeLayout is how the answer writes a time of a column of type typ: no zone but a
// timestamptz's offset (Z for UTC), fractions of a second without trailing zeros.
func timeLayout(typ string) string {
	switch typ {
	case "DATE":
		return "2006-01-02"
	case "TIMESTAMPTZ":
		return "2006-01-02 15:04:05.999999Z07:00"
	case "TIME", "TIMETZ":
		return "15:04:05.999999"
	}
	return "2006-01-02 15:04:05.999999"
}

// isoDate says b is a date as 2006-01-02, which is the answer's form of it.
func isoDate(b []byte) bool {
	return len(b) == 10 && digits(b[0:4]) && b[4] == '-' && digits(b[5:7]) && b[7] == '-' && digits(b[8:10])
}

// isoTimestamp says b is a timestamp as 2006-01-02 15:04:05 with no fraction or one of up
// to six digits without trailing zeros, which is the answer's form of it.
func isoTimestamp(b []byte) bool {
	if len(b) < 19 || !isoDate(b[:10]) || b[10] != ' ' || !digits(b[11:13]) || b[13] != ':' || !digits(b[14:16]) ||
		b[16] != ':' || !digits(b[17:19]) {
		return false
	}
	frac := b[19:]
	return len(frac) == 0 || len(frac) >= 2 && len(frac) <= 7 && frac[0] == '.' && digits(frac[1:]) && frac[len(frac)-1] != '0'
}

func digits(b []byte) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

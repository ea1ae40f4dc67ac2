package db

import (
	"fmt"
	"testing"
	"time"

	"github.com/lib/pq"
)

// A date or timestamp in PostgreSQL's ISO text goes to the answer as it is: the same
// text lib/pq's time.Time formatted gives, for every year, time and fraction PostgreSQL
// writes. Other forms take that way itself.
func TestValueTextDatesAsGoFormatsThem(t *testing.T) {
	var texts []string
	for _, y := range []int{1, 9, 10, 99, 100, 999, 1000, 1582, 1970, 2000, 2024, 2026, 9999} {
		for _, md := range [][2]int{{1, 1}, {2, 28}, {2, 29}, {6, 15}, {12, 31}} {
			if md[1] == 29 && (y%4 != 0 || y%100 == 0 && y%400 != 0) { // PostgreSQL writes no day that is not
				continue
			}
			day := fmt.Sprintf("%04d-%02d-%02d", y, md[0], md[1])
			texts = append(texts, day)
			for _, tm := range []string{"00:00:00", "09:05:07", "23:59:59"} {
				// PostgreSQL writes up to six digits, without trailing zeros
				for _, frac := range []string{"", ".1", ".5", ".05", ".123", ".000001", ".999999", ".12345"} {
					texts = append(texts, day+" "+tm+frac)
				}
			}
		}
	}
	texts = append(texts, "0044-03-15 BC", "0044-03-15 12:30:00 BC", "10000-01-01", "10000-01-01 00:00:00", "infinity", "-infinity")
	for _, s := range texts {
		typ := "TIMESTAMP"
		if len(s) == 10 || s == "0044-03-15 BC" {
			typ = "DATE"
		}
		want := s
		if s != "infinity" && s != "-infinity" {
			tm, err := pq.ParseTimestamp(nil, s)
			if err != nil {
				t.Fatalf("%s: %v", s, err)
			}
			want = tm.Format(timeLayout(typ))
		}
		got, _, err := valueText([]byte(s), typ, nil)
		if err != nil || string(got) != want {
			t.Errorf("%s %s: %q, %v; want %q", typ, s, got, err, want)
		}
	}
	if _, _, err := valueText([]byte("23.11.2026"), "DATE", nil); err == nil {
		t.Error("a date in another DateStyle should fail as lib/pq fails it")
	}
}

// Values that are the answer's text already are handed on as received, without a copy;
// Go values are appended to the column's buffer; NULL stays NULL and empty stays empty.
func TestValueTextInPlace(t *testing.T) {
	buf := make([]byte, 0, 64)
	for _, c := range []struct{ typ, in string }{
		{"NUMERIC", "12.50"}, {"TEXT", ""}, {"TEXT", "hé"}, {"DATE", "2026-11-23"}, {"TIMESTAMP", "2026-11-23 09:00:00.5"},
	} {
		in := []byte(c.in)
		got, grown, err := valueText(in, c.typ, buf)
		if err != nil || string(got) != c.in || got == nil || len(in) > 0 && &got[0] != &in[0] || cap(grown) != cap(buf) {
			t.Errorf("%s %q: %q, %v, copied or grown", c.typ, c.in, got, err)
		}
	}
	for _, c := range []struct {
		v    any
		typ  string
		want string
	}{
		{int64(-42), "INT4", "-42"}, {1234567.0, "FLOAT8", "1.234567e+06"}, {0.1, "FLOAT4", "0.1"}, {true, "BOOL", "true"},
		{"a  ", "BPCHAR", "a  "}, {"", "BPCHAR", ""},
		{time.Date(2026, 11, 23, 9, 0, 0, 5e8, time.FixedZone("", 7200)), "TIMESTAMPTZ", "2026-11-23 09:00:00.5+02:00"},
		{time.Date(2026, 11, 23, 9, 0, 0, 0, time.UTC), "TIMESTAMPTZ", "2026-11-23 09:00:00Z"},
		{time.Date(0, 1, 1, 9, 30, 0, 0, time.FixedZone("", 7200)), "TIMETZ", "09:30:00"},
	} {
		got, _, err := valueText(c.v, c.typ, buf)
		if err != nil || string(got) != c.want || got == nil || &got[:1][0] != &buf[:1][0] {
			t.Errorf("%s %v: %q, %v; want %q in the buffer", c.typ, c.v, got, err, c.want)
		}
	}
	if got, _, _ := valueText(nil, "INT4", buf); got != nil {
		t.Errorf("NULL: %q", got)
	}
	var stamp, float any = []byte("2026-11-23 09:00:00"), 1234567.25 // as lib/pq hands them on
	if n := testing.AllocsPerRun(100, func() {
		_, _, _ = valueText(stamp, "TIMESTAMP", buf)
		_, _, _ = valueText(float, "FLOAT8", buf)
	}); n != 0 {
		t.Errorf("%v allocations for a timestamp and a float", n)
	}
}

// The wrapper casts the columns lib/pq would decode and leaves the others, renamed by
// position either way.
func TestTextStatement(t *testing.T) {
	cols := []ResultColumn{{Type: "DATE"}, {Type: "INT4"}, {Type: "TIMESTAMPTZ"}, {Type: "TEXT"}}
	want := "SELECT kala_c1::text::refcursor, kala_c2, kala_c3, kala_c4::text::refcursor FROM (\nSELECT 1\n) AS kala_query(kala_c1, kala_c2, kala_c3, kala_c4) OFFSET $1 LIMIT $2"
	if got := textStatement("SELECT 1", cols); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
	plain := "SELECT * FROM (\nSELECT 1\n) AS kala_query OFFSET $1 LIMIT $2"
	for _, cols := range [][]ResultColumn{nil, {{Type: "NUMERIC"}, {Type: "INT8"}, {Type: "BPCHAR"}}} {
		if got := textStatement("SELECT 1", cols); got != plain {
			t.Errorf("%v: %q, want the plain wrapper", cols, got)
		}
	}
}

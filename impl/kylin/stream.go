package kylin

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/gen"
	"github.com/kala-server/kala/impl/auth"
	"github.com/kala-server/kala/impl/data"
)

// answerBuffer is how much of a query's answer is gathered before anything is sent. Up to
// then a failing statement still gets the answer Kylin gives: isException, no rows.
const answerBuffer = 32 << 10

// queryAnswer is POST /query's 200 answer, written while the rows are read so that no
// result is ever held whole: the envelope and columnMetas first, then each row, then the
// fields known only at the end (isException, duration, resultRowCount, partial). JSON
// field order means nothing to clients; the bytes of every value are encoding/json's.
type queryAnswer struct {
	f       *Face
	ctx     context.Context
	p       *auth.Principal
	proj    *data.Project
	sql     string
	params  []data.Param
	offset  int
	limit   int
	queryID string
	shape   queryShape
	label   string // the answer's Content-Type
	prepare bool   // prestate: the columns only
}

func (a *queryAnswer) VisitKylinPrepareQueryResponse(w http.ResponseWriter) error {
	return a.VisitKylinQueryResponse(w)
}

func (a *queryAnswer) VisitKylinQueryResponse(w http.ResponseWriter) error {
	// A client that stops reading would keep its query, its database connection and its
	// place under the limits: the answer must be sent within twice the statement timeout.
	rc := http.NewResponseController(w)
	_ = rc.SetWriteDeadline(time.Now().Add(2 * a.f.Data.Limits.Timeout))
	defer func() { _ = rc.SetWriteDeadline(time.Time{}) }() // the connection may serve more requests
	out := &answerWriter{to: &okOnFirstWrite{w: w, contentType: a.label}, proj: a.proj, shape: a.shape, prepare: a.prepare}
	out.bw = bufio.NewWriterSize(out.to, answerBuffer)
	var res data.QueryOutcome
	var err error
	if a.prepare {
		res, err = a.f.Data.Prepare(a.ctx, a.p, a.proj, a.sql, a.params, out)
	} else {
		res, err = a.f.Data.Query(a.ctx, a.p, a.proj, a.sql, a.params, a.offset, a.limit, out)
	}
	if err != nil && !out.to.started {
		return err // nothing sent: the usual error answer (429, 500)
	}
	if err != nil {
		// the status line is out: the answer itself says the query failed
		id := w.Header().Get("X-Request-Id")
		if out.to.err == nil && a.ctx.Err() == nil {
			a.f.Log.Error("internal error", "request_id", id, "err", err.Error())
		}
		res.SQLError = "internal error; request id " + id
	}
	out.finish(res, a.queryID)
	return nil // a failed write means the client is gone: nobody to tell
}

// okOnFirstWrite sends the 200 status line with the answer's first bytes, so that until
// then the answer can still be replaced.
type okOnFirstWrite struct {
	w           http.ResponseWriter
	contentType string
	started     bool
	err         error // the first failed write: the client is gone
}

func (o *okOnFirstWrite) Write(p []byte) (int, error) {
	if o.err != nil {
		return 0, o.err
	}
	if !o.started {
		o.started = true
		o.w.Header().Set("Content-Type", o.contentType)
		o.w.WriteHeader(http.StatusOK)
	}
	n, err := o.w.Write(p)
	o.err = err
	return n, err
}

// answerWriter writes the answer's JSON as the sandbox hands on the result.
type answerWriter struct {
	to      *okOnFirstWrite
	bw      *bufio.Writer
	proj    *data.Project
	shape   queryShape
	prepare bool
	opened  bool // the answer up to the results array is written
	rows    int
	scratch []byte // a value's piece, escaped (writeJSON)
}

var _ db.RowSink = (*answerWriter)(nil)

func (a *answerWriter) open(metas []gen.KylinColumnMeta) error {
	b, err := json.Marshal(metas)
	if err != nil {
		return err
	}
	if a.shape == shapeBare {
		_, _ = a.bw.WriteString(`{"columnMetas":`)
	} else {
		_, _ = a.bw.WriteString(`{"code":"000","data":{"columnMetas":`)
	}
	_, _ = a.bw.Write(b)
	_, _ = a.bw.WriteString(`,"results":[`)
	a.opened = true
	return a.to.err
}

func (a *answerWriter) Columns(cols []db.ResultColumn) error {
	return a.open(columnMetas(a.proj, cols))
}

func (a *answerWriter) Row(values [][]byte) error {
	// the row in one piece where it fits the buffer even if every byte were escaped
	need := 3 // [ ] ,
	for _, v := range values {
		need += 6*len(v) + 5 // "…", or null,
	}
	if need <= a.bw.Available() {
		b := a.bw.AvailableBuffer()
		if a.rows > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		for i, v := range values {
			if i > 0 {
				b = append(b, ',')
			}
			if v == nil {
				b = append(b, "null"...)
			} else {
				b = appendJSONString(b, v)
			}
		}
		_, _ = a.bw.Write(append(b, ']'))
		a.rows++
		return a.to.err
	}
	if a.rows > 0 {
		_ = a.bw.WriteByte(',')
	}
	_ = a.bw.WriteByte('[')
	for i, v := range values {
		if i > 0 {
			_ = a.bw.WriteByte(',')
		}
		if v == nil {
			_, _ = a.bw.WriteString("null")
		} else {
			a.scratch = writeJSON(a.bw, v, a.scratch)
		}
	}
	_ = a.bw.WriteByte(']')
	a.rows++
	return a.to.err
}

// finish writes the fields known only at the end and sends what is buffered. A statement
// that failed before anything was sent is answered as Kylin does, without the rows read
// before the failure; one that failed later keeps the rows sent and is marked partial.
func (a *answerWriter) finish(res data.QueryOutcome, queryID string) {
	failed := res.SQLError != ""
	if failed && !a.to.started {
		a.bw.Reset(a.to)
		a.opened, a.rows = false, 0
	}
	if !a.opened {
		_ = a.open([]gen.KylinColumnMeta{})
	}
	partial := res.Partial || failed && a.to.started
	_, _ = a.bw.WriteString(`],"affectedRowCount":0,"isException":` + strconv.FormatBool(failed) + `,"exceptionMessage":`)
	if failed {
		writeJSONString(a.bw, res.SQLError)
	} else {
		_, _ = a.bw.WriteString("null")
	}
	_, _ = a.bw.WriteString(`,"duration":` + strconv.FormatInt(res.Duration.Milliseconds(), 10) +
		`,"resultRowCount":` + strconv.Itoa(a.rows) + `,"queryId":`)
	writeJSONString(a.bw, queryID)
	_, _ = a.bw.WriteString(`,"partial":` + strconv.FormatBool(partial))
	switch a.shape {
	case shapeV2: // Kylin's v2 fields: no cube, nothing scanned, the database answered
		_, _ = a.bw.WriteString(`,"cube":"","totalScanCount":0,"totalScanBytes":0,"pushDown":true,"is_prepare":` +
			strconv.FormatBool(a.prepare) + `},"msg":""}` + "\n")
	case shapeBare:
		_, _ = a.bw.WriteString("}\n")
	default:
		_, _ = a.bw.WriteString(`},"msg":""}` + "\n")
	}
	_ = a.bw.Flush()
}

// jsonSafe marks the ASCII bytes encoding/json writes as they are: printable, except the
// quote, the backslash and the HTML characters it escapes.
var jsonSafe = func() (safe [utf8.RuneSelf]bool) {
	for c := ' '; c < utf8.RuneSelf; c++ {
		safe[c] = c != '"' && c != '\\' && c != '<' && c != '>' && c != '&'
	}
	return safe
}()

// appendJSONString appends s as a JSON string, byte for byte as encoding/json writes it
// (HTML characters, U+2028 and U+2029 escaped; invalid UTF-8 as U+FFFD).
func appendJSONString(b, s []byte) []byte {
	return append(appendJSONEscaped(append(b, '"'), s), '"')
}

// appendJSONEscaped appends s escaped as the inside of a JSON string: at most six bytes
// for each byte of s.
func appendJSONEscaped(b, s []byte) []byte {
	const hexDigits = "0123456789abcdef"
	done := 0 // s[:done] is appended
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			b = append(b, s[done:i]...)
			switch c {
			case '"', '\\':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, `\b`...)
			case '\f':
				b = append(b, `\f`...)
			case '\n':
				b = append(b, `\n`...)
			case '\r':
				b = append(b, `\r`...)
			case '\t':
				b = append(b, `\t`...)
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
			}
			i++
			done = i
			continue
		}
		r, size := utf8.DecodeRune(s[i:])
		switch {
		case r == utf8.RuneError && size == 1:
			b = append(b, s[done:i]...)
			b = append(b, `\ufffd`...)
		case r == '\u2028' || r == '\u2029':
			b = append(b, s[done:i]...)
			b = append(b, '\\', 'u', '2', '0', '2', hexDigits[r&0xf])
		default:
			i += size
			continue
		}
		i += size
		done = i
	}
	return append(b, s[done:]...)
}

// jsonPiece is how much of a long value is escaped at a time (into at most six times
// its size) on its way into the answer.
const jsonPiece = 512

// writeJSON writes s as a JSON string, as appendJSONString does, in pieces of jsonPiece
// bytes escaped into scratch, so that a value of megabytes is never copied whole. It
// returns scratch, to reuse.
func writeJSON(w *bufio.Writer, s, scratch []byte) []byte {
	_ = w.WriteByte('"')
	for len(s) > 0 {
		n := len(s)
		if n > jsonPiece {
			n = pieceEnd(s, jsonPiece)
		}
		scratch = appendJSONEscaped(scratch[:0], s[:n])
		_, _ = w.Write(scratch)
		s = s[n:]
	}
	_ = w.WriteByte('"')
	return scratch
}

// pieceEnd is where to cut s near n (n >= utf8.UTFMax) so that no UTF-8 sequence spans
// the cut: before the last byte that starts one within the three bytes before s[n], or at
// n when none of them does (then no valid sequence can reach s[n]). Escaped piece by
// piece, s then reads as it does whole.
func pieceEnd(s []byte, n int) int {
	for k := n; k > n-utf8.UTFMax; k-- {
		if utf8.RuneStart(s[k]) {
			return k
		}
	}
	return n
}

// writeJSONString writes s as a JSON string, byte for byte as encoding/json does.
func writeJSONString(w *bufio.Writer, s string) {
	writeJSON(w, []byte(s), nil)
}

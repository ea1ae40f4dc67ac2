package kylin

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kala-server/kala/db"
	"github.com/kala-server/kala/gen"
	"github.com/kala-server/kala/impl/data"
)

var jsonStrings = []string{
	"", "plain", `"quoted" and \back\slash`, "<script>&amp;</script>", "tab\tnew\nline\rret\bbs\fff",
	"\x00\x01\x1f\x7f", "é ü 漢字 🎉", "\u2028\u2029", "bad \xff\xfe utf8", "cut \xe6\xbc", "\xed\xa0\x80 surrogate",
	strings.Repeat("y", 100000) + "<" + strings.Repeat("\u00e9", 40000),
}

// writeJSONString writes what encoding/json writes, byte for byte.
func TestWriteJSONStringMatchesEncodingJSON(t *testing.T) {
	for _, s := range jsonStrings {
		checkJSONString(t, s)
	}
}

func FuzzWriteJSONString(f *testing.F) {
	for _, s := range jsonStrings {
		f.Add(s)
	}
	f.Fuzz(checkJSONString)
}

func checkJSONString(t *testing.T, s string) {
	want, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	var got bytes.Buffer
	w := bufio.NewWriterSize(&got, 16) // small, so long runs cross buffer boundaries
	writeJSONString(w, s)
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want) {
		t.Errorf("%.80q:\n got %.200s\nwant %.200s", s, got.Bytes(), want)
	}
	// and in one piece, as a row that fits the buffer writes it
	if one := appendJSONString([]byte("x"), []byte(s)); !bytes.Equal(one[1:], want) {
		t.Errorf("%.80q appended:\n got %.200s\nwant %.200s", s, one[1:], want)
	}
}

// A long value is escaped piece by piece: wherever a piece ends, in or next to a UTF-8
// sequence (valid, cut short, or stray continuation bytes), it reads as it does whole.
func TestWriteJSONStringInPieces(t *testing.T) {
	for _, unit := range []string{"🎉", "é", "漢", "\u2028", "\xff", "\xe6\xbc", "\x80\x80\x80\x80\x80", "\xf0\x9f\x8e", "<", "\x01"} {
		for shift := range 5 {
			checkJSONString(t, strings.Repeat("a", shift)+strings.Repeat(unit+"b", 3*jsonPiece/len(unit)))
			checkJSONString(t, strings.Repeat("a", shift)+strings.Repeat(unit, 3*jsonPiece/len(unit)))
		}
	}
}

func ptr(s string) *string { return &s }

// rowBytes is a row as the sandbox hands it on.
func rowBytes(r []*string) [][]byte {
	out := make([][]byte, len(r))
	for i, v := range r {
		if v != nil {
			out[i] = []byte(*v)
		}
	}
	return out
}

var (
	testProject = &data.Project{Project: db.Project{Name: "sales"}}
	testColumns = []db.ResultColumn{{Name: "customer", Type: "TEXT", Length: -1},
		{Name: "amount", Type: "NUMERIC", Precision: 10, Scale: 2, Length: -1}, {Name: "<odd> \"name\"", Type: "INT4", Length: -1}}
	testRows = [][]*string{{ptr("Ada"), ptr("12.50"), ptr("1")}, {nil, ptr("-0.01"), nil},
		{ptr("<b>&\u2028\t\"é"), ptr("0"), ptr("3")}}
)

// stream writes an answer through answerWriter as the sandbox would drive it.
func stream(rows [][]*string, res data.QueryOutcome) *httptest.ResponseRecorder {
	return streamAs(shapeEnvelope, rows, res)
}

func streamAs(shape queryShape, rows [][]*string, res data.QueryOutcome) *httptest.ResponseRecorder {
	rec := httptest.NewRecorder()
	a := &answerWriter{to: &okOnFirstWrite{w: rec, contentType: MediaPublic}, proj: testProject, shape: shape}
	a.bw = bufio.NewWriterSize(a.to, answerBuffer)
	if err := a.Columns(testColumns); err != nil {
		panic(err)
	}
	for _, r := range rows {
		if err := a.Row(rowBytes(r)); err != nil {
			panic(err)
		}
	}
	a.finish(res, "q-1")
	return rec
}

// The streamed answer is the answer the generated handler wrote before, but for the
// order of the fields in data: decoded strictly and encoded again the old way, it gives
// the old bytes exactly.
func TestQueryAnswerEqualsEncodingJSON(t *testing.T) {
	res := data.QueryOutcome{Partial: true, Duration: 42 * time.Millisecond}
	rec := stream(testRows, res)
	if rec.Code != 200 || rec.Header().Get("Content-Type") != MediaPublic {
		t.Fatalf("status %d, content type %q", rec.Code, rec.Header().Get("Content-Type"))
	}
	old := gen.KylinQueryEnvelope{Code: gen.KylinQueryEnvelopeCodeN000, Data: gen.KylinQueryResult{
		ColumnMetas: columnMetas(testProject, testColumns), Results: testRows, Duration: 42, QueryId: "q-1",
		ResultRowCount: len(testRows), Partial: true}}
	var want bytes.Buffer
	if err := json.NewEncoder(&want).Encode(old); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
	dec.DisallowUnknownFields()
	var got gen.KylinQueryEnvelope
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decode %s: %v", rec.Body, err)
	}
	var again bytes.Buffer
	if err := json.NewEncoder(&again).Encode(got); err != nil {
		t.Fatal(err)
	}
	if again.String() != want.String() {
		t.Errorf("streamed answer differs:\n got %s\nwant %s", again.String(), want.String())
	}
	// and value for value the bytes are encoding/json's: only the order of fields differs
	ordered := struct {
		Code string `json:"code"`
		Data struct {
			ColumnMetas      []gen.KylinColumnMeta `json:"columnMetas"`
			Results          [][]*string           `json:"results"`
			AffectedRowCount int                   `json:"affectedRowCount"`
			IsException      bool                  `json:"isException"`
			ExceptionMessage *string               `json:"exceptionMessage"`
			Duration         int64                 `json:"duration"`
			ResultRowCount   int                   `json:"resultRowCount"`
			QueryID          string                `json:"queryId"`
			Partial          bool                  `json:"partial"`
		} `json:"data"`
		Msg string `json:"msg"`
	}{Code: "000"}
	ordered.Data.ColumnMetas, ordered.Data.Results = old.Data.ColumnMetas, testRows
	ordered.Data.Duration, ordered.Data.ResultRowCount, ordered.Data.QueryID, ordered.Data.Partial = 42, 3, "q-1", true
	var exact bytes.Buffer
	if err := json.NewEncoder(&exact).Encode(ordered); err != nil {
		t.Fatal(err)
	}
	if rec.Body.String() != exact.String() {
		t.Errorf("streamed bytes:\n got %s\nwant %s", rec.Body.String(), exact.String())
	}
}

// The bare shape is the envelope's data alone; the v2 shape adds Kylin's v2 fields.
func TestQueryAnswerShapes(t *testing.T) {
	res := data.QueryOutcome{Duration: time.Millisecond}
	strict := func(rec *httptest.ResponseRecorder, v any) {
		t.Helper()
		dec := json.NewDecoder(bytes.NewReader(rec.Body.Bytes()))
		dec.DisallowUnknownFields()
		if err := dec.Decode(v); err != nil {
			t.Fatalf("decode %s: %v", rec.Body, err)
		}
	}
	var bare gen.KylinQueryResult
	strict(streamAs(shapeBare, testRows, res), &bare)
	if bare.ResultRowCount != 3 || len(bare.ColumnMetas) != 3 || *bare.Results[0][0] != "Ada" {
		t.Errorf("bare: %+v", bare)
	}
	var v2 gen.KylinQueryEnvelopeV2
	strict(streamAs(shapeV2, testRows, res), &v2)
	if v2.Code != "000" || v2.Data.ResultRowCount != 3 || v2.Data.Cube != "" || !v2.Data.PushDown || v2.Data.IsPrepare {
		t.Errorf("v2: %+v", v2)
	}
}

func decodeAnswer(t *testing.T, rec *httptest.ResponseRecorder) gen.KylinQueryResult {
	t.Helper()
	var env gen.KylinQueryEnvelope
	if err := json.Unmarshal(rec.Body.Bytes(), &env); err != nil {
		t.Fatalf("the answer is not JSON: %v: %.300s", err, rec.Body.String())
	}
	return env.Data
}

// A statement failing before anything was sent is answered as before: no columns, no
// rows. Failing after the first buffer went out, the answer keeps the rows sent, says the
// failure and is partial, and is still one JSON document.
func TestQueryAnswerFailure(t *testing.T) {
	res := data.QueryOutcome{SQLError: "division by zero", Duration: time.Millisecond}
	got := decodeAnswer(t, stream(testRows, res))
	if !got.IsException || got.ExceptionMessage == nil || *got.ExceptionMessage != "division by zero" ||
		len(got.ColumnMetas) != 0 || len(got.Results) != 0 || got.ResultRowCount != 0 || got.Partial {
		t.Errorf("failure before the first byte: %+v", got)
	}

	many := make([][]*string, 2*answerBuffer/10)
	for i := range many {
		many[i] = []*string{ptr("0123456789"), nil, ptr("1")}
	}
	got = decodeAnswer(t, stream(many, res))
	if !got.IsException || *got.ExceptionMessage != "division by zero" || len(got.ColumnMetas) != 3 ||
		len(got.Results) != len(many) || got.ResultRowCount != len(many) || !got.Partial {
		t.Errorf("failure after the first bytes: isException %v, %d columns, %d rows (count %d), partial %v",
			got.IsException, len(got.ColumnMetas), len(got.Results), got.ResultRowCount, got.Partial)
	}
}

type failingWriter struct{ *httptest.ResponseRecorder }

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("connection reset") }

// Once the client is gone, the sink says so and the query stops.
func TestQueryAnswerClientGone(t *testing.T) {
	a := &answerWriter{to: &okOnFirstWrite{w: failingWriter{httptest.NewRecorder()}}, proj: testProject}
	a.bw = bufio.NewWriterSize(a.to, answerBuffer)
	if err := a.Columns(testColumns); err != nil {
		t.Fatal("nothing was sent yet, so nothing failed yet")
	}
	big := []*string{ptr(strings.Repeat("x", answerBuffer)), nil, nil}
	if err := a.Row(rowBytes(big)); err == nil {
		t.Fatal("a row sent to a client that is gone should fail")
	}
}

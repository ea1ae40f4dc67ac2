package crosscut_test

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/google/uuid"

	"github.com/kala-server/kala/impl"
	"github.com/kala-server/kala/impl/auth"
	"github.com/kala-server/kala/impl/testkit"
)

// TestContract drives every operation of openapi.yaml from the document itself: one valid
// request built from the operation's examples (path parameters from fixtures), and
// invalid requests derived from its schemas (each body and parameter constraint broken
// in turn, malformed JSON, a bad credential for each accepted scheme, none at all). Every
// response is checked against the document by testkit's ValidatingTransport; on top, no
// answer may be 5xx, valid requests must succeed, invalid ones must be refused with 400
// (malformed input, naming the field) or 401 (bad credentials).
//
// The only per-operation code is contractFixtureFor (which resources a path parameter or
// a reference in a body names) and contractUnfit (schemes refused to the admin by
// design): a new operation without path parameters is covered as is, and one with path
// parameters but no fixture fails loudly.
func TestContract(t *testing.T) {
	start := time.Now()
	// No lockout at all: the bad-credential requests below present wrong passwords (for a
	// throwaway user, not ADMIN) and must each be answered as such, never as "locked".
	e := testkit.New(t, func(c *impl.Config) { c.LockSchedule = []time.Duration{0} })
	doc := e.Server.Contract.Doc
	ops := contractOperations(t, doc)
	if len(ops) != len(e.Server.Contract.Operations) {
		t.Fatalf("walked %d operations, the contract knows %d", len(ops), len(e.Server.Contract.Operations))
	}
	fx := newContractFixtures(t, e)
	creds := newContractCreds(t, e, fx)

	results := map[string]*contractResult{}
	for _, op := range ops {
		res := &contractResult{}
		results[op.ID] = res
		t.Run(op.ID, func(t *testing.T) {
			ctb := contractTB{TB: t, n: &res.mismatches}
			se := *e
			se.T = ctb
			se.HTTP = &http.Client{Transport: testkit.NewValidatingTransport(ctb, e.Server.Contract, http.DefaultTransport),
				CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
			runContractOperation(t, &se, fx, creds, op, res)
		})
	}

	var covered, valid, invalid, failures, mismatches int
	byKind := map[string]int{}
	for _, op := range ops {
		r := results[op.ID]
		valid += r.valid
		invalid += r.invalid
		failures += r.failures + int(r.mismatches.Load())
		mismatches += int(r.mismatches.Load())
		for k, n := range r.byKind {
			byKind[k] += n
		}
		if r.valid2xx > 0 {
			covered++
		} else {
			t.Errorf("no valid request for %s", op.ID)
		}
	}
	var schemes []string
	for name := range doc.Components.SecuritySchemes {
		schemes = append(schemes, name)
	}
	sort.Strings(schemes)
	for _, s := range schemes {
		if creds.validUse[s] == 0 {
			t.Errorf("no valid request used the %s scheme", s)
		}
		if creds.badUse[s] == 0 {
			t.Errorf("no request presented a bad %s credential", s)
		}
	}
	t.Logf("contract summary: %d/%d operations covered; %d valid requests; %d invalid requests (%d body, %d parameter, %d credential); %d failures (%d of them responses not matching openapi.yaml); %s",
		covered, len(ops), valid, invalid, byKind["body"], byKind["parameter"], byKind["credential"], failures, mismatches, time.Since(start).Round(time.Millisecond))
	t.Logf("valid requests by scheme: %v; bad credentials by scheme: %v", creds.validUse, creds.badUse)
	if covered != len(ops) {
		t.Errorf("%d of %d operations covered", covered, len(ops))
	}
	if failures != 0 {
		t.Errorf("%d failures (see above)", failures)
	}
}

// contractResult tallies one operation.
type contractResult struct {
	valid, valid2xx, invalid, failures int
	byKind                             map[string]int
	mismatches                         atomic.Int64 // responses that do not match the document
}

// contractTB counts the errors the ValidatingTransport (and e.Do) report.
type contractTB struct {
	testing.TB
	n *atomic.Int64
}

func (c contractTB) Errorf(format string, args ...any) {
	c.TB.Helper()
	c.n.Add(1)
	c.TB.Errorf(format, args...)
}

func (c contractTB) Fatalf(format string, args ...any) {
	c.TB.Helper()
	c.n.Add(1)
	c.TB.Fatalf(format, args...)
}

func (c contractTB) Fatal(args ...any) {
	c.TB.Helper()
	c.n.Add(1)
	c.TB.Fatal(args...)
}

// contractOp is one operation of the document, with what the test needs of it.
type contractOp struct {
	ID, Method, Path string
	Params           []*openapi3.Parameter // path item's and operation's, the operation's winning
	Schemes          []string              // accepted schemes in document order; empty: `security: []`
	Op               *openapi3.Operation
	Body             *openapi3.Schema // nil: no request body
	BodyExample      any
	Declares         map[int]bool // the statuses the operation declares
}

func contractOperations(t *testing.T, doc *openapi3.T) []*contractOp {
	t.Helper()
	var ops []*contractOp
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			o := &contractOp{ID: op.OperationID, Method: method, Path: path, Op: op, Declares: map[int]bool{}}
			if o.ID == "" {
				t.Fatalf("%s %s has no operationId", method, path)
			}
			for _, p := range item.Parameters {
				if op.Parameters.GetByInAndName(p.Value.In, p.Value.Name) == nil {
					o.Params = append(o.Params, p.Value)
				}
			}
			for _, p := range op.Parameters {
				o.Params = append(o.Params, p.Value)
			}
			sec := op.Security
			if sec == nil {
				sec = &doc.Security
			}
			for _, req := range *sec {
				if len(req) != 1 {
					t.Fatalf("%s: a security requirement with %d schemes; this test supports exactly one per requirement", o.ID, len(req))
				}
				for name := range req {
					o.Schemes = append(o.Schemes, name)
				}
			}
			if rb := op.RequestBody; rb != nil && rb.Value != nil {
				mt := rb.Value.Content.Get("application/json")
				if mt == nil || mt.Schema == nil {
					t.Fatalf("%s: a request body without an application/json schema", o.ID)
				}
				o.Body = mt.Schema.Value
				o.BodyExample = mt.Example
				if o.BodyExample == nil {
					for _, name := range slices.Sorted(maps.Keys(mt.Examples)) {
						if ex := mt.Examples[name]; ex != nil && ex.Value != nil {
							o.BodyExample = ex.Value.Value
							break
						}
					}
				}
				if o.BodyExample == nil {
					t.Fatalf("%s: the request body has no example", o.ID)
				}
				o.BodyExample = contractJSONCopy(t, o.BodyExample)
			}
			for code := range op.Responses.Map() {
				if n, err := strconv.Atoi(code); err == nil {
					o.Declares[n] = true
				}
			}
			ops = append(ops, o)
		}
	}
	sort.Slice(ops, func(i, j int) bool { return ops[i].ID < ops[j].ID })
	return ops
}

func contractJSONCopy(t testing.TB, v any) any {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("example: %v", err)
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("example: %v", err)
	}
	return out
}

// contractReq is one request to an operation.
type contractReq struct {
	Path  map[string]string
	Query url.Values
	Body  any     // the JSON body, when the operation has one and Raw is nil
	Raw   *string // a body sent as is (malformed JSON, nothing)
}

func (r *contractReq) clone() *contractReq {
	c := &contractReq{Path: map[string]string{}, Query: url.Values{}, Body: r.Body, Raw: r.Raw}
	for k, v := range r.Path {
		c.Path[k] = v
	}
	for k, v := range r.Query {
		c.Query[k] = slices.Clone(v)
	}
	return c
}

func (r *contractReq) target(op *contractOp) string {
	p := op.Path
	for k, v := range r.Path {
		p = strings.ReplaceAll(p, "{"+k+"}", url.PathEscape(v))
	}
	if q := r.Query.Encode(); q != "" {
		p += "?" + q
	}
	return p
}

func (r *contractReq) payload(t testing.TB, op *contractOp) any {
	if r.Raw != nil {
		return testkit.Raw(*r.Raw)
	}
	if op.Body == nil {
		return nil
	}
	b, err := json.Marshal(r.Body)
	if err != nil {
		t.Fatalf("encode body: %v", err)
	}
	return testkit.Raw(b)
}

// contractVariant is one invalid request and what it must get.
type contractVariant struct {
	Kind  string // body, parameter, credential
	Label string
	Field string // the field a 400 must name
	Req   *contractReq
	Bad   string // credential: the scheme whose credential is bad, or "none"
	Want  int
}

func runContractOperation(t *testing.T, se *testkit.Env, fx *contractFixtures, creds *contractCreds, op *contractOp, res *contractResult) {
	res.byKind = map[string]int{}
	valid := contractValidRequest(t, se, fx, op)
	if op.Body != nil {
		if err := op.Body.VisitJSON(valid.Body, openapi3.VisitAsRequest(), openapi3.MultiErrors()); err != nil {
			res.failures++
			t.Errorf("the valid body (example + fixtures) does not match the schema: %v", err)
		}
	}
	fit := contractFitSchemes(op)
	send := func(req *contractReq, opts []testkit.ReqOpt) *testkit.Resp {
		se.T.Helper()
		return se.Do(op.Method, req.target(op), req.payload(t, op), opts...)
	}
	check := func(kind, label string, req *contractReq, scheme string, r *testkit.Resp, ok bool, want string) {
		t.Helper()
		if r.Status >= 500 {
			ok = false
			want += ", never 5xx"
		}
		if missing := contractMissingHeaders(op, r); len(missing) > 0 {
			ok = false
			want += fmt.Sprintf(", with the declared headers %v", missing)
		}
		if !ok {
			res.failures++
			body := ""
			if req.Raw != nil {
				body = *req.Raw
			} else if op.Body != nil {
				b, _ := json.Marshal(req.Body)
				body = string(b)
			}
			t.Errorf("%s %s: %s %s [%s] body %.300s\n  -> %d, want %s; response: %.500s",
				kind, label, op.Method, contractRedact(req.target(op)), scheme, body, r.Status, want, r.Body)
		}
	}

	// the valid request first, so that nothing an invalid one does (should a validation gap
	// let one through) can spoil it
	var opts []testkit.ReqOpt
	scheme := "no credential needed"
	if len(op.Schemes) > 0 {
		if len(fit) == 0 {
			res.failures++
			t.Fatalf("no security scheme of %s works for the admin", op.ID)
		}
		scheme = creds.pick(fit, true)
		opts = creds.good(t, scheme)
	}
	r := send(valid, opts)
	res.valid++
	ok := r.Status >= 200 && r.Status < 300
	if ok {
		res.valid2xx++
	}
	check("valid", "example", valid, scheme, r, ok, "2xx")

	for _, v := range contractInvalidVariants(t, op, valid) {
		var opts []testkit.ReqOpt
		scheme := v.Bad
		switch {
		case v.Bad == "none":
		case v.Bad != "":
			opts = creds.bad(t, v.Bad)
		case len(fit) > 0:
			scheme = creds.pick(fit, false)
			opts = creds.good(t, scheme)
		default:
			scheme = "no credential needed"
		}
		r := send(v.Req, opts)
		res.invalid++
		res.byKind[v.Kind]++
		ok, want := r.Status == v.Want, strconv.Itoa(v.Want)
		if ok {
			if problem := contractErrorProblem(v, r); problem != "" {
				ok, want = false, want+" "+problem
			}
		}
		check(v.Kind, v.Label, v.Req, scheme, r, ok, want)
	}
}

// contractMissingHeaders lists the headers the operation declares for the response's
// status that the response lacks.
func contractMissingHeaders(op *contractOp, r *testkit.Resp) []string {
	ref := op.Op.Responses.Status(r.Status)
	if ref == nil || ref.Value == nil {
		return nil
	}
	var out []string
	for _, name := range slices.Sorted(maps.Keys(ref.Value.Headers)) {
		if r.Header.Get(name) == "" {
			out = append(out, name)
		}
	}
	return out
}

// contractErrorProblem checks what an error answer says beyond its status: a 400 names
// the broken field (problem+json `errors[].field`, "a dotted path into the body or the
// parameter's name"; Kylin's `msg`, "KE-…: field: message"), and a Kylin 401 tells "none
// given" (KE-010003207) from a "bad username or password or token" (KE-010003208), as
// KylinUnauthorized documents.
func contractErrorProblem(v contractVariant, r *testkit.Resp) string {
	var body struct {
		Errors    []struct{ Field string } `json:"errors"`
		Msg       *string                  `json:"msg"`
		ErrorCode string                   `json:"error_code"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		return "with a JSON body"
	}
	switch {
	case r.Status == 400 && v.Field != "":
		var named []string
		if body.Msg != nil {
			if parts := strings.SplitN(*body.Msg, ": ", 3); len(parts) == 3 {
				named = append(named, parts[1])
			}
		}
		for _, e := range body.Errors {
			named = append(named, e.Field)
		}
		if !slices.Contains(named, v.Field) {
			return fmt.Sprintf("naming the field %q (the answer names %q)", v.Field, named)
		}
	case r.Status == 401 && body.ErrorCode != "":
		const none = "KE-010003207"
		if v.Bad == "none" && body.ErrorCode != none {
			return "with " + none + " (no credentials), not " + body.ErrorCode
		}
		// a session cookie the server does not know is, as in Kylin, no session at all
		if v.Bad != "none" && v.Bad != "sessionCookie" && body.ErrorCode == none {
			return "telling a bad credential (KE-010003208) from none (" + none + ")"
		}
	}
	return ""
}

// contractRedact hides the admin's API key in logged URLs.
func contractRedact(target string) string {
	if i := strings.Index(target, "key=kala_"); i >= 0 {
		end := strings.IndexByte(target[i:], '&')
		if end < 0 {
			return target[:i] + "key=REDACTED"
		}
		return target[:i] + "key=REDACTED" + target[i+end:]
	}
	return target
}

// contractValidRequest builds the operation's valid request: parameters and body from the
// document's examples, names made unique where the operation creates something unique,
// then the operation's fixtures.
func contractValidRequest(t *testing.T, se *testkit.Env, fx *contractFixtures, op *contractOp) *contractReq {
	t.Helper()
	r := &contractReq{Path: map[string]string{}, Query: url.Values{}}
	for _, p := range op.Params {
		switch p.In {
		case openapi3.ParameterInPath:
		case openapi3.ParameterInQuery:
			if p.Example == nil {
				if p.Required {
					t.Fatalf("required query parameter %s has no example", p.Name)
				}
				continue
			}
			r.Query.Set(p.Name, contractParamString(p.Example))
		default:
			t.Fatalf("parameter %s in %s: this test does not yet build %s parameters", p.Name, p.In, p.In)
		}
	}
	if op.Body != nil {
		r.Body = contractJSONCopy(t, op.BodyExample)
		// A POST that can answer 409 creates something whose name is unique: give the
		// example's name a counter, keeping its shape (letters, digits, underscores).
		if m, ok := r.Body.(map[string]any); ok && op.Method == http.MethodPost && op.Declares[http.StatusConflict] {
			for _, k := range []string{"name", "username"} {
				if s, ok := m[k].(string); ok {
					m[k] = fx.unique(s)
				}
			}
		}
	}
	if f, ok := contractFixtureFor[op.ID]; ok {
		f(fx, se, r)
	}
	for _, p := range op.Params {
		if p.In == openapi3.ParameterInPath && r.Path[p.Name] == "" {
			t.Fatalf("no fixture for path parameter %q of %s: add one to contractFixtureFor", p.Name, op.ID)
		}
	}
	return r
}

func contractParamString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

// contractUnfit lists schemes an operation declares that cannot work for the admin by
// design. API keys cannot change passwords (SPEC §3): the Kylin password change accepts
// them for the sake of one security list on the Kylin surface, and answers them 403.
var contractUnfit = map[string][]string{
	"kylinChangePassword": {"apiKeyHeader", "apiKeyQuery"},
}

func contractFitSchemes(op *contractOp) []string {
	var out []string
	for _, s := range op.Schemes {
		if !slices.Contains(contractUnfit[op.ID], s) {
			out = append(out, s)
		}
	}
	return out
}

// contractInvalidVariants derives the invalid requests from the operation's schemas.
func contractInvalidVariants(t *testing.T, op *contractOp, valid *contractReq) []contractVariant {
	var out []contractVariant
	// parameters
	for _, p := range op.Params {
		if p.Schema == nil || p.Schema.Value == nil {
			continue
		}
		s := p.Schema.Value
		where := p.In + " " + p.Name
		if p.Required && p.In == openapi3.ParameterInQuery {
			r := valid.clone()
			r.Query.Del(p.Name)
			out = append(out, contractVariant{Kind: "parameter", Label: where + ": missing", Field: p.Name, Req: r, Want: 400})
		}
		for _, b := range contractBadScalars(s) {
			str := contractParamString(b.v)
			if b.what == "number for string" || (str == "" && p.In == openapi3.ParameterInPath) {
				continue // a URL carries no types; an empty path segment is another route
			}
			if err := s.VisitJSON(contractParamTyped(s, str)); err == nil {
				t.Errorf("test generator: %s value %q is valid for the schema", where, str)
				continue
			}
			r := valid.clone()
			if p.In == openapi3.ParameterInPath {
				r.Path[p.Name] = str
			} else {
				r.Query.Set(p.Name, str)
			}
			out = append(out, contractVariant{Kind: "parameter", Label: where + ": " + b.what + fmt.Sprintf(" (%.40q)", str), Field: p.Name, Req: r, Want: 400})
		}
	}
	// body
	if op.Body != nil {
		add := func(path []any, what string, body any) {
			field := contractField(path)
			label := "body." + field + ": " + what
			if len(path) == 0 {
				label = "body: " + what
			}
			if err := op.Body.VisitJSON(body, openapi3.VisitAsRequest()); err == nil {
				t.Errorf("test generator: body variant %q is valid for the schema", label)
				return
			}
			r := valid.clone()
			r.Body = body
			out = append(out, contractVariant{Kind: "body", Label: label, Field: field, Req: r, Want: 400})
		}
		contractBodyVariants(valid.Body, nil, op.Body, add)
		for _, raw := range []struct{ label, body string }{{"malformed JSON", `{"a": `}, {"empty body", ""}} {
			r := valid.clone()
			r.Raw = &raw.body
			out = append(out, contractVariant{Kind: "body", Label: raw.label, Field: "body", Req: r, Want: 400})
		}
	}
	// credentials
	if len(op.Schemes) > 0 {
		for _, s := range op.Schemes {
			out = append(out, contractVariant{Kind: "credential", Label: "bad " + s, Req: valid.clone(), Bad: s, Want: 401})
		}
		out = append(out, contractVariant{Kind: "credential", Label: "no credential", Req: valid.clone(), Bad: "none", Want: 401})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Kind < out[j].Kind })
	return out
}

// contractParamTyped is a parameter's string as the validator reads it, for the
// generator's own check that a bad value is bad.
func contractParamTyped(s *openapi3.Schema, v string) any {
	switch {
	case s.Type.Is("integer"), s.Type.Is("number"):
		if f, err := strconv.ParseFloat(v, 64); err == nil {
			return f
		}
	case s.Type.Is("boolean"):
		if b, err := strconv.ParseBool(v); err == nil {
			return b
		}
	}
	return v
}

type contractBad struct {
	what string
	v    any
}

// contractBadScalars are values that break one constraint of a scalar schema: its type,
// its enum, its bounds, its length, its pattern, its format.
func contractBadScalars(s *openapi3.Schema) []contractBad {
	var out []contractBad
	switch {
	case s.Type.Is("string"):
		out = append(out, contractBad{"number for string", 12345.0})
	case s.Type.Is("integer"):
		out = append(out, contractBad{"string for integer", "not-a-number"}, contractBad{"fraction for integer", 1.5})
	case s.Type.Is("number"):
		out = append(out, contractBad{"string for number", "not-a-number"})
	case s.Type.Is("boolean"):
		out = append(out, contractBad{"string for boolean", "maybe"})
	case s.Type.Is("array"):
		out = append(out, contractBad{"object for array", map[string]any{}})
	case s.Type.Is("object"):
		out = append(out, contractBad{"array for object", []any{}})
	}
	if len(s.Enum) > 0 {
		switch {
		case s.Format == "uuid":
			out = append(out, contractBad{"unknown enum value", uuid.NewString()})
		case s.Type.Is("string"):
			out = append(out, contractBad{"unknown enum value", "NOT_AN_ENUM_VALUE"})
		case s.Type.Is("integer"), s.Type.Is("number"):
			hi := math.Inf(-1)
			for _, v := range s.Enum {
				if f, ok := v.(float64); ok && f > hi {
					hi = f
				}
			}
			out = append(out, contractBad{"unknown enum value", hi + 1})
		}
	}
	if s.Type.Is("string") {
		if s.MinLength > 0 {
			out = append(out, contractBad{"shorter than minLength", strings.Repeat("a", int(s.MinLength)-1)})
		}
		if s.MaxLength != nil {
			out = append(out, contractBad{"longer than maxLength", strings.Repeat("a", int(*s.MaxLength)+1)})
		}
		if s.Pattern != "" {
			if re, err := regexp.Compile(s.Pattern); err == nil {
				for _, c := range []string{"_x", "-x", "x y", "x!", "1x", "é"} {
					if !re.MatchString(c) {
						out = append(out, contractBad{"not matching the pattern", c})
						break
					}
				}
			}
		}
		switch s.Format {
		case "uuid":
			out = append(out, contractBad{"malformed uuid", "not-a-uuid"})
		case "date-time":
			out = append(out, contractBad{"malformed date-time", "not-a-date-time"})
		case "date":
			out = append(out, contractBad{"malformed date", "not-a-date"})
		}
	}
	if s.Type.Is("integer") || s.Type.Is("number") {
		if s.Min != nil {
			out = append(out, contractBad{"below minimum", *s.Min - 1})
		}
		if s.Max != nil {
			out = append(out, contractBad{"above maximum", *s.Max + 1})
		}
	}
	return out
}

// contractBodyVariants walks the body schema alongside the valid body, adding one
// variant per broken constraint: the node's scalar constraints, null where not nullable,
// array sizes and uniqueness, each required property dropped, an unknown property where
// additionalProperties is false, too few properties; then each property and the first
// item, recursively (properties the example lacks get a sample value first).
func contractBodyVariants(root any, path []any, s *openapi3.Schema, add func([]any, string, any)) {
	cur, _ := contractGet(root, path)
	for _, b := range contractBadScalars(s) {
		if (s.Type.Is("array") || s.Type.Is("object")) && b.what != "object for array" && b.what != "array for object" {
			continue
		}
		add(path, b.what, contractSet(root, path, b.v))
	}
	if s.Type != nil && !s.Nullable {
		add(path, "null", contractSet(root, path, nil))
	}
	switch {
	case s.Type.Is("array"):
		items, _ := cur.([]any)
		var item any
		if len(items) > 0 {
			item = items[0]
		} else if s.Items != nil && s.Items.Value != nil {
			item = contractSample(s.Items.Value)
		}
		if s.MinItems > 0 {
			short := make([]any, 0, s.MinItems-1)
			for i := 0; i < int(s.MinItems)-1; i++ {
				short = append(short, item)
			}
			add(path, "fewer than minItems", contractSet(root, path, short))
		}
		if s.MaxItems != nil {
			long := make([]any, int(*s.MaxItems)+1)
			for i := range long {
				long[i] = item
			}
			add(path, "more than maxItems", contractSet(root, path, long))
		}
		if s.UniqueItems {
			add(path, "duplicate items", contractSet(root, path, []any{item, item}))
		}
		if s.Items != nil && s.Items.Value != nil {
			r := root
			if len(items) == 0 {
				r = contractSet(root, path, []any{item})
			}
			contractBodyVariants(r, contractAppend(path, 0), s.Items.Value, add)
		}
	case s.Type.Is("object"):
		obj, _ := cur.(map[string]any)
		for _, name := range slices.Sorted(slices.Values(s.Required)) {
			if _, ok := obj[name]; ok {
				add(contractAppend(path, name), "missing (required)", contractDelete(root, path, name))
			}
		}
		if ap := s.AdditionalProperties.Has; ap != nil && !*ap {
			add(contractAppend(path, "unknownProperty"), "unknown property", contractSet(root, contractAppend(path, "unknownProperty"), "x"))
		}
		if s.MinProps > 0 {
			add(path, "fewer than minProperties", contractSet(root, path, map[string]any{}))
		}
		for _, name := range slices.Sorted(maps.Keys(s.Properties)) {
			ps := s.Properties[name].Value
			r := root
			if _, ok := obj[name]; !ok {
				r = contractSet(root, contractAppend(path, name), contractSample(ps))
			}
			contractBodyVariants(r, contractAppend(path, name), ps, add)
		}
	}
}

// contractField is how the document names a body field in errors: "a dotted path into
// the body" (FieldError.field), "body" for the body itself.
func contractField(path []any) string {
	if len(path) == 0 {
		return "body"
	}
	parts := make([]string, len(path))
	for i, p := range path {
		parts[i] = fmt.Sprint(p)
	}
	return strings.Join(parts, ".")
}

func contractAppend(path []any, p any) []any {
	return append(slices.Clone(path), p)
}

func contractGet(root any, path []any) (any, bool) {
	cur := root
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := cur.(map[string]any)
			if !ok {
				return nil, false
			}
			if cur, ok = m[k]; !ok {
				return nil, false
			}
		case int:
			s, ok := cur.([]any)
			if !ok || k >= len(s) {
				return nil, false
			}
			cur = s[k]
		}
	}
	return cur, true
}

// contractSet returns a copy of root with v at path; what it does not touch is shared.
func contractSet(root any, path []any, v any) any {
	if len(path) == 0 {
		return v
	}
	switch k := path[0].(type) {
	case string:
		m, _ := root.(map[string]any)
		c := make(map[string]any, len(m)+1)
		for kk, vv := range m {
			c[kk] = vv
		}
		c[k] = contractSet(c[k], path[1:], v)
		return c
	case int:
		s, _ := root.([]any)
		c := slices.Clone(s)
		for len(c) <= k {
			c = append(c, nil)
		}
		c[k] = contractSet(c[k], path[1:], v)
		return c
	}
	panic("bad path")
}

// contractDelete returns a copy of root without the property name of the object at path.
func contractDelete(root any, path []any, name string) any {
	obj, _ := contractGet(root, path)
	m, _ := obj.(map[string]any)
	c := make(map[string]any, len(m))
	for k, v := range m {
		if k != name {
			c[k] = v
		}
	}
	return contractSet(root, path, c)
}

// contractSample is a valid value for a schema: its example, default or first enum
// value, or one built from its type and constraints.
func contractSample(s *openapi3.Schema) any {
	switch {
	case s.Example != nil:
		b, _ := json.Marshal(s.Example)
		var v any
		_ = json.Unmarshal(b, &v)
		return v
	case s.Default != nil:
		return s.Default
	case len(s.Enum) > 0:
		return s.Enum[0]
	case s.Type.Is("string"):
		switch s.Format {
		case "uuid":
			return uuid.NewString()
		case "date-time":
			return time.Now().UTC().Format(time.RFC3339)
		case "date":
			return time.Now().UTC().Format(time.DateOnly)
		}
		return strings.Repeat("a", max(1, int(s.MinLength)))
	case s.Type.Is("integer"), s.Type.Is("number"):
		if s.Min != nil {
			return *s.Min
		}
		return 1.0
	case s.Type.Is("boolean"):
		return false
	case s.Type.Is("array"):
		if s.Items != nil && s.Items.Value != nil {
			return []any{contractSample(s.Items.Value)}
		}
		return []any{}
	case s.Type.Is("object"):
		m := map[string]any{}
		for _, r := range s.Required {
			if p := s.Properties[r]; p != nil && p.Value != nil {
				m[r] = contractSample(p.Value)
			}
		}
		return m
	}
	return "x"
}

// contractCreds holds the admin's credentials of every scheme, and bad ones.
type contractCreds struct {
	token, key, session string
	wrong               testkit.User // a throwaway user for wrong passwords
	validUse, anyUse    map[string]int
	badUse              map[string]int
}

func newContractCreds(t *testing.T, e *testkit.Env, fx *contractFixtures) *contractCreds {
	t.Helper()
	c := &contractCreds{token: fx.token, validUse: map[string]int{}, anyUse: map[string]int{}, badUse: map[string]int{}}
	c.key = e.NewKey(c.token, map[string]any{
		"name":        "contract test",
		"validTo":     e.Clock.Now().Add(24 * time.Hour).Format(time.RFC3339),
		"permissions": e.Server.Contract.AllPermissionIDs(),
	})
	r := e.Do("POST", "/kylin/api/user/authentication", nil, testkit.Basic("ADMIN", testkit.AdminPassword)).Expect(t, 200)
	for _, ck := range (&http.Response{Header: r.Header}).Cookies() {
		if ck.Name == auth.SessionCookie {
			c.session = ck.Value
		}
	}
	if c.session == "" {
		t.Fatal("the Kylin login set no JSESSIONID")
	}
	c.wrong = e.NewUser("contract_wrong_password", false)
	return c
}

// pick rotates through the schemes: the one used least so far (by valid requests, or by
// all requests with the admin's credentials), in document order on ties.
func (c *contractCreds) pick(schemes []string, forValid bool) string {
	use := c.anyUse
	if forValid {
		use = c.validUse
	}
	best := schemes[0]
	for _, s := range schemes[1:] {
		if use[s] < use[best] {
			best = s
		}
	}
	if forValid {
		c.validUse[best]++
	}
	c.anyUse[best]++
	return best
}

func (c *contractCreds) good(t testing.TB, scheme string) []testkit.ReqOpt {
	switch scheme {
	case "bearerAuth":
		return []testkit.ReqOpt{testkit.Bearer(c.token)}
	case "apiKeyHeader":
		return []testkit.ReqOpt{testkit.APIKey(c.key)}
	case "apiKeyQuery":
		return []testkit.ReqOpt{testkit.QueryKey(c.key)}
	case "basicAuth":
		return []testkit.ReqOpt{testkit.Basic("ADMIN", testkit.AdminPassword)}
	case "sessionCookie":
		return []testkit.ReqOpt{testkit.Header("Cookie", auth.SessionCookie+"="+c.session)}
	}
	t.Fatalf("no admin credential for security scheme %q: teach contractCreds about it", scheme)
	return nil
}

func (c *contractCreds) bad(t testing.TB, scheme string) []testkit.ReqOpt {
	if scheme != "none" {
		c.badUse[scheme]++
	}
	wellFormedKey, _, _ := auth.NewAPIKey() // right shape and checksum, unknown to the server
	switch scheme {
	case "none":
		return nil
	case "bearerAuth":
		return []testkit.ReqOpt{testkit.Bearer("garbage." + contractRandom(16) + ".token")}
	case "apiKeyHeader":
		return []testkit.ReqOpt{testkit.APIKey(wellFormedKey)}
	case "apiKeyQuery":
		return []testkit.ReqOpt{testkit.QueryKey(wellFormedKey)}
	case "basicAuth":
		return []testkit.ReqOpt{testkit.Basic(c.wrong.Name, "Wr0ng#"+contractRandom(6))}
	case "sessionCookie":
		return []testkit.ReqOpt{testkit.Header("Cookie", auth.SessionCookie+"="+contractRandom(32))}
	}
	t.Fatalf("no bad credential for security scheme %q: teach contractCreds about it", scheme)
	return nil
}

func contractRandom(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// contractFixtures are the resources the valid requests act on: the datastore (project)
// and table the examples name (`sales`, `orders`, with the examples' columns and a row),
// a second user (`analyst`, the Kylin examples' user, on sales' access list), and fresh
// ones for operations that destroy or change what they act on.
type contractFixtures struct {
	token    string
	n        int
	dsID     string
	project  string
	table    string
	userID   string
	userName string
}

func newContractFixtures(t *testing.T, e *testkit.Env) *contractFixtures {
	t.Helper()
	fx := &contractFixtures{token: e.AdminToken(), project: "sales", table: "orders", userName: "analyst"}
	tok := testkit.Bearer(fx.token)
	var ds struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	e.Do("POST", "/api/datastores", map[string]any{"name": fx.project, "description": "Orders and customers"}, tok).Expect(t, 201).JSON(t, &ds)
	fx.dsID = ds.Data.ID
	e.Do("POST", "/api/datastores/"+fx.dsID+"/tables", map[string]any{"name": fx.table, "columns": []map[string]any{
		{"name": "id", "type": "bigint", "nullable": false}, {"name": "customer", "type": "text"},
		{"name": "amount", "type": "numeric"}, {"name": "placed_at", "type": "timestamp"}}}, tok).Expect(t, 201)
	e.Do("POST", "/api/datastores/"+fx.dsID+"/tables/"+fx.table+"/rows", []map[string]any{
		{"id": 1, "customer": "Ada", "amount": "12.50", "placed_at": "2026-11-23T09:00:00Z"}}, tok).Expect(t, 201)
	var u struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	e.Do("POST", "/api/users", map[string]any{"username": fx.userName, "password": "Welcome#2026", "authorities": []string{"ROLE_ANALYST"}}, tok).Expect(t, 201).JSON(t, &u)
	fx.userID = u.Data.ID
	e.Do("POST", "/kylin/api/access/project", map[string]any{"project": fx.project, "type": "user", "permission": "QUERY",
		"names": []string{fx.userName}}, tok).Expect(t, 200)
	return fx
}

// unique gives a name a counter, keeping its shape: sales -> sales_3.
func (fx *contractFixtures) unique(name string) string {
	fx.n++
	return fmt.Sprintf("%s_%d", name, fx.n)
}

func (fx *contractFixtures) freshUser(se *testkit.Env, password string) (id, name string) {
	se.T.Helper()
	name = fx.unique(fx.userName)
	var u struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	se.Do("POST", "/api/users", map[string]any{"username": name, "password": password}, testkit.Bearer(fx.token)).Expect(se.T, 201).JSON(se.T, &u)
	return u.Data.ID, name
}

func (fx *contractFixtures) freshDatastore(se *testkit.Env) (id, name string) {
	se.T.Helper()
	name = fx.unique(fx.project)
	var ds struct {
		Data struct {
			ID string `json:"id"`
		} `json:"data"`
	}
	se.Do("POST", "/api/datastores", map[string]any{"name": name}, testkit.Bearer(fx.token)).Expect(se.T, 201).JSON(se.T, &ds)
	return ds.Data.ID, name
}

func (fx *contractFixtures) freshTable(se *testkit.Env) string {
	se.T.Helper()
	name := fx.unique(fx.table)
	se.Do("POST", "/api/datastores/"+fx.dsID+"/tables", map[string]any{"name": name,
		"columns": []map[string]any{{"name": "id", "type": "bigint"}}}, testkit.Bearer(fx.token)).Expect(se.T, 201)
	return name
}

func (fx *contractFixtures) freshKeyID(se *testkit.Env) string {
	se.T.Helper()
	key := se.NewKey(fx.token, map[string]any{"validTo": se.Clock.Now().Add(time.Hour).Format(time.RFC3339)})
	var list struct {
		Data []struct {
			ID     string `json:"id"`
			Prefix string `json:"prefix"`
		} `json:"data"`
	}
	se.Do("GET", "/api/auth/api-keys?limit=500", nil, testkit.Bearer(fx.token)).Expect(se.T, 200).JSON(se.T, &list)
	for _, k := range list.Data {
		if strings.HasPrefix(key, k.Prefix+"_") {
			return k.ID
		}
	}
	se.T.Fatalf("the new key is not in the key list")
	return ""
}

// freshGrantee is a new user on the fixture project's access list.
func (fx *contractFixtures) freshGrantee(se *testkit.Env) string {
	se.T.Helper()
	_, name := fx.freshUser(se, "Welcome#2026")
	se.Do("POST", "/kylin/api/access/project", map[string]any{"project": fx.project, "type": "user", "permission": "QUERY",
		"names": []string{name}}, testkit.Bearer(fx.token)).Expect(se.T, 200)
	return name
}

// freshGroup is a new user group.
func (fx *contractFixtures) freshGroup(se *testkit.Env) string {
	se.T.Helper()
	name := fx.unique("analysts")
	se.Do("POST", "/kylin/api/user_group", map[string]any{"group_name": name}, testkit.Bearer(fx.token)).Expect(se.T, 200)
	return name
}

func contractSetBody(r *contractReq, key string, v any) {
	m, _ := r.Body.(map[string]any)
	if m == nil {
		m = map[string]any{}
	}
	m[key] = v
	r.Body = m
}

// contractFixtureFor says, per operation, which resources its valid request acts on:
// path parameters, and references in its body or query that must name a fresh resource.
// Operations not listed use their examples as they are.
var contractFixtureFor = map[string]func(fx *contractFixtures, se *testkit.Env, r *contractReq){
	// the example's password is an example: log in as the real ADMIN
	"createAccessToken": func(fx *contractFixtures, se *testkit.Env, r *contractReq) {
		contractSetBody(r, "username", "ADMIN")
		contractSetBody(r, "password", testkit.AdminPassword)
	},
	// the example's validity window is absolute: keep it only while it is still acceptable
	"createApiKey": func(fx *contractFixtures, se *testkit.Env, r *contractReq) {
		m, _ := r.Body.(map[string]any)
		now := se.Clock.Now()
		to, err := time.Parse(time.RFC3339, fmt.Sprint(m["validTo"]))
		if err != nil || !to.After(now.Add(time.Hour)) || to.After(now.Add(360*24*time.Hour)) {
			contractSetBody(r, "validTo", now.Add(30*24*time.Hour).Format(time.RFC3339))
		}
		if from, ok := m["validFrom"].(string); ok {
			if f, err := time.Parse(time.RFC3339, from); err != nil || !f.Before(now.Add(time.Hour)) {
				delete(m, "validFrom")
			}
		}
	},
	"deleteApiKey": func(fx *contractFixtures, se *testkit.Env, r *contractReq) { r.Path["id"] = fx.freshKeyID(se) },
	"getUser":      func(fx *contractFixtures, se *testkit.Env, r *contractReq) { r.Path["id"] = fx.userID },
	"updateUser": func(fx *contractFixtures, se *testkit.Env, r *contractReq) {
		r.Path["id"], _ = fx.freshUser(se, "Welcome#2026")
	},
	"deleteUser": func(fx *contractFixtures, se *testkit.Env, r *contractReq) {
		r.Path["id"], _ = fx.freshUser(se, "Welcome#2026")
	},
	"changeUserPassword": func(fx *contractFixtures, se *testkit.Env, r *contractReq) {
		old, _ := r.Body.(map[string]any)["oldPassword"].(string)
		r.Path["id"], _ = fx.freshUser(se, old)
	},
	"getDatastore":    func(fx *contractFixtures, se *testkit.Env, r *contractReq) { r.Path["id"] = fx.dsID },
	"updateDatastore": func(fx *contractFixtures, se *testkit.Env, r *contractReq) { r.Path["id"] = fx.dsID },
	"listTables":      func(fx *contractFixtures, se *testkit.Env, r *contractReq) { r.Path["id"] = fx.dsID },
	"createTable":     func(fx *contractFixtures, se *testkit.Env, r *contractReq) { r.Path["id"] = fx.dsID },
	"deleteDatastore": func(fx *contractFixtures, se *testkit.Env, r *contractReq) {
		r.Path["id"], _ = fx.freshDatastore(se)
	},
	"getTable": func(fx *contractFixtures, se *testkit.Env, r *contractReq) {
		r.Path["id"], r.Path["table"] = fx.dsID, fx.table
	},
	"listRows": func(fx *contractFixtures, se *testkit.Env, r *contractReq) {
		r.Path["id"], r.Path["table"] = fx.dsID, fx.table
	},
	"insertRows": func(fx *contractFixtures, se *testkit.Env, r *contractReq) {
		r.Path["id"], r.Path["table"] = fx.dsID, fx.table
	},
	"deleteTable": func(fx *contractFixtures, se *testkit.Env, r *contractReq) {
		r.Path["id"], r.Path["table"] = fx.dsID, fx.freshTable(se)
	},
	"kylinDeleteProject": func(fx *contractFixtures, se *testkit.Env, r *contractReq) {
		_, r.Path["project"] = fx.freshDatastore(se)
	},
	"kylinDeleteUser": func(fx *contractFixtures, se *testkit.Env, r *contractReq) {
		_, r.Path["username"] = fx.freshUser(se, "Welcome#2026")
	},
	"kylinDeleteUserByBody": func(fx *contractFixtures, se *testkit.Env, r *contractReq) {
		_, name := fx.freshUser(se, "Welcome#2026")
		contractSetBody(r, "username", name)
	},
	// a list of new users: each example name with a counter
	"kylinCreateUsers": func(fx *contractFixtures, se *testkit.Env, r *contractReq) {
		for _, u := range r.Body.([]any) {
			m := u.(map[string]any)
			m["username"] = fx.unique(m["username"].(string))
		}
	},
	"kylinDeleteUsers": func(fx *contractFixtures, se *testkit.Env, r *contractReq) {
		_, a := fx.freshUser(se, "Welcome#2026")
		_, b := fx.freshUser(se, "Welcome#2026")
		r.Body = []any{a, b}
	},
	"kylinChangePassword": func(fx *contractFixtures, se *testkit.Env, r *contractReq) {
		old, _ := r.Body.(map[string]any)["password"].(string)
		_, name := fx.freshUser(se, old)
		contractSetBody(r, "username", name)
	},
	"kylinUpdateUser": func(fx *contractFixtures, se *testkit.Env, r *contractReq) {
		_, name := fx.freshUser(se, "Welcome#2026")
		contractSetBody(r, "username", name)
	},
	"kylinGrantProjectAccess": func(fx *contractFixtures, se *testkit.Env, r *contractReq) {
		_, name := fx.freshUser(se, "Welcome#2026")
		contractSetBody(r, "names", []any{name})
	},
	"kylinUpdateProjectAccess": func(fx *contractFixtures, se *testkit.Env, r *contractReq) {
		contractSetBody(r, "name", fx.freshGrantee(se))
	},
	"kylinRevokeProjectAccess": func(fx *contractFixtures, se *testkit.Env, r *contractReq) {
		r.Query.Set("name", fx.freshGrantee(se))
	},
	"kylinCreateGroup": func(fx *contractFixtures, se *testkit.Env, r *contractReq) {
		contractSetBody(r, "group_name", fx.unique("analysts"))
	},
	"kylinDeleteGroup":      func(fx *contractFixtures, se *testkit.Env, r *contractReq) { r.Path["group_name"] = fx.freshGroup(se) },
	"kylinListGroupMembers": func(fx *contractFixtures, se *testkit.Env, r *contractReq) { r.Path["group_name"] = fx.freshGroup(se) },
	"kylinDeleteGroupByBody": func(fx *contractFixtures, se *testkit.Env, r *contractReq) {
		contractSetBody(r, "group_name", fx.freshGroup(se))
	},
	"kylinSetGroupMembers": func(fx *contractFixtures, se *testkit.Env, r *contractReq) {
		contractSetBody(r, "group_name", fx.freshGroup(se))
	},
}

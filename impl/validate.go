package impl

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"regexp"
	"slices"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/kala-server/kala/impl/auth"
	"github.com/kala-server/kala/impl/contract"
	"github.com/kala-server/kala/impl/errs"
	"github.com/kala-server/kala/impl/kylin"
	"github.com/kala-server/kala/impl/strictjson"
)

// validate validates a request routed to one operation against it (authentication
// included, through the Authenticator), applies the operation's x-service and
// x-permissions, and only then calls next, the operation's generated handler.
func (s *Server) validate(route *routers.Route, shadows [][]string, next http.Handler) http.Handler {
	// No defaults filled in: kin-openapi would fill them for explicit nulls too, hiding a
	// null sent for a non-nullable field. Handlers apply the documented defaults.
	// The body is validated on its own, after credentials and parameters (so a caller
	// without credentials gets 401 whatever its body) and after the strict JSON check.
	opts := &openapi3filter.Options{AuthenticationFunc: s.authenticate, SkipSettingDefaults: true, ExcludeRequestBody: true}
	names := pathParamNames(route.Path)
	op := s.Contract.Operations[route.Operation.OperationID]
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// a GET route also takes HEAD requests; a URL the contract gives to another path
		if r.Method != route.Method || shadowed(shadows, r.URL.EscapedPath()) {
			s.notAllowed(w, r)
			return
		}
		h := attemptFrom(r.Context())
		h.op = op
		if r.Header.Get("X-API-Key") != "" && r.URL.Query().Has("key") {
			s.writeError(w, r, errs.Field("key", "send an API key in X-API-Key or in ?key=, not both"))
			return
		}
		var params map[string]string
		if len(names) > 0 {
			params = make(map[string]string, len(names))
			for _, n := range names {
				params[n] = r.PathValue(n)
			}
		}
		in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: opts}
		if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
			s.writeError(w, r, requestError(h, err))
			return
		}
		if body := route.Operation.RequestBody; body != nil && body.Value != nil {
			if err := strictBody(r, body.Value); err != nil {
				s.writeError(w, r, err)
				return
			}
			if strings.HasPrefix(route.Path, "/kylin/") {
				readAsKylin(r, body.Value)
			}
			if err := openapi3filter.ValidateRequestBody(r.Context(), in, body.Value); err != nil {
				s.writeError(w, r, requestError(h, err))
				return
			}
		}
		ctx := contract.WithOperation(r.Context(), h.op)
		if h.principal != nil {
			if err := auth.Authorize(s.Contract, h.principal, h.op); err != nil {
				s.writeError(w, r, err)
				return
			}
			ctx = auth.WithPrincipal(ctx, h.principal)
		}
		next.ServeHTTP(w, r.WithContext(ctx))
	})
}

// requestError turns kin-openapi's error, whose text dumps schemas and values, into a
// short one naming the field.
func requestError(h *attempt, err error) error {
	// an oversized body is refused as such, even when it surfaced while the credentials
	// were checked (a 401 "no credentials" would mislead)
	if e := tooLarge(err); e != nil {
		return e
	}
	var sec *openapi3filter.SecurityRequirementsError
	if errors.As(err, &sec) {
		return h.failure()
	}
	var re *openapi3filter.RequestError
	if !errors.As(err, &re) {
		return errs.Wrap(err, "validate request")
	}
	if re.RequestBody != nil && re.Err == nil && strings.HasPrefix(re.Reason, kinUnexpectedContentType) {
		return unsupportedMediaType(re.RequestBody, re.Input.Request.Header.Get("Content-Type"))
	}
	out := &errs.Error{Code: errs.Invalid, Message: "the request has invalid fields"}
	where := "body"
	if re.Parameter != nil {
		where = re.Parameter.Name
	}
	var schemaErrs []*openapi3.SchemaError
	var me openapi3.MultiError
	if errors.As(re.Err, &me) {
		for _, e := range me {
			var se *openapi3.SchemaError
			if errors.As(e, &se) {
				schemaErrs = append(schemaErrs, se)
			}
		}
	} else {
		var se *openapi3.SchemaError
		if errors.As(re.Err, &se) {
			schemaErrs = append(schemaErrs, se)
		}
	}
	for _, se := range schemaErrs {
		field, msg := schemaField(se)
		if re.Parameter != nil {
			field = where
		}
		out.Fields = append(out.Fields, errs.FieldError{Field: field, Message: msg})
	}
	if len(out.Fields) == 0 {
		msg := re.Reason
		var pe *openapi3filter.ParseError
		switch {
		case errors.Is(re.Err, openapi3filter.ErrInvalidRequired):
			msg = "is required"
		case errors.As(re.Err, &pe):
			msg = "is not valid"
			if pe.Reason != "" {
				msg = pe.Reason
			}
			if re.RequestBody != nil {
				msg = "is not valid JSON"
			}
		case msg == "":
			msg = "is not valid"
		}
		out.Fields = []errs.FieldError{{Field: where, Message: msg}}
	}
	out.Message = out.Fields[0].Field + ": " + out.Fields[0].Message
	return out
}

var propertyReason = regexp.MustCompile(`^property "([^"]+)" is (missing|unsupported)$`)

// schemaField names the field a schema error is about, as a dotted path into the body.
func schemaField(se *openapi3.SchemaError) (string, string) {
	path := se.JSONPointer()
	msg := se.Reason
	// kin-openapi's pointer already ends with a missing property, not with an unknown one
	if m := propertyReason.FindStringSubmatch(msg); m != nil {
		if m[2] == "missing" {
			msg = "is required"
			if len(path) == 0 || path[len(path)-1] != m[1] {
				path = append(path, m[1])
			}
		} else {
			msg = "is not a known field"
			path = append(path, m[1])
		}
	}
	if len(path) == 0 {
		return "body", msg
	}
	return strings.Join(path, "."), msg
}

func tooLarge(err error) *errs.Error {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errs.E(errs.TooLarge, "the request body must be at most %d bytes", tooBig.Limit)
	}
	return nil
}

// kinUnexpectedContentType starts kin-openapi's reason for a body in a media type the
// operation does not take (its unexported prefixInvalidCT); the error has no other mark.
const kinUnexpectedContentType = "header Content-Type has unexpected value"

// unsupportedMediaType names the media types the operation takes, and the one it got.
func unsupportedMediaType(body *openapi3.RequestBody, got string) *errs.Error {
	accepted := slices.Sorted(maps.Keys(body.Content))
	msg := "must be " + accepted[0]
	if len(accepted) > 1 {
		msg = "must be one of " + strings.Join(accepted, ", ")
	}
	if got != "" {
		if len(got) > 100 {
			got = got[:100] + "…"
		}
		msg += fmt.Sprintf(", not %q", got)
	}
	return &errs.Error{Code: errs.Unsupported, Message: "Content-Type: " + msg,
		Fields: []errs.FieldError{{Field: "Content-Type", Message: msg}}}
}

// strictBody refuses a JSON body that encoding/json, and so kin-openapi and the
// handlers, would read leniently: repeated keys, invalid UTF-8, data after the value
// (see strictjson). A body in a media type the operation does not take is left to
// kin-openapi, which reports it (415). The body is read once and put back.
func strictBody(r *http.Request, body *openapi3.RequestBody) error {
	ct := r.Header.Get("Content-Type")
	if r.Body == nil || r.Body == http.NoBody || body.Content.Get(ct) == nil || !isJSON(ct) {
		return nil
	}
	data, err := io.ReadAll(r.Body)
	_ = r.Body.Close()
	if err != nil {
		if e := tooLarge(err); e != nil {
			return e
		}
		return errs.Field("body", "could not be read")
	}
	r.Body = io.NopCloser(bytes.NewReader(data))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(data)), nil }
	if len(data) == 0 {
		return nil // kin-openapi says whether a body is required
	}
	if err := strictjson.Check(data); err != nil {
		return errs.Field("body", err.Error())
	}
	return nil
}

// readAsKylin reads a Kylin request body's scalars as Kylin does (kylin.ReadScalars): the
// Kylin face is a tolerant reader, as Kylin is. It runs after strictBody, which keeps the
// body it read in GetBody.
func readAsKylin(r *http.Request, body *openapi3.RequestBody) {
	mt := body.Content.Get(r.Header.Get("Content-Type"))
	if r.GetBody == nil || mt == nil || mt.Schema == nil {
		return
	}
	rc, err := r.GetBody()
	if err != nil {
		return
	}
	data, _ := io.ReadAll(rc)
	out, changed := kylin.ReadScalars(mt.Schema.Value, data)
	if !changed {
		return
	}
	r.Body = io.NopCloser(bytes.NewReader(out))
	r.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(out)), nil }
	r.ContentLength = int64(len(out))
}

// isJSON reports whether a Content-Type is JSON, read the way kin-openapi reads it to
// pick a decoder: application/json or any +json type, parameters and case ignored.
func isJSON(contentType string) bool {
	base, _, _ := strings.Cut(contentType, ";")
	base = strings.ToLower(strings.TrimSpace(base))
	return base == "application/json" || strings.HasSuffix(base, "+json")
}

// pathParamNames lists the {parameters} of a path template.
func pathParamNames(path string) []string {
	var out []string
	for _, seg := range strings.Split(path, "/") {
		if isParam(seg) {
			out = append(out, seg[1:len(seg)-1])
		}
	}
	return out
}

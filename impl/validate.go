package impl

import (
	"errors"
	"net/http"
	"regexp"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"

	"github.com/kala-server/kala/impl/auth"
	"github.com/kala-server/kala/impl/errs"
)

// validate finds the request's operation in the contract, validates the request against
// it (authentication included, through the Authenticator), applies the operation's
// x-service and x-permissions, and only then calls next.
func (s *Server) validate(router routers.Router, next http.Handler) http.Handler {
	// No defaults filled in: kin-openapi would fill them for explicit nulls too, hiding a
	// null sent for a non-nullable field. Handlers apply the documented defaults.
	opts := &openapi3filter.Options{AuthenticationFunc: s.Auth.Func, SkipSettingDefaults: true}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := auth.HolderFrom(r.Context())
		if r.Header.Get("X-API-Key") != "" && r.URL.Query().Has("key") {
			s.writeError(w, r, errs.Field("key", "send an API key in X-API-Key or in ?key=, not both"))
			return
		}
		route, params, err := router.FindRoute(r)
		if err != nil {
			if errors.Is(err, routers.ErrMethodNotAllowed) {
				s.writeError(w, r, errs.E(errs.NotAllowed, "%s is not allowed on %s", r.Method, r.URL.Path))
			} else {
				s.writeError(w, r, errs.E(errs.NotFound, "no such operation"))
			}
			return
		}
		h.Operation = s.Contract.Operations[route.Operation.OperationID]
		in := &openapi3filter.RequestValidationInput{Request: r, PathParams: params, Route: route, Options: opts}
		if err := openapi3filter.ValidateRequest(r.Context(), in); err != nil {
			s.writeError(w, r, requestError(h, err))
			return
		}
		if h.Principal != nil {
			if err := auth.Authorize(s.Contract, h.Principal, h.Operation); err != nil {
				s.writeError(w, r, err)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// requestError turns kin-openapi's error, whose text dumps schemas and values, into a
// short one naming the field.
func requestError(h *auth.Holder, err error) error {
	var sec *openapi3filter.SecurityRequirementsError
	if errors.As(err, &sec) {
		return h.Failure()
	}
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) {
		return errs.E(errs.TooLarge, "the request body must be at most %d bytes", tooBig.Limit)
	}
	var re *openapi3filter.RequestError
	if !errors.As(err, &re) {
		return errs.Wrap(err, "validate request")
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
		case strings.Contains(msg, "Content-Type"):
			where, msg = "Content-Type", "must be application/json"
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

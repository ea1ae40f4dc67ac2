package kala

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/kala-server/kala/gen"
	"github.com/kala-server/kala/impl/errs"
)

// problemBase prefixes each problem type; the types are stable, so clients can switch on them.
const problemBase = "https://kala.dev/problems/"

type kind struct {
	status int
	slug   string
	title  string
}

var kinds = map[errs.Code]kind{
	errs.Invalid:       {http.StatusBadRequest, "invalid-request", "Invalid request"},
	errs.Unauthorized:  {http.StatusUnauthorized, "unauthorized", "Unauthorized"},
	errs.BadLogin:      {http.StatusUnauthorized, "bad-credentials", "Bad credentials"},
	errs.Locked:        {http.StatusUnauthorized, "locked", "Locked"},
	errs.Disabled:      {http.StatusUnauthorized, "disabled", "User disabled"},
	errs.Forbidden:     {http.StatusForbidden, "forbidden", "Forbidden"},
	errs.NotFound:      {http.StatusNotFound, "not-found", "Not found"},
	errs.NotAllowed:    {http.StatusMethodNotAllowed, "method-not-allowed", "Method not allowed"},
	errs.Conflict:      {http.StatusConflict, "conflict", "Conflict"},
	errs.TooLarge:      {http.StatusRequestEntityTooLarge, "too-large", "Payload too large"},
	errs.Unsupported:   {http.StatusUnsupportedMediaType, "unsupported-media-type", "Unsupported media type"},
	errs.NotAcceptable: {http.StatusNotAcceptable, "not-acceptable", "Not acceptable"},
	errs.TooMany:       {http.StatusTooManyRequests, "too-many-requests", "Too many requests"},
	errs.Unavailable:   {http.StatusServiceUnavailable, "unavailable", "Service unavailable"},
	errs.Internal:      {http.StatusInternalServerError, "internal", "Internal error"},
}

// Status is the HTTP status of an error code on this face.
func Status(c errs.Code) int {
	if k, ok := kinds[c]; ok {
		return k.status
	}
	return http.StatusInternalServerError
}

// WriteError writes err as problem+json. Internal errors show only the request id; the
// caller logs the cause.
func WriteError(w http.ResponseWriter, e *errs.Error, requestID string) {
	k, ok := kinds[e.Code]
	if !ok {
		k = kinds[errs.Internal]
	}
	p := gen.Problem{Type: problemBase + k.slug, Title: k.title, Status: k.status}
	detail := e.Message
	if e.Code == errs.Internal {
		detail = "internal error; request id " + requestID
	}
	p.Detail = &detail
	if len(e.Fields) > 0 {
		fs := make([]gen.FieldError, len(e.Fields))
		for i, f := range e.Fields {
			fs[i] = gen.FieldError{Field: f.Field, Message: f.Message}
		}
		p.Errors = &fs
	}
	if !e.Until.IsZero() {
		t := e.Until.UTC().Truncate(time.Second)
		p.LockedUntil = &t
	}
	if s := e.RetryAfterSeconds(); s > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(s))
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(k.status)
	_ = json.NewEncoder(w).Encode(p)
}

// Package kylin is the /kylin/api face: Kylin 5's public REST shapes over the same core,
// in Kylin's {"code","data","msg"} envelope with its KE error codes and media types.
package kylin

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	"github.com/kala-server/kala/gen"
	"github.com/kala-server/kala/impl/errs"
)

// Kylin's error codes where Kylin has one; the rest are ours, in Kylin's form, and listed
// in docs/kylin.md.
const (
	codeNoCredentials   = "KE-010003207"
	codeBadCredentials  = "KE-010003208"
	codeDisabled        = "KE-010003008"
	codeLocked          = "KE-010003005"
	codeAccessDenied    = "KE-010024001"
	codeDuplicateUser   = "KE-010003004"
	codePasswordWeak    = "KE-010005001" // INVALID_PASSWORD: breaks the rule
	codePasswordShort   = "KE-010005002" // SHORT_PASSWORD
	codeWrongOld        = "KE-010005003"
	codeDuplicateProj   = "KE-010001004"
	codeInvalidProjName = "KE-010001003" // INVALID_PROJECT_NAME
	codeProjectNotFound = "KE-010001201" // ErrorCodeServer.PROJECT_NOT_EXIST
	codeUserNotFound    = "KE-010003001" // USER_NOT_EXIST
	codeGroupNotFound   = "KE-010004001" // USERGROUP_NOT_EXIST
	codeGroupName       = "KE-010004003" // INVALID_USERGROUP_NAME
	codeDuplicateGroup  = "KE-010004004" // DUPLICATE_USERGROUP_NAME
	// Kylin's BLACKLIST_EXCEEDED_CONCURRENT_LIMIT: a query refused over a concurrency limit.
	codeQueryConcurrency = "KE-010028002"
	codeInvalid          = "KE-010000003" // Kylin's INVALID_PARAMETER
	codeNotFound         = "KE-010000404"
	codeNotAllowed       = "KE-010000405"
	codeNotAcceptable    = "KE-010000406"
	codeConflict         = "KE-010000409"
	codeTooLarge         = "KE-010000413"
	codeTooMany          = "KE-010000429"
	codeUnavailable      = "KE-010000503"
	codeInternal         = "KE-010000500"
)

// statuses is the HTTP status of each error code on this face (openapi.yaml's Kylin
// operations declare each one they can answer).
var statuses = map[errs.Code]int{
	errs.Invalid:       http.StatusBadRequest,
	errs.Unauthorized:  http.StatusUnauthorized,
	errs.BadLogin:      http.StatusUnauthorized,
	errs.Locked:        http.StatusUnauthorized,
	errs.Disabled:      http.StatusUnauthorized,
	errs.Forbidden:     http.StatusForbidden,
	errs.NotFound:      http.StatusNotFound,
	errs.NotAllowed:    http.StatusMethodNotAllowed,
	errs.Conflict:      http.StatusConflict,
	errs.TooLarge:      http.StatusRequestEntityTooLarge,
	errs.Unsupported:   http.StatusUnsupportedMediaType,
	errs.NotAcceptable: http.StatusNotAcceptable,
	errs.TooMany:       http.StatusTooManyRequests,
	errs.Unavailable:   http.StatusServiceUnavailable,
	errs.Internal:      http.StatusInternalServerError,
}

// Status is the HTTP status of an error code on this face.
func Status(c errs.Code) int {
	if st, ok := statuses[c]; ok {
		return st
	}
	return http.StatusInternalServerError
}

// keCode picks the KE code of an error.
func keCode(e *errs.Error) string {
	switch e.Reason {
	case errs.ReasonNoCredentials:
		return codeNoCredentials
	case errs.ReasonDuplicateUser:
		return codeDuplicateUser
	case errs.ReasonPasswordTooShort:
		return codePasswordShort
	case errs.ReasonPasswordWeak:
		return codePasswordWeak
	case errs.ReasonWrongOldPassword:
		return codeWrongOld
	case errs.ReasonLocked:
		return codeLocked
	case errs.ReasonDuplicateProject:
		return codeDuplicateProj
	case errs.ReasonInvalidProjectName:
		return codeInvalidProjName
	case errs.ReasonNoProject:
		return codeProjectNotFound
	case errs.ReasonNoUser:
		return codeUserNotFound
	case errs.ReasonNoGroup:
		return codeGroupNotFound
	case errs.ReasonGroupName:
		return codeGroupName
	case errs.ReasonDuplicateGroup:
		return codeDuplicateGroup
	case errs.ReasonQueryConcurrency:
		return codeQueryConcurrency
	}
	switch e.Code {
	case errs.Unauthorized, errs.BadLogin:
		return codeBadCredentials
	case errs.Locked:
		return codeLocked
	case errs.Disabled:
		return codeDisabled
	case errs.Forbidden:
		return codeAccessDenied
	case errs.Invalid:
		return codeInvalid
	case errs.NotFound:
		return codeNotFound
	case errs.NotAllowed:
		return codeNotAllowed
	case errs.NotAcceptable:
		return codeNotAcceptable
	case errs.Conflict:
		return codeConflict
	case errs.TooLarge:
		return codeTooLarge
	case errs.TooMany:
		return codeTooMany
	case errs.Unavailable:
		return codeUnavailable
	case errs.Unsupported:
		return codeInvalid
	}
	return codeInternal
}

// WriteError writes err in Kylin's error envelope with the true HTTP status (Kylin
// itself answers many client errors with 500; clients here can trust the status).
func WriteError(w http.ResponseWriter, r *http.Request, e *errs.Error, status int, requestID string) {
	code := keCode(e)
	msg := e.Message
	var suggestion *string
	switch {
	case e.Code == errs.Internal:
		msg = "internal error; request id " + requestID
	case !e.Until.IsZero():
		s := "Try again after " + e.Until.UTC().Format(time.RFC3339) + ", or ask an admin to unlock the user."
		suggestion = &s
	case code == codeNoCredentials:
		msg = "no credentials were given"
	case code == codeBadCredentials && e.Code == errs.BadLogin:
		msg = "bad username or password"
	}
	if s := e.RetryAfterSeconds(); s > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(s))
	}
	body := gen.KylinError{Code: gen.N999, Data: nil, Msg: code + ": " + msg, ErrorCode: code, Suggestion: suggestion}
	w.Header().Set("Content-Type", ContentType(r))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

// Package errs is the one vocabulary of failure shared by the core and both faces.
// A core function returns an *Error with a Code; each face turns codes into its own wire
// form (problem+json or Kylin's envelope) in exactly one place.
package errs

import (
	"errors"
	"fmt"
	"time"
)

// Code is the kind of failure. Faces switch on it; messages are for people.
type Code string

const (
	Invalid       Code = "invalid"         // 400: the request is malformed or breaks a rule
	Unauthorized  Code = "unauthorized"    // 401: no valid credential
	BadLogin      Code = "bad-credentials" // 401: wrong username or password (never says which)
	Locked        Code = "locked"          // 401: the login name is locked
	Disabled      Code = "disabled"        // 401: correct password, disabled user
	Forbidden     Code = "forbidden"       // 403: authenticated but not allowed
	NotFound      Code = "not-found"       // 404
	NotAllowed    Code = "method-not-allowed"
	Conflict      Code = "conflict"       // 409: duplicate name and the like
	TooLarge      Code = "too-large"      // 413
	NotAcceptable Code = "not-acceptable" // 406
	TooMany       Code = "too-many"       // 429: over a rate or concurrency limit; RetryAfter says when to retry
	Unavailable   Code = "unavailable"    // 503: the database cannot be reached; nothing was decided
	Internal      Code = "internal"       // 500: details are logged, never shown

	// Unsupported (415): a request body in a media type the operation does not take.
	Unsupported Code = "unsupported-media-type"
)

// Limit describes a rate limit for the RateLimit-Policy header: Quota hits per Window.
type Limit struct {
	Policy string
	Quota  int
	Window time.Duration
}

// FieldError names one invalid field.
type FieldError struct {
	Field   string
	Message string
}

// Error is a failure the faces know how to show.
type Error struct {
	Code    Code
	Message string
	Fields  []FieldError
	// Reason refines Code for faces with finer codes (Kylin's KE-… numbers), e.g. "password-rule".
	Reason Reason
	// Until is when a lock ends (Code Locked).
	Until time.Time
	// RetryAfter is how long to wait before trying again (TooMany, Unavailable).
	RetryAfter time.Duration
	// Limit is the rate limit a TooMany error is about, if any.
	Limit *Limit
	// Err is the underlying cause, logged but never shown.
	Err error
}

func (e *Error) Error() string {
	if e.Err != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Err)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

func (e *Error) Unwrap() error { return e.Err }

// E makes an error of code with a formatted message.
func E(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// Field makes an Invalid error naming one field.
func Field(field, message string) *Error {
	return &Error{Code: Invalid, Message: field + ": " + message, Fields: []FieldError{{Field: field, Message: message}}}
}

// RetryAfterSeconds is RetryAfter in whole seconds for a Retry-After header, rounded up
// (a wait under a second is still one second); 0 when there is nothing to say.
func (e *Error) RetryAfterSeconds() int {
	if e.RetryAfter <= 0 {
		return 0
	}
	return int((e.RetryAfter + time.Second - 1) / time.Second)
}

// WithReason sets the finer reason and returns e.
func (e *Error) WithReason(reason Reason) *Error {
	e.Reason = reason
	return e
}

// Wrap marks err as internal, keeping it for the log.
func Wrap(err error, what string) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return err
	}
	return &Error{Code: Internal, Message: what, Err: err}
}

// CodeOf returns err's code; errors that are not *Error are Internal.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// As returns err as *Error, wrapping anything else as Internal.
func As(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Code: Internal, Message: "internal error", Err: err}
}

package impl

import (
	"context"
	"errors"

	"github.com/getkin/kin-openapi/openapi3filter"

	"github.com/kala-server/kala/impl/auth"
	"github.com/kala-server/kala/impl/contract"
	"github.com/kala-server/kala/impl/credential"
	"github.com/kala-server/kala/impl/errs"
)

// attempt is what one request's validation learned: its operation, and who authenticated
// or why not. kin-openapi's validator reports each scheme's outcome only as an error, so
// this is where the handlers, the error answer and the access log find it.
type attempt struct {
	op        *contract.Operation
	principal *auth.Principal
	refused   *errs.Error // a presented credential that failed
}

type attemptKey struct{}

func withAttempt(ctx context.Context) (context.Context, *attempt) {
	a := &attempt{}
	return context.WithValue(ctx, attemptKey{}, a), a
}

// attemptFrom is the request's attempt (nil outside a request).
func attemptFrom(ctx context.Context) *attempt {
	a, _ := ctx.Value(attemptKey{}).(*attempt)
	return a
}

// failure is why authentication failed: the presented credential that was refused, or a
// plain 401 when none was presented. There is never more than one refusal to choose
// from: the first decides the request (see authenticate).
func (a *attempt) failure() *errs.Error {
	if a.refused == nil {
		return auth.ErrNoCredential
	}
	return a.refused
}

// authenticate is kin-openapi's AuthenticationFunc: the validator calls it for each
// scheme an operation accepts, in order, until one succeeds.
func (s *Server) authenticate(ctx context.Context, in *openapi3filter.AuthenticationInput) error {
	a := attemptFrom(ctx)
	if a == nil {
		return errors.New("no authentication attempt in context")
	}
	// A credential that was presented and refused decides the request: another scheme's
	// credential in the same request must not rescue it.
	if a.refused != nil {
		return a.refused
	}
	v, ok := credential.Read(in.RequestValidationInput.Request, in.SecuritySchemeName)
	if !ok {
		return auth.ErrNoCredential
	}
	p, err := s.Auth.Verify(ctx, in.SecuritySchemeName, v)
	if err != nil {
		a.refused = errs.As(err)
		return err
	}
	a.principal = p
	return nil
}

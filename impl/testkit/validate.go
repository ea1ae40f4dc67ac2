package testkit

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/kala-server/kala/impl/contract"
)

// ValidatingTransport checks every response against openapi.yaml with kin-openapi's
// response validation, failing the test on any mismatch, including a status the
// operation does not declare.
type ValidatingTransport struct {
	t      testing.TB
	router routers.Router
	base   http.RoundTripper
}

// NewValidatingTransport wraps base.
func NewValidatingTransport(t testing.TB, c *contract.Contract, base http.RoundTripper) *ValidatingTransport {
	r, err := gorillamux.NewRouter(c.ValidationDoc())
	if err != nil {
		t.Fatal(err)
	}
	return &ValidatingTransport{t: t, router: r, base: base}
}

func isContractPath(p string) bool {
	return strings.HasPrefix(p, "/api/") || strings.HasPrefix(p, "/kylin/api/")
}

// RoundTrip sends the request and validates the response.
func (v *ValidatingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := v.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(body))
	if err := v.Check(req, resp.StatusCode, resp.Header, body); err != nil {
		v.t.Errorf("%s %s -> %d: response does not match openapi.yaml: %v\nbody: %.600s",
			req.Method, req.URL.Path, resp.StatusCode, err, body)
	}
	return resp, nil
}

// Check validates one response. Paths outside the contract's prefixes are not checked;
// inside them, a path the contract lacks may only be answered 404 or 405.
func (v *ValidatingTransport) Check(req *http.Request, status int, header http.Header, body []byte) error {
	route, params, err := v.router.FindRoute(req)
	if err != nil {
		if !isContractPath(req.URL.Path) || status == http.StatusNotFound || status == http.StatusMethodNotAllowed {
			return nil
		}
		return err
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{Request: req, PathParams: params, Route: route},
		Status:                 status,
		Header:                 header,
		Options:                &openapi3filter.Options{IncludeResponseStatus: true, MultiError: true},
	}
	in.SetBodyBytes(body)
	return openapi3filter.ValidateResponse(context.Background(), in)
}

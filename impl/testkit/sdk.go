package testkit

import (
	"testing"

	"github.com/kala-server/kala/gen"
)

// GoClient is the generated Go client (gen) on doer, editing each request with edit if
// given.
func GoClient(t *testing.T, e *Env, doer gen.HttpRequestDoer, edit gen.RequestEditorFn) *gen.ClientWithResponses {
	t.Helper()
	opts := []gen.ClientOption{gen.WithHTTPClient(doer)}
	if edit != nil {
		opts = append(opts, gen.WithRequestEditorFn(edit))
	}
	c, err := gen.NewClientWithResponses(e.URL, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// ExpectStatus fails the test unless a call of the generated client (what) succeeded
// with status want.
func ExpectStatus(t *testing.T, what string, r interface{ StatusCode() int }, err error, want int) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	if r.StatusCode() != want {
		t.Fatalf("%s: status %d, want %d", what, r.StatusCode(), want)
	}
}

package testkit

import (
	"net/http"
	"testing"

	"github.com/kala-server/kala/impl"
)

// AppOrigin is the one foreign origin a NewCORS server allows.
const AppOrigin = "https://app.example"

// NewCORS is New with AppOrigin allowed to make cross-origin calls.
func NewCORS(t *testing.T) *Env {
	return New(t, func(c *impl.Config) { c.CORSOrigins = []string{AppOrigin} })
}

// Preflight sends a CORS preflight. Preflights are not operations of the contract, so
// this client does not validate them against openapi.yaml.
func Preflight(t *testing.T, e *Env, path, origin, method string) *http.Response {
	t.Helper()
	req, err := http.NewRequest("OPTIONS", e.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Origin", origin)
	req.Header.Set("Access-Control-Request-Method", method)
	req.Header.Set("Access-Control-Request-Headers", "authorization, content-type")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res
}

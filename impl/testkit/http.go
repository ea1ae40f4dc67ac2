package testkit

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
)

// Resp is a response, body read.
type Resp struct {
	Status int
	Header http.Header
	Body   []byte
}

// JSON decodes the body into v, failing the test on error.
func (r *Resp) JSON(t interface{ Fatalf(string, ...any) }, v any) {
	if err := json.Unmarshal(r.Body, v); err != nil {
		t.Fatalf("decode %s: %v", r.Body, err)
	}
}

// ReqOpt shapes a request.
type ReqOpt func(*http.Request)

// Bearer sends a JWT.
func Bearer(tok string) ReqOpt {
	return func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tok) }
}

// APIKey sends a key in X-API-Key.
func APIKey(k string) ReqOpt { return func(r *http.Request) { r.Header.Set("X-API-Key", k) } }

// QueryKey sends a key as ?key=.
func QueryKey(k string) ReqOpt {
	return func(r *http.Request) {
		q := r.URL.Query()
		q.Set("key", k)
		r.URL.RawQuery = q.Encode()
	}
}

// Basic sends HTTP Basic credentials.
func Basic(user, pass string) ReqOpt {
	return func(r *http.Request) {
		r.Header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(user+":"+pass)))
	}
}

// Header sets a header.
func Header(k, v string) ReqOpt { return func(r *http.Request) { r.Header.Set(k, v) } }

// Raw is a body sent as is (a string or []byte), instead of JSON-encoding it.
type Raw string

// request builds a request to the server. body is JSON-encoded unless it is Raw or nil.
func (e *Env) request(method, path string, body any, opts []ReqOpt) (*http.Request, error) {
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case Raw:
		rd = strings.NewReader(string(b))
	default:
		j, err := json.Marshal(b)
		if err != nil {
			return nil, err
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, e.URL+path, rd)
	if err != nil {
		return nil, err
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	for _, o := range opts {
		o(req)
	}
	return req, nil
}

// Do sends a request to the server. body is JSON-encoded unless it is Raw or nil.
func (e *Env) Do(method, path string, body any, opts ...ReqOpt) *Resp {
	e.T.Helper()
	req, err := e.request(method, path, body, opts)
	if err != nil {
		e.T.Fatal(err)
	}
	res, err := e.HTTP.Do(req)
	if err != nil {
		e.T.Fatalf("%s %s: %v", method, path, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.T.Fatal(err)
	}
	return &Resp{Status: res.StatusCode, Header: res.Header, Body: b}
}

// TryDo sends a request like Do without failing the test itself, for use from goroutines
// (a test may only fail fatally from its own goroutine). Responses are still validated.
func TryDo(e *Env, method, path string, body any, opts ...ReqOpt) (int, []byte, error) {
	req, err := e.request(method, path, body, opts)
	if err != nil {
		return 0, nil, err
	}
	res, err := e.HTTP.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	return res.StatusCode, b, err
}

// Sub is e reporting to t: a subtest's failures land on the subtest, and its own
// validating client checks every response against openapi.yaml.
func Sub(e *Env, t *testing.T) *Env {
	s := *e
	s.T = t
	s.HTTP = validatingClient(t, e)
	return &s
}

// validatingClient checks every response against openapi.yaml, failing t, and does not
// follow redirects (a test sees the redirect itself).
func validatingClient(t testing.TB, e *Env) *http.Client {
	return &http.Client{Transport: NewValidatingTransport(t, e.Server.Contract, http.DefaultTransport),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

// Expect fails the test unless the response has the status.
func (r *Resp) Expect(t interface {
	Helper()
	Fatalf(string, ...any)
}, status int) *Resp {
	t.Helper()
	if r.Status != status {
		t.Fatalf("status %d, want %d; body: %s", r.Status, status, r.Body)
	}
	return r
}

// Login gets a JWT for a user.
func (e *Env) Login(user, pass string) string {
	e.T.Helper()
	r := e.Do("POST", "/api/auth/access-token", map[string]string{"username": user, "password": pass})
	r.Expect(e.T, 200)
	var out struct {
		Data struct {
			AccessToken string `json:"access_token"`
		} `json:"data"`
	}
	r.JSON(e.T, &out)
	return out.Data.AccessToken
}

// AdminToken is a JWT for the bootstrap ADMIN.
func (e *Env) AdminToken() string { return e.Login("ADMIN", AdminPassword) }

// NewKey creates an API key with the given body, as the bearer of tok.
func (e *Env) NewKey(tok string, body map[string]any) string {
	e.T.Helper()
	r := e.Do("POST", "/api/auth/api-key", body, Bearer(tok))
	r.Expect(e.T, 201)
	var out struct {
		Data string `json:"data"`
	}
	r.JSON(e.T, &out)
	return out.Data
}

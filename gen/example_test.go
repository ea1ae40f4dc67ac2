// Hand-written (not generated): runnable examples of the Go client, shown with the
// package's documentation. `go generate` writes only the *.gen.go files, so this file
// survives it and `make check-generated` never sees it change.
package gen_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/cookiejar"
	"os"
	"testing"

	"github.com/oapi-codegen/oapi-codegen/v2/pkg/securityprovider"

	"github.com/kala-server/kala/gen"
	"github.com/kala-server/kala/impl/testkit"
)

// Log in with a password, then call who-am-I with the bearer token; an API key works
// the same way through securityprovider.NewSecurityProviderApiKey.
func Example() {
	baseURL := startServer() // e.g. "http://127.0.0.1:8080"
	ctx := context.Background()

	anon, err := gen.NewClientWithResponses(baseURL)
	if err != nil {
		log.Fatal(err)
	}
	login, err := anon.CreateAccessTokenWithResponse(ctx, gen.LoginRequest{Username: "ADMIN", Password: adminPassword})
	if err != nil {
		log.Fatal(err)
	}
	if login.JSON200 == nil {
		log.Fatalf("login: %s %s", login.Status(), login.Body)
	}

	// Every call of this client carries the token.
	bearer, err := securityprovider.NewSecurityProviderBearerToken(login.JSON200.Data.AccessToken)
	if err != nil {
		log.Fatal(err)
	}
	client, err := gen.NewClientWithResponses(baseURL, gen.WithRequestEditorFn(bearer.Intercept))
	if err != nil {
		log.Fatal(err)
	}
	me, err := client.GetMeWithResponse(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if me.JSON200 == nil {
		log.Fatalf("who am I: %s %s", me.Status(), me.Body)
	}
	fmt.Println(me.StatusCode(), me.JSON200.Data.Kind, me.JSON200.Data.User.Username)
	// Output: 200 user ADMIN
}

// The Kylin surface: Basic credentials, a session cookie kept by a cookie jar, and an
// error decoded into Kylin's envelope. The client sends no Accept header, so Kylin
// answers are application/json and land in the JSON<status> fields.
func Example_kylin() {
	baseURL := startServer()
	ctx := context.Background()

	basic, err := securityprovider.NewSecurityProviderBasicAuth("ADMIN", adminPassword)
	if err != nil {
		log.Fatal(err)
	}
	kylin, err := gen.NewClientWithResponses(baseURL, gen.WithRequestEditorFn(basic.Intercept))
	if err != nil {
		log.Fatal(err)
	}
	// An error decodes into Kylin's envelope: code "999", error_code, msg.
	q, err := kylin.KylinQueryWithResponse(ctx, gen.KylinQueryRequest{Sql: "SELECT 40 + 2 AS answer", Project: "sales"})
	if err != nil {
		log.Fatal(err)
	}
	if q.JSON404 == nil {
		log.Fatalf("query without a project: %s %s", q.Status(), q.Body)
	}
	fmt.Println(q.StatusCode(), q.JSON404.ErrorCode)

	p, err := kylin.KylinCreateProjectWithResponse(ctx, gen.KylinCreateProjectJSONRequestBody{Name: "sales"})
	if err != nil {
		log.Fatal(err)
	}
	if p.JSON200 == nil {
		log.Fatalf("create project: %s %s", p.Status(), p.Body)
	}
	q, err = kylin.KylinQueryWithResponse(ctx, gen.KylinQueryRequest{Sql: "SELECT 40 + 2 AS answer", Project: "sales"})
	if err != nil {
		log.Fatal(err)
	}
	// Without an Accept header the answer is Kylin's envelope under Kylin's media type;
	// `Accept: application/json` (a request editor) would give the bare result in JSON200.
	res := q.ApplicationvndApacheKylinV4PublicJSON200
	if res == nil {
		log.Fatalf("query: %s %s", q.Status(), q.Body)
	}
	fmt.Println(res.Data.ColumnMetas[0].Name, *res.Data.Results[0][0])

	// A session: log in once with Basic (POST /kylin/api/user/authentication), then the
	// jar sends the JSESSIONID cookie alone.
	jar, err := cookiejar.New(nil)
	if err != nil {
		log.Fatal(err)
	}
	browser := &http.Client{Jar: jar}
	withBasic, err := gen.NewClientWithResponses(baseURL, gen.WithHTTPClient(browser), gen.WithRequestEditorFn(basic.Intercept))
	if err != nil {
		log.Fatal(err)
	}
	login, err := withBasic.KylinLoginWithResponse(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if login.JSON200 == nil {
		log.Fatalf("log in: %s %s", login.Status(), login.Body)
	}
	session, err := gen.NewClientWithResponses(baseURL, gen.WithHTTPClient(browser))
	if err != nil {
		log.Fatal(err)
	}
	who, err := session.KylinGetAuthenticationWithResponse(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if who.JSON200 == nil {
		log.Fatalf("who am I (cookie): %s %s", who.Status(), who.Body)
	}
	fmt.Println("session:", who.JSON200.Data.Username)
	// Output:
	// 404 KE-010001201
	// answer 42
	// session: ADMIN
}

// Each example gets its own server on a fresh database (impl/testkit); all are stopped
// and their databases dropped after the last example.
var (
	adminPassword = testkit.AdminPassword
	servers       exampleTB
)

func startServer() string { return testkit.New(&servers).URL }

func TestMain(m *testing.M) {
	code := m.Run()
	servers.cleanup()
	os.Exit(code)
}

// exampleTB is the testing.TB that testkit, written for tests, needs: examples get none.
// testkit calls only the methods below (the embedded nil TB satisfies the interface);
// a failure stops the server, drops its database and panics, which fails the example.
type exampleTB struct {
	testing.TB
	cleanups []func()
}

func (*exampleTB) Helper()              {}
func (tb *exampleTB) Cleanup(f func())  { tb.cleanups = append(tb.cleanups, f) }
func (tb *exampleTB) Fatal(args ...any) { tb.fail(fmt.Sprint(args...)) }
func (tb *exampleTB) Fatalf(format string, args ...any) {
	tb.fail(fmt.Sprintf(format, args...))
}
func (tb *exampleTB) Errorf(format string, args ...any) {
	tb.fail(fmt.Sprintf(format, args...))
}

func (tb *exampleTB) fail(msg string) {
	tb.cleanup()
	panic(msg)
}

func (tb *exampleTB) cleanup() {
	for i := len(tb.cleanups) - 1; i >= 0; i-- {
		tb.cleanups[i]()
	}
	tb.cleanups = nil
}

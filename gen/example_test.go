// Written by hand (not generated): how to use the generated client. It is compiled
// with the package; it has no Output comment, so `go test` does not run it (it needs a
// server). impl/sdk_e2e_test.go runs the same flow against a test server.
package gen_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"os"
	"time"

	"github.com/oapi-codegen/oapi-codegen/v2/pkg/securityprovider"

	"github.com/kala-server/kala/gen"
)

// credential is what oapi-codegen's security providers have in common.
type credential interface {
	Intercept(ctx context.Context, req *http.Request) error
}

// The first hour with the Go client: log in, make an API key, ask who it is by header
// and by query, run a Kylin query with Basic, and read a Kylin error in its typed shape.
// Each client carries one credential (the server refuses a key sent both ways).
func Example() {
	ctx := context.Background()
	url, password := os.Getenv("KALA_URL"), os.Getenv("KALA_PASSWORD") // e.g. http://127.0.0.1:8080
	client := func(p credential) *gen.ClientWithResponses {
		var opts []gen.ClientOption
		if p != nil {
			opts = append(opts, gen.WithRequestEditorFn(p.Intercept))
		}
		c, err := gen.NewClientWithResponses(url, opts...)
		if err != nil {
			log.Fatal(err)
		}
		return c
	}

	// A JWT from a password login.
	login, err := client(nil).CreateAccessTokenWithResponse(ctx, gen.LoginRequest{Username: "ADMIN", Password: password})
	if err != nil || login.JSON200 == nil {
		log.Fatalf("log in: %v %s", err, login.Body)
	}
	bearer, _ := securityprovider.NewSecurityProviderBearerToken(login.JSON200.Data.AccessToken)

	// An API key with Data Management, for a day.
	perms := []gen.PermissionId{"01968c91-8789-7724-b62d-946b118ce9d6"}
	key, err := client(bearer).CreateApiKeyWithResponse(ctx, gen.ApiKeyCreate{ValidTo: time.Now().Add(24 * time.Hour), Permissions: &perms})
	if err != nil || key.JSON201 == nil {
		log.Fatalf("create key: %v %s", err, key.Body)
	}

	// Who am I, with the key in X-API-Key, then as ?key=.
	byHeader, _ := securityprovider.NewSecurityProviderApiKey("header", "X-API-Key", key.JSON201.Data)
	byQuery, _ := securityprovider.NewSecurityProviderApiKey("query", "key", key.JSON201.Data)
	for _, p := range []*securityprovider.SecurityProviderApiKey{byHeader, byQuery} {
		me, err := client(p).GetMeWithResponse(ctx)
		if err != nil || me.JSON200 == nil {
			log.Fatalf("who am I: %v %s", err, me.Body)
		}
		fmt.Println(me.JSON200.Data.Kind, me.JSON200.Data.User.Username)
	}

	// A Kylin query with Basic (project "sales" must exist and hold a table).
	basic, _ := securityprovider.NewSecurityProviderBasicAuth("ADMIN", password)
	q, err := client(basic).KylinQueryWithResponse(ctx, gen.KylinQueryRequest{Sql: "SELECT 1", Project: "sales"})
	if err != nil {
		log.Fatal(err)
	}
	switch {
	case q.JSON200 != nil:
		fmt.Println(q.JSON200.Data.Results)
	case q.JSON404 != nil: // a typed gen.KylinError
		fmt.Println(q.JSON404.ErrorCode, q.JSON404.Msg)
	}

	// A Kylin error decodes into gen.KylinError (its `data` is null). An unknown user,
	// not a wrong ADMIN password: failures count toward the name's lockout.
	wrong, _ := securityprovider.NewSecurityProviderBasicAuth("no_such_user", "Wrong#2026")
	denied, err := client(wrong).KylinQueryWithResponse(ctx, gen.KylinQueryRequest{Sql: "SELECT 1", Project: "sales"})
	if err == nil && denied.JSON401 != nil {
		fmt.Println(denied.JSON401.ErrorCode) // KE-010003208
	}
}

package kylin_test

import (
	"context"
	"net/http"
	"net/http/cookiejar"
	"testing"

	"github.com/oapi-codegen/oapi-codegen/v2/pkg/securityprovider"

	"github.com/kala-server/kala/gen"
	"github.com/kala-server/kala/impl/testkit"
)

// The Kylin surface through the generated Go client: Basic, then the session cookie from
// the login alone, then a query.
func TestGoSDKKylinFlow(t *testing.T) {
	e := testkit.New(t)
	ctx := context.Background()
	basic, _ := securityprovider.NewSecurityProviderBasicAuth("ADMIN", testkit.AdminPassword)
	jar, _ := cookiejar.New(nil)
	browser := &http.Client{Jar: jar, Transport: testkit.NewValidatingTransport(t, e.Server.Contract, http.DefaultTransport)}
	login, err := testkit.GoClient(t, e, browser, basic.Intercept).KylinLoginWithResponse(ctx)
	testkit.ExpectStatus(t, "login", login, err, 200)
	if login.JSON200.Data.Username != "ADMIN" {
		t.Fatalf("login: %+v", login.JSON200.Data)
	}
	cookieOnly := testkit.GoClient(t, e, browser, nil)
	users, err := cookieOnly.KylinListUsersWithResponse(ctx, &gen.KylinListUsersParams{})
	testkit.ExpectStatus(t, "users by cookie", users, err, 200)
	if users.JSON200.Data.TotalSize != 1 {
		t.Fatalf("users: %+v", users.JSON200.Data)
	}
	proj, err := cookieOnly.KylinCreateProjectWithResponse(ctx, gen.KylinCreateProjectJSONRequestBody{Name: "sdk_kylin"})
	testkit.ExpectStatus(t, "create project", proj, err, 200)
	q, err := testkit.GoClient(t, e, e.HTTP, basic.Intercept).KylinQueryWithResponse(ctx, gen.KylinQueryRequest{Sql: "SELECT 40 + 2 AS answer", Project: "sdk_kylin"})
	testkit.ExpectStatus(t, "query", q, err, 200)
	d := q.ApplicationvndApacheKylinV4PublicJSON200.Data // no Accept: the envelope, labelled with the public media type
	if d.IsException || len(d.Results) != 1 || *d.Results[0][0] != "42" || d.ColumnMetas[0].Name != "answer" {
		t.Fatalf("query: %+v", d)
	}
	// A Kylin error decodes into its typed shape (null `data` included).
	stranger, _ := securityprovider.NewSecurityProviderBasicAuth("no_such_user", "Wrong#2026")
	denied, err := testkit.GoClient(t, e, e.HTTP, stranger.Intercept).KylinQueryWithResponse(ctx, gen.KylinQueryRequest{Sql: "SELECT 1", Project: "sdk_kylin"})
	testkit.ExpectStatus(t, "query with bad credentials", denied, err, 401)
	if ke := denied.JSON401; ke == nil || ke.Code != gen.N999 || ke.ErrorCode != "KE-010003208" || ke.Data != nil {
		t.Fatalf("query with bad credentials: %+v (body %s)", ke, denied.Body)
	}
}

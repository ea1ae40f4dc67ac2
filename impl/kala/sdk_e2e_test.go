package kala_test

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/oapi-codegen/oapi-codegen/v2/pkg/securityprovider"

	"github.com/kala-server/kala/gen"
	"github.com/kala-server/kala/impl/testkit"
)

// The Kala surface through the generated Go client: a bearer token from the login, an API
// key used by header and by query, a datastore with a table and rows.
func TestGoSDKKalaFlow(t *testing.T) {
	e := testkit.New(t)
	ctx := context.Background()
	anon := testkit.GoClient(t, e, e.HTTP, nil)
	login, err := anon.CreateAccessTokenWithResponse(ctx, gen.LoginRequest{Username: "admin", Password: testkit.AdminPassword})
	testkit.ExpectStatus(t, "login", login, err, 200)
	bearer, _ := securityprovider.NewSecurityProviderBearerToken(login.JSON200.Data.AccessToken)
	asAdmin := testkit.GoClient(t, e, e.HTTP, bearer.Intercept)
	dm := e.Permission("Data Management")
	key, err := asAdmin.CreateApiKeyWithResponse(ctx, gen.ApiKeyCreate{ValidTo: e.Clock.Now().Add(time.Hour), Permissions: &[]gen.PermissionId{dm}})
	testkit.ExpectStatus(t, "create key", key, err, 201)
	for _, in := range []string{"header", "query"} {
		name := "X-API-Key"
		if in == "query" {
			name = "key"
		}
		p, err := securityprovider.NewSecurityProviderApiKey(in, name, key.JSON201.Data)
		if err != nil {
			t.Fatal(err)
		}
		me, err := testkit.GoClient(t, e, e.HTTP, p.Intercept).GetMeWithResponse(ctx)
		testkit.ExpectStatus(t, "me by "+in, me, err, 200)
		if me.JSON200.Data.Kind != gen.MeKindApiKey || len(me.JSON200.Data.Permissions) != 1 || me.JSON200.Data.Permissions[0] != dm {
			t.Fatalf("me by %s: %+v", in, me.JSON200.Data)
		}
	}
	keyAuth, _ := securityprovider.NewSecurityProviderApiKey("header", "X-API-Key", key.JSON201.Data)
	asKey := testkit.GoClient(t, e, e.HTTP, keyAuth.Intercept)
	desc := "made by the Go SDK"
	ds, err := asKey.CreateDatastoreWithResponse(ctx, gen.DatastoreCreate{Name: "sdk_go", Description: &desc})
	testkit.ExpectStatus(t, "create datastore", ds, err, 201)
	tbl, err := asKey.CreateTableWithResponse(ctx, ds.JSON201.Data.Id, gen.TableCreate{Name: "t",
		Columns: []gen.Column{{Name: "n", Type: gen.Integer}}})
	testkit.ExpectStatus(t, "create table", tbl, err, 201)
	rows, err := asKey.InsertRowsWithResponse(ctx, ds.JSON201.Data.Id, "t", gen.RowInsert{json.RawMessage(`{"n":1}`), json.RawMessage(`{"n":2}`)})
	testkit.ExpectStatus(t, "insert rows", rows, err, 201)
	if rows.JSON201.Data.Inserted != 2 {
		t.Fatalf("inserted %d", rows.JSON201.Data.Inserted)
	}
}
